// test_proxy_ref.cpp - the CPU reference of proxy_sparse_attn against the spec's invariants,
// against brute-force recomputations in double (proxy scores, budgets, sparse attention), and
// against dense attention (CPU backend flash_attn_ext) when every block is kept.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>

#include "mask_quality.h"
#include "pa/error.h"
#include "pa/op_registry.h"
#include "ref/det_math.h"
#include "sanitizer_build.h"
#include "test_proxy_util.h"

using namespace proxy_test;
using pa::proxy::geometry;

namespace {

// ---- validation ---------------------------------------------------------------------------

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
    p = c.params();
    p.key_stride = 3;
    expect_invalid(t, p, "block (16) must be a multiple of key_stride (3)");
    p = c.params();
    p.budget = static_cast<pa::proxy_budget>(7);
    expect_invalid(t, p, "budget mode (7)");
    p = c.params();
    p.n_samples = 0;
    expect_invalid(t, p, "n_samples (0)");

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

// Each input-independent rule rejects its field alone, naming it; the defaults and the edges of
// each range pass.
TEST(ProxyRef, ParamsCheckNamesTheBadField) {
    EXPECT_NO_THROW(pa::proxy_params_check(pa::proxy_params{}));
    struct bad {
        std::function<void(pa::proxy_params&)> set;
        std::string field;
    };
    const bad cases[] = {
        {[](auto& p) { p.block = 0; }, "block (0)"},
        {[](auto& p) { p.stride = 0; }, "stride (0)"},
        {[](auto& p) { p.stride = 3; }, "multiple of stride (3)"},
        {[](auto& p) { p.key_stride = 0; }, "key_stride (0)"},
        {[](auto& p) { p.key_stride = 5; }, "key_stride (5)"},
        {[](auto& p) { p.block = 1 << 21; }, "at most 2^20"},
        {[](auto& p) { p.budget = static_cast<pa::proxy_budget>(3); }, "budget mode (3)"},
        {[](auto& p) { p.estimator = static_cast<pa::proxy_estimator>(-1); }, "estimator (-1)"},
        {[](auto& p) { p.flex_tau = -0.5f; }, "flex_tau (-0.5)"},
        {[](auto& p) { p.flex_tau = std::nanf(""); }, "flex_tau (nan)"},
        {[](auto& p) { p.min_tokens = 512, p.max_tokens = 256; }, "max_tokens (256)"},
        {[](auto& p) { p.n_samples = 0; }, "n_samples (0)"},
        {[](auto& p) { p.n_samples = 1025; }, "n_samples (1025)"},
        {[](auto& p) { p.n_proxy = 0; }, "n_proxy (0)"},
        {[](auto& p) { p.gamma = 0.0f; }, "gamma (0)"},
        {[](auto& p) { p.gamma = 1.5f; }, "gamma (1.5)"},
        {[](auto& p) { p.min_tokens = -1; }, "min_tokens (-1)"},
        {[](auto& p) { p.budget = pa::proxy_budget::fixed, p.force_sink_and_local = false; },
         "min_tokens (0)"},
        {[](auto& p) { p.scale = INFINITY; }, "scale"},
        {[](auto& p) { p.n_past = -3; }, "n_past (-3)"},
        {[](auto& p) { p.stop_after = 5; }, "stop_after (5)"},
    };
    for (const bad& b : cases) {
        pa::proxy_params p;
        b.set(p);
        try {
            pa::proxy_params_check(p);
            ADD_FAILURE() << "accepted: " << b.field;
        } catch (const pa::error& e) {
            EXPECT_NE(std::string(e.what()).find(b.field), std::string::npos) << e.what();
        }
    }
    pa::proxy_params edge;
    edge.gamma = 1.0f, edge.n_samples = 1024, edge.block = 1 << 20, edge.stride = 1,
    edge.key_stride = 1 << 20;
    edge.min_tokens = 256, edge.max_tokens = 256;
    EXPECT_NO_THROW(pa::proxy_params_check(edge));
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
    p.key_stride = 2;
    p.budget = pa::proxy_budget::last;
    p.n_samples = 5;
    p.exact_rows = false;
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
    EXPECT_EQ(r.key_stride, 2);
    EXPECT_EQ(r.budget, pa::proxy_budget::last);
    EXPECT_EQ(r.n_samples, 5);
    EXPECT_FALSE(r.exact_rows);
    EXPECT_EQ(packed[pa::proxy_param_causal], 1);
    // The documented defaults (docs/quality.md: the settings that keep SmolLM2 at dense quality).
    const pa::proxy_params def;
    EXPECT_EQ(def.block, 128);
    EXPECT_EQ(def.stride, 4);
    EXPECT_EQ(def.key_stride, 1);
    EXPECT_EQ(def.n_proxy, 1);
    EXPECT_EQ(def.gamma, 0.99f);
    EXPECT_EQ(def.min_tokens, 0);
    EXPECT_EQ(def.budget, pa::proxy_budget::rows);
    EXPECT_EQ(def.n_samples, 16);
    EXPECT_TRUE(def.exact_rows);
    EXPECT_TRUE(def.force_sink_and_local);
    for (auto b : {pa::proxy_budget::rows, pa::proxy_budget::last, pa::proxy_budget::fixed}) {
        pa::proxy_budget back;
        ASSERT_TRUE(pa::proxy_budget_from_name(pa::proxy_budget_name(b), back));
        EXPECT_EQ(back, b);
    }
    pa::proxy_budget none;
    EXPECT_FALSE(pa::proxy_budget_from_name("dynamic", none));
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
    EXPECT_EQ(g.n_sk, 82); // every key
    // measured rows: 4 rows and 8 samples -> every row; the tail = the last 16 queries (66..81)
    ASSERT_EQ(g.samples.size(), 4u);
    EXPECT_EQ(g.samples[0].m, 2);
    EXPECT_FALSE(g.samples[0].tail);
    EXPECT_EQ(g.samples[0].first, 37); // the row's proxy query grid
    EXPECT_EQ(g.samples[0].count, 3);
    EXPECT_EQ(g.samples[0].step, 4);
    EXPECT_EQ(g.samples[2].m, 4);
    EXPECT_TRUE(g.samples[2].tail); // row 4 = [64, 80) holds queries 66..79 of the tail
    EXPECT_EQ(g.samples[2].first, 66);
    EXPECT_EQ(g.samples[2].count, 14);
    EXPECT_EQ(g.samples[2].step, 1);
    EXPECT_EQ(g.samples[3].first, 80);
    EXPECT_EQ(g.samples[3].count, 2);
    EXPECT_EQ(g.n_bq, 3 + 4 + 14 + 2);
    EXPECT_EQ(g.samples[3].q_index, 3 + 4 + 14);
    EXPECT_EQ(g.n_mass, 3 + 4 + 5 + 6);
    // budget = last measures the tail only
    auto p = c.params();
    p.budget = pa::proxy_budget::last;
    const geometry gl = pa::proxy::make_geometry(t.q, t.k, t.v, p);
    ASSERT_EQ(gl.samples.size(), 2u);
    EXPECT_TRUE(gl.samples[0].tail && gl.samples[1].tail);
    // key stride: keys 0, 2, 4, ...
    p = c.params();
    p.key_stride = 2;
    EXPECT_EQ(pa::proxy::make_geometry(t.q, t.k, t.v, p).n_sk, 41);
}

// ---- invariants over many shapes ----------------------------------------------------------------
class ProxyInvariants : public ::testing::TestWithParam<attn_case> {};

TEST_P(ProxyInvariants, MaskIsCausalForcedNestedAndSized) {
    const attn_case c = GetParam();
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result r = run_ref(t, c);
    const geometry& g = r.geo;
    ASSERT_FALSE(g.all_kept);
    ASSERT_EQ(r.est.budgets.size(), size_t(c.H * g.n_rows));
    const int64_t tt = g.tri_total();
    for (int64_t h = 0; h < g.H; ++h) {
        const int64_t j = h / g.heads_per_group;
        for (int64_t m = g.row0; m < g.n_kblocks; ++m) {
            const int64_t K = r.est.budgets[size_t(h * g.n_rows + m - g.row0)];
            EXPECT_GE(K, g.k_min);
            if (c.budget == pa::proxy_budget::fixed) {
                EXPECT_EQ(K, g.k_min);
            }
            const auto kept = r.est.kept(h, m);
            // the kept set is the shared order's first K + forced blocks, and the exact set
            const int32_t* rank = &r.est.ranks[size_t(j * tt + g.tri(m))];
            const uint8_t* exact = &r.est.exact[size_t(h * tt + g.tri(m))];
            std::vector<int32_t> want;
            for (int64_t n = 0; n <= m; ++n)
                if (rank[n] < K + g.forced(m) || exact[n]) want.push_back(int32_t(n));
            EXPECT_EQ(std::vector<int32_t>(kept.begin(), kept.end()), want) << "h " << h << " m " << m;
            EXPECT_GE(int64_t(kept.size()), std::min(m + 1, K + g.forced(m))) << "h " << h << " m " << m;
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
            // the shared part is nested inside the proxy group: a smaller budget keeps a subset
            for (int64_t h2 = j * g.heads_per_group; h2 < (j + 1) * g.heads_per_group; ++h2) {
                if (r.est.budgets[size_t(h2 * g.n_rows + m - g.row0)] < K) continue;
                const auto big = r.est.kept(h2, m);
                for (int64_t n = 0; n <= m; ++n)
                    if (rank[n] < K + g.forced(m)) {
                        EXPECT_TRUE(std::binary_search(big.begin(), big.end(), int32_t(n)));
                    }
            }
            // exact sets only on measured rows
            const bool measured = std::any_of(g.samples.begin(), g.samples.end(), [&](const auto& sr) {
                return sr.m == m && g.exact_sample(sr);
            });
            if (!measured) {
                EXPECT_TRUE(std::all_of(exact, exact + m + 1, [](uint8_t v) { return v == 0; }));
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

// The scores, sample masses and budgets recomputed in double straight from the definitions (int8
// rows from the pooled / per-head values through quantized(), materialised softmax over every
// visible key); 1e-3 relative for the int8 ties (test_proxy_util.h).
// Block probabilities of a query (logits over keys 0..count-1, block of each key), normalised.
std::vector<double> block_mass(const std::vector<double>& logit, const std::vector<int64_t>& blk, int64_t nb,
                               bool max_not_sum) {
    const double mx = *std::max_element(logit.begin(), logit.end());
    double sum = 0;
    for (double l : logit)
        sum += std::exp(l - mx);
    std::vector<double> a(size_t(nb), 0.0);
    for (size_t k = 0; k < logit.size(); ++k) {
        const double p = std::exp(logit[k] - mx) / sum;
        a[size_t(blk[k])] = max_not_sum ? std::max(a[size_t(blk[k])], p) : a[size_t(blk[k])] + p;
    }
    return a;
}

TEST_P(ProxyInvariants, ScoresAndBudgetsMatchBruteForce) {
    const attn_case c = GetParam();
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result r = run_ref(t, c);
    const geometry& g = r.geo;
    const auto x = pa::proxy::load_qkv(g, t.q, t.k, t.v);
    const int64_t d = g.d;
    auto row = [&](const std::vector<float>& a, int64_t head, int64_t len, int64_t pos) {
        std::vector<double> v(static_cast<size_t>(d));
        for (int64_t i = 0; i < d; ++i)
            v[size_t(i)] = a[size_t((head * len + pos) * d + i)];
        return v;
    };
    auto pooled = [&](const std::vector<float>& a, int64_t h0, int64_t nh, int64_t len, int64_t pos) {
        std::vector<double> v(static_cast<size_t>(d), 0.0);
        for (int64_t h = h0; h < h0 + nh; ++h) {
            const auto r1 = row(a, h, len, pos);
            for (int64_t i = 0; i < d; ++i)
                v[size_t(i)] += r1[size_t(i)];
        }
        for (double& e : v)
            e /= double(nh);
        return v;
    };
    // proxy heads: means over the group, int8, every key_stride-th key, causal softmax, block max
    for (int64_t j = 0; j < g.g; ++j) {
        std::vector<std::vector<double>> keys;
        for (int64_t kp = 0; kp < g.n_keys; kp += g.KS)
            keys.push_back(quantized(pooled(x.k, j * g.kv_per_group, g.kv_per_group, g.n_keys, kp)));
        for (int64_t m = g.row0; m < g.n_kblocks; ++m) {
            std::vector<double> A(size_t(m + 1), 0.0);
            for (int64_t p = g.row_begin(m); p < g.row_end(m); p += g.S) {
                const auto q =
                    quantized(pooled(x.q, j * g.heads_per_group, g.heads_per_group, g.N, p - g.n_past));
                std::vector<double> logit;
                std::vector<int64_t> blk;
                for (int64_t kk = 0; kk * g.KS <= p; ++kk) {
                    logit.push_back(dot(q, keys[size_t(kk)]) * g.scale);
                    blk.push_back(kk * g.KS / g.B);
                }
                const auto a = block_mass(logit, blk, m + 1, true);
                for (int64_t n = 0; n <= m; ++n)
                    A[size_t(n)] = std::max(A[size_t(n)], a[size_t(n)]);
            }
            for (int64_t n = 0; n <= m; ++n) {
                const double got = r.est.scores[size_t(j * g.tri_total() + g.tri(m) + n)];
                EXPECT_NEAR(got, A[size_t(n)], 1e-3 * A[size_t(n)] + 1e-30)
                    << "j " << j << " m " << m << " n " << n;
            }
        }
    }
    // measured rows: per head, its queries against its kv head's keys, block masses summed
    std::vector<std::vector<double>> hkeys;
    for (int64_t hk = 0; hk < g.Hkv; ++hk)
        for (int64_t kp = 0; kp < g.n_keys; ++kp)
            hkeys.push_back(quantized(row(x.k, hk, g.n_keys, kp)));
    const size_t ns = g.samples.size();
    for (int64_t h = 0; h < g.H; ++h)
        for (size_t si = 0; si < ns; ++si) {
            const auto& sr = g.samples[si];
            std::vector<double> mass(size_t(sr.m + 1), 0.0);
            for (int64_t i = 0; i < sr.count; ++i) {
                const int64_t p = sr.pos(i);
                const auto q = quantized(row(x.q, h, g.N, p - g.n_past));
                std::vector<double> logit;
                std::vector<int64_t> blk;
                for (int64_t kp = 0; kp <= p; ++kp) {
                    logit.push_back(dot(q, hkeys[size_t((h / g.gqa) * g.n_keys + kp)]) * g.scale);
                    blk.push_back(kp / g.B);
                }
                const auto a = block_mass(logit, blk, sr.m + 1, false);
                for (int64_t n = 0; n <= sr.m; ++n)
                    mass[size_t(n)] += a[size_t(n)];
            }
            const float* got = &r.est.sample_mass[size_t(h * g.n_mass + sr.mass_index)];
            for (int64_t n = 0; n <= sr.m; ++n)
                EXPECT_NEAR(got[n], mass[size_t(n)], 1e-3 * mass[size_t(n)] + 1e-5)
                    << "h " << h << " row " << sr.m;
            // budget = rows: blocks of the shared order reaching gamma of the mass, unless a running
            // sum sits within float noise of the threshold (then either answer is right)
            if (c.budget != pa::proxy_budget::rows) continue;
            const int32_t* rank = &r.est.ranks[size_t((h / g.heads_per_group) * g.tri_total() + g.tri(sr.m))];
            std::vector<int64_t> order(size_t(sr.m + 1));
            for (int64_t n = 0; n <= sr.m; ++n)
                order[size_t(rank[n])] = n;
            const double total = std::accumulate(mass.begin(), mass.end(), 0.0);
            double cum = 0;
            int64_t cnt = sr.m + 1;
            bool near = false;
            for (int64_t i = 0; i <= sr.m; ++i) {
                cum += mass[size_t(order[size_t(i)])] / total;
                near |= std::abs(cum - double(g.gamma)) < 2e-3;
                if (cum >= double(g.gamma)) {
                    cnt = i + 1;
                    break;
                }
            }
            if (!near) {
                EXPECT_EQ(r.est.sample_budget[size_t(h) * ns + si],
                          std::max<int64_t>(0, cnt - g.forced(sr.m)))
                    << "head " << h << " row " << sr.m;
            }
        }
    // row budgets: a row between two sample rows lo < m <= hi takes the value at m of the line through
    // (lo, k_lo) and (hi, k_hi), rounded up; a row before the first sample row s that row's count
    // scaled to it, ceil(k (m + 1) / (s + 1)); at least k_min
    if (c.budget == pa::proxy_budget::rows)
        for (int64_t h = 0; h < g.H; ++h)
            for (int64_t m = g.row0; m < g.n_kblocks; ++m) {
                size_t hi = 0;
                while (g.samples[hi].m < m)
                    ++hi;
                const double k_hi = r.est.sample_budget[size_t(h) * ns + hi], m_hi = double(g.samples[hi].m);
                double k;
                if (hi == 0) {
                    k = k_hi * double(m + 1) / (m_hi + 1.0);
                } else {
                    const double k_lo = r.est.sample_budget[size_t(h) * ns + hi - 1],
                                 m_lo = double(g.samples[hi - 1].m);
                    k = k_lo + (k_hi - k_lo) * (double(m) - m_lo) / (m_hi - m_lo);
                }
                EXPECT_EQ(r.est.budgets[size_t(h * g.n_rows + m - g.row0)],
                          std::max(int64_t(std::ceil(k - 1e-9)), g.k_min))
                    << "head " << h << " row " << m;
            }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ProxyInvariants, ::testing::ValuesIn(shape_cases()),
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
        std::vector<int32_t> prev;
        std::vector<int32_t> prev_counts;
        for (float gm : {0.3f, 0.5f, 0.7f, 0.9f, 0.95f, 0.99f, 1.0f}) {
            c.gamma = gm;
            const ref_result r = run_ref(t, c);
            prev.resize(r.est.budgets.size(), 0);
            prev_counts.resize(r.est.mask.counts.size(), 0);
            for (size_t i = 0; i < prev.size(); ++i) { // per (head, row)
                EXPECT_GE(r.est.budgets[i], prev[i]) << "gamma " << gm << " (head, row) " << i;
                EXPECT_GE(r.est.mask.counts[i], prev_counts[i]) << "gamma " << gm << " (head, row) " << i;
                prev[i] = r.est.budgets[i];
                prev_counts[i] = r.est.mask.counts[i];
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

// A one-token needle: every key scored, so the question rows of every head keep its block at
// any offset from the query stride grid (strided keys lost it off the grid).
TEST(ProxyRef, OneTokenNeedleAtEveryStrideOffsetIsKept) {
    attn_case c;
    c.N = 768;
    c.H = 8;
    c.Hkv = 2;
    c.B = 32;
    c.S = 4;
    c.min_tokens = 0;
    c.gamma = 0.95f;
    for (int64_t off = 0; off < c.S; ++off) {
        pa::context ctx;
        const qkv t = make_qkv(ctx, c);
        const auto s = pa::analysis::synthesize(c.pat, c.N, 0, c.H, c.Hkv, c.d, c.seed, 0.0f, c.B);
        // keep the needle channel (dim 2) on one key only, off the grid by `off`
        const int64_t pos = (s.needle_pos / c.S) * c.S + off;
        auto* k = static_cast<float*>(t.k->data);
        for (int64_t hk = 0; hk < c.Hkv; ++hk)
            for (int64_t j = 0; j < c.N; ++j)
                k[(hk * c.N + j) * c.d + 2] = j == pos ? 4.0f : 0.0f;
        const ref_result r = run_ref(t, c);
        const geometry& g = r.geo;
        const int32_t nb = int32_t(pos / g.B);
        const int64_t first_q_row = (g.N - s.question_len + g.B - 1) / g.B; // rows of question queries only
        for (int64_t h = 0; h < g.H; ++h)
            for (int64_t m = first_q_row; m < g.n_kblocks; ++m) {
                const auto kept = r.est.kept(h, m);
                EXPECT_TRUE(std::binary_search(kept.begin(), kept.end(), nb))
                    << "offset " << off << " head " << h << " row " << m;
            }
    }
}

// Rows measured exactly keep gamma of their mass (up to the int8 estimate: the exact recall in
// double is within 0.02 of gamma): on tail rows each measured query keeps gamma of its own mass,
// on the spread sample rows the row keeps gamma of its measured queries' summed mass.
TEST(ProxyRef, ExactRowsKeepGammaOfEachMeasuredQuery) {
    for (auto pat : {pa::analysis::pattern::needle, pa::analysis::pattern::random}) {
        attn_case c;
        c.N = 500;
        c.pat = pat;
        c.min_tokens = 0;
        c.gamma = 0.9f;
        pa::context ctx;
        const qkv t = make_qkv(ctx, c);
        const ref_result r = run_ref(t, c);
        const geometry& g = r.geo;
        const auto x = pa::proxy::load_qkv(g, t.q, t.k, t.v);
        int64_t checked_queries = 0, checked_spread_rows = 0;
        for (const auto& sr : g.samples) {
            if (!g.exact_sample(sr)) continue;
            for (int64_t h = 0; h < g.H; ++h) {
                std::vector<char> keep(size_t(sr.m + 1), 0);
                for (int32_t n : r.est.kept(h, sr.m))
                    keep[size_t(n)] = 1;
                double row_all = 0, row_in = 0;
                for (int64_t i = 0; i < sr.count; ++i) {
                    const int64_t p = sr.pos(i);
                    std::vector<double> logit;
                    for (int64_t j = 0; j <= p; ++j) {
                        double dt = 0;
                        for (int64_t e = 0; e < g.d; ++e)
                            dt += double(x.q_row(h, p - g.n_past)[e]) * x.k_head(h / g.gqa)[j * g.d + e];
                        logit.push_back(dt * g.scale);
                    }
                    const double mx = *std::max_element(logit.begin(), logit.end());
                    double all = 0, in = 0;
                    for (int64_t j = 0; j <= p; ++j) {
                        const double w = std::exp(logit[size_t(j)] - mx);
                        all += w;
                        if (keep[size_t(j / g.B)]) in += w;
                    }
                    row_all += 1.0;
                    row_in += in / all;
                    if (!sr.tail) continue;
                    EXPECT_GE(in / all, double(c.gamma) - 0.02) << "head " << h << " query " << p;
                    ++checked_queries;
                }
                EXPECT_GE(row_in / row_all, double(c.gamma) - 0.02) << "head " << h << " row " << sr.m;
                checked_spread_rows += sr.tail ? 0 : 1;
            }
        }
        EXPECT_GT(checked_queries, 0);
        EXPECT_GT(checked_spread_rows, 0);
    }
}

// The quality of the CPU reference's mask on a synthetic pattern at gamma 0.95 (4 heads, 2 KV
// heads, blocks of 64, no floor); samples 0: the case's default sample rows.
pa::analysis::mask_quality synthetic_mask_quality(pa::analysis::pattern pat, int64_t N, int samples = 0) {
    attn_case c;
    c.N = N;
    c.H = 4;
    c.Hkv = 2;
    c.B = 64;
    if (samples > 0) c.samples = samples;
    c.pat = pat;
    c.min_tokens = 0;
    c.gamma = 0.95f;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result r = run_ref(t, c);
    const auto x = pa::proxy::load_qkv(r.geo, t.q, t.k, t.v);
    return pa::analysis::measure_mask(x, r.est.mask, c.gamma);
}

// The estimator's goal on the synthetic patterns (small enough for CI; docs/quality.md has the
// 16K-128K runs): attention recall mean >= 0.95 and p5 >= 0.90 at gamma 0.95, sparse masks. On the
// diffuse-early / focused-last pattern the row-aware budget keeps the early rows' recall.
TEST(ProxyRef, RecallTargetsOnSyntheticPatterns) {
    for (auto pat : {pa::analysis::pattern::needle, pa::analysis::pattern::sink_local,
                     pa::analysis::pattern::diffuse_focused}) {
        const auto mq = synthetic_mask_quality(pat, 2048);
        const std::string what = pa::analysis::pattern_name(pat);
        EXPECT_GE(mq.recall_mean, 0.95) << what;
        EXPECT_GE(mq.recall_p5, 0.90) << what;
        for (double qp5 : mq.recall_quartile_p5)
            EXPECT_GE(qp5, 0.90) << what; // every part of the sequence
        EXPECT_LE(mq.density, pat == pa::analysis::pattern::diffuse_focused ? 1.0 : 0.5) << what;
        EXPECT_GE(mq.density, mq.oracle_density) << what; // the oracle is the floor at this gamma
    }
}

// The estimator's density goal on the same patterns at gamma 0.95 (default sample rows), recall
// keeping its targets. The spec's bound is 1.25 x the oracle density at 16K and up
// (docs/quality.md); at this size the plain oracle of needle and sink-local keeps the sink alone
// in most rows, so the two forced blocks are already twice its count. So: within 1.15 x the oracle
// of a mask that keeps the sink and the diagonal as the estimator does (those two, then the fewest
// blocks of highest exact mass reaching gamma; taking the larger of the two neighbouring sample
// counts scaled to the row instead of the line through them keeps 1.16-1.20 x it here), and, on
// the diffuse-early / focused-last pattern, within 1.25 x the plain oracle as the spec's invariant
// says.
// (4096 tokens of three patterns: 2 s in Release, ~50 s under ASan, which adds nothing here that
// the smaller ProxyRef tests do not already check; the Release suite runs it)
TEST(ProxyRef, DensityWithinOracleBoundOnSyntheticPatterns) {
    if (pa::test::built_with_asan)
        GTEST_SKIP() << "a quality bound at 4096 tokens: the Release suite checks it";
    for (auto pat : {pa::analysis::pattern::needle, pa::analysis::pattern::sink_local,
                     pa::analysis::pattern::diffuse_focused}) {
        const auto mq = synthetic_mask_quality(pat, 4096, 16);
        const std::string what = pa::analysis::pattern_name(pat);
        EXPECT_LE(mq.density, 1.15 * mq.oracle_forced_density) << what;
        if (pat == pa::analysis::pattern::diffuse_focused) {
            EXPECT_LE(mq.density, 1.25 * mq.oracle_density);
        }
        EXPECT_GE(mq.oracle_forced_density, mq.oracle_density) << what; // a constrained floor
        EXPECT_GE(mq.recall_mean, 0.95) << what;
        EXPECT_GE(mq.recall_p5, 0.90) << what;
    }
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
    // the oracles: per (head, row) block masses summed over the row's queries
    std::vector<double> row_mass(size_t(g.H * g.n_kblocks * g.n_kblocks), 0.0);
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
            for (int64_t j = 0; j <= tq; ++j)
                row_mass[size_t((h * g.n_kblocks + tq / g.B) * g.n_kblocks + j / g.B)] += pr[size_t(j)] / sum;
        }
    double oracle = 0, oracle_forced = 0; // block counts
    for (int64_t h = 0; h < g.H; ++h)
        for (int64_t m = 0; m < g.n_kblocks; ++m) {
            const double* a = &row_mass[size_t((h * g.n_kblocks + m) * g.n_kblocks)];
            std::vector<double> v(a, a + m + 1);
            const double total = std::accumulate(v.begin(), v.end(), 0.0);
            std::vector<double> rest(a + std::min<int64_t>(m, 1), a + m); // without the sink and the diagonal
            double forced = a[0] + (m > 0 ? a[m] : 0.0);
            std::sort(v.rbegin(), v.rend());
            std::sort(rest.rbegin(), rest.rend());
            double cum = 0;
            for (size_t i = 0; i < v.size() && cum < double(c.gamma) * total; ++i, ++oracle)
                cum += v[i];
            oracle_forced += m > 0 ? 2 : 1;
            for (size_t i = 0; i < rest.size() && forced < double(c.gamma) * total; ++i, ++oracle_forced)
                forced += rest[i];
        }
    const double causal = double(g.tri_total() * g.H);
    EXPECT_NEAR(mq.oracle_density, oracle / causal, 1.0 / causal);
    EXPECT_NEAR(mq.oracle_forced_density, oracle_forced / causal, 1.0 / causal);
    EXPECT_GT(mq.oracle_forced_density, mq.oracle_density);
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

namespace {
// int8 rows: each element is x * 127 / amax rounded to an integer (either neighbour at a tie
// between the float and the exact product), within [-127, 127]; zero rows stay zero.
TEST(ProxyRef, QuantizedRowsRoundEachElement) {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    std::vector<float> x(200);
    std::vector<int8_t> q(200);
    for (int rep = 0; rep < 50; ++rep) {
        for (float& v : x)
            v = nd(rng) * (rep % 7 == 0 ? 1e-20f : 1.0f);
        const float s = pa::proxy::det::quantize_row(x.data(), int64_t(x.size()), q.data());
        double amax = 0;
        for (float v : x)
            amax = std::max(amax, double(std::abs(v)));
        EXPECT_NEAR(double(s), amax / 127.0, amax / 127.0 * 1e-6);
        for (size_t i = 0; i < x.size(); ++i) {
            const double exact = double(x[i]) * 127.0 / amax;
            EXPECT_LE(std::abs(double(q[i]) - exact), 0.5 + 1e-4) << i;
            EXPECT_LE(std::abs(int(q[i])), 127);
        }
    }
    std::fill(x.begin(), x.end(), 0.0f);
    EXPECT_EQ(pa::proxy::det::quantize_row(x.data(), int64_t(x.size()), q.data()), 0.0f);
    EXPECT_TRUE(std::all_of(q.begin(), q.end(), [](int8_t v) { return v == 0; }));
}

// The deterministic exp, log and reciprocal against the C library in double (a closed form):
// exp within 6e-6 relative on [-87, 0] (its degree-4 polynomial; det_math.h), 0 below -87 and
// exactly 1 at 0; the fixed-point exp truncates exp(x) 2^32; log within 3e-5 absolute on
// [2^-30, 2^30] (|log| up to 21) and 1/x within 1e-6 relative.
TEST(ProxyRef, DeterministicMathMatchesTheLibrary) {
    namespace det = pa::proxy::det;
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> wide(-87.0f, 0.0f), near(-0.75f, 0.0f), pos(-30.0f, 30.0f);
    double worst_exp = 0, worst_log = 0, worst_recip = 0;
    for (int i = 0; i < 200000; ++i) {
        const float x = i % 2 ? wide(rng) : near(rng);
        const double want = std::exp(double(x));
        worst_exp = std::max(worst_exp, std::abs(double(det::exp(x)) / want - 1.0));
        const double fixed = double(det::exp_fixed(x)), want_fixed = double(det::exp(x)) * 4294967296.0;
        ASSERT_LE(fixed, want_fixed) << x;
        ASSERT_GT(fixed + 1.0, want_fixed) << x;
        const float y = std::exp2(pos(rng));
        worst_log = std::max(worst_log, std::abs(double(det::log(y)) - std::log(double(y))));
        worst_recip = std::max(worst_recip, std::abs(double(det::recip(y)) * double(y) - 1.0));
    }
    EXPECT_LT(worst_exp, 6e-6);
    EXPECT_LT(worst_log, 3e-5);
    EXPECT_LT(worst_recip, 1e-6);
    EXPECT_EQ(det::exp(0.0f), 1.0f);
    EXPECT_EQ(det::exp_fixed(0.0f), uint64_t(1) << 32);
    EXPECT_EQ(det::exp(-87.5f), 0.0f);
    EXPECT_EQ(det::exp(-std::numeric_limits<float>::infinity()), 0.0f);
}
} // namespace
