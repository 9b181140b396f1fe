// head_similarity.h - the ProxyAttn premise, measured: do the heads that share a proxy head (or
// a KV head) attend to the same tokens?
//
// For a query t and heads i, j, let p_h(t, .) be head h's exact softmax over the keys the query
// sees (0 .. n_past + t) and T_i(t) head i's top-k keys (ties go to the lower position).
//   share(i -> j, t) = sum over keys in T_i(t) of p_j(t, key)
// is the part of head j's attention that head i's own ranking would keep. k is fixed (top_k > 0,
// capped at the visible keys) or, with top_k = 0, head i's gamma cover: the fewest keys whose mass
// in head i reaches gamma, so share(i -> i) >= gamma and share(i -> j) is comparable to recall.
// share(i -> j) is the mean over the sampled queries.
//
// Groups are runs of consecutive heads: a KV group (the H / Hkv heads that read one KV head) or
// a proxy group (the H / g heads that one proxy head stands for). A group's statistics run over
// its ordered pairs i != j: the mean of share(i -> j) and its minimum (the pair that agrees
// least; the mean hides the few heads a retrieval depends on).
#pragma once

#include <cstdint>
#include <vector>

#include "pa/block_sparse.h"

namespace pa::analysis {

struct head_similarity_options {
    int64_t top_k = 0;   // keys per head and query; 0 = the head's own gamma cover
    float gamma = 0.95f; // the cover's mass when top_k = 0
    int64_t rows = 256;  // queries sampled evenly over [0, N), the last one included; 0 = all
    int n_threads = 0;   // 0 = all cores
};

struct head_similarity {
    int64_t H = 0;
    int64_t rows = 0;               // queries measured
    std::vector<double> share;      // [H][H]: share[i * H + j] = share(i -> j), mean over queries
    std::vector<double> top_k_mean; // [H]: mean k of head i's top set over the queries
    double at(int64_t i, int64_t j) const { return share[size_t(i * H + j)]; }
};

head_similarity measure_head_similarity(const attn_qkv& x, const head_similarity_options& o);

struct group_similarity {
    double mean = 1.0, min = 1.0; // over the ordered pairs i != j inside a group (1 when none)
    int64_t pairs = 0;
};

// Pairs inside groups of group_size consecutive heads (group_size divides H; 1 gives no pairs).
group_similarity group_stats(const head_similarity& s, int64_t group_size);

// For head j: the mean and minimum over the other heads i of its group of share(i -> j): how much
// of head j's attention the rankings of its group mates keep.
group_similarity head_received(const head_similarity& s, int64_t group_size, int64_t j);

} // namespace pa::analysis
