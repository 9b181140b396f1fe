// geometry.h - validated sizes of one proxy_sparse_attn node and the index maps shared by
// the CPU reference and the OpenCL lowering: the block grid and mask layout of
// pa/block_sparse.h, plus the strided samples of the estimate.
//
// Strided samples: keys at absolute positions 0, S, 2S, ...; queries at the first position of
// every window of S counted from the row's first query (= multiples of S whenever the row starts
// on the grid; only a first row that starts mid-block is shifted, so that every row has one).
//
// Triangular layout (block_grid::tri): per row m a slot range of m+1 entries starting at tri(m);
// used for proxy block scores, ranks and the kept-block lists.
#pragma once

#include <cstdint>

#include "pa/block_sparse.h"
#include "pa/pa_tensor.h"
#include "pa/proxy_sparse_attn.h"

namespace pa::proxy {

struct geometry : block_grid {                     // B, n_past, n_keys, n_kblocks, row0, n_rows, tri()
    int64_t d = 0, N = 0;                          // head dim, queries
    int64_t H = 0, Hkv = 0, g = 0;                 // query heads, kv heads, proxy heads
    int64_t gqa = 1;                               // H / Hkv
    int64_t heads_per_group = 0, kv_per_group = 0; // H / g, Hkv / g
    int64_t S = 0;
    int64_t k_min = 0;    // ceil(min_tokens / B)
    int64_t n_sk = 0;     // strided keys: ceil(n_keys / S)
    int64_t n_sq = 0;     // strided queries over all rows
    int64_t sq_first = 0; // strided queries of row row0
    float scale = 0, gamma = 0;
    bool force = true;
    bool all_kept = false; // every row keeps every causal block: run dense
    int stop_after = 0;

    int64_t sq_per_block() const { return B / S; }
    // Step 3 takes each proxy row's LSE in chunks of lse_chunk() strided keys (16 key blocks), in
    // key order inside a chunk, then merges the chunk states in chunk order: the same numbers on
    // every backend, and independent chunks for the device to run in parallel.
    int64_t lse_chunk() const { return 16 * (B / S); }
    // first strided query index of row m, their count, and the absolute position of sample i
    int64_t sq_row_first(int64_t m) const { return m == row0 ? 0 : sq_first + (m - row0 - 1) * (B / S); }
    int64_t sq_row_count(int64_t m) const { return m == row0 ? sq_first : (row_end(m) - m * B + S - 1) / S; }
    int64_t sq_pos(int64_t i) const {
        return i < sq_first ? n_past + i * S : (row0 + 1) * B + (i - sq_first) * S;
    }
    int64_t forced(int64_t m) const { return force ? (m == 0 ? 1 : 2) : 0; }
};

// Validates the node's sources and params (throws pa::error with one clear line) and computes
// its geometry. k and v may hold more than n_past + N keys; the rest are invisible.
geometry make_geometry(const pa_tensor* q, const pa_tensor* k, const pa_tensor* v, const proxy_params& p);
// Same, from a node (srcs and op_params).
geometry make_geometry(const pa_tensor* node);
// Same, for an attention problem held on the host (pa/block_sparse.h); p.scale 0 = x.scale.
geometry make_geometry(const attn_qkv& x, const proxy_params& p);

} // namespace pa::proxy
