// test_eval_capture.cpp - the Q/K/V capture of the llama graph (session::capture_qkv) on
// stories260K: the captured post-RoPE Q, K and V of every layer equal a plain host transcription
// of llama2.c's forward() over the original checkpoint; K and V equal what the (F32) KV cache
// holds; chunked prefill and decode steps capture the same as one chunk; dense attention
// recomputed from the capture equals the transcription's attention; capture off adds no graph
// outputs, and bad requests are refused.
#include <cmath>
#include <gtest/gtest.h>

#include "llama2c.h"
#include "masked_attention.h"
#include "pa/error.h"
#include "session.h"
#include "stories_util.h"

namespace pm = pa::model;

namespace {

const pm::model& stories_f32() {
    static const auto m = pa::test::load_stories(PA_TYPE_F32);
    return *m;
}

// Per layer and position: q [dim], k and v [kv_dim] after RoPE (q, k), as llama2.c's forward()
// computes them over the raw checkpoint (row-major [out, in] matrices).
struct layer_qkv {
    std::vector<std::vector<float>> q, k, v; // [position][...]
};

std::vector<layer_qkv> reference_qkv(const pm::llama2c_checkpoint& ck, const std::vector<int32_t>& toks) {
    const pm::llama2c_config& c = ck.config;
    const auto W = [&](const std::string& name) -> const std::vector<float>& {
        for (const auto& w : ck.weights)
            if (w.name == name) return w.data;
        throw std::runtime_error("no weight " + name);
    };
    const auto matvec = [](const std::vector<float>& w, const std::vector<float>& x, int out) {
        std::vector<float> y(size_t(out), 0.0f);
        const size_t in = x.size();
        for (size_t i = 0; i < size_t(out); ++i) {
            double s = 0;
            for (size_t j = 0; j < in; ++j)
                s += double(w[i * in + j]) * double(x[j]);
            y[i] = float(s);
        }
        return y;
    };
    const auto rmsnorm = [](const std::vector<float>& x, const std::vector<float>& w) {
        double ss = 0;
        for (float v : x)
            ss += double(v) * double(v);
        const double r = 1.0 / std::sqrt(ss / double(x.size()) + 1e-5);
        std::vector<float> o(x.size());
        for (size_t i = 0; i < x.size(); ++i)
            o[i] = float(double(w[i]) * r * double(x[i]));
        return o;
    };
    const int dim = c.dim, hs = c.head_dim(), kv_dim = c.kv_dim();
    std::vector<layer_qkv> out(size_t(c.n_layers));
    std::vector<std::vector<float>> xs; // residual stream per position
    const auto& emb = W("token_embd.weight");
    for (int32_t t : toks)
        xs.emplace_back(emb.begin() + long(t) * dim, emb.begin() + long(t + 1) * dim);
    for (int l = 0; l < c.n_layers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        layer_qkv& L = out[size_t(l)];
        for (size_t pos = 0; pos < xs.size(); ++pos) {
            const std::vector<float> xb = rmsnorm(xs[pos], W(b + "attn_norm.weight"));
            std::vector<float> q = matvec(W(b + "attn_q.weight"), xb, dim),
                               k = matvec(W(b + "attn_k.weight"), xb, kv_dim);
            for (auto* r : {&q, &k})
                for (size_t i = 0; i < r->size(); i += 2) { // RoPE on adjacent pairs of each head
                    const double freq = std::pow(10000.0, -double(i % size_t(hs)) / double(hs));
                    const double a = double(pos) * freq, v0 = (*r)[i], v1 = (*r)[i + 1];
                    (*r)[i] = float(v0 * std::cos(a) - v1 * std::sin(a));
                    (*r)[i + 1] = float(v0 * std::sin(a) + v1 * std::cos(a));
                }
            L.q.push_back(q);
            L.k.push_back(k);
            L.v.push_back(matvec(W(b + "attn_v.weight"), xb, kv_dim));
        }
        // attention (causal, GQA), output projection, residual, SwiGLU FFN, residual
        for (size_t pos = 0; pos < xs.size(); ++pos) {
            std::vector<float> att(size_t(dim), 0.0f);
            for (int h = 0; h < c.n_heads; ++h) {
                const int kvh = h / (c.n_heads / c.n_kv_heads);
                std::vector<double> s(pos + 1);
                double mx = -1e300, sum = 0;
                for (size_t t = 0; t <= pos; ++t) {
                    double d = 0;
                    for (int i = 0; i < hs; ++i)
                        d += double(L.q[pos][size_t(h * hs + i)]) * double(L.k[t][size_t(kvh * hs + i)]);
                    s[t] = d / std::sqrt(double(hs));
                    mx = std::max(mx, s[t]);
                }
                for (double& v : s)
                    sum += v = std::exp(v - mx);
                for (size_t t = 0; t <= pos; ++t)
                    for (int i = 0; i < hs; ++i)
                        att[size_t(h * hs + i)] += float(s[t] / sum * double(L.v[t][size_t(kvh * hs + i)]));
            }
            std::vector<float>& x = xs[pos];
            const std::vector<float> o = matvec(W(b + "attn_output.weight"), att, dim);
            for (int i = 0; i < dim; ++i)
                x[size_t(i)] += o[size_t(i)];
            const std::vector<float> xb = rmsnorm(x, W(b + "ffn_norm.weight"));
            std::vector<float> h1 = matvec(W(b + "ffn_gate.weight"), xb, c.hidden_dim);
            const std::vector<float> h3 = matvec(W(b + "ffn_up.weight"), xb, c.hidden_dim);
            for (size_t i = 0; i < h1.size(); ++i)
                h1[i] = float(double(h1[i]) / (1.0 + std::exp(-double(h1[i]))) * double(h3[i]));
            const std::vector<float> f = matvec(W(b + "ffn_down.weight"), h1, dim);
            for (int i = 0; i < dim; ++i)
                x[size_t(i)] += f[size_t(i)];
        }
    }
    return out;
}

pm::session_options opts(int batch) {
    pm::session_options o;
    o.attn = pm::attn_mode::dense;
    o.kv_type = PA_TYPE_F32;
    o.n_batch = batch;
    o.n_ctx = 128;
    return o;
}

std::vector<int32_t> story_tokens() {
    std::vector<int32_t> t = stories_f32().tok().encode(pa::test::stories_story, true);
    t.resize(std::min<size_t>(t.size(), 80));
    return t;
}

TEST(eval_capture, qkv_of_every_layer_match_the_llama2c_forward) {
    const pm::model& m = stories_f32();
    const std::vector<int32_t> toks = story_tokens();
    const auto ref =
        reference_qkv(pm::load_llama2c_checkpoint(pa::test::stories_data_dir + "stories260K.bin"), toks);
    const auto cpu = pa::make_cpu_backend(2);
    pm::session s(m, {cpu.get()}, opts(512));
    s.capture_qkv({0, 1, 2, 3, 4});
    s.eval(toks);
    const std::vector<pa::attn_qkv> got = s.take_captured();
    ASSERT_EQ(got.size(), 5u);
    const int64_t N = int64_t(toks.size());
    float worst = 0;
    for (size_t l = 0; l < got.size(); ++l) {
        const pa::attn_qkv& x = got[l];
        ASSERT_EQ(x.N, N);
        ASSERT_EQ(x.n_past, 0);
        ASSERT_EQ(x.H, 8);
        ASSERT_EQ(x.Hkv, 4);
        ASSERT_EQ(x.d, 8);
        EXPECT_FLOAT_EQ(x.scale, 1.0f / std::sqrt(8.0f));
        for (int64_t t = 0; t < N; ++t)
            for (int64_t i = 0; i < x.d; ++i) {
                for (int64_t h = 0; h < x.H; ++h) {
                    const float r = ref[l].q[size_t(t)][size_t(h * x.d + i)];
                    const float e = std::fabs(x.q_row(h, t)[i] - r);
                    worst = std::max(worst, e);
                    ASSERT_NEAR(x.q_row(h, t)[i], r, 1e-3f + 1e-3f * std::fabs(r)) << "layer " << l << " q";
                }
                for (int64_t h = 0; h < x.Hkv; ++h) {
                    const float rk = ref[l].k[size_t(t)][size_t(h * x.d + i)],
                                rv = ref[l].v[size_t(t)][size_t(h * x.d + i)];
                    ASSERT_NEAR(x.k_head(h)[t * x.d + i], rk, 1e-3f + 1e-3f * std::fabs(rk))
                        << "layer " << l << " k";
                    ASSERT_NEAR(x.v_head(h)[t * x.d + i], rv, 1e-3f + 1e-3f * std::fabs(rv))
                        << "layer " << l << " v";
                }
            }
    }
    RecordProperty("max_abs_q_error", std::to_string(worst));
}

TEST(eval_capture, keys_and_values_equal_the_kv_cache_and_chunking_changes_nothing) {
    const pm::model& m = stories_f32();
    const std::vector<int32_t> toks = story_tokens();
    const auto cpu = pa::make_cpu_backend(2);
    std::vector<std::vector<pa::attn_qkv>> by_batch;
    for (int batch : {512, 7}) {
        pm::session s(m, {cpu.get()}, opts(batch));
        s.capture_qkv({4, 1}); // any order
        s.eval(toks);
        std::vector<pa::attn_qkv> got = s.take_captured();
        ASSERT_EQ(got.size(), 2u);
        const int layers[] = {4, 1};
        for (size_t i = 0; i < 2; ++i) {
            const pa::attn_qkv& x = got[i];
            const pm::kv_cache& kv = s.cache();
            std::vector<float> ck(size_t(x.d * kv.n_ctx() * x.Hkv)), cv(ck.size());
            s.sched().read_tensor(kv.k(layers[i]), ck.data(), ck.size() * 4);
            s.sched().read_tensor(kv.v(layers[i]), cv.data(), cv.size() * 4);
            for (int64_t h = 0; h < x.Hkv; ++h)
                for (int64_t t = 0; t < x.N; ++t)
                    for (int64_t e = 0; e < x.d; ++e) {
                        const size_t at = size_t((h * kv.n_ctx() + t) * x.d + e);
                        ASSERT_EQ(x.k_head(h)[t * x.d + e], ck[at])
                            << "batch " << batch << " layer " << layers[i];
                        ASSERT_EQ(x.v_head(h)[t * x.d + e], cv[at])
                            << "batch " << batch << " layer " << layers[i];
                    }
        }
        by_batch.push_back(std::move(got));
    }
    for (size_t i = 0; i < 2; ++i)
        for (auto [a, b] : {std::pair{&by_batch[0][i].q, &by_batch[1][i].q},
                            std::pair{&by_batch[0][i].k, &by_batch[1][i].k},
                            std::pair{&by_batch[0][i].v, &by_batch[1][i].v}}) {
            ASSERT_EQ(a->size(), b->size());
            for (size_t e = 0; e < a->size(); ++e)
                ASSERT_NEAR((*a)[e], (*b)[e], 1e-4f);
        }
}

TEST(eval_capture, decode_steps_extend_the_capture) {
    const pm::model& m = stories_f32();
    const std::vector<int32_t> toks = story_tokens();
    const auto cpu = pa::make_cpu_backend(2);
    pm::session whole(m, {cpu.get()}, opts(512)), steps(m, {cpu.get()}, opts(512));
    whole.capture_qkv({2});
    whole.eval(toks);
    steps.capture_qkv({2});
    steps.eval(std::span<const int32_t>(toks).first(toks.size() - 3));
    for (size_t i = toks.size() - 3; i < toks.size(); ++i)
        steps.eval(std::span<const int32_t>(&toks[i], 1));
    const pa::attn_qkv a = whole.take_captured().at(0), b = steps.take_captured().at(0);
    ASSERT_EQ(a.N, b.N);
    for (size_t e = 0; e < a.q.size(); ++e)
        ASSERT_NEAR(a.q[e], b.q[e], 1e-4f);
    // the capture is off again: nothing more is collected
    EXPECT_TRUE(steps.take_captured().empty());
}

TEST(eval_capture, off_by_default_and_bad_requests_are_refused) {
    const pm::model& m = stories_f32();
    const pm::kv_cache kv(m.hp(), 64, PA_TYPE_F32);
    const std::vector<int32_t> toks = {1, 40, 50};
    pa::context ctx;
    const pm::llm_graph plain = pm::build_llm_graph(ctx, m, kv, toks, 0, pm::graph_output::last_logits);
    EXPECT_EQ(plain.g.outputs.size(), 1u);
    EXPECT_TRUE(plain.captured.empty());
    const int layers[] = {3};
    const pm::llm_graph cap = pm::build_llm_graph(ctx, m, kv, toks, 0, pm::graph_output::last_logits, layers);
    EXPECT_EQ(cap.g.outputs.size(), 4u);
    ASSERT_EQ(cap.captured.size(), 1u);
    EXPECT_EQ(cap.captured[0].layer, 3);
    const int bad[] = {5};
    EXPECT_THROW(pm::build_llm_graph(ctx, m, kv, toks, 0, pm::graph_output::last_logits, bad), pa::error);

    const auto cpu = pa::make_cpu_backend(1);
    pm::session s(m, {cpu.get()}, opts(512));
    EXPECT_THROW(s.capture_qkv({5}), pa::error);
    EXPECT_THROW(s.capture_qkv({1, 1}), pa::error);
    s.eval(toks);
    EXPECT_THROW(s.capture_qkv({1}), pa::error); // not at position 0
    EXPECT_TRUE(s.take_captured().empty());
}

TEST(eval_capture, captured_attention_is_the_dense_attention_of_the_layer) {
    // Dense attention recomputed from the capture (analysis/masked_attention.h) equals the
    // transcription's attention of the same layer: q, k, v and softmax all line up.
    const pm::model& m = stories_f32();
    const std::vector<int32_t> toks = story_tokens();
    const auto ref =
        reference_qkv(pm::load_llama2c_checkpoint(pa::test::stories_data_dir + "stories260K.bin"), toks);
    const auto cpu = pa::make_cpu_backend(2);
    pm::session s(m, {cpu.get()}, opts(512));
    s.capture_qkv({3});
    s.eval(toks);
    const pa::attn_qkv x = s.take_captured().at(0);
    const std::vector<float> out = pa::analysis::masked_attention(x, nullptr, 1); // [N][H][d]
    const layer_qkv& L = ref[3];
    for (int64_t t = 0; t < x.N; ++t)
        for (int64_t h = 0; h < x.H; ++h) {
            const int64_t kvh = h / x.gqa();
            std::vector<double> w(size_t(t + 1));
            double mx = -1e300, sum = 0;
            for (int64_t j = 0; j <= t; ++j) {
                double d = 0;
                for (int64_t i = 0; i < x.d; ++i)
                    d += double(L.q[size_t(t)][size_t(h * x.d + i)]) *
                         double(L.k[size_t(j)][size_t(kvh * x.d + i)]);
                w[size_t(j)] = d * double(x.scale);
                mx = std::max(mx, w[size_t(j)]);
            }
            for (double& v : w)
                sum += v = std::exp(v - mx);
            for (int64_t i = 0; i < x.d; ++i) {
                double o = 0;
                for (int64_t j = 0; j <= t; ++j)
                    o += w[size_t(j)] / sum * double(L.v[size_t(j)][size_t(kvh * x.d + i)]);
                ASSERT_NEAR(out[size_t((t * x.H + h) * x.d + i)], o, 2e-3 + 2e-3 * std::fabs(o))
                    << t << " " << h;
            }
        }
}

} // namespace
