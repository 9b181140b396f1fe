// test_analysis_head_similarity.cpp - head similarity (analysis/head_similarity.h) on a
// hand-computed case (one-hot keys, so each head's softmax is a chosen distribution) and
// against a brute-force transcription of the definition on random Q/K; group statistics.
#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <numeric>
#include <random>

#include "head_similarity.h"
#include "pa/error.h"

namespace pa::analysis {
namespace {

// One query (the last of n_keys keys, d = n_keys one-hot keys, scale 1) whose head h has
// softmax probs[h]: its logits are log(probs[h]).
attn_qkv from_distributions(const std::vector<std::vector<double>>& probs, int64_t Hkv = 1) {
    attn_qkv x;
    const auto n = int64_t(probs[0].size());
    x.d = n;
    x.N = 1;
    x.n_past = n - 1;
    x.H = int64_t(probs.size());
    x.Hkv = Hkv;
    x.scale = 1.0f;
    for (const auto& p : probs)
        for (double v : p)
            x.q.push_back(float(std::log(v)));
    x.k.assign(size_t(Hkv * n * n), 0.0f);
    for (int64_t hk = 0; hk < Hkv; ++hk)
        for (int64_t j = 0; j < n; ++j)
            x.k[size_t((hk * n + j) * n + j)] = 1.0f;
    x.v = x.k;
    return x;
}

TEST(analysis_head_similarity, hand_computed_top_k) {
    // head 0 ranks keys 0, 1, 2, 3; head 1 ranks 3, 2, 1, 0
    const attn_qkv x = from_distributions({{0.5, 0.3, 0.15, 0.05}, {0.1, 0.2, 0.3, 0.4}});
    head_similarity_options o;
    o.top_k = 2;
    const head_similarity s = measure_head_similarity(x, o);
    ASSERT_EQ(s.H, 2);
    EXPECT_EQ(s.rows, 1);
    EXPECT_NEAR(s.at(0, 0), 0.8, 1e-5); // 0.5 + 0.3
    EXPECT_NEAR(s.at(0, 1), 0.3, 1e-5); // head 1's mass on keys {0, 1}
    EXPECT_NEAR(s.at(1, 0), 0.2, 1e-5); // head 0's mass on keys {3, 2}
    EXPECT_NEAR(s.at(1, 1), 0.7, 1e-5);
    EXPECT_NEAR(s.top_k_mean[0], 2.0, 0.0);
    const group_similarity g = group_stats(s, 2);
    EXPECT_EQ(g.pairs, 2);
    EXPECT_NEAR(g.mean, 0.25, 1e-5);
    EXPECT_NEAR(g.min, 0.2, 1e-5);
    EXPECT_EQ(group_stats(s, 1).pairs, 0); // no pairs: 1 by definition
    EXPECT_EQ(group_stats(s, 1).mean, 1.0);
}

TEST(analysis_head_similarity, hand_computed_gamma_cover) {
    const attn_qkv x = from_distributions({{0.5, 0.3, 0.15, 0.05}, {0.1, 0.2, 0.3, 0.4}});
    head_similarity_options o;
    o.top_k = 0;
    o.gamma = 0.85f; // head 0 needs keys {0, 1, 2} (0.95), head 1 keys {3, 2, 1} (0.9)
    const head_similarity s = measure_head_similarity(x, o);
    EXPECT_NEAR(s.at(0, 1), 0.1 + 0.2 + 0.3, 1e-5);
    EXPECT_NEAR(s.at(1, 0), 0.05 + 0.15 + 0.3, 1e-5);
    EXPECT_NEAR(s.at(0, 0), 0.95, 1e-5);
    EXPECT_NEAR(s.top_k_mean[0], 3.0, 0.0);
    EXPECT_NEAR(s.top_k_mean[1], 3.0, 0.0);
    const group_similarity r = head_received(s, 2, 0); // what head 1's ranking keeps of head 0
    EXPECT_EQ(r.pairs, 1);
    EXPECT_NEAR(r.mean, 0.5, 1e-5);
}

TEST(analysis_head_similarity, ties_go_to_the_lower_key) {
    const attn_qkv x = from_distributions({{0.25, 0.25, 0.25, 0.25}, {0.1, 0.2, 0.3, 0.4}});
    head_similarity_options o;
    o.top_k = 2; // head 0's top 2 of four equal keys: {0, 1}
    const head_similarity s = measure_head_similarity(x, o);
    EXPECT_NEAR(s.at(0, 1), 0.3, 1e-5);
}

TEST(analysis_head_similarity, groups_of_consecutive_heads) {
    // four heads, two KV heads: KV groups {0, 1} and {2, 3}
    const attn_qkv x = from_distributions(
        {{0.7, 0.1, 0.1, 0.1}, {0.6, 0.2, 0.1, 0.1}, {0.1, 0.1, 0.1, 0.7}, {0.1, 0.1, 0.2, 0.6}}, 2);
    head_similarity_options o;
    o.top_k = 1;
    const head_similarity s = measure_head_similarity(x, o);
    const group_similarity kv = group_stats(s, x.gqa());
    EXPECT_EQ(kv.pairs, 4);
    EXPECT_NEAR(kv.mean, (0.6 + 0.7 + 0.6 + 0.7) / 4, 1e-5);
    EXPECT_NEAR(kv.min, 0.6, 1e-5);
    const group_similarity all = group_stats(s, 4); // one proxy group of every head
    EXPECT_EQ(all.pairs, 12);
    EXPECT_NEAR(all.min, 0.1, 1e-5);
    EXPECT_THROW(group_stats(s, 3), pa::error);
}

// The definition, written out: probabilities in double, a full sort per head.
std::vector<double> brute_force(const attn_qkv& x, int64_t top_k, double gamma, int64_t rows) {
    const int64_t H = x.H;
    std::vector<double> share(size_t(H * H), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t t = rows == 1 ? x.N - 1 : r * (x.N - 1) / (rows - 1), pos = x.n_past + t;
        std::vector<std::vector<double>> p(size_t(H), std::vector<double>(size_t(pos + 1)));
        for (int64_t h = 0; h < H; ++h) {
            double mx = -1e300, sum = 0;
            for (int64_t j = 0; j <= pos; ++j) {
                double s = 0;
                for (int64_t i = 0; i < x.d; ++i)
                    s += double(x.q_row(h, t)[i]) * double(x.k_head(h / x.gqa())[j * x.d + i]);
                p[size_t(h)][size_t(j)] = s * x.scale;
                mx = std::max(mx, s * x.scale);
            }
            for (double& v : p[size_t(h)])
                sum += v = std::exp(v - mx);
            for (double& v : p[size_t(h)])
                v /= sum;
        }
        for (int64_t i = 0; i < H; ++i) {
            std::vector<int> order(size_t(pos + 1));
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](int a, int b) { return p[size_t(i)][size_t(a)] > p[size_t(i)][size_t(b)]; });
            int64_t k = top_k > 0 ? std::min(top_k, pos + 1) : pos + 1;
            if (top_k == 0) {
                double cum = 0;
                for (int64_t a = 0; a <= pos; ++a) {
                    cum += p[size_t(i)][size_t(order[size_t(a)])];
                    if (cum >= gamma) {
                        k = a + 1;
                        break;
                    }
                }
            }
            for (int64_t j = 0; j < H; ++j)
                for (int64_t a = 0; a < k; ++a)
                    share[size_t(i * H + j)] += p[size_t(j)][size_t(order[size_t(a)])] / double(rows);
        }
    }
    return share;
}

TEST(analysis_head_similarity, matches_brute_force_on_random_heads) {
    attn_qkv x;
    x.d = 16;
    x.N = 40;
    x.n_past = 9;
    x.H = 6;
    x.Hkv = 2;
    x.scale = 0.5f;
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    x.q.resize(size_t(x.H * x.N * x.d));
    x.k.resize(size_t(x.Hkv * x.n_keys() * x.d));
    for (float& v : x.q)
        v = nd(rng);
    for (float& v : x.k)
        v = nd(rng);
    x.v = x.k;
    for (int64_t top_k : {int64_t(0), int64_t(1), int64_t(7), int64_t(1000)})
        for (int64_t rows : {int64_t(0), int64_t(1), int64_t(5)}) {
            head_similarity_options o;
            o.top_k = top_k;
            o.gamma = 0.9f;
            o.rows = rows;
            o.n_threads = 2;
            const head_similarity s = measure_head_similarity(x, o);
            const std::vector<double> ref = brute_force(x, top_k, double(o.gamma), rows == 0 ? x.N : rows);
            EXPECT_EQ(s.rows, rows == 0 ? x.N : rows);
            for (size_t i = 0; i < ref.size(); ++i)
                EXPECT_NEAR(s.share[i], ref[i], 2e-5)
                    << "top_k " << top_k << " rows " << rows << " pair " << i;
        }
}

TEST(analysis_head_similarity, rejects_bad_input) {
    attn_qkv x;
    x.d = 4;
    x.N = 0;
    x.H = 2;
    x.Hkv = 1;
    EXPECT_THROW(measure_head_similarity(x, {}), pa::error);
    const attn_qkv y = from_distributions({{0.5, 0.5}, {0.5, 0.5}});
    head_similarity_options o;
    o.gamma = 1.5f;
    EXPECT_THROW(measure_head_similarity(y, o), pa::error);
}

} // namespace
} // namespace pa::analysis
