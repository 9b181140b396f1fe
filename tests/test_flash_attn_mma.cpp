// test_flash_attn_mma.cpp - the tensor-core attention path (opencl/flash_attn_mma.*,
// kernels/flash_attn_mma.cl and flash_attn_mma_sparse.cl) through the plugin and the scheduler,
// on any OpenCL device:
// PA_MMA=emulate makes the backend take that path with the PTX helpers emulated in OpenCL C,
// so the host code, the fragment layouts and the mask walk are checked against the CPU
// backend here (on NVIDIA sm_80+ the same code runs with real mma.sync; bench/mma_check.cpp
// checks that on the GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend_ops_util.h"
#include "env_guard.h"
#include "pa/ops.h"
#include "pa/plugin_loader.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/scheduler.h"

namespace {

struct backends {
    std::shared_ptr<pa::plugin> plug;
    std::unique_ptr<pa::backend> ocl, cpu;
};

backends& env() {
    static backends b = [] {
        backends x;
        x.plug = pa::plugin::load(PA_PLUGIN_PATH); // registers proxy_sparse_attn too
        if (x.plug->device_count() > 0) x.ocl = x.plug->open_backend("");
        x.cpu = pa::make_cpu_backend();
        return x;
    }();
    return b;
}

struct attn_case {
    int64_t d, n, n_past, h, hkv;
    bool causal;
    pa_type kv_type;
    bool permuted = false; // q/k/v as permuted views of [d, heads, n] tensors (as a model makes them)
};

// Builds q/k/v and the node with make_node, runs it on OpenCL (PA_MMA=emulate) and on the CPU;
// returns rel_l2 of the OpenCL result and whether it ran on OpenCL.
template <class F> double run_both(const attn_case& c, uint32_t seed, F make_node, bool* on_ocl) {
    pa::context ctx;
    const int64_t nk = c.n_past + c.n;
    pa::tensor* q = c.permuted ? ctx.new_tensor(PA_TYPE_F32, {c.d, c.h, c.n})
                               : ctx.new_tensor(PA_TYPE_F32, {c.d, c.n, c.h});
    pa::tensor* k = c.permuted ? ctx.new_tensor(c.kv_type, {c.d, c.hkv, nk})
                               : ctx.new_tensor(c.kv_type, {c.d, nk, c.hkv});
    pa::tensor* v = c.permuted ? ctx.new_tensor(c.kv_type, {c.d, c.hkv, nk})
                               : ctx.new_tensor(c.kv_type, {c.d, nk, c.hkv});
    pa::test::set_values(q, pa::test::random_values(size_t(c.d * c.n * c.h), seed, -2.0f, 2.0f));
    pa::test::set_values(k, pa::test::random_values(size_t(c.d * nk * c.hkv), seed + 1, -2.0f, 2.0f));
    pa::test::set_values(v, pa::test::random_values(size_t(c.d * nk * c.hkv), seed + 2));
    if (c.permuted) { // [d, heads, n] -> [d, n, heads] views
        q = pa::permute(ctx, q, 0, 2, 1, 3);
        k = pa::permute(ctx, k, 0, 2, 1, 3);
        v = pa::permute(ctx, v, 0, 2, 1, 3);
    }
    pa::tensor* out = make_node(ctx, q, k, v);
    const pa::graph g = pa::build_forward({out});
    std::vector<float> got, ref;
    {
        const pa::test::env_guard mma("PA_MMA", "emulate");
        pa::scheduler s({env().ocl.get(), env().cpu.get()});
        s.compute(g);
        *on_ocl = s.assigned_backend(out) == 0;
        got = pa::test::get_values(out);
    }
    pa::scheduler s({env().cpu.get()});
    s.compute(g);
    ref = pa::test::get_values(out);
    return pa::test::rel_l2(got, ref);
}

// f16 operands (Q, K, V and P rounded to f16, f32 accumulation): a few 1e-4 relative.
constexpr double tolerance = 3e-3;

TEST(FaMma, FlashAttnOnTheTensorCorePathMatchesCpu) {
    if (!env().ocl) GTEST_SKIP() << "no OpenCL device";
    const attn_case cases[] = {
        {128, 200, 0, 4, 2, true, PA_TYPE_F32},       // tails (200 = 128 + 72 rows)
        {64, 150, 70, 6, 3, true, PA_TYPE_F16},       // n_past, F16 K/V, d 64
        {128, 130, 0, 8, 1, false, PA_TYPE_F16},      // non-causal, GQA 8
        {128, 140, 0, 4, 2, true, PA_TYPE_F32, true}, // permuted views (strided q/k/v)
    };
    uint32_t seed = 10;
    for (const attn_case& c : cases) {
        bool on = false;
        const double e = run_both(
            c, seed += 3,
            [&](pa::context& ctx, pa::tensor* q, pa::tensor* k, pa::tensor* v) {
                return pa::flash_attn_ext(ctx, q, k, v, 1.0f / std::sqrt(float(c.d)), int(c.n_past),
                                          c.causal);
            },
            &on);
        EXPECT_TRUE(on) << "flash_attn_ext did not run on OpenCL";
        EXPECT_LT(e, tolerance) << "d=" << c.d << " n=" << c.n << " n_past=" << c.n_past
                                << " causal=" << c.causal;
    }
}

// The softmax runs on scaled scores: with a negative scale the largest raw product is the
// smallest score (a max taken before scaling would be wrong).
TEST(FaMma, FlashAttnScaleSignAndSizeMatchCpu) {
    if (!env().ocl) GTEST_SKIP() << "no OpenCL device";
    const attn_case c{64, 70, 0, 2, 1, true, PA_TYPE_F32};
    uint32_t seed = 30;
    for (const float scale : {-0.125f, -1.0f, 0.0f}) {
        bool on = false;
        const double e = run_both(
            c, seed += 3,
            [&](pa::context& ctx, pa::tensor* q, pa::tensor* k, pa::tensor* v) {
                return pa::flash_attn_ext(ctx, q, k, v, scale, 0, true);
            },
            &on);
        EXPECT_TRUE(on) << "flash_attn_ext did not run on OpenCL";
        EXPECT_LT(e, tolerance) << "scale=" << scale;
    }
}

TEST(FaMma, ProxySparseAttnOnTheTensorCorePathMatchesCpu) {
    if (!env().ocl) GTEST_SKIP() << "no OpenCL device";
    const attn_case cases[] = {
        {128, 640, 0, 4, 2, true, PA_TYPE_F16},         // 5 blocks of 128: a real sparse mask
        {128, 500, 100, 4, 4, true, PA_TYPE_F32, true}, // mid-block first row, permuted views
    };
    uint32_t seed = 50;
    for (const attn_case& c : cases) {
        bool on = false;
        const double e = run_both(
            c, seed += 3,
            [&](pa::context& ctx, pa::tensor* q, pa::tensor* k, pa::tensor* v) {
                pa::proxy_params p;
                p.gamma = 0.8f;
                p.min_tokens = 0; // sparse even at this size
                p.n_past = int32_t(c.n_past);
                return pa::proxy_sparse_attn(ctx, q, k, v, p);
            },
            &on);
        EXPECT_TRUE(on) << "proxy_sparse_attn did not run on OpenCL";
        EXPECT_LT(e, tolerance) << "d=" << c.d << " n=" << c.n << " n_past=" << c.n_past;
    }
}

} // namespace
