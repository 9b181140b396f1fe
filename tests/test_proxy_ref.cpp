// test_proxy_ref.cpp - the CPU reference of proxy_sparse_attn against the spec's invariants,
// against brute-force recomputations in double (proxy scores, budgets, sparse attention), and
// against dense attention (CPU backend flash_attn_ext) when every block is kept.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "mask_quality.h"
#include "pa/error.h"
#include "pa/op_registry.h"
#include "test_proxy_util.h"

using namespace proxy_test;
using pa::proxy::geometry;

namespace {

// ---- validation ---------------------------------------------------------------------------
void expect_invalid(const qkv& t, const pa::proxy_params& p, const std::string& needle) {
    try {
        pa::proxy::make_geometry(t.q, t.k, t.v, p);
        FAIL() << "expected an error mentioning '" << needle << "'";
    } catch (const pa::error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(ProxyRef, ValidationNamesTheProblem) {
    attn_case c;
    c.N = 40;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    auto p = c.params();
    p.n_proxy = 3;
    expect_invalid(t, p, "n_proxy (3) must divide the kv heads (2)");
    p = c.params();
    p.block = 18;
    expect_invalid(t, p, "block (18) must be a multiple of stride (4)");
    for (float gm : {0.0f, -0.5f, 1.5f, NAN}) {
        p = c.params();
        p.gamma = gm;
        expect_invalid(t, p, "gamma");
    }
    p = c.params();
    p.min_tokens = -1;
    expect_invalid(t, p, "min_tokens");
    p = c.params();
    p.n_past = 5; // kv length is N: no room for past keys
    expect_invalid(t, p, "n_past + N");
    p = c.params();
    p.stride = 0;
    expect_invalid(t, p, "must be > 0");

    pa::tensor* q3 = ctx.new_tensor(PA_TYPE_F32, {64, 40, 3});
    expect_invalid({q3, t.k, t.v}, c.params(), "3 query heads are not a multiple of 2 kv heads");
    pa::tensor* q16 = ctx.new_tensor(PA_TYPE_F16, {64, 40, 4});
    expect_invalid({q16, t.k, t.v}, c.params(), "q must be f32");
    pa::tensor* k32 = ctx.new_tensor(PA_TYPE_F32, {32, 40, 2});
    expect_invalid({t.q, k32, k32}, c.params(), "head dims differ");

    // the C shape rule reports the same message, and rejects non-causal params
    auto packed = pa::proxy_params_pack(c.params());
    const pa_tensor* src[3] = {t.q, t.k, t.v};
    pa_tensor out{};
    char err[256] = {0};
    EXPECT_EQ(pa::proxy::op_infer(src, 3, packed.data(), &out, err, sizeof err), PA_OK);
    EXPECT_EQ(out.ne[0], 64);
    EXPECT_EQ(out.ne[1], 4);
    EXPECT_EQ(out.ne[2], 40);
    packed[pa::proxy_param_causal] = 0;
    EXPECT_EQ(pa::proxy::op_infer(src, 3, packed.data(), &out, err, sizeof err), PA_ERR_INVALID);
    EXPECT_NE(std::string(err).find("causal"), std::string::npos) << err;
}

TEST(ProxyRef, ParamsPackRoundTrip) {
    pa::proxy_params p;
    p.block = 64;
    p.stride = 8;
    p.n_proxy = 4;
    p.gamma = 0.9f;
    p.min_tokens = 100;
    p.force_sink_and_local = false;
    p.scale = 0.125f;
    p.n_past = 17;
    p.stop_after = 2;
    const auto packed = pa::proxy_params_pack(p);
    const auto r = pa::proxy_params_unpack(packed.data());
    EXPECT_EQ(r.block, 64);
    EXPECT_EQ(r.stride, 8);
    EXPECT_EQ(r.n_proxy, 4);
    EXPECT_EQ(r.gamma, 0.9f);
    EXPECT_EQ(r.min_tokens, 100);
    EXPECT_FALSE(r.force_sink_and_local);
    EXPECT_EQ(r.scale, 0.125f);
    EXPECT_EQ(r.n_past, 17);
    EXPECT_EQ(r.stop_after, 2);
    EXPECT_EQ(packed[pa::proxy_param_causal], 1);
    const pa::proxy_params def;
    EXPECT_EQ(def.block, 128);
    EXPECT_EQ(def.stride, 4);
    EXPECT_EQ(def.n_proxy, 1);
    EXPECT_EQ(def.gamma, 0.95f);
    EXPECT_EQ(def.min_tokens, 2048);
    EXPECT_TRUE(def.force_sink_and_local);
}

// ---- geometry -------------------------------------------------------------------------------
TEST(ProxyRef, GeometryOfAnOffsetGrid) {
    attn_case c;
    c.N = 45;
    c.n_past = 37; // first row starts mid-block, not on the stride grid
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const geometry g = pa::proxy::make_geometry(t.q, t.k, t.v, c.params());
    EXPECT_EQ(g.n_keys, 82);
    EXPECT_EQ(g.n_kblocks, 6); // ceil(82 / 16)
    EXPECT_EQ(g.row0, 2);      // 37 / 16
    EXPECT_EQ(g.n_rows, 4);
    EXPECT_EQ(g.sq_first, 3); // queries 37, 41, 45 of row 2 (ends at 48)
    EXPECT_EQ(g.sq_pos(0), 37);
    EXPECT_EQ(g.sq_pos(2), 45);
    EXPECT_EQ(g.sq_pos(3), 48);
    EXPECT_EQ(g.n_sq, 3 + 4 + 4 + 1); // rows 3, 4 full; row 5 = [80, 82) -> 80
    EXPECT_EQ(g.sq_row_first(5), 11);
    EXPECT_EQ(g.tri(2), 0);
    EXPECT_EQ(g.tri(3), 3);
    EXPECT_EQ(g.tri_total(), 3 + 4 + 5 + 6);
}

// ---- invariants over many shapes ----------------------------------------------------------------
std::vector<attn_case> invariant_cases() {
    std::vector<attn_case> v;
    attn_case c;
    v.push_back(c);
    c.N = 301; // not a multiple of B or S
    v.push_back(c);
    for (auto [H, Hkv] : {std::pair{4, 4}, {8, 4}, {8, 2}, {7, 1}, {8, 1}}) { // GQA 1, 2, 4, 7, 8
        attn_case x = c;
        x.H = H;
        x.Hkv = Hkv;
        v.push_back(x);
    }
    for (int g : {2, 4}) { // g in {1, 2, Hkv}
        attn_case x = c;
        x.H = 8;
        x.Hkv = 4;
        x.g = g;
        v.push_back(x);
    }
    for (int64_t d : {80, 128}) {
        attn_case x = c;
        x.d = d;
        x.N = 200;
        v.push_back(x);
    }
    for (int64_t past : {37, 64}) {
        attn_case x = c;
        x.n_past = past;
        x.N = 230;
        v.push_back(x);
    }
    attn_case x = c;
    x.force = false;
    x.min_tokens = 0;
    x.gamma = 0.6f;
    v.push_back(x);
    x = c;
    x.pat = pa::analysis::pattern::random;
    x.kv = PA_TYPE_F16;
    x.S = 8;
    v.push_back(x);
    return v;
}

class ProxyInvariants : public ::testing::TestWithParam<attn_case> {};

TEST_P(ProxyInvariants, MaskIsCausalForcedNestedAndSized) {
    const attn_case c = GetParam();
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result r = run_ref(t, c);
    const geometry& g = r.geo;
    ASSERT_FALSE(g.all_kept);
    ASSERT_EQ(r.est.budgets.size(), size_t(c.H));
    for (int64_t h = 0; h < g.H; ++h) {
        const int64_t K = r.est.budgets[size_t(h)];
        EXPECT_GE(K, g.k_min);
        EXPECT_LE(K, g.n_kblocks);
        for (int64_t m = g.row0; m < g.n_kblocks; ++m) {
            const auto kept = r.est.kept(h, m);
            EXPECT_EQ(int64_t(kept.size()), std::min(m + 1, K + g.forced(m))) << "h " << h << " m " << m;
            for (size_t i = 0; i < kept.size(); ++i) {
                EXPECT_GE(kept[i], 0);
                EXPECT_LE(kept[i], m); // causal
                if (i) {
                    EXPECT_LT(kept[i - 1], kept[i]); // ascending, unique
                }
            }
            if (c.force) {
                EXPECT_EQ(kept.front(), 0);
                EXPECT_EQ(kept.back(), m);
            }
            // nested inside the proxy group: a smaller budget keeps a subset
            const int64_t j = h / g.heads_per_group;
            for (int64_t h2 = j * g.heads_per_group; h2 < (j + 1) * g.heads_per_group; ++h2) {
                if (r.est.budgets[size_t(h2)] < K) continue;
                const auto big = r.est.kept(h2, m);
                for (int32_t n : kept)
                    EXPECT_TRUE(std::binary_search(big.begin(), big.end(), n));
            }
        }
    }
}

// attend() against a direct masked softmax in double over the kept blocks
TEST_P(ProxyInvariants, SparseAttentionMatchesDirectMaskedSoftmax) {
    const attn_case c = GetParam();
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result r = run_ref(t, c);
    const geometry& g = r.geo;
    const auto x = pa::proxy::load_qkv(g, t.q, t.k, t.v);
    double num = 0, den = 0;
    for (int64_t h = 0; h < g.H; h += std::max<int64_t>(1, g.H / 3))
        for (int64_t tq = 0; tq < g.N; tq += 7) {
            const int64_t p = g.n_past + tq, m = p / g.B, hk = h / g.gqa;
            std::vector<double> s, acc(size_t(g.d), 0.0);
            std::vector<int64_t> keys;
            for (int32_t n : r.est.kept(h, m))
                for (int64_t j = n * g.B; j < std::min<int64_t>((n + 1) * g.B, p + 1); ++j)
                    keys.push_back(j);
            double mx = -1e300;
            for (int64_t j : keys) {
                double dot = 0;
                for (int64_t i = 0; i < g.d; ++i)
                    dot += double(x.q[size_t((h * g.N + tq) * g.d + i)]) *
                           x.k[size_t((hk * g.n_keys + j) * g.d + i)];
                s.push_back(dot * g.scale);
                mx = std::max(mx, s.back());
            }
            double sum = 0;
            for (size_t a = 0; a < keys.size(); ++a) {
                const double w = std::exp(s[a] - mx);
                sum += w;
                for (int64_t i = 0; i < g.d; ++i)
                    acc[size_t(i)] += w * x.v[size_t((hk * g.n_keys + keys[a]) * g.d + i)];
            }
            for (int64_t i = 0; i < g.d; ++i) {
                const double want = acc[size_t(i)] / sum, got = r.out[size_t((tq * g.H + h) * g.d + i)];
                num += (got - want) * (got - want);
                den += want * want;
            }
        }
    EXPECT_LT(std::sqrt(num / den), 1e-5);
}

// A_j and a_i recomputed in double straight from the definitions (materialised softmax)
TEST_P(ProxyInvariants, ScoresAndBudgetsMatchBruteForce) {
    const attn_case c = GetParam();
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result r = run_ref(t, c);
    const geometry& g = r.geo;
    const auto x = pa::proxy::load_qkv(g, t.q, t.k, t.v);
    const int64_t d = g.d;
    // proxy heads: means over the group, strided, causal softmax, block max
    for (int64_t j = 0; j < g.g; ++j) {
        auto pooled = [&](const std::vector<float>& a, int64_t h0, int64_t nh, int64_t len, int64_t pos,
                          int64_t i) {
            double s = 0;
            for (int64_t h = h0; h < h0 + nh; ++h)
                s += a[size_t((h * len + pos) * d + i)];
            return s / double(nh);
        };
        for (int64_t m = g.row0; m < g.n_kblocks; ++m) {
            std::vector<double> A(size_t(m + 1), 0.0);
            for (int64_t p = g.row_begin(m); p < g.row_end(m); p += g.S) {
                std::vector<double> logit;
                for (int64_t kp = 0; kp <= p; kp += g.S) {
                    double dot = 0;
                    for (int64_t i = 0; i < d; ++i)
                        dot += pooled(x.q, j * g.heads_per_group, g.heads_per_group, g.N, p - g.n_past, i) *
                               pooled(x.k, j * g.kv_per_group, g.kv_per_group, g.n_keys, kp, i);
                    logit.push_back(dot * g.scale);
                }
                const double mx = *std::max_element(logit.begin(), logit.end());
                double sum = 0;
                for (double l : logit)
                    sum += std::exp(l - mx);
                for (size_t kk = 0; kk < logit.size(); ++kk) {
                    const int64_t n = int64_t(kk) * g.S / g.B;
                    A[size_t(n)] = std::max(A[size_t(n)], std::exp(logit[kk] - mx) / sum);
                }
            }
            for (int64_t n = 0; n <= m; ++n) {
                const double got = r.est.scores[size_t(j * g.tri_total() + g.tri(m) + n)];
                EXPECT_NEAR(got, A[size_t(n)], 2e-5 * A[size_t(n)] + 1e-30)
                    << "j " << j << " m " << m << " n " << n;
            }
        }
    }
    // budgets: normalised a_i in double; K_i must match unless a cumulative sum sits within
    // float noise of gamma (then either answer is right)
    const int64_t nb = g.n_kblocks;
    for (int64_t h = 0; h < g.H; ++h) {
        std::vector<double> a(size_t(nb), 0.0);
        const int64_t hk = h / g.gqa;
        for (int64_t p = g.row_begin(nb - 1); p < g.row_end(nb - 1); ++p) {
            std::vector<double> logit;
            for (int64_t jk = 0; jk <= p; ++jk) {
                double dot = 0;
                for (int64_t i = 0; i < d; ++i)
                    dot += double(x.q[size_t((h * g.N + p - g.n_past) * d + i)]) *
                           x.k[size_t((hk * g.n_keys + jk) * d + i)];
                logit.push_back(dot * g.scale);
            }
            const double mx = *std::max_element(logit.begin(), logit.end());
            double sum = 0;
            for (double l : logit)
                sum += std::exp(l - mx);
            for (size_t jk = 0; jk < logit.size(); ++jk)
                a[jk / size_t(g.B)] += std::exp(logit[jk] - mx) / sum;
        }
        const double total = std::accumulate(a.begin(), a.end(), 0.0);
        std::vector<double> sorted = a;
        std::sort(sorted.rbegin(), sorted.rend());
        double cum = 0;
        int64_t k = nb;
        bool near = false;
        for (int64_t i = 0; i < nb; ++i) {
            cum += sorted[size_t(i)] / total;
            near |= std::abs(cum - double(g.gamma)) < 1e-5;
            if (cum >= double(g.gamma)) {
                k = i + 1;
                break;
            }
        }
        if (!near) {
            EXPECT_EQ(r.est.budgets[size_t(h)], std::max(k, g.k_min)) << "head " << h;
        }
        const double mass_total =
            std::accumulate(r.est.head_mass.begin() + h * nb, r.est.head_mass.begin() + (h + 1) * nb, 0.0);
        for (int64_t n = 0; n < nb; ++n)
            EXPECT_NEAR(r.est.head_mass[size_t(h * nb + n)] / mass_total, a[size_t(n)] / total, 1e-5);
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ProxyInvariants, ::testing::ValuesIn(invariant_cases()),
                         [](const auto& info) { return info.param.name(); });

// ---- dense equivalence ----------------------------------------------------------------------
TEST(ProxyRef, GammaOneEqualsDense) {
    for (int64_t past : {0, 29}) {
        attn_case c;
        c.N = 150;
        c.n_past = past;
        c.H = 6;
        c.Hkv = 2;
        c.gamma = 1.0f;
        c.kv = past ? PA_TYPE_F16 : PA_TYPE_F32;
        pa::context ctx;
        const qkv t = make_qkv(ctx, c);
        const ref_result r = run_ref(t, c);
        EXPECT_TRUE(r.geo.all_kept);
        EXPECT_LT(rel_l2(r.out, dense_cpu(ctx, t, c)), 1e-5) << c.name();
        for (int32_t K : r.est.budgets)
            EXPECT_EQ(K, r.geo.n_kblocks);
    }
}

TEST(ProxyRef, MinTokensCoveringEveryRowEqualsDense) {
    attn_case c;
    c.N = 130;
    c.min_tokens = 130;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result r = run_ref(t, c);
    EXPECT_TRUE(r.geo.all_kept);
    EXPECT_LT(rel_l2(r.out, dense_cpu(ctx, t, c)), 1e-5);
}

// ---- gamma monotonicity, needle ---------------------------------------------------------------
TEST(ProxyRef, BudgetsAreMonotoneInGamma) {
    attn_case c;
    c.N = 320;
    c.H = 8;
    c.Hkv = 2;
    c.min_tokens = 0;
    for (auto pat : {pa::analysis::pattern::random, pa::analysis::pattern::needle}) {
        c.pat = pat;
        pa::context ctx;
        const qkv t = make_qkv(ctx, c);
        std::vector<int32_t> prev(size_t(c.H), 0);
        std::vector<pa::proxy::estimate> ests;
        for (float gm : {0.3f, 0.5f, 0.7f, 0.9f, 0.95f, 0.99f, 1.0f}) {
            c.gamma = gm;
            const ref_result r = run_ref(t, c);
            for (int64_t h = 0; h < c.H; ++h) {
                EXPECT_GE(r.est.budgets[size_t(h)], prev[size_t(h)]) << "gamma " << gm << " head " << h;
                prev[size_t(h)] = r.est.budgets[size_t(h)];
            }
        }
    }
}

TEST(ProxyRef, PlantedNeedleIsKeptForTheQuestion) {
    attn_case c;
    c.N = 640;
    c.H = 8;
    c.Hkv = 2;
    c.B = 16;
    c.min_tokens = 16;
    c.gamma = 0.9f;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const auto s = pa::analysis::synthesize(c.pat, c.N, 0, c.H, c.Hkv, c.d, c.seed, 0.0f, c.B);
    const ref_result r = run_ref(t, c);
    const geometry& g = r.geo;
    const int64_t nb0 = s.needle_pos / g.B, nb1 = (s.needle_pos + s.needle_len - 1) / g.B;
    const int64_t first_q_row = (g.N - s.question_len + g.B - 1) / g.B; // rows made only of question queries
    int64_t checked = 0;
    for (int64_t h = 0; h < g.H; ++h)
        for (int64_t m = first_q_row; m < g.n_kblocks; ++m) {
            const auto kept = r.est.kept(h, m);
            for (int64_t n = nb0; n <= nb1; ++n) {
                EXPECT_TRUE(std::binary_search(kept.begin(), kept.end(), int32_t(n)))
                    << "h " << h << " m " << m;
                ++checked;
            }
        }
    EXPECT_GT(checked, 0);
    // and the rows are sparse: the needle is found, not swept up
    EXPECT_LT(pa::analysis::mask_density(r.est.mask), 0.6);
}

// ---- analysis -------------------------------------------------------------------------------------
TEST(ProxyRef, AnalysisOfTheDenseMaskIsPerfect) {
    attn_case c;
    c.N = 100;
    c.gamma = 1.0f;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result r = run_ref(t, c);
    const auto x = pa::proxy::load_qkv(r.geo, t.q, t.k, t.v);
    const auto mq = pa::analysis::measure_mask(x, r.est.mask, c.gamma);
    EXPECT_NEAR(mq.recall_mean, 1.0, 1e-9);
    EXPECT_NEAR(mq.recall_min, 1.0, 1e-9);
    EXPECT_DOUBLE_EQ(mq.density, 1.0);
    EXPECT_DOUBLE_EQ(mq.oracle_iou, 1.0);
}

TEST(ProxyRef, RecallMatchesBruteForce) {
    attn_case c;
    c.N = 120;
    c.H = 2;
    c.Hkv = 1;
    c.min_tokens = 0;
    c.gamma = 0.5f;
    c.pat = pa::analysis::pattern::random;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result r = run_ref(t, c);
    const geometry& g = r.geo;
    const auto x = pa::proxy::load_qkv(g, t.q, t.k, t.v);
    const auto mq = pa::analysis::measure_mask(x, r.est.mask, c.gamma);
    std::vector<double> rec;
    for (int64_t h = 0; h < g.H; ++h)
        for (int64_t tq = 0; tq < g.N; ++tq) {
            std::vector<double> pr(size_t(tq + 1));
            double mx = -1e300, sum = 0, in = 0;
            for (int64_t j = 0; j <= tq; ++j) {
                double dot = 0;
                for (int64_t i = 0; i < g.d; ++i)
                    dot += double(x.q[size_t((h * g.N + tq) * g.d + i)]) * x.k[size_t(j * g.d + i)];
                pr[size_t(j)] = dot * g.scale;
                mx = std::max(mx, pr[size_t(j)]);
            }
            for (double& l : pr)
                sum += (l = std::exp(l - mx));
            for (int32_t n : r.est.kept(h, tq / g.B))
                for (int64_t j = n * g.B; j < std::min<int64_t>((n + 1) * g.B, tq + 1); ++j)
                    in += pr[size_t(j)] / sum;
            rec.push_back(in);
        }
    EXPECT_NEAR(mq.recall_mean, std::accumulate(rec.begin(), rec.end(), 0.0) / double(rec.size()), 1e-5);
    EXPECT_NEAR(mq.recall_min, *std::min_element(rec.begin(), rec.end()), 1e-5);
    EXPECT_LT(mq.density, 1.0);
    EXPECT_GT(mq.recall_mean, 0.3);
}

// ---- layouts: a permuted q view gives the same result as a contiguous q ------------------------------
TEST(ProxyRef, PermutedQueryViewMatchesContiguous) {
    attn_case c;
    c.N = 150;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    pa::tensor* qhn = ctx.new_tensor(PA_TYPE_F32, {c.d, c.H, c.N}); // [d, H, N] as a model makes it
    for (int64_t h = 0; h < c.H; ++h)
        for (int64_t n = 0; n < c.N; ++n)
            std::memcpy(static_cast<float*>(qhn->data) + (n * c.H + h) * c.d,
                        static_cast<const float*>(t.q->data) + (h * c.N + n) * c.d, size_t(c.d) * 4);
    pa::tensor* qv = pa::permute(ctx, qhn, 0, 2, 1, 3); // -> [d, N, H], strided
    ASSERT_FALSE(pa::is_contiguous(qv));
    const ref_result a = run_ref(t, c);
    const ref_result b = run_ref({qv, t.k, t.v}, c);
    EXPECT_EQ(a.est.budgets, b.est.budgets);
    EXPECT_EQ(a.est.mask.blocks, b.est.mask.blocks);
    EXPECT_EQ(a.out, b.out);
}

// ---- the graph pass (the op registered from this binary's reference) ---------------------------
void register_ref_op() {
    pa::op_registry::global().add({pa::proxy_op_name, 3, 3, pa::proxy::op_infer, pa::proxy::op_cpu_compute});
}

TEST(ProxyPass, SwapsSelectedCausalPrefillNodes) {
    register_ref_op();
    attn_case c;
    c.N = 120;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const float scale = 1.0f / std::sqrt(float(c.d));
    pa::tensor* a0 = pa::flash_attn_ext(ctx, t.q, t.k, t.v, scale, 0, true);
    std::snprintf(a0->name, PA_MAX_NAME, "attn-0");
    pa::tensor* a1 = pa::flash_attn_ext(ctx, t.q, t.k, t.v, scale, 0, true);
    std::snprintf(a1->name, PA_MAX_NAME, "attn-1");
    pa::tensor* nc = pa::flash_attn_ext(ctx, t.q, t.k, t.v, scale, 0, false); // not causal: never swapped
    pa::tensor* q1 = pa::view_3d(ctx, t.q, c.d, 1, c.H, t.q->nb[1], t.q->nb[2], 0); // one query: decode
    pa::tensor* dec = pa::flash_attn_ext(ctx, q1, t.k, t.v, scale, 0, true);
    pa::tensor* sum = pa::add(ctx, pa::add(ctx, a0, a1), nc);
    pa::graph g = pa::build_forward({sum, dec});

    const int32_t id = pa::op_registry::global().find(pa::proxy_op_name);
    pa::proxy_params p = c.params();
    p.scale = 0.0f;
    p.n_past = 99; // both come from the dense node
    std::vector<int> seen;
    const int n = pa::swap_dense_attention(
        g, p,
        [&](int layer, const pa::tensor*) {
            seen.push_back(layer);
            return layer == 1;
        },
        2);
    EXPECT_EQ(n, 1);
    EXPECT_EQ(a1->op, id);
    EXPECT_EQ(a0->op, PA_OP_FLASH_ATTN_EXT);
    EXPECT_EQ(nc->op, PA_OP_FLASH_ATTN_EXT);
    EXPECT_EQ(dec->op, PA_OP_FLASH_ATTN_EXT);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 1);
    const auto r = pa::proxy_params_unpack(a1->op_params);
    EXPECT_EQ(r.scale, scale);
    EXPECT_EQ(r.n_past, 0);
    EXPECT_EQ(r.gamma, c.gamma);

    // the swapped node computes what a proxy node built directly computes
    auto cpu = pa::make_cpu_backend();
    const std::vector<float> swapped = run_graph({cpu.get()}, a1);
    const ref_result direct = run_ref(t, c);
    EXPECT_EQ(swapped, direct.out);

    // nodes without a "-<n>" name are numbered in graph order; min_len filters short ones
    pa::graph g2 = pa::build_forward({sum, dec});
    EXPECT_EQ(pa::swap_dense_attention(g2, p, {}, 1000), 0);
    EXPECT_EQ(pa::swap_dense_attention(g2, p), 2); // a0 and dec (a1 already swapped, nc non-causal)
}

TEST(ProxyPass, RejectsParamsThatDoNotFitANode) {
    register_ref_op();
    attn_case c;
    c.N = 40;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    pa::tensor* a = pa::flash_attn_ext(ctx, t.q, t.k, t.v, 0.125f, 0, true);
    pa::graph g = pa::build_forward({a});
    pa::proxy_params p;
    p.n_proxy = 3;
    EXPECT_THROW(pa::swap_dense_attention(g, p), pa::error);
    EXPECT_EQ(a->op, PA_OP_FLASH_ATTN_EXT);
}

} // namespace
