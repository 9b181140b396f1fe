// block_sparse.h - block-sparse causal attention on the host: one attention problem as
// contiguous float heads, the block grid over its keys and queries, and the kept-block mask
// (CSR). Estimators (plugin/proxy_sparse_attn) produce masks in this form, the analysis library
// (analysis/) measures them, and the OpenCL kernels read the same layout from device buffers
// (opencl/block_mask.h).
//
// Block grid: blocks cover ABSOLUTE key positions 0 .. n_keys-1 (n_keys = n_past + N), block
// n = positions [nB, (n+1)B). The query at absolute position p = n_past + t belongs to query
// block (row) m = p / B, so row m's diagonal block is key block m. Rows run from
// row0 = n_past / B to n_kblocks - 1; the first row may start mid-block (n_past % B != 0) and the
// last may end early. Row m sees key blocks 0..m (causal).
//
// Mask layout (CSR): per (head h, row m) counts[h * n_rows + (m - row0)] kept blocks, listed in
// ascending order at blocks[h * tri_total + tri(m) ...], where tri(m) = m(m+1)/2 -
// row0(row0+1)/2 is the first slot of row m (row m has m+1 slots).
#pragma once

#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

namespace pa {

// Q/K/V of one causal attention problem: q [H][N][d], k and v [Hkv][n_past + N][d] (the
// contiguous ggml tensors [d, n, heads]); query head h reads kv head h / (H / Hkv).
struct attn_qkv {
    int64_t d = 0, N = 0, n_past = 0, H = 0, Hkv = 0;
    float scale = 0; // logit scale (1/sqrt(d) for the usual attention)
    std::vector<float> q, k, v;

    int64_t n_keys() const { return n_past + N; }
    int64_t gqa() const { return H / Hkv; }
    const float* q_row(int64_t h, int64_t t) const { return &q[size_t((h * N + t) * d)]; }
    const float* k_head(int64_t hk) const { return &k[size_t(hk * n_keys() * d)]; }
    const float* v_head(int64_t hk) const { return &v[size_t(hk * n_keys() * d)]; }
};

struct block_grid {
    int64_t B = 0;                  // block size
    int64_t n_past = 0, n_keys = 0; // queries sit at absolute positions [n_past, n_keys)
    int64_t n_kblocks = 0;          // ceil(n_keys / B)
    int64_t row0 = 0, n_rows = 0;   // query block rows row0 .. n_kblocks - 1

    static block_grid make(int64_t B, int64_t n_past, int64_t N) {
        block_grid g;
        g.B = B;
        g.n_past = n_past;
        g.n_keys = n_past + N;
        g.n_kblocks = (g.n_keys + B - 1) / B;
        g.row0 = n_past / B;
        g.n_rows = g.n_kblocks - g.row0;
        return g;
    }
    int64_t row_begin(int64_t m) const { return m * B > n_past ? m * B : n_past; }
    int64_t row_end(int64_t m) const { return (m + 1) * B < n_keys ? (m + 1) * B : n_keys; }
    int64_t tri(int64_t m) const { return m * (m + 1) / 2 - row0 * (row0 + 1) / 2; }
    int64_t tri_total() const { return tri(n_kblocks); } // causal blocks of one head
    int64_t last_row() const { return n_kblocks - 1; }
};

struct block_mask {
    block_grid grid;
    int64_t n_heads = 0;
    std::vector<int32_t> counts; // [n_heads][n_rows]
    std::vector<int32_t> blocks; // [n_heads][tri_total], the first counts[] entries of each row valid

    std::span<const int32_t> kept(int64_t h, int64_t m) const {
        const size_t at = size_t(h * grid.tri_total() + grid.tri(m));
        return {blocks.data() + at, size_t(counts[size_t(h * grid.n_rows + (m - grid.row0))])};
    }
    int32_t* row_list(int64_t h, int64_t m) { return &blocks[size_t(h * grid.tri_total() + grid.tri(m))]; }
    int32_t& row_count(int64_t h, int64_t m) { return counts[size_t(h * grid.n_rows + (m - grid.row0))]; }

    // Every causal block of every row (dense attention).
    static block_mask full(const block_grid& grid, int64_t n_heads) {
        block_mask mk = sized(grid, n_heads);
        for (int64_t h = 0; h < n_heads; ++h)
            for (int64_t m = grid.row0; m < grid.n_kblocks; ++m) {
                mk.row_count(h, m) = int32_t(m + 1);
                std::iota(mk.row_list(h, m), mk.row_list(h, m) + m + 1, 0);
            }
        return mk;
    }
    // Storage for a mask of this grid, every row empty.
    static block_mask sized(const block_grid& grid, int64_t n_heads) {
        block_mask mk;
        mk.grid = grid;
        mk.n_heads = n_heads;
        mk.counts.assign(size_t(n_heads * grid.n_rows), 0);
        mk.blocks.assign(size_t(n_heads * grid.tri_total()), 0);
        return mk;
    }
};

} // namespace pa
