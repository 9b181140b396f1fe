// geometry.h - validated sizes of one proxy_sparse_attn node and the index maps shared by
// the CPU reference and the OpenCL lowering: the block grid and mask layout of
// pa/block_sparse.h, the strided proxy samples, and the rows the budget pass measures.
//
// Proxy queries: the first position of every window of S counted from the row's first query
// (= multiples of S whenever the row starts on the grid; only a first row that starts
// mid-block is shifted, so that every row has one). Proxy keys: absolute positions 0, KS, 2KS,
// ... (KS = key_stride, 1 by default: every key is scored).
//
// Measured rows ("samples"): the rows whose queries the budget pass scores exactly per head.
// The tail - the last min(N, B) queries, all of them - always (one row, or two when the last
// block is partial); with budget = rows also n_samples rows spread evenly over the sequence,
// whose queries are measured on the proxy query grid (every S-th).
//
// Estimators other than proxy: xattn measures no rows; flex measures the tail (its last B
// queries) and nothing else. Exact rows belong to proxy (off for the others).
//
// XAttention tiles: S x S tiles of Q K^T on absolute positions, tile i = [iS, (i+1)S) for
// queries and keys alike (S divides B, so a tile sits in one block). Query tiles are the tiles
// holding at least one query (tq0 = n_past / S .. n_tiles - 1); key tiles 0 .. n_tiles - 1.
//
// Triangular layout (block_grid::tri): per row m a slot range of m+1 entries starting at tri(m);
// used for proxy block scores, ranks and the kept-block lists.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pa/block_sparse.h"
#include "pa/pa_tensor.h"
#include "pa/proxy_sparse_attn.h"

namespace pa::proxy {

// One measured row: its queries are first, first + step, ... (count of them, absolute
// positions); their per-query statistics start at index q_index of the per-head list.
struct sample_row {
    int64_t m = 0;
    int64_t first = 0, count = 0, step = 1;
    int64_t q_index = 0;    // first of its queries in the per-head list of measured queries
    int64_t mass_index = 0; // first of its m + 1 block masses in the per-head list
    bool tail = false;      // holds (part of) the last min(N, B) queries
    int64_t pos(int64_t i) const { return first + i * step; }
};

struct geometry : block_grid {                     // B, n_past, n_keys, n_kblocks, row0, n_rows, tri()
    int64_t d = 0, N = 0;                          // head dim, queries
    int64_t H = 0, Hkv = 0, g = 0;                 // query heads, kv heads, proxy heads
    int64_t gqa = 1;                               // H / Hkv
    int64_t heads_per_group = 0, kv_per_group = 0; // H / g, Hkv / g
    int64_t S = 0, KS = 1;                         // query stride, key stride
    int64_t k_min = 0;                             // ceil(min_tokens / B)
    int64_t n_sk = 0;                              // proxy keys: ceil(n_keys / KS)
    int64_t n_sq = 0;                              // strided queries over all rows
    int64_t sq_first = 0;                          // strided queries of row row0
    float scale = 0, gamma = 0;
    bool force = true;
    bool exact_rows = true;
    proxy_budget budget = proxy_budget::rows;
    bool all_kept = false; // every row keeps every causal block: run dense
    int stop_after = 0;
    proxy_estimator estimator = proxy_estimator::proxy;
    int64_t n_tiles = 0, tq0 = 0; // xattn: tiles over all keys; first query tile
    int64_t k_max = 0;            // flex: ceil(max_tokens / B), 0 = no cap
    float flex_tau = 0;
    std::vector<sample_row> samples; // ascending rows
    int64_t n_bq = 0;                // measured queries per head (sum of the samples' counts)
    int64_t n_mass = 0;              // block masses per head (sum of the samples' m + 1)

    int64_t sq_per_block() const { return B / S; }
    int64_t sk_per_block() const { return B / KS; }
    // first strided query index of row m, their count, and the absolute position of sample i
    int64_t sq_row_first(int64_t m) const { return m == row0 ? 0 : sq_first + (m - row0 - 1) * (B / S); }
    int64_t sq_row_count(int64_t m) const { return m == row0 ? sq_first : (row_end(m) - m * B + S - 1) / S; }
    int64_t sq_pos(int64_t i) const {
        return i < sq_first ? n_past + i * S : (row0 + 1) * B + (i - sq_first) * S;
    }
    // proxy keys a query at absolute position p sees: indices 0 .. sk_visible(p) - 1
    int64_t sk_visible(int64_t p) const { return p / KS + 1; }
    int64_t forced(int64_t m) const { return force ? (m == 0 ? 1 : 2) : 0; }
    // xattn: query tiles of row m are tile_first(m) .. tile_end(m) - 1
    int64_t tiles_per_block() const { return B / S; }
    int64_t n_qtiles() const { return n_tiles - tq0; }
    int64_t tile_first(int64_t m) const { return std::max(m * (B / S), tq0); }
    int64_t tile_end(int64_t m) const { return std::min((m + 1) * (B / S), n_tiles); }
    // flex: the tail's queries (every one of the last min(N, B)) and their count
    int64_t tail_first() const { return n_keys - std::min(N, B); }
    int64_t tail_count() const { return std::min(N, B); }
    // whether head budgets and exact rows come from this sample
    bool exact_sample(const sample_row& s) const {
        return exact_rows && (s.tail || budget == proxy_budget::rows);
    }
};

// Validates the node's sources and params (throws pa::error with one clear line) and computes
// its geometry. k and v may hold more than n_past + N keys; the rest are invisible.
geometry make_geometry(const pa_tensor* q, const pa_tensor* k, const pa_tensor* v, const proxy_params& p);
// Same, from a node (srcs and op_params).
geometry make_geometry(const pa_tensor* node);
// Same, for an attention problem held on the host (pa/block_sparse.h); p.scale 0 = x.scale.
geometry make_geometry(const attn_qkv& x, const proxy_params& p);

} // namespace pa::proxy
