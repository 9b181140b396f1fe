// estimate.cpp - steps 1-6 of the spec on the CPU: proxy pooling, strided proxy
// scores, block max pooling, per-head budgets, shared ranking and the kept-block lists.
// Every float that feeds a decision is computed with det_math.h in the order documented next
// to it; plugin/kernels/proxy_estimate.cl follows the same order.
#include <algorithm>
#include <numeric>

#include "det_math.h"
#include "pa/parallel.h"
#include "reference.h"

namespace pa::proxy {
namespace {

// Steps 1-2. Proxy query of group j at strided sample i: (sum over the group's query heads, in
// head order, starting from 0) * (1 / heads); keys likewise over the group's kv heads.
void pool(const geometry& geo, const host_qkv& x, estimate& e) {
    const int64_t d = geo.d;
    const float inv_q = 1.0f / float(geo.heads_per_group);
    const float inv_k = 1.0f / float(geo.kv_per_group);
    e.pooled_q.assign(size_t(geo.g * geo.n_sq * d), 0.0f);
    e.pooled_k.assign(size_t(geo.g * geo.n_sk * d), 0.0f);
    for (int64_t j = 0; j < geo.g; ++j) {
        for (int64_t i = 0; i < geo.n_sq; ++i) {
            const int64_t t = geo.sq_pos(i) - geo.n_past;
            float* out = &e.pooled_q[size_t((j * geo.n_sq + i) * d)];
            for (int64_t c = 0; c < d; ++c) {
                float sum = 0.0f;
                for (int64_t h = j * geo.heads_per_group; h < (j + 1) * geo.heads_per_group; ++h)
                    sum += x.q[size_t((h * geo.N + t) * d + c)];
                out[c] = sum * inv_q;
            }
        }
        for (int64_t i = 0; i < geo.n_sk; ++i) {
            const int64_t pos = i * geo.S;
            float* out = &e.pooled_k[size_t((j * geo.n_sk + i) * d)];
            for (int64_t c = 0; c < d; ++c) {
                float sum = 0.0f;
                for (int64_t h = j * geo.kv_per_group; h < (j + 1) * geo.kv_per_group; ++h)
                    sum += x.k[size_t((h * geo.n_keys + pos) * d + c)];
                out[c] = sum * inv_k;
            }
        }
    }
}

// Merges LSE states given as (max, sum) pairs at stride `step`: M = the largest max, sum = sum
// in order of s * det::exp(m - M); returns M and 1 / sum. Used for step 3 (chunks of a proxy
// row) and step 5 (key blocks of a budget query); the device kernels merge in the same order.
void merge_lse(int64_t count, int64_t step, const float* pm, const float* ps, float& M, float& inv) {
    M = -INFINITY;
    for (int64_t n = 0; n < count; ++n)
        if (pm[n * step] > M) M = pm[n * step];
    float sum = 0.0f;
    for (int64_t n = 0; n < count; ++n)
        sum = sum + ps[n * step] * det::exp(pm[n * step] - M);
    inv = det::recip(sum);
}

// Steps 3-4 for proxy group j, row m. For each strided query (position p): logits against the
// visible strided keys (index <= p / S) as det::dot * scale; their LSE state per chunk of
// geo.lse_chunk() keys in key order, merged in chunk order (merge_lse); then per key block
// n <= m: A = exp(max logit in block - row max) * (1 / row sum); the row's score is the max
// over its strided queries.
PA_DET_CLONES void proxy_scores_row(const geometry& geo, estimate& e, int64_t j, int64_t m,
                                    std::vector<float>& L, std::vector<float>& cm, std::vector<float>& cs) {
    const int64_t d = geo.d, kpb = geo.sq_per_block();
    const float* Kp = &e.pooled_k[size_t(j * geo.n_sk * d)];
    float* A = &e.scores[size_t(j * geo.tri_total() + geo.tri(m))];
    std::fill(A, A + m + 1, 0.0f);
    const int64_t i0 = geo.sq_row_first(m), i1 = i0 + geo.sq_row_count(m);
    for (int64_t i = i0; i < i1; ++i) {
        const float* qs = &e.pooled_q[size_t((j * geo.n_sq + i) * d)];
        const int64_t cnt = geo.sq_pos(i) / geo.S + 1;
        const int64_t CH = geo.lse_chunk(), n_ch = (cnt + CH - 1) / CH;
        for (int64_t c = 0; c < n_ch; ++c) {
            det::lse_state st;
            for (int64_t kk = c * CH; kk < std::min(cnt, c * CH + CH); ++kk) {
                L[size_t(kk)] = det::dot(qs, Kp + kk * d, d) * geo.scale;
                st.add(L[size_t(kk)]);
            }
            cm[size_t(c)] = st.mx;
            cs[size_t(c)] = st.sum;
        }
        float row_mx = 0.0f, inv = 0.0f;
        merge_lse(n_ch, 1, cm.data(), cs.data(), row_mx, inv);
        e.row_max[size_t(j * geo.n_sq + i)] = row_mx;
        e.row_inv_sum[size_t(j * geo.n_sq + i)] = inv;
        for (int64_t n = 0; n <= m; ++n) {
            const int64_t k0 = n * kpb, k1 = std::min(k0 + kpb, cnt);
            float bm = L[size_t(k0)];
            for (int64_t kk = k0 + 1; kk < k1; ++kk)
                bm = std::max(bm, L[size_t(kk)]);
            const float v = det::exp(bm - row_mx) * inv;
            A[n] = std::max(A[n], v);
        }
    }
}

void proxy_scores(const geometry& geo, estimate& e, int n_threads) {
    e.row_max.assign(size_t(geo.g * geo.n_sq), 0.0f);
    e.row_inv_sum.assign(size_t(geo.g * geo.n_sq), 0.0f);
    e.scores.assign(size_t(geo.g * geo.tri_total()), 0.0f);
    parallel_for(geo.g * geo.n_rows, 1, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> L(size_t(geo.n_sk)), cm(size_t(geo.n_sk / geo.lse_chunk() + 1)), cs(cm.size());
        for (int64_t it = b; it < end; ++it)
            proxy_scores_row(geo, e, it / geo.n_rows, geo.row0 + it % geo.n_rows, L, cm, cs);
    });
}

// Step 5 for head h, query qi of the last row (unstrided, all of them), pass 1: per key block
// n, the LSE state (det::lse_state) of the block's visible logits det::dot * scale, in key
// order. pm/ps are [n_kblocks][queries]. The blocks are independent, which is what lets the
// device run them in parallel; merge_lse combines them in block order.
PA_DET_CLONES void budget_query(const geometry& geo, const host_qkv& x, int64_t h, int64_t qi, int64_t nq,
                                float* pm, float* ps) {
    const int64_t d = geo.d, B = geo.B;
    const int64_t p = geo.row_begin(geo.last_row()) + qi, t = p - geo.n_past;
    const float* qv = &x.q[size_t((h * geo.N + t) * d)];
    const float* K = &x.k[size_t((h / geo.gqa) * geo.n_keys * d)];
    for (int64_t n = 0; n < geo.n_kblocks; ++n) {
        det::lse_state st;
        for (int64_t jk = n * B; jk < std::min(n * B + B, p + 1); ++jk)
            st.add(det::dot(qv, K + jk * d, d) * geo.scale);
        pm[n * nq + qi] = st.mx;
        ps[n * nq + qi] = st.sum;
    }
}

// Block order for ranking: higher key first, ties by lower block index.
void sort_desc(const float* key, int64_t n, std::vector<int32_t>& order) {
    order.resize(size_t(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return key[a] > key[b] || (key[a] == key[b] && a < b); });
}

// a_i = sum over queries, in query order, of (ps * det::exp(pm - M)) * (1 / row sum); k_i =
// smallest k whose top-k sum (sorted order, summed in that order) reaches gamma * (sum over
// blocks in index order); K_i = max(k_i, k_min).
void budgets(const geometry& geo, const host_qkv& x, estimate& e, int n_threads) {
    const int64_t nb = geo.n_kblocks;
    const int64_t nq = geo.row_end(geo.last_row()) - geo.row_begin(geo.last_row());
    std::vector<float> pm(size_t(geo.H * nb * nq)), ps(pm.size()), M(size_t(geo.H * nq)), inv(M.size());
    parallel_for(geo.H * nq, 4, n_threads, [&](int64_t b, int64_t end) {
        for (int64_t it = b; it < end; ++it) {
            const int64_t h = it / nq, qi = it % nq;
            const size_t base = size_t(h * nb * nq);
            budget_query(geo, x, h, qi, nq, &pm[base], &ps[base]);
            merge_lse(nb, nq, &pm[base + size_t(qi)], &ps[base + size_t(qi)], M[size_t(it)], inv[size_t(it)]);
        }
    });
    e.head_mass.assign(size_t(geo.H * nb), 0.0f);
    e.budgets.assign(size_t(geo.H), 0);
    std::vector<int32_t> order;
    for (int64_t h = 0; h < geo.H; ++h) {
        float* a = &e.head_mass[size_t(h * nb)];
        for (int64_t n = 0; n < nb; ++n) {
            float s = 0.0f;
            for (int64_t q = 0; q < nq; ++q) {
                const size_t i = size_t((h * nb + n) * nq + q), r = size_t(h * nq + q);
                s = s + ps[i] * det::exp(pm[i] - M[r]) * inv[r];
            }
            a[n] = s;
        }
        float total = 0.0f;
        for (int64_t n = 0; n < nb; ++n)
            total = total + a[n];
        const float thr = geo.gamma * total;
        sort_desc(a, nb, order);
        int64_t k = nb;
        float cum = 0.0f;
        for (int64_t r = 0; r < nb; ++r) {
            cum = cum + a[order[size_t(r)]];
            if (cum >= thr) {
                k = r + 1;
                break;
            }
        }
        e.budgets[size_t(h)] = int32_t(std::max(k, geo.k_min));
    }
}

// Step 6: per (group, row) one sorted order of A_j[m][0..m] (forced blocks first), as ranks;
// head i keeps the blocks ranked below K_i + forced, listed in ascending block order.
void mask(const geometry& geo, estimate& e, int n_threads) {
    const int64_t tt = geo.tri_total();
    e.ranks.assign(size_t(geo.g * tt), 0);
    e.mask = block_mask::sized(geo, geo.H);
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
            for (int64_t h = j * geo.heads_per_group; h < (j + 1) * geo.heads_per_group; ++h) {
                const int64_t lim = e.budgets[size_t(h)] + geo.forced(m);
                int32_t* list = e.mask.row_list(h, m);
                int32_t c = 0;
                for (int64_t n = 0; n <= m; ++n)
                    if (rank[n] < lim) list[c++] = int32_t(n);
                e.mask.row_count(h, m) = c;
            }
        }
    });
}

} // namespace

void fill_dense_mask(const geometry& geo, estimate& e) {
    e.all_kept = true;
    e.budgets.assign(size_t(geo.H), int32_t(geo.n_kblocks));
    e.mask = block_mask::full(geo, geo.H);
}

estimate estimate_mask(const geometry& geo, const host_qkv& x, int n_threads) {
    estimate e;
    if (geo.all_kept) {
        fill_dense_mask(geo, e);
        return e;
    }
    pool(geo, x, e);
    if (geo.stop_after == 1) return e;
    proxy_scores(geo, e, n_threads);
    if (geo.stop_after == 2) return e;
    budgets(geo, x, e, n_threads);
    if (geo.stop_after == 3) return e;
    mask(geo, e, n_threads);
    return e;
}

} // namespace pa::proxy
