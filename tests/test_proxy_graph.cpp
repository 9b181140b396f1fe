// test_proxy_graph.cpp - graph level: a graph with dense attention (strided q/k/v views as a
// model makes them, a per-channel gain after) is swapped to proxy_sparse_attn by the pass,
// run on the OpenCL plugin, and matched against the same graph on the CPU reference backend.
#include <gtest/gtest.h>

#include "pa/op_registry.h"
#include "pa/plugin_loader.h"
#include "test_proxy_util.h"

using namespace proxy_test;

namespace {

struct plugin_env {
    std::shared_ptr<pa::plugin> plug;
    std::unique_ptr<pa::backend> ocl, cpu;
};

plugin_env& env() {
    static plugin_env e = [] {
        plugin_env x;
        x.plug = pa::plugin::load(PA_PLUGIN_PATH); // registers proxy_sparse_attn
        if (x.plug->device_count() > 0) x.ocl = x.plug->open_backend("");
        x.cpu = pa::make_cpu_backend();
        return x;
    }();
    return e;
}

// A small attention block: q/k/v leaves in [d, heads, n] (token-major, as projections give
// them), permuted to the attention layout, attention, a gain.
struct attn_graph {
    pa::context ctx;
    pa::tensor *attn = nullptr, *out = nullptr;
    pa::graph g;

    attn_graph(const attn_case& c, bool with_decode_node) {
        const auto s = pa::analysis::synthesize(c.pat, c.N, c.n_past, c.H, c.Hkv, c.d, c.seed, 0.0f, c.B);
        const int64_t nk = c.n_past + c.N;
        auto token_major = [&](const std::vector<float>& src, int64_t heads, int64_t n, pa_type type) {
            pa::tensor* t = ctx.new_tensor(type, {c.d, heads, n});
            for (int64_t h = 0; h < heads; ++h)
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t e = 0; e < c.d; ++e) {
                        const float x = src[size_t((h * n + i) * c.d + e)];
                        const size_t at = size_t((i * heads + h) * c.d + e);
                        if (type == PA_TYPE_F32)
                            static_cast<float*>(t->data)[at] = x;
                        else
                            static_cast<uint16_t*>(t->data)[at] = pa::fp32_to_fp16(x);
                    }
            return pa::permute(ctx, t, 0, 2, 1, 3); // [d, n, heads], strided
        };
        pa::tensor* q = token_major(s.q, c.H, c.N, PA_TYPE_F32);
        pa::tensor* k = token_major(s.k, c.Hkv, nk, c.kv);
        pa::tensor* v = token_major(s.v, c.Hkv, nk, c.kv);
        const float scale = 1.0f / std::sqrt(float(c.d));
        attn = pa::flash_attn_ext(ctx, q, k, v, scale, int(c.n_past), true);
        std::snprintf(attn->name, PA_MAX_NAME, "attn-0");
        // a per-channel gain after attention (cheap to build on PoCL, unlike a GEMM)
        pa::tensor* wo = ctx.new_tensor(PA_TYPE_F32, {c.d * c.H, 1});
        auto* w = static_cast<float*>(wo->data);
        for (int64_t i = 0; i < pa::nelements(wo); ++i)
            w[i] = float((i * 7919) % 61) / 61.0f - 0.5f;
        out = pa::mul(ctx, pa::reshape(ctx, attn, {c.d * c.H, c.N}), wo);
        std::vector<pa::tensor*> outs{out};
        if (with_decode_node) { // one query: decoding stays dense
            pa::tensor* q1 = pa::view_3d(ctx, q, c.d, 1, c.H, q->nb[1], q->nb[2], 0);
            outs.push_back(pa::flash_attn_ext(ctx, q1, k, v, scale, int(c.n_past), true));
        }
        g = pa::build_forward(outs);
    }
};

std::vector<float> compute(attn_graph& ag, std::vector<pa::backend*> order, int* attn_backend = nullptr) {
    pa::scheduler sched(std::move(order));
    sched.compute(ag.g);
    if (attn_backend) *attn_backend = sched.assigned_backend(ag.attn);
    const auto* p = static_cast<const float*>(ag.out->data);
    return std::vector<float>(p, p + pa::nelements(ag.out));
}

attn_case graph_case() {
    attn_case c;
    c.N = 230;
    c.n_past = 26;
    c.H = 8;
    c.Hkv = 2;
    c.kv = PA_TYPE_F16;
    return c;
}

TEST(ProxyGraph, SwappedGraphOnOpenCLMatchesCpuReference) {
    if (!env().ocl) GTEST_SKIP() << "no OpenCL device";
    const attn_case c = graph_case();
    attn_graph ag(c, true);
    const int32_t id = pa::op_registry::global().find(pa::proxy_op_name);
    ASSERT_GE(id, 0);
    const int swapped = pa::swap_dense_attention(ag.g, c.params(), {}, 16);
    EXPECT_EQ(swapped, 1); // the decode node (N = 1) stays dense
    EXPECT_EQ(ag.attn->op, id);

    int on = -1;
    const std::vector<float> gpu = compute(ag, {env().ocl.get(), env().cpu.get()}, &on);
    EXPECT_EQ(on, 0) << "proxy_sparse_attn did not run on OpenCL";
    const std::vector<float> cpu = compute(ag, {env().cpu.get()});
    EXPECT_LT(rel_l2(gpu, cpu), attention_tolerance(*env().ocl, c, false, 1e-4));

    // and it is really sparse here, and different from dense
    attn_graph dense(c, false);
    const std::vector<float> ref = compute(dense, {env().cpu.get()});
    EXPECT_GT(rel_l2(cpu, ref), 1e-7);
    EXPECT_LT(rel_l2(cpu, ref), 0.2);
}

TEST(ProxyGraph, GammaOneSwapOnOpenCLEqualsDenseGraph) {
    if (!env().ocl) GTEST_SKIP() << "no OpenCL device";
    attn_case c = graph_case();
    c.gamma = 1.0f;
    attn_graph dense(c, false);
    const std::vector<float> ref = compute(dense, {env().cpu.get()});
    attn_graph ag(c, false);
    ASSERT_EQ(pa::swap_dense_attention(ag.g, c.params()), 1);
    int on = -1;
    const std::vector<float> gpu = compute(ag, {env().ocl.get(), env().cpu.get()}, &on);
    EXPECT_EQ(on, 0);
    EXPECT_LT(rel_l2(gpu, ref), attention_tolerance(*env().ocl, c, true, 1e-5));
}

TEST(ProxyGraph, LayerFilterSkipsLayers) {
    if (!env().ocl) GTEST_SKIP() << "no OpenCL device";
    attn_graph ag(graph_case(), false);
    EXPECT_EQ(pa::swap_dense_attention(ag.g, graph_case().params(),
                                       [](int layer, const pa::tensor*) { return layer != 0; }),
              0);
    EXPECT_EQ(ag.attn->op, PA_OP_FLASH_ATTN_EXT);
}

} // namespace
