// proxy_sparse_attn.h - the proxy_sparse_attn node (ProxyAttn block-sparse attention, with
// XAttention and FlexPrefill as alternative estimators; see docs/proxy_sparse_attn.md) and the
// graph pass that swaps it in. The public header of the
// plugin/proxy_sparse_attn component: hosts link pa_proxy_sparse_attn (node constructor, swap
// pass) with libpa; the op itself (shape rule, CPU reference, OpenCL lowering) comes with the
// OpenCL plugin.
//
// proxy_sparse_attn is a drop-in replacement for causal flash_attn_ext:
//   q F32 [d, N, H], k/v F32|F16 [d, Nkv, Hkv] (Nkv >= n_past + N, H % Hkv == 0)
//   -> F32 [d, H, N]; query t sits at absolute position n_past + t and sees keys j <= n_past + t.
// The op is added to the registry by the OpenCL plugin (it carries its own CPU reference), so
// load the plugin before building or swapping in the node.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <functional>
#include <string_view>

#include "pa/context.h"
#include "pa/graph.h"
#include "pa/ops.h"

namespace pa {

inline constexpr const char* proxy_op_name = "proxy_sparse_attn";

// How many key blocks each (head, query block row) keeps, beyond the forced ones
// (docs/proxy_sparse_attn.md, "Budgets").
enum class proxy_budget : int32_t {
    rows = 0,  // row-aware: measured on sample rows spread over the sequence, interpolated per row
    last = 1,  // the paper's rule: one count per head from the last B queries, for every row
    fixed = 2, // ceil(min_tokens / B) blocks in every row (static, for ablations)
};
inline const char* proxy_budget_name(proxy_budget b) {
    switch (b) {
    case proxy_budget::rows:
        return "rows";
    case proxy_budget::last:
        return "last";
    case proxy_budget::fixed:
        return "fixed";
    }
    return "?";
}
inline bool proxy_budget_from_name(std::string_view s, proxy_budget& out) {
    for (proxy_budget b : {proxy_budget::rows, proxy_budget::last, proxy_budget::fixed})
        if (s == proxy_budget_name(b)) {
            out = b;
            return true;
        }
    return false;
}

// Which estimator decides the kept blocks (docs/proxy_sparse_attn.md, "Estimators"). All three
// produce the same CSR mask and run the same block-sparse attention.
enum class proxy_estimator : int32_t {
    proxy = 0, // ProxyAttn: pooled proxy heads rank key blocks, per-head budgets (the default)
    xattn = 1, // XAttention: per head, antidiagonal sums of stride x stride tiles, threshold per row
    flex = 2,  // FlexPrefill: per head, vertical-slash lines or pooled query-aware blocks
};
inline const char* proxy_estimator_name(proxy_estimator e) {
    switch (e) {
    case proxy_estimator::proxy:
        return "proxy";
    case proxy_estimator::xattn:
        return "xattn";
    case proxy_estimator::flex:
        return "flex";
    }
    return "?";
}
inline bool proxy_estimator_from_name(std::string_view s, proxy_estimator& out) {
    for (proxy_estimator e : {proxy_estimator::proxy, proxy_estimator::xattn, proxy_estimator::flex})
        if (s == proxy_estimator_name(e)) {
            out = e;
            return true;
        }
    return false;
}

// Fields shared by the estimators (where the meaning matches):
//   gamma       proxy: kept mass per (head, row); xattn: the paper's threshold tau on each row's
//               antidiagonal block scores; flex: the paper's coverage gamma (vertical and slash
//               lines, or a query-aware row's pooled block scores)
//   stride      proxy: query stride; xattn: the antidiagonal tile size (the paper uses 8 or 16)
//   min_tokens  floor in every estimator: proxy and xattn blocks per row beyond the forced ones,
//               flex vertical and slash lines (vertical-slash heads) or blocks per row
//               (query-aware heads), each at least ceil(min_tokens / B)
//   force_sink_and_local, block, scale, n_past, stop_after: the same in all three
// key_stride, n_proxy, budget, n_samples and exact_rows are proxy's; flex_tau and max_tokens flex's.
struct proxy_params {
    int32_t block = 128;    // B: key/query block size, a multiple of stride and key_stride
    int32_t stride = 4;     // S: proxy scores use the first query of every S
    int32_t key_stride = 1; // proxy scores use every key_stride-th key (1: every key)
    int32_t n_proxy = 1;    // g: proxy heads; must divide Hkv
    float gamma = 0.99f;    // threshold in (0, 1]: kept mass per (head, row); 1 = dense
    int32_t min_tokens = 0; // budget floor: at least ceil(min_tokens / B) blocks a row
    proxy_budget budget = proxy_budget::rows;
    int32_t n_samples = 16;           // sample rows of budget = rows (besides the last B queries)
    bool exact_rows = true;           // measured rows keep each head's own top blocks (union)
    bool force_sink_and_local = true; // block 0 and the diagonal block are always kept (extra)
    float scale = 0.0f;               // logit scale; 0 = 1/sqrt(d)
    int32_t n_past = 0;               // queries are the last N of n_past + N keys
    // Profiling only: 0 runs everything; k in 1..4 stops after stage k and leaves the output
    // undefined. Lets tools time stages. proxy: 1 pooling, 2 proxy scores, 3 budgets, 4 mask;
    // xattn: 1 int8 tile rows, 2 block scores, 3 per-row counts (ranks), 4 mask; flex: 1 int8 and
    // pooled rows, 2 last-block lines and pattern choice, 3 kept lines and per-row counts, 4 mask.
    int32_t stop_after = 0;
    proxy_estimator estimator = proxy_estimator::proxy;
    // flex: a head is query-aware when sqrt(JS divergence) between the pooled estimate and the
    // true block distribution of its last B queries is below flex_tau (0: never; the paper: 0.1).
    float flex_tau = 0.1f;
    // flex: cap in tokens on vertical and slash lines and on query-aware blocks per row beyond
    // the forced ones, ceil(max_tokens / B) each (0: no cap). Ignored when gamma = 1 (dense).
    int32_t max_tokens = 0;
};

// op_params slots. 0..2 match flash_attn_ext (fa_param_scale/n_past/causal) on purpose.
inline constexpr int proxy_param_scale = fa_param_scale; // f32
inline constexpr int proxy_param_n_past = fa_param_n_past;
inline constexpr int proxy_param_causal = fa_param_causal; // always 1
inline constexpr int proxy_param_block = 3;
inline constexpr int proxy_param_stride = 4;
inline constexpr int proxy_param_n_proxy = 5;
inline constexpr int proxy_param_gamma = 6; // f32
inline constexpr int proxy_param_min_tokens = 7;
inline constexpr int proxy_param_flags = 8; // bit 0: force_sink_and_local, bit 1: exact_rows
inline constexpr int proxy_param_stop_after = 9;
inline constexpr int proxy_param_key_stride = 10;
inline constexpr int proxy_param_budget = 11;
inline constexpr int proxy_param_n_samples = 12;
inline constexpr int proxy_param_estimator = 13;
inline constexpr int proxy_param_flex_tau = 14; // f32
inline constexpr int proxy_param_max_tokens = 15;

inline std::array<int32_t, PA_MAX_OP_PARAMS> proxy_params_pack(const proxy_params& p) {
    std::array<int32_t, PA_MAX_OP_PARAMS> o{};
    o[proxy_param_scale] = std::bit_cast<int32_t>(p.scale);
    o[proxy_param_n_past] = p.n_past;
    o[proxy_param_causal] = 1;
    o[proxy_param_block] = p.block;
    o[proxy_param_stride] = p.stride;
    o[proxy_param_n_proxy] = p.n_proxy;
    o[proxy_param_gamma] = std::bit_cast<int32_t>(p.gamma);
    o[proxy_param_min_tokens] = p.min_tokens;
    o[proxy_param_flags] = (p.force_sink_and_local ? 1 : 0) | (p.exact_rows ? 2 : 0);
    o[proxy_param_stop_after] = p.stop_after;
    o[proxy_param_key_stride] = p.key_stride;
    o[proxy_param_budget] = static_cast<int32_t>(p.budget);
    o[proxy_param_n_samples] = p.n_samples;
    o[proxy_param_estimator] = static_cast<int32_t>(p.estimator);
    o[proxy_param_flex_tau] = std::bit_cast<int32_t>(p.flex_tau);
    o[proxy_param_max_tokens] = p.max_tokens;
    return o;
}

inline proxy_params proxy_params_unpack(const int32_t* o) {
    proxy_params p;
    p.scale = std::bit_cast<float>(o[proxy_param_scale]);
    p.n_past = o[proxy_param_n_past];
    p.block = o[proxy_param_block];
    p.stride = o[proxy_param_stride];
    p.n_proxy = o[proxy_param_n_proxy];
    p.gamma = std::bit_cast<float>(o[proxy_param_gamma]);
    p.min_tokens = o[proxy_param_min_tokens];
    p.force_sink_and_local = (o[proxy_param_flags] & 1) != 0;
    p.exact_rows = (o[proxy_param_flags] & 2) != 0;
    p.stop_after = o[proxy_param_stop_after];
    p.key_stride = o[proxy_param_key_stride];
    p.budget = static_cast<proxy_budget>(o[proxy_param_budget]); // range checked by the shape rule
    p.n_samples = o[proxy_param_n_samples];
    p.estimator = static_cast<proxy_estimator>(o[proxy_param_estimator]); // range checked by the shape rule
    p.flex_tau = std::bit_cast<float>(o[proxy_param_flex_tau]);
    p.max_tokens = o[proxy_param_max_tokens];
    return p;
}

// Throws pa::error naming the first parameter of p that no input could accept (block, strides,
// gamma, counts, enum ranges; what depends on the inputs, such as n_proxy dividing the kv heads, is
// checked by the op's shape rule). Tools call it on their settings before any node exists: a
// prompt too short to use proxy attention still rejects --block 0.
void proxy_params_check(const proxy_params& p);

// The node; params are validated by the op's shape rule (throws pa::error naming the problem).
// A zero scale is resolved to 1/sqrt(d) here, so the node always carries the scale it uses.
tensor* proxy_sparse_attn(context& ctx, tensor* q, tensor* k, tensor* v, const proxy_params& p);

// Which dense attention nodes to swap: layer is parsed from a node name ending in "-<n>"
// (e.g. "attn-3"); nodes without one are numbered in graph order (0, 1, ...).
using attn_layer_filter = std::function<bool(int layer, const tensor* node)>;

// Rewrites, in place, every causal flash_attn_ext node of g with N >= min_len queries that the
// filter accepts (all when empty) into proxy_sparse_attn with params p; scale and n_past come
// from the dense node. Same srcs, shape and type, so users of the node are untouched.
// Returns how many nodes were swapped. Throws pa::error when the op is not registered or p does
// not fit a node (e.g. n_proxy does not divide its kv heads).
int swap_dense_attention(graph& g, const proxy_params& p, const attn_layer_filter& filter = {},
                         int64_t min_len = 0);

} // namespace pa
