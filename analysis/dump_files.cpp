// dump_files.cpp - see dump_files.h.
#include "dump_files.h"

#include <cmath>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "pa/error.h"

namespace pa::analysis {
namespace {

constexpr char qkv_magic[8] = {'P', 'A', 'Q', 'K', 'V', '1', 0, 0};
constexpr char mask_magic[8] = {'P', 'A', 'M', 'A', 'S', 'K', '1', 0};

void read_exact(std::ifstream& f, void* dst, size_t bytes, const std::string& path) {
    f.read(static_cast<char*>(dst), std::streamsize(bytes));
    if (!f) throw error(fmt::format("{}: truncated file", path));
}

std::ifstream open_in(const std::string& path, const char* magic, const char* kind) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw error(fmt::format("cannot open {}", path));
    char m[8];
    f.read(m, 8);
    if (!f || std::memcmp(m, magic, 8) != 0) throw error(fmt::format("{} is not a {} file", path, kind));
    return f;
}

// Bytes from the read position to the end of the file (sizes are checked against it before
// anything is allocated).
int64_t bytes_left(std::ifstream& f) {
    const auto here = f.tellg();
    f.seekg(0, std::ios::end);
    const int64_t left = int64_t(f.tellg() - here);
    f.seekg(here);
    return left;
}

std::ofstream open_out(const std::string& path, const char* magic) {
    std::ofstream f(path, std::ios::binary);
    if (!f) throw error(fmt::format("cannot write {}", path));
    f.write(magic, 8);
    return f;
}

void close_out(std::ofstream& f, const std::string& path) {
    f.flush();
    if (!f) throw error(fmt::format("cannot write {}", path));
}

} // namespace

attn_qkv read_qkv_dump(const std::string& path) {
    std::ifstream f = open_in(path, qkv_magic, "PAQKV1 dump");
    int64_t dims[5];
    read_exact(f, dims, sizeof dims, path);
    attn_qkv s;
    s.d = dims[0];
    s.N = dims[1];
    s.n_past = dims[2];
    s.H = dims[3];
    s.Hkv = dims[4];
    if (s.d <= 0 || s.d > dump_max_dim || s.N <= 0 || s.n_past < 0 || s.N > dump_max_keys ||
        s.n_past > dump_max_keys - s.N || s.H <= 0 || s.H > dump_max_heads || s.Hkv <= 0 || s.Hkv > s.H ||
        s.H % s.Hkv != 0)
        throw error(fmt::format("{}: implausible sizes d={} N={} n_past={} H={} Hkv={}", path, s.d, s.N,
                                s.n_past, s.H, s.Hkv));
    const int64_t nk = s.n_past + s.N;
    if (s.H * s.N > (int64_t(1) << 36) / s.d || s.Hkv * nk > (int64_t(1) << 36) / s.d)
        throw error(fmt::format("{}: q/k/v larger than 2^36 elements", path));
    s.scale = 1.0f / std::sqrt(float(s.d));
    // size check against the file before allocating
    const int64_t left = bytes_left(f);
    const int64_t need = 4 * (s.H * s.N * s.d + 2 * s.Hkv * nk * s.d);
    if (left < need) throw error(fmt::format("{}: truncated dump ({} of {} data bytes)", path, left, need));
    s.q.resize(size_t(s.H * s.N * s.d));
    s.k.resize(size_t(s.Hkv * nk * s.d));
    s.v.resize(s.k.size());
    for (auto* a : {&s.q, &s.k, &s.v})
        read_exact(f, a->data(), a->size() * 4, path);
    return s;
}

void write_qkv_dump(const std::string& path, const attn_qkv& s) {
    std::ofstream f = open_out(path, qkv_magic);
    const int64_t dims[5] = {s.d, s.N, s.n_past, s.H, s.Hkv};
    f.write(reinterpret_cast<const char*>(dims), sizeof dims);
    for (const auto* a : {&s.q, &s.k, &s.v})
        f.write(reinterpret_cast<const char*>(a->data()), std::streamsize(a->size() * 4));
    close_out(f, path);
}

block_mask read_mask_file(const std::string& path) {
    std::ifstream f = open_in(path, mask_magic, "PAMASK1 mask");
    int64_t dims[4];
    read_exact(f, dims, sizeof dims, path);
    const int64_t B = dims[0], n_past = dims[1], N = dims[2], H = dims[3];
    if (B <= 0 || B > dump_max_keys || n_past < 0 || N <= 0 || N > dump_max_keys ||
        n_past > dump_max_keys - N || H <= 0 || H > dump_max_heads)
        throw error(fmt::format("{}: implausible sizes block={} n_past={} N={} H={}", path, B, n_past, N, H));
    const block_grid grid = block_grid::make(B, n_past, N);
    if (grid.tri_total() > (int64_t(1) << 32) / H) throw error(fmt::format("{}: mask too large", path));
    const int64_t need = 4 * H * (grid.n_rows + grid.tri_total());
    if (const int64_t left = bytes_left(f); left < need)
        throw error(fmt::format("{}: truncated mask ({} of {} data bytes)", path, left, need));
    block_mask mk = block_mask::sized(grid, H);
    read_exact(f, mk.counts.data(), mk.counts.size() * 4, path);
    read_exact(f, mk.blocks.data(), mk.blocks.size() * 4, path);
    for (int64_t h = 0; h < H; ++h)
        for (int64_t m = grid.row0; m < grid.n_kblocks; ++m) {
            const int32_t c = mk.row_count(h, m);
            if (c < 0 || c > m + 1)
                throw error(fmt::format("{}: row {} of head {} keeps {} blocks", path, m, h, c));
            const int32_t* list = mk.row_list(h, m);
            for (int32_t i = 0; i < c; ++i)
                if (list[i] < 0 || list[i] > m || (i > 0 && list[i] <= list[i - 1]))
                    throw error(fmt::format("{}: row {} of head {}: block list not ascending in 0..{}", path,
                                            m, h, m));
        }
    return mk;
}

void write_mask_file(const std::string& path, const block_mask& mk) {
    std::ofstream f = open_out(path, mask_magic);
    const int64_t dims[4] = {mk.grid.B, mk.grid.n_past, mk.grid.n_keys - mk.grid.n_past, mk.n_heads};
    f.write(reinterpret_cast<const char*>(dims), sizeof dims);
    f.write(reinterpret_cast<const char*>(mk.counts.data()), std::streamsize(mk.counts.size() * 4));
    f.write(reinterpret_cast<const char*>(mk.blocks.data()), std::streamsize(mk.blocks.size() * 4));
    close_out(f, path);
}

} // namespace pa::analysis
