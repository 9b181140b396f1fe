// xattn.cpp - estimator = xattn on the CPU: XAttention (Xu et al., arXiv 2503.16428), per query
// head against its kv head.
//   1 tile rows    every S x S tile of Q K^T is scored by the sum along its antidiagonal (lower
//                  left to upper right): one int8 dot product of a reversed query tile row with a
//                  key tile row (every query and every key contributes once per tile pair)
//   2 block scores a softmax over the visible key tiles of each query tile (logits = antidiagonal
//                  sum * scale / S, the paper's average), summed over the query tiles of a row and
//                  the key tiles of a block: A_h[m][n]
//   3 ranks        per (head, row) the fewest blocks, sink and diagonal first, whose scores reach
//                  gamma (the paper's tau) of the row's total; at least ceil(min_tokens / B)
//   4 mask         those blocks, ascending
// Causal at tile level: query tile i sees key tiles j <= i; inside the diagonal tile only the
// antidiagonal's pairs with key <= query count (its first ceil(S/2) segments).
// Decisions use det_math.h in the order stated here; kernels/xattn.cl follows it bit for bit.
#include <algorithm>
#include <cmath>

#include "det_math.h"
#include "pa/parallel.h"
#include "reference.h"

namespace pa::proxy {
namespace {

// rows x len floats -> int8 rows with scale (row scale * extra).
void quantize(const std::vector<float>& src, int64_t rows, int64_t len, float extra, quant_rows& out,
              int n_threads) {
    out.d = len;
    out.v.assign(size_t(rows * len), 0);
    out.scale.assign(size_t(rows), 0.0f);
    parallel_for(rows, 64, n_threads, [&](int64_t b, int64_t end) {
        for (int64_t r = b; r < end; ++r)
            out.scale[size_t(r)] =
                det::quantize_row(&src[size_t(r * len)], len, &out.v[size_t(r * len)]) * extra;
    });
}

// Step 1. Query tile i of head h (row h * n_qtiles + i - tq0): segment k = the query at position
// iS + S-1-k (zeros where that is not a query), scale * geo.scale / S. Key tile j of kv head hk
// (row hk * n_tiles + j): segment k = the key at position jS + k (zeros past the last key).
void tile_rows(const geometry& geo, const attn_qkv& x, quant_rows& qt, quant_rows& kt, int n_threads) {
    const int64_t S = geo.S, d = geo.d, len = S * d, nq = geo.n_qtiles();
    std::vector<float> buf(size_t(geo.H * nq * len), 0.0f);
    for (int64_t h = 0; h < geo.H; ++h)
        for (int64_t ti = 0; ti < nq; ++ti)
            for (int64_t k = 0; k < S; ++k) {
                const int64_t p = (geo.tq0 + ti) * S + S - 1 - k;
                if (p < geo.n_past || p >= geo.n_keys) continue;
                const float* src = x.q_row(h, p - geo.n_past);
                std::copy(src, src + d, &buf[size_t((h * nq + ti) * len + k * d)]);
            }
    quantize(buf, geo.H * nq, len, geo.scale / float(S), qt, n_threads);
    buf.assign(size_t(geo.Hkv * geo.n_tiles * len), 0.0f);
    for (int64_t hk = 0; hk < geo.Hkv; ++hk)
        for (int64_t j = 0; j < geo.n_tiles; ++j)
            for (int64_t k = 0; k < S; ++k) {
                const int64_t p = j * S + k;
                if (p >= geo.n_keys) continue;
                const float* src = x.k_head(hk) + p * d;
                std::copy(src, src + d, &buf[size_t((hk * geo.n_tiles + j) * len + k * d)]);
            }
    quantize(buf, geo.Hkv * geo.n_tiles, len, 1.0f, kt, n_threads);
}

// Step 2 for one query tile i (row r of qt) against key block n: the logits of its visible key
// tiles (j <= i; the diagonal tile's dot over its first ceil(S/2) segments), their max bm and
// the 2^-32 fixed-point sum bs of exp(logit - bm).
PA_DET_CLONES void tile_block_stats(const geometry& geo, const quant_rows& qt, int64_t r,
                                    const quant_rows& kt, int64_t k0, int64_t i, int64_t n, float& bm,
                                    float& bs, std::vector<float>& L) {
    const int64_t len = qt.d, tpb = geo.tiles_per_block(), causal_len = (geo.S + 1) / 2 * geo.d;
    const int64_t j0 = n * tpb, j1 = std::min((n + 1) * tpb, i + 1);
    const int8_t* q = &qt.v[size_t(r * len)];
    float mx = -INFINITY;
    for (int64_t j = j0; j < j1; ++j) {
        const size_t kr = size_t(k0 + j);
        const int32_t dot = det::idot(q, &kt.v[kr * size_t(len)], j == i ? causal_len : len);
        L[size_t(j - j0)] = det::logit(dot, qt.scale[size_t(r)], kt.scale[kr]);
        mx = std::fmax(mx, L[size_t(j - j0)]);
    }
    uint64_t sum = 0;
    for (int64_t j = j0; j < j1; ++j)
        sum += det::exp_fixed(L[size_t(j - j0)] - mx);
    bm = mx;
    bs = det::from_fixed(sum);
}

// Step 2: per (head, row m) and query tile i of the row (ascending): block statistics for blocks
// 0..m, the tile's softmax (M = max of the block maxima; inv = 1 / the sum in block order of
// bs * exp(bm - M)), then A_h[m][n] = A_h[m][n] + bs * exp(bm - M) * inv, from 0, tiles in order.
void block_scores(const geometry& geo, const quant_rows& qt, const quant_rows& kt, estimate& e,
                  int n_threads) {
    const int64_t tt = geo.tri_total(), nq = geo.n_qtiles();
    e.scores.assign(size_t(geo.H * tt), 0.0f);
    parallel_for(geo.H * geo.n_rows, 1, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> bm(size_t(geo.n_kblocks)), bs(bm.size()), L(size_t(geo.tiles_per_block()));
        for (int64_t it = b; it < end; ++it) {
            const int64_t h = it / geo.n_rows, m = geo.row0 + it % geo.n_rows;
            float* A = &e.scores[size_t(h * tt + geo.tri(m))];
            for (int64_t i = geo.tile_first(m); i < geo.tile_end(m); ++i) {
                const int64_t r = h * nq + (i - geo.tq0);
                for (int64_t n = 0; n <= m; ++n)
                    tile_block_stats(geo, qt, r, kt, (h / geo.gqa) * geo.n_tiles, i, n, bm[size_t(n)],
                                     bs[size_t(n)], L);
                float M = -INFINITY;
                for (int64_t n = 0; n <= m; ++n)
                    M = std::fmax(M, bm[size_t(n)]);
                float sum = 0.0f;
                for (int64_t n = 0; n <= m; ++n)
                    sum = sum + bs[size_t(n)] * det::exp(bm[size_t(n)] - M);
                const float inv = det::recip(sum);
                for (int64_t n = 0; n <= m; ++n)
                    A[n] = A[n] + bs[size_t(n)] * det::exp(bm[size_t(n)] - M) * inv;
            }
        }
    });
}

// Step 3: ranks and counts per (head, row) from the row's scores.
void rank_rows(const geometry& geo, estimate& e, int n_threads) {
    const int64_t tt = geo.tri_total();
    e.ranks.assign(size_t(geo.H * tt), 0);
    e.budgets.assign(size_t(geo.H * geo.n_rows), 0);
    parallel_for(geo.H * geo.n_rows, 4, n_threads, [&](int64_t b, int64_t end) {
        for (int64_t it = b; it < end; ++it) {
            const int64_t h = it / geo.n_rows, m = geo.row0 + it % geo.n_rows;
            const size_t at = size_t(h * tt + geo.tri(m));
            e.budgets[size_t(it)] =
                int32_t(rank_threshold(&e.scores[at], m + 1, forced_first(geo), forced_second(geo, m),
                                       geo.gamma, geo.k_min, 0, &e.ranks[at]));
        }
    });
}

// Step 4: row m of head h keeps the blocks ranked below its count plus the forced ones.
void build_mask(const geometry& geo, estimate& e) {
    const int64_t tt = geo.tri_total();
    e.mask = block_mask::sized(geo, geo.H);
    for (int64_t h = 0; h < geo.H; ++h)
        for (int64_t m = geo.row0; m < geo.n_kblocks; ++m) {
            const int32_t* rank = &e.ranks[size_t(h * tt + geo.tri(m))];
            const int64_t lim = e.budgets[size_t(h * geo.n_rows + m - geo.row0)] + geo.forced(m);
            int32_t* list = e.mask.row_list(h, m);
            int32_t c = 0;
            for (int64_t n = 0; n <= m; ++n)
                if (rank[n] < lim) list[c++] = int32_t(n);
            e.mask.row_count(h, m) = c;
        }
}

} // namespace

void xattn_estimate(const geometry& geo, const attn_qkv& x, estimate& e, int n_threads) {
    quant_rows qt, kt;
    tile_rows(geo, x, qt, kt, n_threads);
    if (geo.stop_after == 1) return;
    block_scores(geo, qt, kt, e, n_threads);
    if (geo.stop_after == 2) return;
    rank_rows(geo, e, n_threads);
    if (geo.stop_after == 3) return;
    build_mask(geo, e);
}

} // namespace pa::proxy
