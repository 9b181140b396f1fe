// test_model_perplexity.cpp - the two perplexity definitions, the KL statistics and the
// llama.cpp logits file, against hand-computed cases: which tokens a chunk evaluates and scores
// (llama.cpp's tool: second half of each chunk, first token replaced by BOS), perplexity of
// stories260K by hand from the logits of every position, KL divergence and log-softmax in
// double, the uint16 log-probability rows, and summaries of known values.
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <random>

#include "pa/error.h"
#include "perplexity.h"
#include "stories_util.h"

namespace pm = pa::model;
namespace fs = std::filesystem;

namespace {

std::vector<int32_t> iota_tokens(int n, int32_t first = 10) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
        t[size_t(i)] = first + i;
    return t;
}

// log-softmax of a row in double
std::vector<double> log_softmax(const std::vector<float>& x) {
    double mx = -1e300, s = 0;
    for (float v : x)
        mx = std::max(mx, double(v));
    for (float v : x)
        s += std::exp(double(v) - mx);
    std::vector<double> out;
    for (float v : x)
        out.push_back(double(v) - mx - std::log(s));
    return out;
}

std::vector<float> random_logits(size_t n, uint32_t seed, float scale) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v)
        x = d(rng);
    return v;
}

const pm::model& stories() {
    static const auto m = pa::test::load_stories(PA_TYPE_F32);
    return *m;
}

} // namespace

TEST(perplexity_plan, llama_cpp_definition_with_bos) {
    const pm::model& m = stories(); // adds BOS (id 1)
    ASSERT_TRUE(m.tok().add_bos());
    const std::vector<int32_t> text = iota_tokens(70);
    const pm::ppl_plan p = pm::plan_perplexity(m.tok(), text, 16, 0, pm::ppl_scoring::llama_cpp);
    // stream = BOS + 70 text tokens = 71 -> 4 chunks of 16 (the last 7 tokens dropped)
    EXPECT_EQ(p.n_chunks, 4);
    EXPECT_EQ(p.first, 8);
    EXPECT_EQ(p.scored(0), 7); // positions 8..14 predict tokens 9..15
    EXPECT_EQ(p.scored_total(), 28);
    const std::vector<int32_t> c0 = p.chunk(0), c1 = p.chunk(1);
    ASSERT_EQ(c0.size(), 16u);
    EXPECT_EQ(c0[0], 1);
    EXPECT_EQ(c0[1], 10); // stream[1] = text[0]
    EXPECT_EQ(c1[0], 1);  // stream[16] = text[15], replaced by BOS
    EXPECT_EQ(c1[1], 10 + 16);
    EXPECT_EQ(c1[15], 10 + 30);
    // fewer than two chunks of tokens: llama.cpp refuses, so do we
    EXPECT_THROW(pm::plan_perplexity(m.tok(), iota_tokens(30), 16, 0, pm::ppl_scoring::llama_cpp), pa::error);
    EXPECT_EQ(pm::plan_perplexity(m.tok(), text, 16, 2, pm::ppl_scoring::llama_cpp).n_chunks, 2);
}

TEST(perplexity_plan, all_definition) {
    const pm::model& m = stories();
    const pm::ppl_plan p = pm::plan_perplexity(m.tok(), iota_tokens(40), 16, 0, pm::ppl_scoring::all);
    EXPECT_EQ(p.n_chunks, 2); // BOS + 15 text tokens each
    EXPECT_EQ(p.first, 0);
    EXPECT_EQ(p.scored(1), 15);
    EXPECT_EQ(p.chunk(1)[1], 10 + 15);
    const pm::ppl_plan s = pm::plan_perplexity(m.tok(), iota_tokens(5), 16, 0, pm::ppl_scoring::all);
    EXPECT_EQ(s.n_chunks, 1); // one short chunk
    EXPECT_EQ(s.scored(0), 5);
    EXPECT_EQ(pm::parse_scoring("llama.cpp"), pm::ppl_scoring::llama_cpp);
    EXPECT_THROW(pm::parse_scoring("half"), pa::error);
}

TEST(perplexity, llama_cpp_definition_by_hand) {
    const pm::model& m = stories();
    const auto cpu = pa::make_cpu_backend(2);
    const std::vector<int32_t> text = m.tok().encode(pa::test::stories_story, false, false);
    const int n_ctx = 32;
    pm::session_options o;
    o.attn = pm::attn_mode::dense;
    o.kv_type = PA_TYPE_F32;
    o.n_ctx = n_ctx;
    pm::session s(m, {cpu.get()}, o);
    const pm::ppl_result r = pm::perplexity(s, text, n_ctx, 0, pm::ppl_scoring::llama_cpp);

    // by hand: chunk c = [BOS, text[c*32 .. c*32+30]] (stream = BOS + text), logits of every
    // position from eval_all, NLL of positions 16..30 predicting the next token
    std::vector<int32_t> stream = {m.tok().bos()};
    stream.insert(stream.end(), text.begin(), text.end());
    const int chunks = int(stream.size()) / n_ctx;
    double nll = 0;
    int64_t count = 0;
    for (int c = 0; c < chunks; ++c) {
        std::vector<int32_t> chunk(stream.begin() + c * n_ctx, stream.begin() + (c + 1) * n_ctx);
        chunk[0] = m.tok().bos();
        std::vector<std::vector<float>> logits;
        s.reset();
        s.eval_all(chunk, [&](int64_t, const float* l, int64_t n) {
            for (int64_t i = 0; i < n; ++i)
                logits.emplace_back(l + i * 512, l + (i + 1) * 512);
        });
        for (int p = n_ctx / 2; p <= n_ctx - 2; ++p) {
            nll -= log_softmax(logits[size_t(p)])[size_t(chunk[size_t(p + 1)])];
            ++count;
        }
    }
    EXPECT_EQ(r.chunks, chunks);
    EXPECT_EQ(r.scored, count);
    EXPECT_NEAR(r.nll, nll / double(count), 1e-5);
    EXPECT_NEAR(r.ppl, std::exp(nll / double(count)), 1e-4 * r.ppl);
    ASSERT_EQ(r.chunk_ppl.size(), size_t(chunks));
}

TEST(logprob, stats_nll_and_kl_in_double) {
    for (uint32_t seed : {1u, 2u, 3u}) {
        const std::vector<float> p = random_logits(49157, seed, 3.0f); // odd length: vector tails
        std::vector<float> q = p;
        for (size_t i = 0; i < q.size(); i += 7)
            q[i] += 0.5f * std::sin(float(i));
        const std::vector<double> lp = log_softmax(p), lq = log_softmax(q);
        const pm::row_stats ps = pm::logit_stats(p), qs = pm::logit_stats(q);
        EXPECT_EQ(ps.argmax, int32_t(std::max_element(p.begin(), p.end()) - p.begin()));
        EXPECT_NEAR(pm::token_nll(p, ps, 123), -lp[123], 1e-5);
        double kl = 0;
        for (size_t i = 0; i < p.size(); ++i)
            kl += std::exp(lp[i]) * (lp[i] - lq[i]);
        EXPECT_NEAR(pm::kl_divergence(p, ps, q, qs), kl, 1e-6 + 1e-4 * kl);
        EXPECT_EQ(pm::kl_divergence(p, ps, p, ps), 0.0); // clamped at 0, no rounding below
    }
    std::vector<float> x(100), e(100);
    for (int i = 0; i < 100; ++i)
        x[size_t(i)] = -0.9f * float(i);
    pm::exp_nonpositive(x.data(), e.data(), 100);
    for (int i = 0; i < 88; ++i)
        EXPECT_NEAR(e[size_t(i)], std::exp(double(x[size_t(i)])), 4e-7 * std::exp(double(x[size_t(i)])));
}

TEST(logits_file, rows_round_trip_and_compare_like_llama_cpp) {
    const int64_t V = 1001;
    const std::vector<float> base = random_logits(size_t(V), 7, 4.0f);
    std::vector<float> q = base;
    for (size_t i = 0; i < q.size(); i += 3)
        q[i] -= 0.3f;
    std::vector<uint16_t> row(size_t(pm::logits_row_u16(V)));
    const pm::row_stats bs = pm::logit_stats(base), qs = pm::logit_stats(q);
    pm::encode_log_probs(base, bs, row.data());
    const pm::base_row_cmp c = pm::compare_to_base(row.data(), q, qs, 17);
    // llama.cpp's rule: base terms with log p <= -16 are left out
    const std::vector<double> lb = log_softmax(base), lq = log_softmax(q);
    double kl = 0;
    for (size_t i = 0; i < lb.size(); ++i)
        if (lb[i] > -16) kl += std::exp(lb[i]) * (lb[i] - lq[i]);
    EXPECT_NEAR(c.kl, kl, 2e-4); // 16 nats in 65535 steps
    EXPECT_NEAR(c.base_nll, -lb[17], 2e-4);
    EXPECT_EQ(c.base_argmax, bs.argmax);

    // a file: header, tokens, rows; the reader checks the size and gives the rows back
    const std::string path = (fs::temp_directory_path() / fmt::format("pa_logits_{}.bin", getpid())).string();
    const int n_ctx = 8, n_chunk = 2;
    const std::vector<int32_t> toks = iota_tokens(n_ctx * n_chunk, 0);
    {
        pm::logits_writer w(path, n_ctx, int(V), n_chunk, toks);
        for (int r = 0; r < n_chunk * pm::logits_rows_per_chunk(n_ctx); ++r)
            w.write_rows(row.data(), 1);
        w.close();
    }
    EXPECT_EQ(fs::file_size(path), 8 + 12 + toks.size() * 4 + size_t(2 * 3) * row.size() * 2);
    pm::logits_reader rd(path);
    EXPECT_EQ(rd.n_ctx(), n_ctx);
    EXPECT_EQ(rd.n_vocab(), V);
    EXPECT_EQ(rd.tokens(), toks);
    std::vector<uint16_t> back;
    rd.read_rows(6, back);
    EXPECT_TRUE(std::equal(row.begin(), row.end(), back.begin()));
    EXPECT_THROW(rd.read_rows(1, back), pa::error);
    fs::resize_file(path, fs::file_size(path) - 2); // truncated: a clear error
    EXPECT_THROW(pm::logits_reader{path}, pa::error);
    std::remove(path.c_str());
}

TEST(kl_summary, percentiles_top1_and_ratio) {
    std::vector<float> v;
    for (int i = 0; i < 101; ++i)
        v.push_back(float(i) / 100.0f); // 0, 0.01, ..., 1
    const pm::kl_summary s = pm::summarize_kl(v, 99, 10.0, 8.0);
    EXPECT_EQ(s.count, 101);
    EXPECT_NEAR(s.mean, 0.5, 1e-6);
    EXPECT_NEAR(s.median, 0.5, 1e-6);
    EXPECT_NEAR(s.p99, 0.99, 1e-6);
    EXPECT_NEAR(s.max, 1.0, 1e-6);
    EXPECT_NEAR(s.top1, 99.0 / 101.0, 1e-12);
    EXPECT_NEAR(s.ppl_ratio, std::exp(2.0 / 101.0), 1e-12);
}
