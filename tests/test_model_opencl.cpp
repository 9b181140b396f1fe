// test_model_opencl.cpp - stories260K (GGUF, converted in memory) on the OpenCL plugin:
// greedy decoding gives the known text, logits match the CPU backend, quantized weights run,
// and proxy_sparse_attn swapped into the model's graph equals dense attention at gamma 1 and
// stays close below it. Skipped when the plugin or an OpenCL device is missing.
#include <cmath>
#include <cstdlib>
#include <gtest/gtest.h>

#include "convert.h"
#include "opencl_plugin.h"
#include "pa/error.h"
#include "pa/plugin_loader.h"
#include "perplexity.h"
#include "sampling.h"
#include "session.h"
#include "stories_util.h"

namespace pm = pa::model;

namespace {

using pa::test::greedy;
using pa::test::load_stories;
const std::string& golden = pa::test::stories_golden;
const std::string& story = pa::test::stories_story;

pa::test::plugin_backends& dev() {
    return pa::test::opencl_and_cpu();
}

#define REQUIRE_OPENCL()                                                                                     \
    do {                                                                                                     \
        if (!dev().skip.empty()) GTEST_SKIP() << dev().skip;                                                 \
    } while (0)

std::vector<float> all_logits(pm::session& s, std::span<const int32_t> toks) {
    std::vector<float> all;
    s.eval_all(toks, [&](int64_t, const float* l, int64_t n) { all.insert(all.end(), l, l + n * 512); });
    return all;
}

pm::session_options opts(pm::attn_mode attn) {
    pm::session_options o;
    o.attn = attn;
    return o;
}

// max |a - b| / max |b|
double rel_max_err(const std::vector<float>& a, const std::vector<float>& b) {
    double err = 0, ref = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        err = std::max(err, double(std::fabs(a[i] - b[i])));
        ref = std::max(ref, double(std::fabs(b[i])));
    }
    return err / ref;
}

bool ran_on_opencl(const pm::session& s, const std::string& op) {
    for (const auto& [key, t] : s.profile())
        if (key.rfind(op + "@", 0) == 0 && key.find("cpu") == std::string::npos && t.count > 0) return true;
    return false;
}

} // namespace

TEST(model_opencl, greedy_from_bos) {
    REQUIRE_OPENCL();
    for (pa_type t : {PA_TYPE_F32, PA_TYPE_Q8_0, PA_TYPE_Q4_0}) {
        const auto m = load_stories(t);
        pm::session s(*m, {dev().ocl.get(), dev().cpu.get()}, opts(pm::attn_mode::dense));
        s.set_profile(true);
        const std::string text = greedy(s, m->tok(), golden.size());
        if (t != PA_TYPE_Q4_0) {
            EXPECT_EQ(text.substr(0, golden.size()), golden) << pa::type_name(t);
        }
        pm::session c(*m, {dev().cpu.get()},
                      opts(pm::attn_mode::dense)); // 4-bit changes the story: same on both
        EXPECT_EQ(text, greedy(c, m->tok(), golden.size())) << pa::type_name(t);
        EXPECT_TRUE(ran_on_opencl(s, "mul_mat")) << s.profile_report();
        EXPECT_TRUE(ran_on_opencl(s, "flash_attn_ext")) << s.profile_report();
    }
}

TEST(model_opencl, logits_match_cpu) {
    REQUIRE_OPENCL();
    for (pa_type t :
         {PA_TYPE_F32}) { // quantized weights: greedy_from_bos (kept short: PoCL builds kernels slowly)
        const auto m = load_stories(t);
        const std::vector<int32_t> toks = m->tok().encode(story, true);
        pm::session_options o = opts(pm::attn_mode::dense);
        o.n_batch = 32; // several chunks: exercises n_past on the device cache
        pm::session cpu(*m, {dev().cpu.get()}, o);
        pm::session ocl(*m, {dev().ocl.get(), dev().cpu.get()}, o);
        const double err = rel_max_err(all_logits(ocl, toks), all_logits(cpu, toks));
        std::printf("stories260K %s: OpenCL vs CPU logits, max rel error %.2e\n",
                    std::string(pa::type_name(t)).c_str(), err);
        EXPECT_LT(err, 2e-3) << pa::type_name(t);
    }
}

TEST(model_opencl, proxy_attention_in_the_model) {
    REQUIRE_OPENCL(); // the plugin registers proxy_sparse_attn (with its CPU reference)
    const auto m = load_stories(PA_TYPE_F32);
    const std::vector<int32_t> toks = m->tok().encode(story + " " + story, true);
    pm::session_options o = opts(pm::attn_mode::proxy);
    o.proxy_min_len = 0;
    o.proxy.block = 16;
    o.proxy.stride = 4;
    o.proxy.min_tokens = 16;
    o.proxy.gamma = 1.0f; // every block kept: must equal dense attention
    for (pa::backend* b : {dev().cpu.get(), dev().ocl.get()}) {
        std::vector<pa::backend*> order = {b};
        if (b != dev().cpu.get()) order.push_back(dev().cpu.get());
        pm::session dense(*m, order, opts(pm::attn_mode::dense));
        pm::session proxy(*m, order, o);
        const std::vector<float> ref = all_logits(dense, toks);
        EXPECT_LT(rel_max_err(all_logits(proxy, toks), ref), 2e-3)
            << b->name(); // noise floor of two attention kernels
        EXPECT_EQ(proxy.stats().proxy_nodes, m->hp().n_layer) << b->name();

        pm::session_options sparse = o; // gamma < 1: sparser, close in perplexity
        sparse.proxy.gamma = 0.8f;
        pm::session ds(*m, order, opts(pm::attn_mode::dense)), ps(*m, order, sparse);
        const std::vector<int32_t> text = m->tok().encode(story + " " + story, false, false);
        const double pd = pm::perplexity(ds, text, 256, 0, pm::ppl_scoring::all).ppl,
                     pp = pm::perplexity(ps, text, 256, 0, pm::ppl_scoring::all).ppl;
        std::printf("%s: ppl dense %.4f, proxy (gamma 0.8, block 16) %.4f (%+.2f%%)\n", b->name().c_str(), pd,
                    pp, 100.0 * (pp / pd - 1.0));
        EXPECT_NEAR(pp / pd, 1.0, 0.2);
    }
}
