// test_analysis_layer_quality.cpp - attention restricted to a block mask
// (analysis/masked_attention.h) against a brute-force double-precision transcription, and the
// per-layer report (analysis/layer_quality.h): per-head numbers equal those of the head measured
// alone, a full mask has no error, the summary over layers picks means and worst layers.
#include <cmath>
#include <gtest/gtest.h>
#include <random>

#include "layer_quality.h"
#include "masked_attention.h"
#include "pa/error.h"
#include "patterns.h"

namespace pa::analysis {
namespace {

attn_qkv random_problem(int64_t N, int64_t n_past, int64_t H, int64_t Hkv, int64_t d, uint64_t seed) {
    attn_qkv x;
    x.d = d;
    x.N = N;
    x.n_past = n_past;
    x.H = H;
    x.Hkv = Hkv;
    x.scale = 1.0f / std::sqrt(float(d));
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.5f);
    x.q.resize(size_t(H * N * d));
    x.k.resize(size_t(Hkv * x.n_keys() * d));
    x.v.resize(x.k.size());
    for (auto* v : {&x.q, &x.k, &x.v})
        for (float& f : *v)
            f = nd(rng);
    return x;
}

// A mask keeping, per (head, row), block 0, the diagonal block and every third block by a
// head-dependent rule, so that heads and rows differ.
block_mask patterned_mask(const attn_qkv& x, int64_t B) {
    block_mask mk = block_mask::sized(block_grid::make(B, x.n_past, x.N), x.H);
    for (int64_t h = 0; h < x.H; ++h)
        for (int64_t m = mk.grid.row0; m < mk.grid.n_kblocks; ++m) {
            int32_t* list = mk.row_list(h, m);
            int32_t c = 0;
            for (int64_t n = 0; n <= m; ++n)
                if (n == 0 || n == m || (n + h) % 3 == 0) list[c++] = int32_t(n);
            mk.row_count(h, m) = c;
        }
    return mk;
}

// out [N][H][d] in double: the definition, keys of kept blocks only.
std::vector<double> brute_force(const attn_qkv& x, const block_mask* mask) {
    std::vector<double> out(size_t(x.N * x.H * x.d));
    for (int64_t t = 0; t < x.N; ++t)
        for (int64_t h = 0; h < x.H; ++h) {
            const int64_t pos = x.n_past + t;
            std::vector<char> keep(size_t(pos + 1), mask ? 0 : 1);
            if (mask)
                for (int32_t n : mask->kept(h, pos / mask->grid.B))
                    for (int64_t j = n * mask->grid.B; j < (n + 1) * mask->grid.B && j <= pos; ++j)
                        keep[size_t(j)] = 1;
            std::vector<double> s(size_t(pos + 1), -INFINITY);
            double mx = -INFINITY;
            for (int64_t j = 0; j <= pos; ++j) {
                if (!keep[size_t(j)]) continue;
                double v = 0;
                for (int64_t i = 0; i < x.d; ++i)
                    v += double(x.q_row(h, t)[i]) * double(x.k_head(h / x.gqa())[j * x.d + i]);
                s[size_t(j)] = v * x.scale;
                mx = std::max(mx, s[size_t(j)]);
            }
            double sum = 0;
            for (int64_t j = 0; j <= pos; ++j)
                if (keep[size_t(j)]) sum += std::exp(s[size_t(j)] - mx);
            for (int64_t j = 0; j <= pos; ++j) {
                if (!keep[size_t(j)]) continue;
                const double w = std::exp(s[size_t(j)] - mx) / sum;
                for (int64_t i = 0; i < x.d; ++i)
                    out[size_t((t * x.H + h) * x.d + i)] += w * double(x.v_head(h / x.gqa())[j * x.d + i]);
            }
        }
    return out;
}

TEST(analysis_masked_attention, dense_and_masked_match_brute_force) {
    const attn_qkv x = random_problem(70, 21, 4, 2, 16, 5); // first row starts mid-block, last ends early
    const block_mask mk = patterned_mask(x, 16);
    for (const block_mask* m : {static_cast<const block_mask*>(nullptr), &mk}) {
        const std::vector<float> got = masked_attention(x, m, 2);
        const std::vector<double> ref = brute_force(x, m);
        ASSERT_EQ(got.size(), ref.size());
        for (size_t i = 0; i < ref.size(); ++i)
            ASSERT_NEAR(got[i], ref[i], 1e-5) << (m ? "masked" : "dense") << " element " << i;
    }
    // a full mask is dense attention
    const block_mask full = block_mask::full(mk.grid, x.H);
    const std::vector<float> a = masked_attention(x, &full, 1), b = masked_attention(x, nullptr, 1);
    EXPECT_EQ(a, b);
}

TEST(analysis_masked_attention, rejects_a_mask_of_another_problem) {
    const attn_qkv x = random_problem(32, 0, 2, 1, 8, 1);
    const block_mask other = block_mask::full(block_grid::make(16, 0, 48), 2);
    EXPECT_THROW(masked_attention(x, &other), pa::error);
}

// Head h of x as a problem of its own (its KV head), and head h of a mask.
attn_qkv one_head(const attn_qkv& x, int64_t h) {
    attn_qkv y = x;
    y.H = 1;
    y.Hkv = 1;
    y.q.assign(x.q.begin() + h * x.N * x.d, x.q.begin() + (h + 1) * x.N * x.d);
    const int64_t hk = h / x.gqa(), nk = x.n_keys() * x.d;
    y.k.assign(x.k.begin() + hk * nk, x.k.begin() + (hk + 1) * nk);
    y.v.assign(x.v.begin() + hk * nk, x.v.begin() + (hk + 1) * nk);
    return y;
}
block_mask one_head(const block_mask& mk, int64_t h) {
    block_mask r = block_mask::sized(mk.grid, 1);
    for (int64_t m = mk.grid.row0; m < mk.grid.n_kblocks; ++m) {
        const auto k = mk.kept(h, m);
        std::copy(k.begin(), k.end(), r.row_list(0, m));
        r.row_count(0, m) = int32_t(k.size());
    }
    return r;
}

TEST(analysis_layer_quality, per_head_numbers_equal_the_head_measured_alone) {
    const synth_qkv x = synthesize(pattern::needle, 300, 0, 6, 3, 16, 9, 0.0f, 32);
    const block_mask mk = patterned_mask(x, 32);
    layer_options o;
    o.gamma = 0.9f;
    o.n_proxy = 1;
    o.sim.top_k = 8;
    o.sim.rows = 0;
    o.n_threads = 2;
    const layer_report r = measure_layer(x, mk, o);
    ASSERT_EQ(r.heads.size(), 6u);
    const std::vector<float> dense = masked_attention(x, nullptr), sparse = masked_attention(x, &mk);
    EXPECT_DOUBLE_EQ(r.error.rel_l2, compare_outputs(sparse.data(), dense.data(), dense.size()).rel_l2);
    for (int64_t h = 0; h < 6; ++h) {
        const attn_qkv y = one_head(x, h);
        const block_mask mh = one_head(mk, h);
        const mask_quality alone = measure_mask(y, mh, o.gamma, 1);
        const head_report& hr = r.heads[size_t(h)];
        EXPECT_NEAR(hr.recall_mean, alone.recall_mean, 1e-12) << h;
        EXPECT_DOUBLE_EQ(hr.recall_p5, alone.recall_p5) << h;
        EXPECT_DOUBLE_EQ(hr.recall_min, alone.recall_min) << h;
        EXPECT_NEAR(hr.density, alone.density, 1e-12) << h;
        EXPECT_NEAR(hr.oracle_density, alone.oracle_density, 1e-12) << h;
        const std::vector<float> dh = masked_attention(y, nullptr), sh = masked_attention(y, &mh);
        EXPECT_NEAR(hr.error.rel_l2, compare_outputs(sh.data(), dh.data(), dh.size()).rel_l2, 1e-6) << h;
        EXPECT_EQ(hr.kv_received.pairs, 1); // gqa 2: one partner
        EXPECT_EQ(hr.proxy_received.pairs, 5);
    }
    EXPECT_EQ(r.sim_kv.pairs, 6);
    EXPECT_EQ(r.sim_proxy.pairs, 30);
    EXPECT_LE(r.sim_proxy.min, r.sim_kv.min + 1e-12); // KV pairs are proxy pairs too (g = 1)
}

TEST(analysis_layer_quality, full_mask_has_no_error_and_full_recall) {
    const synth_qkv x = synthesize(pattern::sink_local, 200, 40, 4, 2, 16, 2, 0.0f, 32);
    const block_mask full = block_mask::full(block_grid::make(32, 40, 200), 4);
    layer_options o;
    o.n_proxy = 2;
    const layer_report r = measure_layer(x, full, o);
    EXPECT_EQ(r.error.rel_l2, 0.0);
    EXPECT_NEAR(r.mask.recall_min, 1.0, 1e-9);
    EXPECT_NEAR(r.mask.density, 1.0, 1e-12);
    EXPECT_EQ(r.sim_proxy.pairs, r.sim_kv.pairs); // g = Hkv: proxy groups are the KV groups
    EXPECT_THROW(measure_layer(x, full, layer_options{0.95f, 3, {}, 0}), pa::error); // 3 does not divide 2
}

TEST(analysis_layer_quality, summary_means_and_worst_layers) {
    std::vector<layer_report> layers(3);
    const double p5[] = {0.9, 0.5, 0.8}, rel[] = {0.01, 0.02, 0.05}, sim_min[] = {0.7, 0.9, 0.3};
    for (int i = 0; i < 3; ++i) {
        layers[size_t(i)].layer = 10 + i;
        layers[size_t(i)].mask.recall_mean = 0.9 + 0.01 * i;
        layers[size_t(i)].mask.recall_p5 = p5[i];
        layers[size_t(i)].mask.recall_min = p5[i] - 0.1;
        layers[size_t(i)].mask.density = 0.1 * (i + 1);
        layers[size_t(i)].error.rel_l2 = rel[i];
        layers[size_t(i)].sim_kv.mean = 0.9;
        layers[size_t(i)].sim_kv.min = sim_min[i];
        layers[size_t(i)].sim_proxy.min = sim_min[i] - 0.1;
    }
    const layers_summary s = summarize_layers(layers);
    EXPECT_EQ(s.layers, 3);
    EXPECT_NEAR(s.recall_mean, 0.91, 1e-12);
    EXPECT_NEAR(s.recall_p5_mean, 2.2 / 3, 1e-12);
    EXPECT_NEAR(s.density, 0.2, 1e-12);
    EXPECT_EQ(s.recall_p5_worst, 0.5);
    EXPECT_EQ(s.recall_p5_worst_layer, 11);
    EXPECT_EQ(s.rel_l2_worst_layer, 12);
    EXPECT_NEAR(s.sim_kv_min, 0.3, 1e-12);
    EXPECT_EQ(s.sim_kv_min_layer, 12);
    EXPECT_EQ(s.sim_proxy_min_layer, 12);
    EXPECT_EQ(summarize_layers({}).layers, 0);
}

} // namespace
} // namespace pa::analysis
