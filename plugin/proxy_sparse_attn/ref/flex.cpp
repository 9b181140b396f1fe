// flex.cpp - estimator = flex on the CPU: FlexPrefill (Lai et al., arXiv 2502.20766), per query
// head against its kv head.
//   1 rows     int8 rows: the head's last B queries (the tail), every key; pooled (mean) rows:
//              the tail's query, each query block row's query, each key block's key
//   2 lines    the tail's exact softmax against every visible key (blocks of B), as block masses
//              summed over its queries: per key block (vertical) and per block offset o = row - key
//              block (slash); the pooled estimate of the same distribution (softmax of the pooled
//              tail query against the pooled keys); their JS divergence decides the pattern:
//              query-aware when sqrt(JS) < flex_tau, else vertical-slash
//   3 counts   vertical-slash heads: the fewest vertical lines (sink first) and, separately, slash
//              lines (diagonal first) whose masses reach gamma of their totals, each within
//              [ceil(min_tokens / B), ceil(max_tokens / B)] beyond the forced one; query-aware heads:
//              per row the fewest blocks of the pooled scores (softmax of the row's pooled query
//              against the pooled keys of blocks 0..m) reaching gamma, within the same bounds
//   4 mask     vertical-slash row m: blocks n on a kept vertical line or with m - n a kept slash
//              line (the diagonal when no line crosses the row); query-aware: the row's blocks
// Lines are in blocks, not tokens: a vertical line is a key block kept in every row at or below
// it, a slash line an offset kept in every row. Decisions use det_math.h in the order stated
// here; kernels/flex.cl follows it bit for bit.
#include <algorithm>
#include <cmath>

#include "det_math.h"
#include "pa/parallel.h"
#include "reference.h"

namespace pa::proxy {
namespace {

// rows x d floats -> int8 rows with scale (row scale * extra).
void quantize(const std::vector<float>& src, int64_t rows, int64_t d, float extra, quant_rows& out) {
    out.d = d;
    out.v.assign(size_t(rows * d), 0);
    out.scale.assign(size_t(rows), 0.0f);
    for (int64_t r = 0; r < rows; ++r)
        out.scale[size_t(r)] = det::quantize_row(&src[size_t(r * d)], d, &out.v[size_t(r * d)]) * extra;
}

// Mean of rows first, first + 1, ..., first + count - 1 of `at(i)` (d floats each): sum in row
// order from 0, times recip(count).
template <class F> void mean_rows(F at, int64_t first, int64_t count, int64_t d, float* out) {
    const float inv = det::recip(float(count));
    for (int64_t c = 0; c < d; ++c) {
        float s = 0.0f;
        for (int64_t i = first; i < first + count; ++i)
            s = s + at(i)[c];
        out[c] = s * inv;
    }
}

struct flex_rows {
    quant_rows tq, keys;                 // tail queries [H][n_tail], keys [Hkv][n_keys]
    quant_rows ptq, prq;                 // pooled tail query [H], pooled row queries [H][n_rows]
    quant_rows pk;                       // pooled block keys [Hkv][n_kblocks]
    std::vector<float> tail_m, tail_inv; // [H][n_tail] softmax of each tail query
    std::vector<float> bm, bs;           // [H][n_tail][n_kblocks] its block statistics
};

// Step 1.
void make_rows(const geometry& geo, const attn_qkv& x, flex_rows& w) {
    const int64_t d = geo.d, nt = geo.tail_count(), t0 = geo.tail_first() - geo.n_past;
    std::vector<float> buf(size_t(geo.H * nt * d));
    for (int64_t h = 0; h < geo.H; ++h)
        for (int64_t i = 0; i < nt; ++i)
            std::copy(x.q_row(h, t0 + i), x.q_row(h, t0 + i) + d, &buf[size_t((h * nt + i) * d)]);
    quantize(buf, geo.H * nt, d, geo.scale, w.tq);
    quantize(x.k, geo.Hkv * geo.n_keys, d, 1.0f, w.keys);
    buf.assign(size_t(geo.H * d), 0.0f);
    for (int64_t h = 0; h < geo.H; ++h)
        mean_rows([&](int64_t t) { return x.q_row(h, t); }, t0, nt, d, &buf[size_t(h * d)]);
    quantize(buf, geo.H, d, geo.scale, w.ptq);
    buf.assign(size_t(geo.H * geo.n_rows * d), 0.0f);
    for (int64_t h = 0; h < geo.H; ++h)
        for (int64_t m = geo.row0; m < geo.n_kblocks; ++m)
            mean_rows([&](int64_t t) { return x.q_row(h, t); }, geo.row_begin(m) - geo.n_past,
                      geo.row_end(m) - geo.row_begin(m), d,
                      &buf[size_t((h * geo.n_rows + m - geo.row0) * d)]);
    quantize(buf, geo.H * geo.n_rows, d, geo.scale, w.prq);
    buf.assign(size_t(geo.Hkv * geo.n_kblocks * d), 0.0f);
    for (int64_t hk = 0; hk < geo.Hkv; ++hk)
        for (int64_t n = 0; n < geo.n_kblocks; ++n)
            mean_rows([&](int64_t j) { return x.k_head(hk) + j * d; }, n * geo.B,
                      std::min((n + 1) * geo.B, geo.n_keys) - n * geo.B, d,
                      &buf[size_t((hk * geo.n_kblocks + n) * d)]);
    quantize(buf, geo.Hkv * geo.n_kblocks, d, 1.0f, w.pk);
}

// Softmax over blocks 0..nb-1 of one pooled query row (int8 q, scale qs) against pooled keys
// (rows k0 ..): logits, M = max, inv = 1 / (sum in block order of exp(L - M)), p[n] = exp(L - M) * inv.
void pooled_softmax(const int8_t* q, float qs, const quant_rows& pk, int64_t k0, int64_t nb, float* p) {
    const int64_t d = pk.d;
    float M = -INFINITY;
    for (int64_t n = 0; n < nb; ++n) {
        const size_t r = size_t(k0 + n);
        p[n] = det::logit(det::idot(q, &pk.v[r * size_t(d)], d), qs, pk.scale[r]);
        M = std::fmax(M, p[n]);
    }
    float sum = 0.0f;
    for (int64_t n = 0; n < nb; ++n)
        sum = sum + det::exp(p[n] - M);
    const float inv = det::recip(sum);
    for (int64_t n = 0; n < nb; ++n)
        p[n] = det::exp(p[n] - M) * inv;
}

// Step 2a: the tail queries' block statistics against every visible key (blocks of B; bm = max
// logit, bs = 2^-32 fixed-point sum of exp(logit - bm)) and softmax (M = max of bm, inv = 1 /
// sum in block order of bs * exp(bm - M)).
PA_DET_CLONES void tail_stats(const geometry& geo, flex_rows& w, int n_threads) {
    const int64_t nt = geo.tail_count(), nb = geo.n_kblocks, d = geo.d, B = geo.B;
    w.bm.assign(size_t(geo.H * nt * nb), -INFINITY);
    w.bs.assign(w.bm.size(), 0.0f);
    w.tail_m.assign(size_t(geo.H * nt), 0.0f);
    w.tail_inv.assign(w.tail_m.size(), 0.0f);
    parallel_for(geo.H * nt, 4, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> L(static_cast<size_t>(B));
        for (int64_t it = b; it < end; ++it) {
            const int64_t h = it / nt, p = geo.tail_first() + it % nt, m = p / B;
            const int64_t k0 = (h / geo.gqa) * geo.n_keys;
            const int8_t* q = &w.tq.v[size_t(it * d)];
            float* bm = &w.bm[size_t(it * nb)];
            float* bs = &w.bs[size_t(it * nb)];
            for (int64_t n = 0; n <= m; ++n) {
                const int64_t a = n * B, e = std::min(a + B, p + 1);
                float mx = -INFINITY;
                for (int64_t j = a; j < e; ++j) {
                    const size_t r = size_t(k0 + j);
                    L[size_t(j - a)] = det::logit(det::idot(q, &w.keys.v[r * size_t(d)], d),
                                                  w.tq.scale[size_t(it)], w.keys.scale[r]);
                    mx = std::fmax(mx, L[size_t(j - a)]);
                }
                uint64_t sum = 0;
                for (int64_t j = a; j < e; ++j)
                    sum += det::exp_fixed(L[size_t(j - a)] - mx);
                bm[n] = mx;
                bs[n] = det::from_fixed(sum);
            }
            float M = -INFINITY;
            for (int64_t n = 0; n <= m; ++n)
                M = std::fmax(M, bm[n]);
            float sum = 0.0f;
            for (int64_t n = 0; n <= m; ++n)
                sum = sum + bs[n] * det::exp(bm[n] - M);
            w.tail_m[size_t(it)] = M;
            w.tail_inv[size_t(it)] = det::recip(sum);
        }
    });
}

// Probability mass of key block n for tail query it: bs * exp(bm - M) * inv.
float tail_mass(const geometry& geo, const flex_rows& w, int64_t it, int64_t n) {
    const size_t at = size_t(it * geo.n_kblocks + n);
    return w.bs[at] * det::exp(w.bm[at] - w.tail_m[size_t(it)]) * w.tail_inv[size_t(it)];
}

// JS divergence of p = vertical / (its sum in index order) and q = the pooled estimate: the sum in
// block order of 0.5 * (p log(p / mid) + q log(q / mid)), mid = (p + q) * 0.5, a side below 2^-100
// counting as 0; log(a / mid) is taken as log(a) - log(mid).
float js_divergence(const float* vertical, const float* est, int64_t nb) {
    float total = 0.0f;
    for (int64_t n = 0; n < nb; ++n)
        total = total + vertical[n];
    const float inv = det::recip(total);
    float D = 0.0f;
    for (int64_t n = 0; n < nb; ++n) {
        const float p = vertical[n] * inv, q = est[n];
        const float mid = (p + q) * 0.5f;
        const float tp = p >= 0x1p-100f ? p * (det::log(p) - det::log(mid)) : 0.0f;
        const float tq = q >= 0x1p-100f ? q * (det::log(q) - det::log(mid)) : 0.0f;
        D = D + 0.5f * (tp + tq);
    }
    return D;
}

// Step 2b: lines, pooled estimate, divergence and pattern of head h. Vertical[n] = sum over the
// tail queries in order of their mass on block n; slash[o] = likewise of the mass on block row - o.
void lines_and_pattern(const geometry& geo, const flex_rows& w, estimate& e, int64_t h) {
    const int64_t nt = geo.tail_count(), nb = geo.n_kblocks;
    float* V = &e.flex.lines[size_t((h * 3 + flex_vertical) * nb)];
    float* Sl = &e.flex.lines[size_t((h * 3 + flex_slash) * nb)];
    float* est = &e.flex.lines[size_t((h * 3 + flex_pooled) * nb)];
    for (int64_t n = 0; n < nb; ++n) {
        float v = 0.0f, s = 0.0f;
        for (int64_t i = 0; i < nt; ++i) {
            const int64_t it = h * nt + i, m = (geo.tail_first() + i) / geo.B;
            if (n <= m) {
                v = v + tail_mass(geo, w, it, n);
                s = s + tail_mass(geo, w, it, m - n);
            }
        }
        V[n] = v;
        Sl[n] = s;
    }
    pooled_softmax(&w.ptq.v[size_t(h * geo.d)], w.ptq.scale[size_t(h)], w.pk, (h / geo.gqa) * nb, nb, est);
    const float D = js_divergence(V, est, nb);
    e.flex.js[size_t(h)] = D;
    e.flex.pick[size_t(h * 3)] = geo.flex_tau > 0.0f && D < geo.flex_tau * geo.flex_tau ? 1 : 0;
}

// Step 3, vertical-slash head: the kept lines and each row's count beyond the forced blocks.
void pick_lines(const geometry& geo, estimate& e, int64_t h) {
    const int64_t nb = geo.n_kblocks;
    std::vector<int32_t> rank(static_cast<size_t>(nb));
    for (int which : {flex_vertical, flex_slash}) {
        const float* v = &e.flex.lines[size_t((h * 3 + which) * nb)];
        const int64_t k =
            rank_threshold(v, nb, forced_first(geo), -1, geo.gamma, geo.k_min, geo.k_max, rank.data());
        e.flex.pick[size_t(h * 3 + 1 + which)] = int32_t(k);
        uint8_t* keep = &e.flex.keep[size_t((h * 2 + which) * nb)];
        for (int64_t n = 0; n < nb; ++n)
            keep[n] = rank[size_t(n)] < k + (geo.force ? 1 : 0) ? 1 : 0;
    }
}

// Whether vertical-slash row m keeps block n (the diagonal alone when no kept line crosses the row).
bool vs_keeps(const geometry& geo, const estimate& e, int64_t h, int64_t m, int64_t n, bool row_empty) {
    const uint8_t* kv = &e.flex.keep[size_t((h * 2 + flex_vertical) * geo.n_kblocks)];
    const uint8_t* ks = &e.flex.keep[size_t((h * 2 + flex_slash) * geo.n_kblocks)];
    return kv[n] || ks[m - n] || (row_empty && n == m);
}
int64_t vs_row_count(const geometry& geo, const estimate& e, int64_t h, int64_t m) {
    int64_t c = 0;
    for (int64_t n = 0; n <= m; ++n)
        c += vs_keeps(geo, e, h, m, n, false) ? 1 : 0;
    return c;
}

// Step 3, query-aware head: pooled scores, ranks and counts per row.
void query_aware_rows(const geometry& geo, const flex_rows& w, estimate& e, int64_t h) {
    const int64_t tt = geo.tri_total();
    for (int64_t m = geo.row0; m < geo.n_kblocks; ++m) {
        const size_t at = size_t(h * tt + geo.tri(m));
        const int64_t r = h * geo.n_rows + m - geo.row0;
        pooled_softmax(&w.prq.v[size_t(r * geo.d)], w.prq.scale[size_t(r)], w.pk,
                       (h / geo.gqa) * geo.n_kblocks, m + 1, &e.scores[at]);
        e.budgets[size_t(r)] =
            int32_t(rank_threshold(&e.scores[at], m + 1, forced_first(geo), forced_second(geo, m), geo.gamma,
                                   geo.k_min, geo.k_max, &e.ranks[at]));
    }
}

// Step 4.
void build_mask(const geometry& geo, estimate& e) {
    const int64_t tt = geo.tri_total();
    e.mask = block_mask::sized(geo, geo.H);
    for (int64_t h = 0; h < geo.H; ++h)
        for (int64_t m = geo.row0; m < geo.n_kblocks; ++m) {
            const bool qa = e.flex.pick[size_t(h * 3)] != 0;
            const int32_t* rank = &e.ranks[size_t(h * tt + geo.tri(m))];
            const int64_t lim = e.budgets[size_t(h * geo.n_rows + m - geo.row0)] + geo.forced(m);
            const bool empty = !qa && vs_row_count(geo, e, h, m) == 0;
            int32_t* list = e.mask.row_list(h, m);
            int32_t c = 0;
            for (int64_t n = 0; n <= m; ++n)
                if (qa ? rank[n] < lim : vs_keeps(geo, e, h, m, n, empty)) list[c++] = int32_t(n);
            e.mask.row_count(h, m) = c;
        }
}

} // namespace

void flex_estimate(const geometry& geo, const attn_qkv& x, estimate& e, int n_threads) {
    const int64_t nb = geo.n_kblocks, tt = geo.tri_total();
    flex_rows w;
    make_rows(geo, x, w);
    if (geo.stop_after == 1) return;
    tail_stats(geo, w, n_threads);
    e.flex.lines.assign(size_t(geo.H * 3 * nb), 0.0f);
    e.flex.js.assign(size_t(geo.H), 0.0f);
    e.flex.pick.assign(size_t(geo.H * 3), 0);
    for (int64_t h = 0; h < geo.H; ++h)
        lines_and_pattern(geo, w, e, h);
    if (geo.stop_after == 2) return;
    e.flex.keep.assign(size_t(geo.H * 2 * nb), 0);
    e.scores.assign(size_t(geo.H * tt), 0.0f);
    e.ranks.assign(size_t(geo.H * tt), 0);
    e.budgets.assign(size_t(geo.H * geo.n_rows), 0);
    for (int64_t h = 0; h < geo.H; ++h) {
        if (e.flex.pick[size_t(h * 3)]) {
            query_aware_rows(geo, w, e, h);
            continue;
        }
        pick_lines(geo, e, h);
        for (int64_t m = geo.row0; m < geo.n_kblocks; ++m)
            e.budgets[size_t(h * geo.n_rows + m - geo.row0)] = int32_t(
                std::max<int64_t>(0, std::max<int64_t>(1, vs_row_count(geo, e, h, m)) - geo.forced(m)));
    }
    if (geo.stop_after == 3) return;
    build_mask(geo, e);
}

} // namespace pa::proxy
