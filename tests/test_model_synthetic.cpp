// test_model_synthetic.cpp - tiny random llama and qwen2 models written as GGUF: the graph's
// logits against a plain float forward pass (q/k/v biases, NeoX vs adjacent-pair RoPE, tied
// vs separate classifier, GQA), and clear load errors for broken model files.
#include <cmath>
#include <gtest/gtest.h>
#include <cstring>
#include <map>
#include <random>

#include "pa/error.h"
#include "session.h"
#include "unicode.h"

namespace pm = pa::model;
namespace gguf = pa::gguf;

namespace {

struct tiny_spec {
    std::string arch = "llama";
    int E = 32, H = 4, Hkv = 2, D = 8, F = 48, L = 2;
    bool tied = true;
    float theta = 10000.0f, eps = 1e-5f;
};

struct tiny_model {
    tiny_spec spec;
    int V = 0;
    std::map<std::string, std::vector<float>> w; // name -> data (ggml order)
    std::map<std::string, std::vector<int64_t>> ne;
};

// Byte-level vocabulary (256 symbols) so that the tokenizer loads; ids are used directly.
void add_tokenizer(gguf::writer& g, int& V) {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) {
        std::string s;
        pm::utf8_append(s, pm::byte_to_codepoint(uint8_t(b)));
        tokens.push_back(s);
    }
    V = int(tokens.size());
    g.set("tokenizer.ggml.model", gguf::value::of_string("gpt2"));
    g.set("tokenizer.ggml.tokens", gguf::value::of_strings(tokens));
    g.set("tokenizer.ggml.merges", gguf::value::of_strings({}));
}

tiny_model make_tiny(const tiny_spec& s, gguf::writer& g, uint32_t seed) {
    tiny_model m;
    m.spec = s;
    add_tokenizer(g, m.V);
    const std::string& a = s.arch;
    g.set("general.architecture", gguf::value::of_string(a));
    g.set(a + ".embedding_length", gguf::value::of_u32(uint32_t(s.E)));
    g.set(a + ".block_count", gguf::value::of_u32(uint32_t(s.L)));
    g.set(a + ".feed_forward_length", gguf::value::of_u32(uint32_t(s.F)));
    g.set(a + ".attention.head_count", gguf::value::of_u32(uint32_t(s.H)));
    g.set(a + ".attention.head_count_kv", gguf::value::of_u32(uint32_t(s.Hkv)));
    g.set(a + ".attention.key_length", gguf::value::of_u32(uint32_t(s.D)));
    g.set(a + ".context_length", gguf::value::of_u32(64));
    g.set(a + ".rope.freq_base", gguf::value::of_f32(s.theta));
    g.set(a + ".attention.layer_norm_rms_epsilon", gguf::value::of_f32(s.eps));
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float base = 0.0f) {
        size_t n = 1;
        for (int64_t e : shape) n *= size_t(e);
        std::vector<float> d(n);
        for (float& x : d) x = base + nd(rng);
        std::vector<uint8_t> bytes(n * 4);
        std::memcpy(bytes.data(), d.data(), bytes.size());
        g.add_tensor(name, PA_TYPE_F32, shape, std::move(bytes));
        m.w[name] = std::move(d);
        m.ne[name] = std::move(shape);
    };
    const int64_t Q = s.H * s.D, KV = s.Hkv * s.D;
    add("token_embd.weight", {s.E, m.V});
    add("output_norm.weight", {s.E}, 1.0f);
    if (!s.tied) add("output.weight", {s.E, m.V});
    for (int l = 0; l < s.L; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        add(b + "attn_norm.weight", {s.E}, 1.0f);
        add(b + "attn_q.weight", {s.E, Q});
        add(b + "attn_k.weight", {s.E, KV});
        add(b + "attn_v.weight", {s.E, KV});
        if (a == "qwen2") {
            add(b + "attn_q.bias", {Q});
            add(b + "attn_k.bias", {KV});
            add(b + "attn_v.bias", {KV});
        }
        add(b + "attn_output.weight", {Q, s.E});
        add(b + "ffn_norm.weight", {s.E}, 1.0f);
        add(b + "ffn_gate.weight", {s.E, s.F});
        add(b + "ffn_up.weight", {s.E, s.F});
        add(b + "ffn_down.weight", {s.F, s.E});
    }
    return m;
}

// Plain forward pass over all positions; returns logits [pos][V].
std::vector<std::vector<float>> reference(const tiny_model& m, const std::vector<int32_t>& toks) {
    const tiny_spec& s = m.spec;
    const bool neox = s.arch == "qwen2";
    auto W = [&](const std::string& n) -> const std::vector<float>& { return m.w.at(n); };
    auto matvec = [](const std::vector<float>& w, const std::vector<float>& x, int out) {
        const size_t in = x.size();
        std::vector<float> y(size_t(out), 0.0f);
        for (int i = 0; i < out; ++i)
            for (size_t j = 0; j < in; ++j) y[size_t(i)] += w[size_t(i) * in + j] * x[j];
        return y;
    };
    auto norm = [&](const std::vector<float>& x, const std::vector<float>& g) {
        double ss = 0;
        for (float v : x) ss += double(v) * v;
        const float r = float(1.0 / std::sqrt(ss / double(x.size()) + s.eps));
        std::vector<float> o(x.size());
        for (size_t i = 0; i < x.size(); ++i) o[i] = x[i] * r * g[i];
        return o;
    };
    auto rope = [&](std::vector<float>& v, int heads, int pos) {
        for (int h = 0; h < heads; ++h)
            for (int i = 0; i < s.D / 2; ++i) {
                const double ang = pos * std::pow(double(s.theta), -2.0 * i / s.D);
                const int a = h * s.D + (neox ? i : 2 * i), b = h * s.D + (neox ? i + s.D / 2 : 2 * i + 1);
                const float x0 = v[size_t(a)], x1 = v[size_t(b)];
                v[size_t(a)] = float(x0 * std::cos(ang) - x1 * std::sin(ang));
                v[size_t(b)] = float(x0 * std::sin(ang) + x1 * std::cos(ang));
            }
    };
    std::vector<std::vector<std::vector<float>>> kc(size_t(s.L)), vc(size_t(s.L));
    std::vector<std::vector<float>> out;
    for (size_t pos = 0; pos < toks.size(); ++pos) {
        const auto& emb = W("token_embd.weight");
        std::vector<float> x(emb.begin() + long(toks[pos]) * s.E, emb.begin() + long(toks[pos] + 1) * s.E);
        for (int l = 0; l < s.L; ++l) {
            const std::string b = "blk." + std::to_string(l) + ".";
            const std::vector<float> xn = norm(x, W(b + "attn_norm.weight"));
            std::vector<float> q = matvec(W(b + "attn_q.weight"), xn, s.H * s.D);
            std::vector<float> k = matvec(W(b + "attn_k.weight"), xn, s.Hkv * s.D);
            std::vector<float> v = matvec(W(b + "attn_v.weight"), xn, s.Hkv * s.D);
            if (s.arch == "qwen2") {
                for (size_t i = 0; i < q.size(); ++i) q[i] += W(b + "attn_q.bias")[i];
                for (size_t i = 0; i < k.size(); ++i) k[i] += W(b + "attn_k.bias")[i];
                for (size_t i = 0; i < v.size(); ++i) v[i] += W(b + "attn_v.bias")[i];
            }
            rope(q, s.H, int(pos));
            rope(k, s.Hkv, int(pos));
            kc[size_t(l)].push_back(k);
            vc[size_t(l)].push_back(v);
            std::vector<float> att(size_t(s.H * s.D), 0.0f);
            for (int h = 0; h < s.H; ++h) {
                const int kh = h / (s.H / s.Hkv);
                std::vector<double> p(pos + 1);
                double mx = -1e300, sum = 0;
                for (size_t t = 0; t <= pos; ++t) {
                    double dot = 0;
                    for (int i = 0; i < s.D; ++i) dot += q[size_t(h * s.D + i)] * kc[size_t(l)][t][size_t(kh * s.D + i)];
                    p[t] = dot / std::sqrt(double(s.D));
                    mx = std::max(mx, p[t]);
                }
                for (double& e : p) sum += e = std::exp(e - mx);
                for (size_t t = 0; t <= pos; ++t)
                    for (int i = 0; i < s.D; ++i)
                        att[size_t(h * s.D + i)] += float(p[t] / sum) * vc[size_t(l)][t][size_t(kh * s.D + i)];
            }
            const std::vector<float> o = matvec(W(b + "attn_output.weight"), att, s.E);
            for (int i = 0; i < s.E; ++i) x[size_t(i)] += o[size_t(i)];
            const std::vector<float> xf = norm(x, W(b + "ffn_norm.weight"));
            std::vector<float> g = matvec(W(b + "ffn_gate.weight"), xf, s.F);
            const std::vector<float> u = matvec(W(b + "ffn_up.weight"), xf, s.F);
            for (int i = 0; i < s.F; ++i) g[size_t(i)] = g[size_t(i)] / (1.0f + std::exp(-g[size_t(i)])) * u[size_t(i)];
            const std::vector<float> dn = matvec(W(b + "ffn_down.weight"), g, s.E);
            for (int i = 0; i < s.E; ++i) x[size_t(i)] += dn[size_t(i)];
        }
        out.push_back(matvec(W(s.tied ? "token_embd.weight" : "output.weight"), norm(x, W("output_norm.weight")), m.V));
    }
    return out;
}

void check_against_reference(const tiny_spec& spec) {
    gguf::writer g;
    const tiny_model tm = make_tiny(spec, g, 42);
    const pm::model m(gguf::file::from_memory(g.to_memory(), spec.arch + ".gguf"));
    EXPECT_EQ(m.hp().rope_mode, spec.arch == "qwen2" ? 2 : 0);
    EXPECT_EQ(m.output == m.token_embd, spec.tied);
    const std::vector<int32_t> toks = {5, 77, 200, 13, 13, 250, 1, 99, 42, 7, 180};
    const auto ref = reference(tm, toks);
    const auto cpu = pa::make_cpu_backend(2);
    pm::session_options o;
    o.attn = pm::attn_mode::dense;
    o.kv_type = PA_TYPE_F32;
    o.n_batch = 4; // three chunks: n_past > 0 in RoPE and the cache
    pm::session s(m, {cpu.get()}, o);
    double err = 0, mag = 0;
    s.eval_all(toks, [&](int64_t first, const float* l, int64_t n) {
        for (int64_t i = 0; i < n; ++i)
            for (int v = 0; v < tm.V; ++v) {
                err = std::max(err, double(std::fabs(l[i * tm.V + v] - ref[size_t(first + i)][size_t(v)])));
                mag = std::max(mag, double(std::fabs(ref[size_t(first + i)][size_t(v)])));
            }
    });
    EXPECT_LT(err / mag, 1e-4) << spec.arch << " err " << err << " of " << mag;
}

} // namespace

TEST(model_synthetic, llama_tied_matches_reference) { check_against_reference({}); }

TEST(model_synthetic, llama_separate_classifier_matches_reference) {
    tiny_spec s;
    s.tied = false;
    s.Hkv = 4; // no GQA
    check_against_reference(s);
}

TEST(model_synthetic, qwen2_bias_and_neox_rope_match_reference) {
    tiny_spec s;
    s.arch = "qwen2";
    s.Hkv = 1; // GQA 4
    s.theta = 1000000.0f;
    s.eps = 1e-6f;
    check_against_reference(s);
}

TEST(model_synthetic, broken_model_files_are_rejected_clearly) {
    auto expect_error = [](gguf::writer& g, const std::string& fragment) {
        try {
            pm::model m(gguf::file::from_memory(g.to_memory(), "broken.gguf"));
            ADD_FAILURE() << "loaded";
        } catch (const pa::error& e) {
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).rfind("broken.gguf: ", 0), 0u) << e.what();
        }
    };
    {
        tiny_spec s;
        s.arch = "gptneox";
        gguf::writer g;
        make_tiny(s, g, 1);
        expect_error(g, "architecture 'gptneox' is not supported");
    }
    {
        gguf::writer g;
        make_tiny({}, g, 1);
        g.set("llama.attention.head_count_kv", gguf::value::of_u32(3));
        expect_error(g, "not a multiple of 3 kv heads");
    }
    {
        gguf::writer g;
        make_tiny({}, g, 1);
        g.set("llama.embedding_length", gguf::value::of_u32(64));
        expect_error(g, "tensor 'token_embd.weight' is [32, 256, 1, 1], expected [64, 256");
    }
    {
        gguf::writer g;
        make_tiny({}, g, 1);
        g.remove("llama.block_count");
        expect_error(g, "missing key 'llama.block_count'");
    }
    {
        gguf::writer g;
        make_tiny({}, g, 1);
        g.set("llama.block_count", gguf::value::of_u32(3));
        expect_error(g, "missing tensor 'blk.2.attn_norm.weight'");
    }
}
