// test_proxy_estimators.cpp - the CPU reference of estimator = xattn | flex: each method's
// invariants on the shared estimator cases (causal, sink and diagonal, the kept set is the
// method's own threshold set, floors and caps), its scores recomputed in double from the papers'
// definitions, gamma = 1 against dense attention, a one-token needle that the last queries ask for,
// flex's pattern choice on constructed inputs, and monotonicity in gamma.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "mask_quality.h"
#include "pa/error.h"
#include "test_proxy_util.h"

using namespace proxy_test;
using pa::proxy_estimator;
using pa::proxy::geometry;

namespace {

// ---- brute force in double (quantized, dot: test_proxy_util.h) -----------------------------------
std::vector<double> softmax(const std::vector<double>& logit) {
    const double mx = *std::max_element(logit.begin(), logit.end());
    std::vector<double> p(logit.size());
    double sum = 0;
    for (size_t i = 0; i < p.size(); ++i)
        sum += p[i] = std::exp(logit[i] - mx);
    for (double& v : p)
        v /= sum;
    return p;
}

// Mean of rows (d floats each) from `first`, `count` of them, of a [heads][len][d] array.
std::vector<double> mean_row(const std::vector<float>& a, int64_t head, int64_t len, int64_t first,
                             int64_t count, int64_t d) {
    std::vector<double> v(static_cast<size_t>(d), 0.0);
    for (int64_t t = first; t < first + count; ++t)
        for (int64_t c = 0; c < d; ++c)
            v[size_t(c)] += a[size_t((head * len + t) * d + c)];
    for (double& e : v)
        e /= double(count);
    return v;
}

// XAttention block scores from the definition: for every query tile i of the head and every
// visible key tile j <= i, the antidiagonal sum of the S x S tile of Q K^T (in the diagonal tile
// only the pairs with key <= query), from int8 rows of the reversed query tile and the key tile,
// times scale / S; a softmax per query tile; block sums. A[m][n] per row.
std::vector<std::vector<double>> xattn_scores_double(const geometry& g, const pa::attn_qkv& x, int64_t h) {
    const int64_t S = g.S, d = g.d;
    auto tile = [&](bool query, int64_t hh, int64_t i) {
        std::vector<double> v(size_t(S * d), 0.0);
        for (int64_t k = 0; k < S; ++k) {
            const int64_t p = query ? i * S + S - 1 - k : i * S + k;
            const bool ok = query ? p >= g.n_past && p < g.n_keys : p < g.n_keys;
            if (!ok) continue;
            const float* src = query ? x.q_row(hh, p - g.n_past) : x.k_head(hh) + p * d;
            for (int64_t c = 0; c < d; ++c)
                v[size_t(k * d + c)] = src[c];
        }
        return quantized(v);
    };
    std::vector<std::vector<double>> keys;
    for (int64_t j = 0; j < g.n_tiles; ++j)
        keys.push_back(tile(false, h / g.gqa, j));
    std::vector<std::vector<double>> A;
    for (int64_t m = g.row0; m < g.n_kblocks; ++m) {
        std::vector<double> a(size_t(m + 1), 0.0);
        for (int64_t i = std::max(m * g.B / S, g.tq0); i < std::min((m + 1) * g.B / S, g.n_tiles); ++i) {
            const auto q = tile(true, h, i);
            std::vector<double> logit;
            for (int64_t j = 0; j <= i; ++j) {
                const size_t n = j == i ? size_t((S + 1) / 2 * d) : size_t(S * d);
                logit.push_back(dot(q, keys[size_t(j)], n) * g.scale / double(S));
            }
            const auto p = softmax(logit);
            for (int64_t j = 0; j <= i; ++j)
                a[size_t(j * S / g.B)] += p[size_t(j)];
        }
        A.push_back(a);
    }
    return A;
}

// The estimate alone (no attention output): geometry and mask of the case.
struct mask_result {
    geometry geo;
    pa::proxy::estimate est;
};
mask_result estimate_only(const qkv& t, const attn_case& c) {
    mask_result r;
    r.geo = pa::proxy::make_geometry(t.q, t.k, t.v, c.params());
    r.est = pa::proxy::estimate_mask(r.geo, pa::proxy::load_qkv(r.geo, t.q, t.k, t.v));
    return r;
}

// ---- invariants on the shared estimator cases -----------------------------------------------------
class EstimatorInvariants : public ::testing::TestWithParam<attn_case> {};

// Kept set of a threshold selection: the forced blocks, then by score; the count reaches gamma of
// the total unless floored or capped, and is the fewest that does (float noise aside).
void expect_threshold_set(const float* score, const int32_t* rank, int64_t n, int64_t forced, int64_t count,
                          const geometry& g, const std::string& what) {
    const int64_t lim = count + forced;
    double total = 0, kept = 0, without_last = 0;
    for (int64_t i = 0; i < n; ++i) {
        total += score[i];
        if (rank[i] < lim) kept += score[i];
        if (rank[i] < lim - 1) without_last += score[i];
    }
    EXPECT_GE(count, std::min(g.k_min, n - forced)) << what;
    const bool capped = g.k_max > 0 && count == g.k_max;
    if (!capped) {
        EXPECT_GE(kept, double(g.gamma) * total * (1 - 1e-5)) << what;
    }
    if (count > g.k_min && !capped && lim - 1 >= forced) {
        EXPECT_LT(without_last, double(g.gamma) * total * (1 + 1e-5)) << what;
    }
    // ranks: forced first, then descending score
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        order[size_t(rank[i])] = i;
    for (int64_t r = forced + 1; r < n; ++r) {
        EXPECT_GE(score[order[size_t(r - 1)]], score[order[size_t(r)]]) << what << " rank " << r;
    }
}

TEST_P(EstimatorInvariants, MaskIsCausalForcedAndTheMethodsThresholdSet) {
    const attn_case c = GetParam();
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const mask_result r = estimate_only(t, c);
    const geometry& g = r.geo;
    ASSERT_FALSE(g.all_kept);
    const bool flex = c.estimator == proxy_estimator::flex;
    const int64_t tt = g.tri_total(), nb = g.n_kblocks;
    ASSERT_EQ(r.est.budgets.size(), size_t(g.H * g.n_rows));
    for (int64_t h = 0; h < g.H; ++h) {
        const bool qa = !flex || r.est.flex.pick[size_t(h * 3)] != 0;
        if (flex && !qa) { // the lines: threshold sets of the last block's vertical and slash masses
            for (int which : {pa::proxy::flex_vertical, pa::proxy::flex_slash}) {
                const float* v = &r.est.flex.lines[size_t((h * 3 + which) * nb)];
                const uint8_t* keep = &r.est.flex.keep[size_t((h * 2 + which) * nb)];
                std::vector<int32_t> rank(static_cast<size_t>(nb));
                pa::proxy::rank_threshold(v, nb, g.force ? 0 : -1, -1, g.gamma, g.k_min, g.k_max,
                                          rank.data());
                const int64_t k = r.est.flex.pick[size_t(h * 3 + 1 + which)];
                for (int64_t n = 0; n < nb; ++n)
                    EXPECT_EQ(keep[n], rank[size_t(n)] < k + (g.force ? 1 : 0) ? 1 : 0)
                        << "h " << h << " n " << n;
                expect_threshold_set(v, rank.data(), nb, g.force ? 1 : 0, k, g,
                                     fmt::format("head {} lines {}", h, which));
                if (g.k_max > 0) {
                    EXPECT_LE(k, g.k_max);
                }
            }
        }
        for (int64_t m = g.row0; m < nb; ++m) {
            const auto kept = r.est.kept(h, m);
            const std::string where = fmt::format("head {} row {}", h, m);
            ASSERT_FALSE(kept.empty()) << where;
            for (size_t i = 0; i < kept.size(); ++i) {
                EXPECT_GE(kept[i], 0);
                EXPECT_LE(kept[i], m) << where; // causal
                if (i) {
                    EXPECT_LT(kept[i - 1], kept[i]) << where;
                }
            }
            if (c.force) {
                EXPECT_EQ(kept.front(), 0) << where;
                EXPECT_EQ(kept.back(), m) << where;
            }
            const int64_t budget = r.est.budgets[size_t(h * g.n_rows + m - g.row0)];
            std::vector<int32_t> want;
            if (qa) { // the row's threshold set on the method's own block scores
                const size_t at = size_t(h * tt + g.tri(m));
                for (int64_t n = 0; n <= m; ++n)
                    if (r.est.ranks[at + size_t(n)] < budget + g.forced(m)) want.push_back(int32_t(n));
                expect_threshold_set(&r.est.scores[at], &r.est.ranks[at], m + 1, g.forced(m), budget, g,
                                     where);
                if (flex && g.k_max > 0) {
                    EXPECT_LE(budget, g.k_max) << where;
                }
            } else { // the kept lines crossing the row
                const uint8_t* kv = &r.est.flex.keep[size_t((h * 2 + pa::proxy::flex_vertical) * nb)];
                const uint8_t* ks = &r.est.flex.keep[size_t((h * 2 + pa::proxy::flex_slash) * nb)];
                for (int64_t n = 0; n <= m; ++n)
                    if (kv[n] || ks[m - n]) want.push_back(int32_t(n));
                if (want.empty()) want.push_back(int32_t(m));
                EXPECT_EQ(budget, int64_t(want.size()) - g.forced(m)) << where;
            }
            EXPECT_EQ(std::vector<int32_t>(kept.begin(), kept.end()), want) << where;
        }
    }
}

// The scores recomputed in double from the definitions.
TEST_P(EstimatorInvariants, ScoresMatchBruteForce) {
    const attn_case c = GetParam();
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const mask_result r = estimate_only(t, c);
    const geometry& g = r.geo;
    const auto x = pa::proxy::load_qkv(g, t.q, t.k, t.v);
    const int64_t d = g.d, nb = g.n_kblocks, tt = g.tri_total();
    if (c.estimator == proxy_estimator::xattn) {
        for (int64_t h = 0; h < g.H; ++h) {
            const auto A = xattn_scores_double(g, x, h);
            for (int64_t m = g.row0; m < nb; ++m)
                for (int64_t n = 0; n <= m; ++n) {
                    const double want = A[size_t(m - g.row0)][size_t(n)];
                    EXPECT_NEAR(r.est.scores[size_t(h * tt + g.tri(m) + n)], want, 1e-3 * want + 1e-5)
                        << "h " << h << " m " << m << " n " << n;
                }
        }
        return;
    }
    // flex: the last min(N, B) queries of each head against every visible key of its kv head
    std::vector<std::vector<double>> keys, pkeys;
    for (int64_t hk = 0; hk < g.Hkv; ++hk) {
        for (int64_t p = 0; p < g.n_keys; ++p)
            keys.push_back(quantized(mean_row(x.k, hk, g.n_keys, p, 1, d)));
        for (int64_t n = 0; n < nb; ++n)
            pkeys.push_back(quantized(
                mean_row(x.k, hk, g.n_keys, n * g.B, std::min((n + 1) * g.B, g.n_keys) - n * g.B, d)));
    }
    const int64_t t0 = g.n_keys - std::min(g.N, g.B);
    for (int64_t h = 0; h < g.H; ++h) {
        const int64_t hk = h / g.gqa;
        std::vector<double> V(size_t(nb), 0.0), Sl(size_t(nb), 0.0);
        for (int64_t p = t0; p < g.n_keys; ++p) {
            const auto q = quantized(mean_row(x.q, h, g.N, p - g.n_past, 1, d));
            std::vector<double> logit;
            for (int64_t j = 0; j <= p; ++j)
                logit.push_back(dot(q, keys[size_t(hk * g.n_keys + j)], size_t(d)) * g.scale);
            const auto pr = softmax(logit);
            const int64_t m = p / g.B;
            for (int64_t j = 0; j <= p; ++j) {
                V[size_t(j / g.B)] += pr[size_t(j)];
                Sl[size_t(m - j / g.B)] += pr[size_t(j)];
            }
        }
        const auto pooled = [&](const std::vector<double>& q, int64_t count) {
            std::vector<double> logit;
            for (int64_t n = 0; n < count; ++n)
                logit.push_back(dot(q, pkeys[size_t(hk * nb + n)], size_t(d)) * g.scale);
            return softmax(logit);
        };
        const auto est = pooled(quantized(mean_row(x.q, h, g.N, t0 - g.n_past, g.n_keys - t0, d)), nb);
        const float* lines = &r.est.flex.lines[size_t(h * 3 * nb)];
        double total = 0, js = 0;
        for (int64_t n = 0; n < nb; ++n) {
            EXPECT_NEAR(lines[n], V[size_t(n)], 1e-3 * V[size_t(n)] + 1e-5)
                << "vertical h " << h << " n " << n;
            EXPECT_NEAR(lines[nb + n], Sl[size_t(n)], 1e-3 * Sl[size_t(n)] + 1e-5)
                << "slash h " << h << " o " << n;
            EXPECT_NEAR(lines[2 * nb + n], est[size_t(n)], 1e-3 * est[size_t(n)] + 1e-6) << "pooled h " << h;
            total += V[size_t(n)];
        }
        for (int64_t n = 0; n < nb; ++n) {
            const double p = V[size_t(n)] / total, q = est[size_t(n)], mid = (p + q) / 2;
            if (p > 0) js += 0.5 * p * std::log(p / mid);
            if (q > 0) js += 0.5 * q * std::log(q / mid);
        }
        EXPECT_NEAR(r.est.flex.js[size_t(h)], js, 2e-3 * js + 1e-5) << "h " << h;
        const double tau = c.flex_tau;
        if (std::abs(std::sqrt(std::max(js, 0.0)) - tau) > 1e-2) {
            EXPECT_EQ(r.est.flex.pick[size_t(h * 3)], tau > 0 && std::sqrt(js) < tau ? 1 : 0) << "h " << h;
        }
        if (!r.est.flex.pick[size_t(h * 3)]) continue;
        for (int64_t m = g.row0; m < nb; ++m) { // query-aware rows: pooled row query vs pooled keys
            const auto pm = pooled(
                quantized(mean_row(x.q, h, g.N, g.row_begin(m) - g.n_past, g.row_end(m) - g.row_begin(m), d)),
                m + 1);
            for (int64_t n = 0; n <= m; ++n)
                EXPECT_NEAR(r.est.scores[size_t(h * tt + g.tri(m) + n)], pm[size_t(n)],
                            1e-3 * pm[size_t(n)] + 1e-6)
                    << "h " << h << " m " << m << " n " << n;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Estimators, EstimatorInvariants, ::testing::ValuesIn(estimator_cases()),
                         [](const auto& info) { return info.param.name(); });

// ---- parameters ---------------------------------------------------------------------------------

TEST(EstimatorRef, ValidationNamesTheProblem) {
    attn_case c;
    c.N = 40;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    auto p = c.params();
    p.estimator = static_cast<proxy_estimator>(3);
    expect_invalid(t, p, "estimator (3) must be proxy (0), xattn (1) or flex (2)");
    for (float tau : {-0.5f, NAN, INFINITY}) {
        p = c.params();
        p.flex_tau = tau;
        expect_invalid(t, p, "flex_tau");
    }
    p = c.params();
    p.max_tokens = 16; // below min_tokens (32)
    expect_invalid(t, p, "max_tokens (16) must be 0 (no cap) or >= min_tokens (32)");
    p.max_tokens = -1;
    expect_invalid(t, p, "max_tokens (-1)");
    p = c.params();
    p.estimator = proxy_estimator::xattn;
    p.stride = 2048;
    p.block = 2048;
    expect_invalid(t, p, "xattn: stride * head dim (2048 * 64) must be at most 65536");
}

TEST(EstimatorRef, ParamsPackRoundTrip) {
    pa::proxy_params p;
    p.estimator = proxy_estimator::flex;
    p.flex_tau = 0.25f;
    p.max_tokens = 4096;
    const auto o = pa::proxy_params_pack(p);
    EXPECT_EQ(o[pa::proxy_param_estimator], 2);
    const auto u = pa::proxy_params_unpack(o.data());
    EXPECT_EQ(u.estimator, proxy_estimator::flex);
    EXPECT_EQ(u.flex_tau, 0.25f);
    EXPECT_EQ(u.max_tokens, 4096);
    for (auto e : {proxy_estimator::proxy, proxy_estimator::xattn, proxy_estimator::flex}) {
        proxy_estimator back{};
        ASSERT_TRUE(pa::proxy_estimator_from_name(pa::proxy_estimator_name(e), back));
        EXPECT_EQ(back, e);
    }
    proxy_estimator none{};
    EXPECT_FALSE(pa::proxy_estimator_from_name("minference", none));
}

// ---- dense equivalence ---------------------------------------------------------------------------
TEST(EstimatorRef, GammaOneEqualsDense) {
    for (auto e : {proxy_estimator::xattn, proxy_estimator::flex})
        for (int64_t past : {0, 29}) {
            attn_case c;
            c.estimator = e;
            c.N = 150;
            c.n_past = past;
            c.H = 6;
            c.Hkv = 2;
            c.gamma = 1.0f;
            c.max_tokens = 64; // a cap does not apply at gamma = 1
            c.kv = past ? PA_TYPE_F16 : PA_TYPE_F32;
            pa::context ctx;
            const qkv t = make_qkv(ctx, c);
            const ref_result r = run_ref(t, c);
            EXPECT_TRUE(r.geo.all_kept);
            EXPECT_LT(rel_l2(r.out, dense_cpu(ctx, t, c)), 1e-5) << c.name();
        }
}

// ---- needles ----------------------------------------------------------------------------------------
// A single key (the needle: channel 2) that the question queries ask for, and a single sink token,
// at every offset inside the stride tile: the question rows of every head keep its block.
TEST(EstimatorRef, OneTokenNeedleIsKeptForTheQuestion) {
    for (auto e : {proxy_estimator::xattn, proxy_estimator::flex})
        for (int32_t S : {4, 8}) {
            attn_case c;
            c.estimator = e;
            c.N = 768;
            c.H = 8;
            c.Hkv = 2;
            c.B = 32;
            c.S = S;
            c.min_tokens = 0;
            c.gamma = 0.95f;
            if (e == proxy_estimator::flex && S == 8) continue; // flex has no stride
            for (int64_t off = 0; off < S; ++off) {
                pa::context ctx;
                const qkv t = make_qkv(ctx, c);
                const auto s = pa::analysis::synthesize(c.pat, c.N, 0, c.H, c.Hkv, c.d, c.seed, 0.0f, c.B);
                const int64_t pos = (s.needle_pos / S) * S + off;
                auto* k = static_cast<float*>(t.k->data);
                for (int64_t hk = 0; hk < c.Hkv; ++hk)
                    for (int64_t j = 0; j < c.N; ++j) {
                        k[(hk * c.N + j) * c.d + 0] = j == 0 ? k[(hk * c.N + j) * c.d + 0] : 0.0f; // one sink
                        k[(hk * c.N + j) * c.d + 2] = j == pos ? 4.0f : 0.0f;
                    }
                const mask_result r = estimate_only(t, c);
                const geometry& g = r.geo;
                const int32_t nb = int32_t(pos / g.B);
                const int64_t first_q_row = (g.N - s.question_len + g.B - 1) / g.B;
                for (int64_t h = 0; h < g.H; ++h)
                    for (int64_t m = first_q_row; m < g.n_kblocks; ++m) {
                        const auto kept = r.est.kept(h, m);
                        EXPECT_TRUE(std::binary_search(kept.begin(), kept.end(), nb))
                            << c.name() << " offset " << off << " head " << h << " row " << m;
                    }
                // found, not swept up (flex: a vertical line). XAttention keeps ~0.89 of the blocks
                // here: the antidiagonal mean divides a single token's logit by S, so these rows'
                // block scores are flat (docs/proxy_sparse_attn.md, "Estimators").
                if (e == proxy_estimator::flex) {
                    EXPECT_LT(pa::analysis::mask_density(r.est.mask), 0.6) << c.name();
                }
            }
        }
}

// ---- flex's pattern choice -----------------------------------------------------------------------------
// Two heads over B = 16 blocks. Head 0: every key of a block is the same vector, block 5's aligned
// with the (constant) queries: the pooled estimate is the true block distribution up to the
// partly visible diagonal block (small divergence). Head 1: keys cancel inside each block (+v, -v
// pairs) except that one key of block 5 is aligned with the queries: the true distribution sits on
// block 5, the pooled estimate is flat (large divergence).
TEST(FlexRef, PatternChoiceFlipsWithTheDivergence) {
    attn_case c;
    c.estimator = pa::proxy_estimator::flex;
    c.N = 256;
    c.H = 2;
    c.Hkv = 2;
    c.min_tokens = 0;
    c.pat = pa::analysis::pattern::random;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    auto* q = static_cast<float*>(t.q->data);
    auto* k = static_cast<float*>(t.k->data);
    const int64_t d = c.d;
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t j = 0; j < c.N; ++j) {
            float* qr = &q[(h * c.N + j) * d];
            float* kr = &k[(h * c.N + j) * d];
            std::fill(qr, qr + d, 0.0f);
            qr[0] = 8.0f; // logit scale 1/8: q.k = 8 * k[0] / 8 = k[0]
            std::fill(kr, kr + d, 0.0f);
            const int64_t n = j / c.B;
            if (h == 0) {
                kr[0] = n == 5 ? 6.0f : 0.0f;
                kr[1 + n % 8] = 1.0f;
            } else {
                kr[1 + j % 8] = j % 2 ? 1.0f : -1.0f; // the block mean cancels
                if (j == 5 * c.B + 7) kr[0] = 12.0f;
            }
        }
    for (auto [tau, want0, want1] : {std::tuple{0.1f, 1, 0}, {0.0f, 0, 0}, {1.0f, 1, 1}}) {
        c.flex_tau = tau;
        const mask_result r = estimate_only(t, c);
        EXPECT_LT(r.est.flex.js[0], 0.03f * 0.03f);
        EXPECT_GT(r.est.flex.js[1], 0.1f * 0.1f);
        EXPECT_EQ(r.est.flex.pick[0], want0) << "tau " << tau;
        EXPECT_EQ(r.est.flex.pick[3], want1) << "tau " << tau;
        // either way the block the last queries read is kept in the last row
        for (int64_t h = 0; h < 2; ++h) {
            const auto kept = r.est.kept(h, r.geo.n_kblocks - 1);
            EXPECT_TRUE(std::binary_search(kept.begin(), kept.end(), 5)) << "tau " << tau << " head " << h;
        }
    }
}

// ---- monotonicity and bounds -----------------------------------------------------------------------------
TEST(EstimatorRef, CountsAreMonotoneInGamma) {
    for (auto [e, tau] : {std::pair{proxy_estimator::xattn, 0.1f},
                          {proxy_estimator::flex, 0.0f},
                          {proxy_estimator::flex, 1.0f}}) {
        attn_case c;
        c.estimator = e;
        c.flex_tau = tau; // a fixed pattern: all vertical-slash or all query-aware
        c.N = 320;
        c.H = 8;
        c.Hkv = 2;
        c.min_tokens = 0;
        for (auto pat : {pa::analysis::pattern::random, pa::analysis::pattern::needle}) {
            c.pat = pat;
            pa::context ctx;
            const qkv t = make_qkv(ctx, c);
            std::vector<int32_t> prev_budget, prev_count, prev_pick;
            for (float gm : {0.3f, 0.5f, 0.7f, 0.9f, 0.95f, 0.99f}) {
                c.gamma = gm;
                const mask_result r = estimate_only(t, c);
                prev_budget.resize(r.est.budgets.size(), 0);
                prev_count.resize(r.est.mask.counts.size(), 0);
                prev_pick.resize(r.est.flex.pick.size(), 0);
                for (size_t i = 0; i < prev_budget.size(); ++i) {
                    EXPECT_GE(r.est.budgets[i], prev_budget[i]) << c.name() << " (head, row) " << i;
                    EXPECT_GE(r.est.mask.counts[i], prev_count[i]) << c.name() << " (head, row) " << i;
                }
                for (size_t i = 0; i < prev_pick.size(); ++i)
                    EXPECT_GE(r.est.flex.pick[i], prev_pick[i]) << c.name() << " pick " << i;
                prev_budget = r.est.budgets;
                prev_count = r.est.mask.counts;
                prev_pick = r.est.flex.pick;
            }
        }
    }
}

TEST(FlexRef, CountsStayWithinTheMinAndMaxBudgets) {
    for (float tau : {0.0f, 1.0f})
        for (auto [lo, hi] : {std::pair{0, 48}, {32, 32}, {48, 96}}) {
            attn_case c;
            c.estimator = proxy_estimator::flex;
            c.flex_tau = tau;
            c.pat = pa::analysis::pattern::random; // wants many blocks: the cap binds
            c.N = 400;
            c.gamma = 0.95f;
            c.min_tokens = lo;
            c.max_tokens = hi;
            pa::context ctx;
            const qkv t = make_qkv(ctx, c);
            const mask_result r = estimate_only(t, c);
            const geometry& g = r.geo;
            const int64_t kmin = (lo + c.B - 1) / c.B, kmax = (hi + c.B - 1) / c.B;
            for (int64_t h = 0; h < g.H; ++h) {
                if (tau == 0.0f) {
                    for (int which = 1; which <= 2; ++which) {
                        EXPECT_GE(r.est.flex.pick[size_t(h * 3 + which)], kmin) << c.name();
                        EXPECT_LE(r.est.flex.pick[size_t(h * 3 + which)], kmax) << c.name();
                    }
                    continue;
                }
                for (int64_t m = g.row0; m < g.n_kblocks; ++m) {
                    const int32_t b = r.est.budgets[size_t(h * g.n_rows + m - g.row0)];
                    EXPECT_GE(b, std::min<int64_t>(kmin, m + 1 - g.forced(m))) << c.name() << " row " << m;
                    EXPECT_LE(b, kmax) << c.name() << " row " << m;
                }
            }
        }
}

} // namespace
