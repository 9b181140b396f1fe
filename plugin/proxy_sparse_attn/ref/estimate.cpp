// estimate.cpp - steps 1-6 of the spec on the CPU: proxy pooling and quantization, token-level
// proxy scores with block max pooling, the measured rows, per-head budgets, shared ranking,
// exact rows and the kept-block lists. Every number that feeds a decision is computed with
// det_math.h in the order documented next to it; kernels/proxy_estimate.cl and proxy_sort.cl
// follow the same definitions.
#include <algorithm>
#include <numeric>

#include "det_math.h"
#include "pa/parallel.h"
#include "reference.h"

namespace pa::proxy {
namespace {

// out[c] = (sum over heads h0 .. h1 - 1, in head order, starting from 0, of row `row` of the
// head in x [head][rows][d]) * inv.
void pool_heads(const float* x, int64_t rows, int64_t row, int64_t h0, int64_t h1, int64_t d, float inv,
                float* out) {
    for (int64_t c = 0; c < d; ++c) {
        float sum = 0.0f;
        for (int64_t h = h0; h < h1; ++h)
            sum += x[size_t((h * rows + row) * d + c)];
        out[c] = sum * inv;
    }
}

// Step 1. Proxy query of group j at strided sample i: (sum over the group's query heads, in
// head order, starting from 0) * (1 / heads); proxy key at key index i (position i * KS) likewise
// over the group's kv heads.
void pool(const geometry& geo, const host_qkv& x, estimate& e) {
    const int64_t d = geo.d;
    const float inv_q = 1.0f / float(geo.heads_per_group);
    const float inv_k = 1.0f / float(geo.kv_per_group);
    e.pooled_q.assign(size_t(geo.g * geo.n_sq * d), 0.0f);
    e.pooled_k.assign(size_t(geo.g * geo.n_sk * d), 0.0f);
    for (int64_t j = 0; j < geo.g; ++j) {
        for (int64_t i = 0; i < geo.n_sq; ++i) {
            const int64_t t = geo.sq_pos(i) - geo.n_past;
            pool_heads(x.q.data(), geo.N, t, j * geo.heads_per_group, (j + 1) * geo.heads_per_group, d, inv_q,
                       &e.pooled_q[size_t((j * geo.n_sq + i) * d)]);
        }
        for (int64_t i = 0; i < geo.n_sk; ++i) {
            pool_heads(x.k.data(), geo.n_keys, i * geo.KS, j * geo.kv_per_group, (j + 1) * geo.kv_per_group,
                       d, inv_k, &e.pooled_k[size_t((j * geo.n_sk + i) * d)]);
        }
    }
}

// int8 rows of `rows` x d floats; query rows carry the attention scale in their row scale
// (row scale * geo.scale), key rows their row scale alone.
void quantize(const float* src, int64_t rows, int64_t d, float extra_scale, quant_rows& out, int n_threads) {
    out.d = d;
    out.v.assign(size_t(rows * d), 0);
    out.scale.assign(size_t(rows), 0.0f);
    parallel_for(rows, 256, n_threads, [&](int64_t b, int64_t end) {
        for (int64_t r = b; r < end; ++r)
            out.scale[size_t(r)] = det::quantize_row(src + r * d, d, &out.v[size_t(r * d)]) * extra_scale;
    });
}

// Per-head measured queries (geometry samples, in order) and per-kv-head keys (every position).
void quantize_heads(const geometry& geo, const host_qkv& x, work& w, int n_threads) {
    std::vector<float> bq(size_t(geo.H * geo.n_bq * geo.d));
    for (int64_t h = 0; h < geo.H; ++h)
        for (const sample_row& s : geo.samples)
            for (int64_t i = 0; i < s.count; ++i) {
                const float* src = x.q_row(h, s.pos(i) - geo.n_past);
                std::copy(src, src + geo.d, &bq[size_t((h * geo.n_bq + s.q_index + i) * geo.d)]);
            }
    quantize(bq.data(), geo.H * geo.n_bq, geo.d, geo.scale, w.bq, n_threads);
    quantize(x.k.data(), geo.Hkv * geo.n_keys, geo.d, 1.0f, w.hk, n_threads);
}

// Block statistics of one query row against keys 0 .. vis-1 (blocks of kpb keys), for the first
// nb blocks: bm[n] = max logit of the block's visible keys, bs[n] = sum over them of
// exp(logit - bm[n]) in 2^-32 fixed point (-inf and 0 for a block with no visible key).
PA_NO_COVERAGE PA_DET_CLONES void block_stats(const int8_t* q, float qs, const quant_rows& K, int64_t k0,
                                              int64_t vis, int64_t kpb, int64_t nb, float* bm, float* bs,
                                              std::vector<float>& L) {
    const int64_t d = K.d;
    for (int64_t n = 0; n < nb; ++n) {
        const int64_t a = n * kpb, b = std::min(a + kpb, vis);
        float mx = -INFINITY;
        for (int64_t kk = a; kk < b; ++kk) {
            const size_t r = size_t(k0 + kk);
            L[size_t(kk - a)] = det::logit(det::idot(q, &K.v[r * size_t(d)], d), qs, K.scale[r]);
            mx = std::fmax(mx, L[size_t(kk - a)]);
        }
        uint64_t sum = 0;
        for (int64_t kk = a; kk < b; ++kk)
            sum += det::exp_fixed(L[size_t(kk - a)] - mx);
        bm[n] = a < b ? mx : -INFINITY;
        bs[n] = det::from_fixed(sum);
    }
}

// A query's softmax over its blocks: M = max of the block maxima; 1 / (sum in block order of
// bs[n] * exp(bm[n] - M)).
void merge_blocks(const float* bm, const float* bs, int64_t nb, float& M, float& inv) {
    M = -INFINITY;
    for (int64_t n = 0; n < nb; ++n)
        M = std::fmax(M, bm[n]);
    float sum = 0.0f;
    for (int64_t n = 0; n < nb; ++n)
        sum = sum + bs[n] * det::exp(bm[n] - M);
    inv = det::recip(sum);
}

// Steps 2-3 for group j, row m: every strided query of the row against every proxy key it sees;
// A_j[m][n] = max over the row's queries of exp(bm[n] - M) * inv (the largest probability any of
// them gives a key of block n).
void proxy_scores(const geometry& geo, estimate& e, const work& w, int n_threads) {
    e.row_max.assign(size_t(geo.g * geo.n_sq), 0.0f);
    e.row_inv_sum.assign(size_t(geo.g * geo.n_sq), 0.0f);
    e.scores.assign(size_t(geo.g * geo.tri_total()), 0.0f);
    const int64_t d = geo.d, kpb = geo.sk_per_block();
    parallel_for(geo.g * geo.n_rows, 1, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> bm(size_t(geo.n_kblocks)), bs(bm.size()), L(static_cast<size_t>(kpb));
        for (int64_t it = b; it < end; ++it) {
            const int64_t j = it / geo.n_rows, m = geo.row0 + it % geo.n_rows;
            float* A = &e.scores[size_t(j * geo.tri_total() + geo.tri(m))];
            const int64_t i0 = geo.sq_row_first(m), i1 = i0 + geo.sq_row_count(m);
            for (int64_t i = i0; i < i1; ++i) {
                const size_t r = size_t(j * geo.n_sq + i);
                block_stats(&w.pq.v[r * size_t(d)], w.pq.scale[r], w.pk, j * geo.n_sk,
                            geo.sk_visible(geo.sq_pos(i)), kpb, m + 1, bm.data(), bs.data(), L);
                merge_blocks(bm.data(), bs.data(), m + 1, e.row_max[r], e.row_inv_sum[r]);
                for (int64_t n = 0; n <= m; ++n)
                    A[n] = std::fmax(A[n], det::exp(bm[size_t(n)] - e.row_max[r]) * e.row_inv_sum[r]);
            }
        }
    });
}

// Step 4a: every measured query of every head against all keys of its kv head (blocks of B):
// block statistics and the query's softmax, kept per query for the exact rows.
void measure_samples(const geometry& geo, work& w, int n_threads) {
    const int64_t nb = geo.n_kblocks, d = geo.d;
    w.qbm.assign(size_t(geo.H * geo.n_bq * nb), -INFINITY);
    w.qbs.assign(w.qbm.size(), 0.0f);
    w.qM.assign(size_t(geo.H * geo.n_bq), 0.0f);
    w.qinv.assign(w.qM.size(), 0.0f);
    parallel_for(geo.H * geo.n_bq, 8, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> L(size_t(geo.B));
        for (int64_t it = b; it < end; ++it) {
            const int64_t h = it / geo.n_bq, qi = it % geo.n_bq;
            const auto s = std::upper_bound(geo.samples.begin(), geo.samples.end(), qi,
                                            [](int64_t v, const sample_row& x) { return v < x.q_index; }) -
                           1;
            const int64_t p = s->pos(qi - s->q_index);
            float* bm = &w.qbm[size_t(it * nb)];
            float* bs = &w.qbs[size_t(it * nb)];
            block_stats(&w.bq.v[size_t(it * d)], w.bq.scale[size_t(it)], w.hk, (h / geo.gqa) * geo.n_keys,
                        p + 1, geo.B, s->m + 1, bm, bs, L);
            merge_blocks(bm, bs, s->m + 1, w.qM[size_t(it)], w.qinv[size_t(it)]);
        }
    });
}

// Probability mass of block n for measured query `it` (index h * n_bq + q).
float query_mass(const work& w, int64_t nb, int64_t it, int64_t n) {
    const size_t at = size_t(it * nb + n);
    return w.qbs[at] * det::exp(w.qbm[at] - w.qM[size_t(it)]) * w.qinv[size_t(it)];
}

// Step 4b: mass of each sample row per head, sum over its queries in query order.
void sample_masses(const geometry& geo, estimate& e, const work& w) {
    e.sample_mass.assign(size_t(geo.H * geo.n_mass), 0.0f);
    for (int64_t h = 0; h < geo.H; ++h)
        for (const sample_row& s : geo.samples) {
            float* mass = &e.sample_mass[size_t(h * geo.n_mass + s.mass_index)];
            for (int64_t n = 0; n <= s.m; ++n) {
                float sum = 0.0f;
                for (int64_t i = 0; i < s.count; ++i)
                    sum = sum + query_mass(w, geo.n_kblocks, h * geo.n_bq + s.q_index + i, n);
                mass[n] = sum;
            }
        }
}

// Block order for ranking: higher key first, ties by lower block index.
void sort_desc(const float* key, int64_t n, std::vector<int32_t>& order) {
    order.resize(size_t(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return key[a] > key[b] || (key[a] == key[b] && a < b); });
}

float sum_in_order(const float* a, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i)
        s = s + a[i];
    return s;
}

// Step 5: per (group, row) one sorted order of A_j[m][0..m], forced blocks first, as ranks.
void rank_rows(const geometry& geo, estimate& e, int n_threads) {
    const int64_t tt = geo.tri_total();
    e.ranks.assign(size_t(geo.g * tt), 0);
    parallel_for(geo.g * geo.n_rows, 4, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> key;
        std::vector<int32_t> order;
        for (int64_t it = b; it < end; ++it) {
            const int64_t j = it / geo.n_rows, m = geo.row0 + it % geo.n_rows;
            const float* A = &e.scores[size_t(j * tt + geo.tri(m))];
            key.assign(A, A + m + 1);
            if (geo.force) key[0] = key[size_t(m)] = INFINITY;
            sort_desc(key.data(), m + 1, order);
            int32_t* rank = &e.ranks[size_t(j * tt + geo.tri(m))];
            for (int64_t r = 0; r <= m; ++r)
                rank[order[size_t(r)]] = int32_t(r);
        }
    });
}

// Blocks of the shared order (ranks of row m) needed to reach gamma of `mass`: the position
// where the running sum in rank order first reaches gamma * (sum in index order), minus the
// forced blocks (which lead the order).
int64_t shared_count(const geometry& geo, const int32_t* rank, const float* mass, int64_t m) {
    std::vector<int32_t> order(size_t(m + 1));
    for (int64_t n = 0; n <= m; ++n)
        order[size_t(rank[n])] = int32_t(n);
    const float thr = geo.gamma * sum_in_order(mass, m + 1);
    float cum = 0.0f;
    int64_t cnt = m + 1;
    for (int64_t r = 0; r <= m; ++r) {
        cum = cum + mass[order[size_t(r)]];
        if (cum >= thr) {
            cnt = r + 1;
            break;
        }
    }
    return std::max<int64_t>(0, cnt - geo.forced(m));
}

// The paper's count: the head's own sorted order of `mass` (blocks 0..nb-1), smallest k whose
// top-k sum (in sorted order) reaches gamma * (sum in index order).
int64_t own_count(const geometry& geo, const float* mass, int64_t nb) {
    std::vector<int32_t> order;
    sort_desc(mass, nb, order);
    const float thr = geo.gamma * sum_in_order(mass, nb);
    float cum = 0.0f;
    for (int64_t r = 0; r < nb; ++r) {
        cum = cum + mass[order[size_t(r)]];
        if (cum >= thr) return r + 1;
    }
    return nb;
}

// ceil(k * (m + 1) / (s + 1)): a sample row's count as the same fraction of row m's blocks.
int64_t scaled_count(int64_t k, int64_t s, int64_t m) {
    return (k * (m + 1) + s) / (s + 1);
}

// Row m (lo < m <= hi) between sample rows lo and hi with counts klo and khi: the count on the
// line through them, rounded up: ceil((klo (hi - m) + khi (m - lo)) / (hi - lo)).
int64_t between_count(int64_t klo, int64_t lo, int64_t khi, int64_t hi, int64_t m) {
    return (klo * (hi - m) + khi * (m - lo) + hi - lo - 1) / (hi - lo);
}

// Step 6a: blocks per (head, row) beyond the forced ones.
//   fixed: k_min.   last: max(own count of the tail's summed mass, k_min) for every row.
//   rows:  each sample row's shared count; a row between two sample rows takes the count on the
//          line through theirs, a row before the first sample row that row's count scaled to
//          its length; at least k_min. (A count needed along the sequence grows with the row's
//          length or stays put; the line follows both. The tail rows directly follow the last
//          spread sample row, so a focused tail does not lower the rows before it.)
void budgets(const geometry& geo, estimate& e) {
    const int64_t ns = int64_t(geo.samples.size());
    e.sample_budget.assign(size_t(geo.H * ns), 0);
    e.budgets.assign(size_t(geo.H * geo.n_rows), int32_t(geo.k_min));
    if (geo.budget == proxy_budget::fixed) return;
    for (int64_t h = 0; h < geo.H; ++h) {
        const int64_t j = h / geo.heads_per_group;
        int32_t* row_budget = &e.budgets[size_t(h * geo.n_rows)];
        if (geo.budget == proxy_budget::last) {
            std::vector<float> tail(size_t(geo.n_kblocks), 0.0f);
            for (const sample_row& s : geo.samples)
                if (s.tail)
                    for (int64_t n = 0; n <= s.m; ++n)
                        tail[size_t(n)] =
                            tail[size_t(n)] + e.sample_mass[size_t(h * geo.n_mass + s.mass_index + n)];
            const int64_t k = std::max(own_count(geo, tail.data(), geo.n_kblocks), geo.k_min);
            std::fill(row_budget, row_budget + geo.n_rows, int32_t(k));
            continue;
        }
        const int32_t* sb = &e.sample_budget[size_t(h * ns)];
        for (int64_t si = 0; si < ns; ++si) {
            const sample_row& s = geo.samples[size_t(si)];
            e.sample_budget[size_t(h * ns + si)] =
                int32_t(shared_count(geo, &e.ranks[size_t(j * geo.tri_total() + geo.tri(s.m))],
                                     &e.sample_mass[size_t(h * geo.n_mass + s.mass_index)], s.m));
        }
        size_t next = 0; // first sample row >= m
        for (int64_t m = geo.row0; m < geo.n_kblocks; ++m) {
            while (geo.samples[next].m < m)
                ++next;
            const int64_t hi = geo.samples[next].m;
            const int64_t k = next == 0
                                  ? scaled_count(sb[0], hi, m)
                                  : between_count(sb[next - 1], geo.samples[next - 1].m, sb[next], hi, m);
            row_budget[m - geo.row0] = int32_t(std::max(k, geo.k_min));
        }
    }
}

// Step 6b: the exact set of head h on sample row s (flags over blocks 0..m, 1 = kept): the
// forced blocks; then blocks in the order of the row's mass (descending, ties by index) until
// the kept mass (summed in index order over the forced blocks, then in the order added) reaches
// gamma of the row's mass (sum in index order); then, on a tail row (the queries that ask a
// prompt's question), the union over its queries of each query's own blocks: in the order of its
// mass, those outside the row's set until the query's mass in the row's set and them (summed in
// index order over the row's set, then in the order added) reaches gamma of its own. Every query
// starts from the row's set alone, so the queries are independent (the device takes them in
// parallel); a query that started from the blocks earlier queries added would stop no later, so
// the union holds what the sequential form keeps. Spread sample rows keep gamma of the row's mass
// like every other row: per-query sets there cost density (a union over the row's queries)
// without a retrieval to protect.
void exact_set(const geometry& geo, const work& w, const float* mass, int64_t h, const sample_row& s,
               uint8_t* keep) {
    const int64_t m = s.m;
    std::fill(keep, keep + m + 1, uint8_t(0));
    if (geo.force) keep[0] = keep[m] = 1;
    std::vector<int32_t> order;
    sort_desc(mass, m + 1, order);
    const float thr = geo.gamma * sum_in_order(mass, m + 1);
    float cum = 0.0f;
    for (int64_t n = 0; n <= m; ++n)
        if (keep[n]) cum = cum + mass[n];
    for (int64_t r = 0; r <= m && !(cum >= thr); ++r)
        if (!keep[order[size_t(r)]]) {
            keep[order[size_t(r)]] = 1;
            cum = cum + mass[order[size_t(r)]];
        }
    if (!s.tail) return;
    std::vector<float> pq(size_t(m + 1));
    std::vector<uint8_t> added(size_t(m + 1), 0);
    for (int64_t i = 0; i < s.count; ++i) {
        const int64_t it = h * geo.n_bq + s.q_index + i;
        for (int64_t n = 0; n <= m; ++n)
            pq[size_t(n)] = query_mass(w, geo.n_kblocks, it, n);
        const float qthr = geo.gamma * sum_in_order(pq.data(), m + 1);
        float rec = 0.0f;
        for (int64_t n = 0; n <= m; ++n)
            if (keep[n]) rec = rec + pq[size_t(n)];
        if (rec >= qthr) continue;
        sort_desc(pq.data(), m + 1, order);
        for (int64_t r = 0; r <= m && !(rec >= qthr); ++r)
            if (!keep[order[size_t(r)]]) {
                added[size_t(order[size_t(r)])] = 1;
                rec = rec + pq[size_t(order[size_t(r)])];
            }
    }
    for (int64_t n = 0; n <= m; ++n)
        keep[n] = keep[n] | added[size_t(n)];
}

void exact_rows(const geometry& geo, estimate& e, const work& w, int n_threads) {
    const int64_t tt = geo.tri_total();
    e.exact.assign(size_t(geo.H * tt), 0);
    const int64_t ns = int64_t(geo.samples.size());
    parallel_for(geo.H * ns, 1, n_threads, [&](int64_t b, int64_t end) {
        for (int64_t it = b; it < end; ++it) {
            const int64_t h = it / ns;
            const sample_row& s = geo.samples[size_t(it % ns)];
            if (!geo.exact_sample(s)) continue;
            exact_set(geo, w, &e.sample_mass[size_t(h * geo.n_mass + s.mass_index)], h, s,
                      &e.exact[size_t(h * tt + geo.tri(s.m))]);
        }
    });
}

// Step 6c: head h keeps in row m the blocks ranked below budget + forced, and its exact set.
void build_mask(const geometry& geo, estimate& e, int n_threads) {
    const int64_t tt = geo.tri_total();
    e.mask = block_mask::sized(geo, geo.H);
    parallel_for(geo.H * geo.n_rows, 16, n_threads, [&](int64_t b, int64_t end) {
        for (int64_t it = b; it < end; ++it) {
            const int64_t h = it / geo.n_rows, m = geo.row0 + it % geo.n_rows;
            const int32_t* rank = &e.ranks[size_t((h / geo.heads_per_group) * tt + geo.tri(m))];
            const uint8_t* exact = &e.exact[size_t(h * tt + geo.tri(m))];
            const int64_t lim = e.budgets[size_t(it)] + geo.forced(m);
            int32_t* list = e.mask.row_list(h, m);
            int32_t c = 0;
            for (int64_t n = 0; n <= m; ++n)
                if (rank[n] < lim || exact[n]) list[c++] = int32_t(n);
            e.mask.row_count(h, m) = c;
        }
    });
}

bool needs_samples(const geometry& geo) {
    return geo.budget != proxy_budget::fixed || geo.exact_rows;
}

} // namespace

void fill_dense_mask(const geometry& geo, estimate& e) {
    e.all_kept = true;
    e.budgets.assign(size_t(geo.H * geo.n_rows), int32_t(geo.n_kblocks));
    e.mask = block_mask::full(geo, geo.H);
}

estimate estimate_mask(const geometry& geo, const host_qkv& x, int n_threads) {
    estimate e;
    if (geo.all_kept) {
        fill_dense_mask(geo, e);
        return e;
    }
    if (geo.estimator == proxy_estimator::xattn) {
        xattn_estimate(geo, x, e, n_threads);
        return e;
    }
    if (geo.estimator == proxy_estimator::flex) {
        flex_estimate(geo, x, e, n_threads);
        return e;
    }
    work w;
    pool(geo, x, e);
    quantize(e.pooled_q.data(), geo.g * geo.n_sq, geo.d, geo.scale, w.pq, n_threads);
    quantize(e.pooled_k.data(), geo.g * geo.n_sk, geo.d, 1.0f, w.pk, n_threads);
    if (geo.stop_after == 1) return e;
    proxy_scores(geo, e, w, n_threads);
    rank_rows(geo, e, n_threads);
    if (geo.stop_after == 2) return e;
    if (needs_samples(geo)) {
        quantize_heads(geo, x, w, n_threads);
        measure_samples(geo, w, n_threads);
        sample_masses(geo, e, w);
    }
    budgets(geo, e);
    exact_rows(geo, e, w, n_threads);
    if (geo.stop_after == 3) return e;
    build_mask(geo, e, n_threads);
    return e;
}

} // namespace pa::proxy
