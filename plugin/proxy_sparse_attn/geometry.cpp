// geometry.cpp - parameter validation and derived sizes.
#include "geometry.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "pa/error.h"
#include "pa/tensor.h"
#include "pa/types.h"

namespace pa::proxy {
namespace {

[[noreturn]] void fail(const std::string& what) {
    throw error(fmt::format("{}: {}", proxy_op_name, what));
}
void require(bool ok, const std::string& what) {
    if (!ok) fail(what);
}
int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

// The measured rows (geometry.h): the tail rows, and with budget = rows (proxy) n_samples rows spread
// evenly over the rows before the tail (row0 - 1 + ceil((k + 1) * n_pre / n) for k < n = min(n_samples,
// n_pre), n_pre = rows before the first tail row: the row just before the tail is one), so that no
// row lies between the last spread row and the tail.
void place_samples(geometry& g, int64_t n_samples) {
    if (g.estimator == proxy_estimator::xattn) return; // measures no rows
    const int64_t tail0 = g.n_keys - std::min(g.N, g.B);
    std::vector<int64_t> rows;
    if (g.budget == proxy_budget::rows && g.estimator == proxy_estimator::proxy) {
        const int64_t n_pre = tail0 / g.B - g.row0, n = std::min(n_samples, n_pre);
        for (int64_t k = 0; k < n; ++k)
            rows.push_back(g.row0 + ceil_div((k + 1) * n_pre, n) - 1);
    }
    for (int64_t m = g.row0; m < g.n_kblocks; ++m)
        if (g.row_end(m) > tail0) rows.push_back(m);
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    for (int64_t m : rows) {
        sample_row s;
        s.m = m;
        s.tail = g.row_end(m) > tail0;
        if (s.tail) { // every tail query of the row
            s.first = std::max(g.row_begin(m), tail0);
            s.count = g.row_end(m) - s.first;
            s.step = 1;
        } else { // the proxy query grid of the row
            s.first = g.row_begin(m);
            s.count = ceil_div(g.row_end(m) - s.first, g.S);
            s.step = g.S;
        }
        s.q_index = g.n_bq;
        s.mass_index = g.n_mass;
        g.n_bq += s.count;
        g.n_mass += m + 1;
        g.samples.push_back(s);
    }
}

} // namespace

geometry make_geometry(const pa_tensor* q, const pa_tensor* k, const pa_tensor* v, const proxy_params& p) {
    require(q && k && v, "needs q, k and v");
    require(q->type == PA_TYPE_F32, "q must be f32");
    require(type_is_float(k->type) && type_is_float(v->type), "k and v must be f32 or f16");
    require(q->ne[3] == 1 && k->ne[3] == 1 && v->ne[3] == 1, "no batch dimension (ne[3] must be 1)");
    require(k->ne[0] == q->ne[0] && v->ne[0] == q->ne[0],
            fmt::format("head dims differ: q {} k {} v {}", q->ne[0], k->ne[0], v->ne[0]));
    require(k->ne[1] == v->ne[1] && k->ne[2] == v->ne[2], "k and v shapes differ");
    require(q->ne[0] > 0 && q->ne[1] > 0 && q->ne[2] > 0 && k->ne[2] > 0, "empty q, k or v");
    require(q->ne[2] % k->ne[2] == 0,
            fmt::format("{} query heads are not a multiple of {} kv heads", q->ne[2], k->ne[2]));
    proxy_params_check(p);
    require(p.estimator != proxy_estimator::xattn || int64_t(p.stride) * q->ne[0] <= 65536,
            fmt::format("xattn: stride * head dim ({} * {}) must be at most 65536", p.stride, q->ne[0]));
    require(k->ne[2] % p.n_proxy == 0,
            fmt::format("n_proxy ({}) must divide the kv heads ({})", p.n_proxy, k->ne[2]));
    require(p.n_past + q->ne[1] <= k->ne[1],
            fmt::format("needs n_past + N ({} + {}) <= kv length ({})", p.n_past, q->ne[1], k->ne[1]));
    require(p.n_past + q->ne[1] < (int64_t(1) << 31), "more than 2^31 keys");

    geometry g;
    g.d = q->ne[0];
    g.N = q->ne[1];
    g.H = q->ne[2];
    g.Hkv = k->ne[2];
    g.g = p.n_proxy;
    g.gqa = g.H / g.Hkv;
    g.heads_per_group = g.H / g.g;
    g.kv_per_group = g.Hkv / g.g;
    static_cast<block_grid&>(g) = block_grid::make(p.block, p.n_past, g.N);
    g.S = p.stride;
    g.KS = p.key_stride;
    g.k_min = ceil_div(p.min_tokens, g.B);
    g.n_sk = ceil_div(g.n_keys, g.KS);
    g.sq_first = ceil_div(g.row_end(g.row0) - g.n_past, g.S);
    g.n_sq = g.sq_first;
    for (int64_t m = g.row0 + 1; m < g.n_kblocks; ++m)
        g.n_sq += g.sq_row_count(m);
    g.scale = p.scale == 0.0f ? 1.0f / std::sqrt(float(g.d)) : p.scale;
    g.gamma = p.gamma;
    g.force = p.force_sink_and_local;
    g.estimator = p.estimator;
    g.exact_rows = p.exact_rows && p.estimator == proxy_estimator::proxy;
    g.flex_tau = p.flex_tau;
    g.k_max = ceil_div(p.max_tokens, g.B);
    g.n_tiles = ceil_div(g.n_keys, g.S);
    g.tq0 = g.n_past / g.S;
    g.budget = p.budget;
    g.stop_after = p.stop_after;
    // Row m keeps min(m+1, K + forced) blocks with K >= k_min; every row is full when the floor
    // (plus the forced blocks) already covers the longest row, or when gamma keeps everything.
    const int64_t forced_extra = g.force ? 2 : 0;
    g.all_kept = g.gamma >= 1.0f || g.k_min + forced_extra >= g.n_kblocks;
    if (!g.all_kept) place_samples(g, p.n_samples);
    return g;
}

geometry make_geometry(const pa_tensor* node) {
    require(node != nullptr, "null node");
    require(pa_param_i(node, proxy_param_causal) == 1,
            "only causal attention is supported (causal param must be 1)");
    return make_geometry(node->src[0], node->src[1], node->src[2], proxy_params_unpack(node->op_params));
}

geometry make_geometry(const attn_qkv& x, const proxy_params& p) {
    // shape-only tensors: make_geometry reads types and ne
    pa_tensor q{}, k{}, v{};
    q.type = PA_TYPE_F32;
    k.type = v.type = PA_TYPE_F32;
    const int64_t qne[4] = {x.d, x.N, x.H, 1}, kne[4] = {x.d, x.n_keys(), x.Hkv, 1};
    for (int i = 0; i < 4; ++i) {
        q.ne[i] = qne[i];
        k.ne[i] = v.ne[i] = kne[i];
    }
    proxy_params r = p;
    if (r.scale == 0.0f) r.scale = x.scale;
    r.n_past = int32_t(x.n_past);
    return make_geometry(&q, &k, &v, r);
}

} // namespace pa::proxy
