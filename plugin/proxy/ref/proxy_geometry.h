// proxy_geometry.h - validated sizes of one proxy_sparse_attn node and the index maps shared by
// the CPU reference and the OpenCL lowering (block grid, strided samples, mask layout).
//
// Block grid (choice, documented in docs/proxy_sparse_attn.md): blocks cover ABSOLUTE key
// positions 0 .. n_keys-1 (n_keys = n_past + N), block n = positions [nB, (n+1)B). A query at
// absolute position p = n_past + t belongs to query block (row) m = p / B, so row m's diagonal
// block is key block m. Rows run from row0 = n_past / B to n_kblocks - 1; the first row may
// start mid-block (n_past % B != 0) and the last may end early.
//
// Strided samples: keys at absolute positions 0, S, 2S, ...; queries at the first position of
// every window of S counted from the row's first query (= multiples of S whenever the row starts
// on the grid; only a first row that starts mid-block is shifted, so that every row has one).
//
// Triangular layout: per row m a slot range of m+1 entries starting at tri(m); used for proxy
// block scores, ranks and the kept-block lists.
#pragma once

#include <cstdint>

#include "pa/pa_tensor.h"
#include "pa/proxy_attn.h"

namespace pa::proxy {

struct geometry {
    int64_t d = 0, N = 0, n_past = 0, n_keys = 0;  // head dim, queries, keys seen (n_past + N)
    int64_t H = 0, Hkv = 0, g = 0;                 // query heads, kv heads, proxy heads
    int64_t gqa = 1;                               // H / Hkv
    int64_t heads_per_group = 0, kv_per_group = 0; // H / g, Hkv / g
    int64_t B = 0, S = 0;
    int64_t n_kblocks = 0; // ceil(n_keys / B)
    int64_t row0 = 0;      // first query block
    int64_t n_rows = 0;    // n_kblocks - row0
    int64_t k_min = 0;     // ceil(min_tokens / B)
    int64_t n_sk = 0;      // strided keys: ceil(n_keys / S)
    int64_t n_sq = 0;      // strided queries over all rows
    int64_t sq_first = 0;  // strided queries of row row0
    float scale = 0, gamma = 0;
    bool force = true;
    bool all_kept = false; // every row keeps every causal block: run dense
    int stop_after = 0;

    int64_t row_begin(int64_t m) const { return m * B > n_past ? m * B : n_past; }
    int64_t row_end(int64_t m) const { return (m + 1) * B < n_keys ? (m + 1) * B : n_keys; }
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
    int64_t tri(int64_t m) const { return m * (m + 1) / 2 - row0 * (row0 + 1) / 2; }
    int64_t tri_total() const { return tri(n_kblocks); }
    int64_t last_row() const { return n_kblocks - 1; }
    int64_t forced(int64_t m) const { return force ? (m == 0 ? 1 : 2) : 0; }
    int64_t causal_blocks() const { return tri_total(); } // per head
};

// Validates the node's sources and params (throws pa::error with one clear line) and computes
// its geometry. k and v may hold more than n_past + N keys; the rest are invisible.
geometry make_geometry(const pa_tensor* q, const pa_tensor* k, const pa_tensor* v, const proxy_params& p);
// Same, from a node (srcs and op_params).
geometry make_geometry(const pa_tensor* node);

} // namespace pa::proxy
