// estimators.h - the estimators besides ProxyAttn on the CPU (estimator = xattn | flex, see
// docs/proxy_sparse_attn.md, "Estimators") and the per-row threshold selection they share.
// estimate_mask() (reference.h) dispatches here; kernels/xattn.cl and kernels/flex.cl reproduce
// every decision bit for bit with the same det_math.h arithmetic in the same order.
#pragma once

#include <cstdint>
#include <vector>

#include "../geometry.h"
#include "pa/block_sparse.h"

namespace pa::proxy {

struct estimate;

// FlexPrefill's per-head decisions (estimate::flex; empty for the other estimators).
struct flex_state {
    // [H][3][n_kblocks]: from the head's last B queries, the probability mass per key block
    // (vertical), per block offset o = row - key block (slash), and the pooled estimate (softmax of
    // the mean last query against the mean key of each block)
    std::vector<float> lines;
    std::vector<float> js;     // [H] JS divergence of the pooled estimate from the true distribution
    std::vector<int32_t> pick; // [H][3] 1 = query-aware; vertical, slash lines beyond the forced ones
    std::vector<uint8_t> keep; // [H][2][n_kblocks] 1 = kept vertical line (key block), slash line (offset)
};
inline constexpr int flex_vertical = 0, flex_slash = 1, flex_pooled = 2;

// Steps of estimator = xattn / flex into e (scores, ranks, budgets, mask; flex also e.flex), up to
// geo.stop_after. Layouts: scores and ranks [H][tri_total] (flex: query-aware heads, zeros for
// the others), budgets [H][n_rows] (blocks kept beyond the forced ones).
void xattn_estimate(const geometry& geo, const attn_qkv& x, estimate& e, int n_threads);
void flex_estimate(const geometry& geo, const attn_qkv& x, estimate& e, int n_threads);

// The selection both use. Candidates 0..n-1 with scores v; forced candidates f0, f1 (-1: none,
// f1 == f0 counts once) come first, then the others by score, descending, equal scores by lower
// index. The count is the position where the running sum of v in that order first reaches
// gamma * (sum of v in index order) (n when it never does), less the forced ones, then at least
// k_min, at most k_max (0: no cap) and at most the candidates left. rank[i] receives candidate
// i's position; the kept set is rank < count + forced. Returns the count.
int64_t rank_threshold(const float* v, int64_t n, int64_t f0, int64_t f1, float gamma, int64_t k_min,
                       int64_t k_max, int32_t* rank);

// The forced blocks of row m (sink, diagonal), -1 when forcing is off.
inline int64_t forced_first(const geometry& geo) {
    return geo.force ? 0 : -1;
}
inline int64_t forced_second(const geometry& geo, int64_t m) {
    return geo.force ? m : -1;
}

} // namespace pa::proxy
