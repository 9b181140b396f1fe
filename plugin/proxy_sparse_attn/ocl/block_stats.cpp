// block_stats.cpp - plan (path, tile sizes) and launches of kernels/proxy_block_stats.cl.
#include "block_stats.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "flash_attn_mma.h"
#include "pa/error.h"
#include "ptx_register_cap.h"

namespace pa::proxy {
namespace {

using namespace pa::ocl;

bool emulated() {
    const char* e = std::getenv("PA_MMA");
    return e && std::strcmp(e, "emulate") == 0;
}

// $PA_PROXY_STATS: "W<warps>R<max registers>[A<0|1>]" or unset.
void apply_override(block_stats_plan& p) {
    const char* e = std::getenv("PA_PROXY_STATS");
    if (!e || !*e) return;
    int w = 0, r = 0, a = 0;
    const int got = std::sscanf(e, "W%dR%dA%d", &w, &r, &a);
    if (got < 2 || (w != 1 && w != 2 && w != 4 && w != 8 && w != 16) || r < 0 || (a != 0 && a != 1))
        throw error(
            fmt::format("PA_PROXY_STATS='{}': expected W<1|2|4|8|16>R<max registers, 0 = any>[A<0|1>]", e));
    p.warps = w;
    p.max_regs = r;
    p.i2f_add = a;
}

int64_t round_up(int64_t x, int64_t m) {
    return (x + m - 1) / m * m;
}

// Keys per work-group along the blocks: enough work per group to amortize loading its query
// rows and starting its tile pipeline, enough groups to fill a GPU when few rows are measured.
constexpr int64_t keys_per_group = 4096, min_keys_per_group = 256;
// Work-groups a launch should have per compute unit: two run at once on one (registers), and
// about half of them have no visible key in their blocks (causal).
constexpr int64_t groups_per_unit = 4;

} // namespace

int64_t int8_row_bytes(int64_t d) {
    return round_up(d, 32);
}

block_stats_plan block_stats_plan::make(const device_caps& caps, int64_t d, int64_t kpb) {
    block_stats_plan p;
    p.dp = int(int8_row_bytes(d));
    p.kpb = kpb;
    if (emulated())
        p.kind = path::emulated;
    else if (mma_available(caps))
        p.kind = path::mma;
    // 8 warps share each key tile on the tensor cores (half the L2 traffic of 4); 4 elsewhere.
    // At most 128 registers (offline ptxas for sm_90: 186 without a cap, none spilled at 128):
    // two work-groups of 256 items per multiprocessor instead of one. The driver honours the cap
    // since the program cache writes it into the PTX (H200, 128K: the estimate 8.63 -> 7.34 ms,
    // bench/results/h200-2026-12-01-f/call3).
    p.warps = p.kind == path::mma ? 8 : 4;
    p.max_regs = p.kind == path::mma ? 128 : 0;
    apply_override(p);
    // whole blocks of up to 128 keys in one tile (one pass); 64 for rows over 128 bytes
    p.kt = int(std::min<int64_t>(round_up(kpb, 8), p.dp <= 128 ? 128 : 64));
    while (p.local_bytes() > caps.local_mem && (p.kt > 8 || p.warps > 1)) {
        if (p.kt > 8)
            p.kt = std::max(8, p.kt / 2 / 8 * 8);
        else
            p.warps /= 2;
    }
    while (size_t(32 * p.warps) > caps.max_work_group && p.warps > 1)
        p.warps /= 2;
    p.compute_units = int(std::max<uint32_t>(1, caps.compute_units));
    return p;
}

int block_stats_plan::blocks_per_group(int64_t n_kblocks, int64_t row_groups) const {
    const int64_t k = std::max<int64_t>(1, kpb);
    const int64_t most = std::max<int64_t>(1, keys_per_group / k),
                  least = std::max<int64_t>(1, min_keys_per_group / k);
    const int64_t rows = std::max<int64_t>(1, row_groups);
    const int64_t want_chunks = (groups_per_unit * compute_units + rows - 1) / rows;
    const int64_t fill = (n_kblocks + want_chunks - 1) / want_chunks;
    return int(std::clamp(fill, std::min(least, most), most));
}

size_t block_stats_plan::local_bytes() const {
    const size_t nth = size_t(32 * warps), roww = size_t(dp / 4 + 4);
    const size_t nbuf = kind == path::portable ? 1 : 2;
    size_t b = nbuf * size_t(kt) * roww * 4 + nbuf * size_t(kt) * 4; // key tiles and scales
    if (kind == path::portable) b += size_t(16 * warps) * roww * 4 + nth * 16;
    if (kind != path::portable) b += 32; // qtile and ex: one 16-byte stub each
    if (kind == path::emulated) b += pa::ocl::mma_emulation_bytes(nth);
    return b;
}

std::string block_stats_plan::options() const {
    const int mode = kind == path::portable ? 0 : kind == path::mma ? 1 : 2;
    std::string o = fmt::format("-DBS_MODE={} -DBS_DP={} -DBS_KT={} -DBS_WARPS={} -DBS_I2F_ADD={}", mode, dp,
                                kt, warps, i2f_add);
    if (kind == path::emulated) o += " -DMMA_EMULATE=1"; // mma_ptx.cl's helpers in OpenCL C
    if (kind == path::mma && max_regs > 0) o += fmt::format(" {}={}", pa::ocl::register_cap_option, max_regs);
    return o;
}

const char* block_stats_plan::name() const {
    return kind == path::portable ? "portable" : kind == path::mma ? "mma" : "emulated";
}

std::string block_stats_problem(const device_caps& caps, int64_t d, int64_t kpb) {
    const block_stats_plan p = block_stats_plan::make(caps, d, kpb);
    if (p.local_bytes() > caps.local_mem)
        return fmt::format("the estimate's key tiles need {} bytes of local memory, the device has {}",
                           p.local_bytes(), caps.local_mem);
    if (size_t(32 * p.warps) > caps.max_work_group)
        return fmt::format("work-groups of {} items are needed", 32 * p.warps);
    return "";
}

void proxy_block_stats(device_context& ctx, const program_source& src, const block_stats_plan& plan,
                       const geometry& geo, cl_mem pq8, cl_mem pqs, cl_mem pk8, cl_mem pks, cl_mem bm,
                       cl_mem bs, int64_t i_begin, int64_t i_end) {
    const int64_t rows = i_end - i_begin, rw = 16 * plan.warps, nth = 32 * plan.warps;
    if (rows <= 0) return;
    const int64_t row_tiles = (rows + rw - 1) / rw;
    const int bpg = plan.blocks_per_group(geo.n_kblocks, row_tiles * geo.g);
    const int64_t chunks = (geo.n_kblocks + bpg - 1) / bpg;
    ctx.launch(ctx.get_kernel(src, "proxy_stats", plan.options()),
               range3(size_t(chunks * nth), size_t(row_tiles), size_t(geo.g)), range3(size_t(nth), 1, 1), pq8,
               pqs, pk8, pks, bm, bs, int32_t(i_begin), int32_t(rows), int32_t(geo.n_sq),
               int32_t(geo.sq_first), geo.n_past, (geo.row0 + 1) * geo.B, int32_t(geo.S), int32_t(geo.KS),
               int32_t(plan.kpb), plan.key_rows(geo.n_kblocks), int32_t(geo.n_kblocks), int32_t(bpg));
}

void sample_block_stats(device_context& ctx, const program_source& src, const block_stats_plan& plan,
                        const geometry& geo, cl_mem bq8, cl_mem bqs, cl_mem hk8, cl_mem hks, cl_mem pos,
                        cl_mem bm, cl_mem bs) {
    const int64_t rows = geo.n_bq * geo.gqa, rw = 16 * plan.warps, nth = 32 * plan.warps;
    if (rows <= 0) return;
    const int64_t row_tiles = (rows + rw - 1) / rw;
    const int bpg = plan.blocks_per_group(geo.n_kblocks, row_tiles * geo.Hkv);
    const int64_t chunks = (geo.n_kblocks + bpg - 1) / bpg;
    ctx.launch(ctx.get_kernel(src, "sample_stats", plan.options()),
               range3(size_t(chunks * nth), size_t(row_tiles), size_t(geo.Hkv)), range3(size_t(nth), 1, 1),
               bq8, bqs, hk8, hks, bm, bs, pos, int32_t(geo.n_bq), int32_t(geo.gqa), int32_t(geo.B),
               plan.key_rows(geo.n_kblocks), int32_t(geo.n_kblocks), int32_t(bpg));
}

} // namespace pa::proxy
