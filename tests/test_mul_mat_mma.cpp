// test_mul_mat_mma.cpp - the tensor-core GEMM path of mul_mat (opencl/mul_mat_mma.*,
// kernels/mul_mat_mma.cl) through the plugin and the scheduler, on any OpenCL device:
// PA_MMA=emulate (set here unless PA_MMA is set already; bench/gemm_gpu.sh runs this test with
// PA_MMA=1 on an NVIDIA GPU) makes the backend take the path with the PTX helpers emulated in
// OpenCL C, so the host code, the operand preparation, the fragment layouts and the tile
// tails are checked on PoCL.
//
// Two references per case:
//   ref32  the CPU backend (f32 dequantization and sums);
//   ref16  computed here: both operands rounded to f16 the way the path rounds them (weights
//          dequantized in f32 first, then rounded once), products summed in double.
// Bounds (NMSE = sum (x - ref)^2 / sum ref^2):
//   vs ref16 <= 5e-9: what is left is the f32 accumulation (< 1e-10 here). An f32 path (CLBlast,
//     the tiled kernel) differs from ref16 by the rounding of the activations alone, 3e-8 .. 1e-7
//     on these inputs, so this bound also shows that the tensor-core path ran.
//   vs ref32 <= 2 x NMSE(ref16, ref32) + 1e-10 (the fp16 rule of docs/style: error within twice
//     that of an fp16 emulation on the CPU), and <= 1e-6 in any case: rounding both operands to
//     f16 (relative error <= 2^-11 each, mean square ~2^-24 / 3 for mantissas spread evenly) gives
//     NMSE ~1e-7 for F32 weights, ~5e-8 for the others.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "env_guard.h"
#include "ops/op_test.h"
#include "pa/plugin_loader.h"
#include "pa/scheduler.h"

namespace {

using pa::test::layout;

using pa::test::env_guard;

const char* mma_mode() {
    const char* e = std::getenv("PA_MMA");
    return e && *e ? e : "emulate";
}

struct backends {
    std::shared_ptr<pa::plugin> plug;
    std::unique_ptr<pa::backend> cpu;
};
backends& env() {
    static backends b = [] {
        backends x;
        x.plug = pa::plugin::load(PA_PLUGIN_PATH);
        x.cpu = pa::make_cpu_backend();
        return x;
    }();
    return b;
}

// An OpenCL backend opened with these tuning overrides after any in $PA_OPENCL_TUNING (read when
// a device context opens); every type takes the path from 16 columns on.
std::unique_ptr<pa::backend> open_ocl(const std::string& tuning) {
    if (env().plug->device_count() == 0) return nullptr;
    const char* user = std::getenv("PA_OPENCL_TUNING");
    std::string t = user && *user ? std::string(user) + "," : "";
    t += "mmq_f32_min_n=16,mmq_min_n=16" + (tuning.empty() ? "" : "," + tuning);
    const env_guard g("PA_OPENCL_TUNING", t.c_str());
    return env().plug->open_backend("");
}

struct mm_case {
    pa_type type;
    int64_t K, M, N;
    std::array<int64_t, 2> a_batch{1, 1}, b_batch{1, 1};
    layout la = layout::packed, lb = layout::packed;
    std::string name() const {
        return fmt::format("{} K={} M={} N={} a={}x{} b={}x{} {}/{}", pa::type_name(type), K, M, N,
                           a_batch[0], a_batch[1], b_batch[0], b_batch[1], pa::test::layout_name(la),
                           pa::test::layout_name(lb));
    }
};

float round_f16(float x) {
    return pa::fp16_to_fp32(pa::fp32_to_fp16(x));
}

// dst[m, n, i2, i3] = sum_k a16[k, m, i2/r2, i3/r3] * b16[k, n, i2, i3] in double.
std::vector<float> reference_f16(const mm_case& c, const std::vector<float>& av,
                                 const std::vector<float>& bv) {
    const int64_t A2 = c.a_batch[0], B2 = c.b_batch[0], B3 = c.b_batch[1];
    const int64_t r2 = B2 / A2, r3 = B3 / c.a_batch[1];
    std::vector<float> out(size_t(c.M * c.N * B2 * B3));
    for (int64_t i3 = 0; i3 < B3; ++i3)
        for (int64_t i2 = 0; i2 < B2; ++i2) {
            const float* as = av.data() + ((i3 / r3) * A2 + i2 / r2) * c.K * c.M;
            const float* bs = bv.data() + (i3 * B2 + i2) * c.K * c.N;
            float* ds = out.data() + (i3 * B2 + i2) * c.M * c.N;
            for (int64_t n = 0; n < c.N; ++n)
                for (int64_t m = 0; m < c.M; ++m) {
                    double s = 0;
                    for (int64_t k = 0; k < c.K; ++k)
                        s += double(round_f16(as[m * c.K + k])) * double(round_f16(bs[n * c.K + k]));
                    ds[n * c.M + m] = float(s);
                }
        }
    return out;
}

// The logical values of an input (a view of a host leaf, or the leaf).
std::vector<float> input_values(const pa::tensor* t) {
    if (!t->view_src) return pa::test::get_values(t);
    pa::tensor v = *t;
    v.data = static_cast<char*>(t->view_src->data) + t->view_offs;
    return pa::test::get_values(&v);
}

struct errors {
    double vs16 = 0, vs32 = 0, ref16_vs32 = 0;
    bool on_device = false;
};

errors run_case(pa::backend* ocl, const mm_case& c, uint32_t seed) {
    pa::context ctx;
    pa::tensor* a = pa::test::make_input(ctx, c.type, {c.K, c.M, c.a_batch[0], c.a_batch[1]}, c.la, "a");
    pa::tensor* b = pa::test::make_input(ctx, PA_TYPE_F32, {c.K, c.N, c.b_batch[0], c.b_batch[1]}, c.lb, "b");
    pa::tensor* out = pa::mul_mat(ctx, a, b);
    const pa::graph g = pa::build_forward({out});
    std::mt19937 rng(seed);
    for (pa::tensor* leaf : g.leafs)
        pa::test::set_values(leaf, pa::test::random_values(size_t(pa::nelements(leaf)), rng()));
    errors e;
    std::vector<float> got;
    {
        const env_guard mma("PA_MMA", mma_mode());
        pa::scheduler s({ocl, env().cpu.get()});
        s.compute(g);
        e.on_device = s.assigned_backend(out) == 0;
        got = pa::test::get_values(out);
    }
    pa::scheduler s({env().cpu.get()});
    s.compute(g);
    const std::vector<float> ref32 = pa::test::get_values(out);
    const std::vector<float> ref16 = reference_f16(c, input_values(a), input_values(b));
    e.vs16 = pa::test::nmse(got, ref16);
    e.vs32 = pa::test::nmse(got, ref32);
    e.ref16_vs32 = pa::test::nmse(ref16, ref32);
    return e;
}

void check_cases(const std::string& tuning, const std::vector<mm_case>& cases) {
    std::unique_ptr<pa::backend> ocl = open_ocl(tuning);
    if (!ocl) GTEST_SKIP() << "no OpenCL device";
    uint32_t seed = 100;
    double worst16 = 0, worst_ratio = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (const mm_case& c : cases) {
        SCOPED_TRACE(c.name() + (tuning.empty() ? "" : " tuning " + tuning));
        const auto c0 = std::chrono::steady_clock::now();
        const errors e = run_case(ocl.get(), c, seed += 7);
        const double cs = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
        if (std::getenv("PA_TEST_VERBOSE"))
            std::printf("  %-48s %6.2f s  vs16 %.2e  vs32 %.2e  ref16 vs32 %.2e\n", c.name().c_str(), cs,
                        e.vs16, e.vs32, e.ref16_vs32);
        worst16 = std::max(worst16, e.vs16);
        worst_ratio = std::max(worst_ratio, e.vs32 / e.ref16_vs32);
        EXPECT_TRUE(e.on_device) << "mul_mat did not run on OpenCL";
        EXPECT_LE(e.vs16, 5e-9) << "not the f16 product (vs ref32: " << e.vs32 << ")";
        EXPECT_LE(e.vs32, 2 * e.ref16_vs32 + 1e-10);
        EXPECT_LE(e.vs32, 1e-6);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "[ mul_mat_mma ] %zu cases%s in %.1f s: worst NMSE vs the f16 reference %.2e, worst NMSE vs the "
        "CPU / that of the f16 reference %.3f\n",
        cases.size(), tuning.empty() ? "" : (" (" + tuning + ")").c_str(), s, worst16, worst_ratio);
}

constexpr pa_type all_types[] = {PA_TYPE_F32, PA_TYPE_F16, PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1};

bool quantized(pa_type t) {
    return pa::traits(t).quantized;
}

// The device's own tile (the table's default: mmq_wn 2 x mmq_wm 4 warps, 128 tokens x 256 weight
// rows, two stages; NVIDIA: 2 x 2 warps, three stages, Q4_0 and Q4_1 weights dequantized in
// registers by mul_mat_mma_rq.cl): every weight type at sizes that are not
// multiples of the tile (M = 300: a second, partial weight tile; N = 130: a second token tile
// with 2 tokens), one k-step, a long K, broadcast batches, padded weights, an odd M (no 8-byte
// stores). With two stages b is read as F32 by the GEMM kernel where its rows allow (whole 32-k
// blocks, 16-byte aligned), else converted to X16 first: K = 100 (plain weights), padded and
// transposed b.
TEST(MulMatMma, EveryTypeAtOddShapesMatchesTheReferences) {
    std::vector<mm_case> cases;
    for (pa_type t : all_types) {
        const int64_t K = quantized(t) ? 96 : 100;
        cases.push_back({t, K, 300, 130});
        cases.push_back({t, 32, 77, 33});                 // one k-step, odd M
        cases.push_back({t, 64, 40, 20, {2, 1}, {4, 3}}); // a broadcast over b's slices
        cases.push_back({t, 64, 24, 17, {1, 2}, {3, 4}}); // along dim 3 too
        cases.push_back({t, 96, 9, 40, {2, 1}, {2, 1}, layout::padded, layout::packed});
    }
    cases.push_back({PA_TYPE_Q4_0, 1024, 70, 45}); // a long K
    cases.push_back({PA_TYPE_Q8_0, 64, 33, 50, {2, 1}, {2, 1}, layout::permuted, layout::permuted});
    cases.push_back({PA_TYPE_Q4_1, 96, 40, 70, {2, 1}, {2, 1}, layout::packed, layout::padded}); // X16
    cases.push_back({PA_TYPE_F16, 33, 19, 40, {1, 1}, {1, 1}, layout::transposed, layout::transposed});
    cases.push_back({PA_TYPE_F32, 64, 70, 35, {1, 1}, {2, 1}, layout::packed, layout::transposed});
    check_cases("", cases);
}

// mul_mat_mma.cl (mmq_wreg 0: quantized weights dequantized into local memory) below, since
// NVIDIA's entry takes mul_mat_mma_rq.cl for them.
// The other tile shapes the tuning table may choose (each warp 64 x 64; 1, 2 or 4 warps along
// tokens, 2 or 4 along weight rows; each work-item loads 2 to 8 chunks of b, 2 to 16 quant words
// and 1 or 2 rows of scales per step), at sizes with partial tiles on both sides, two stages
// (the 2 x 4 tile also where the device's default is another one).
TEST(MulMatMma, OtherTileShapesMatchTheReferences) {
    check_cases("mmq_wreg=0,mmq_wn=2,mmq_wm=4,mmq_stages=2",
                {{PA_TYPE_Q4_1, 96, 300, 130}, {PA_TYPE_F16, 100, 77, 33}, {PA_TYPE_Q8_0, 64, 40, 70}});
    check_cases("mmq_wreg=0,mmq_wn=4,mmq_wm=2,mmq_stages=2", {{PA_TYPE_Q4_0, 64, 150, 270, {1, 1}, {2, 1}}});
    check_cases("mmq_wreg=0,mmq_wn=1,mmq_wm=4,mmq_stages=2",
                {{PA_TYPE_Q8_0, 64, 300, 70}, {PA_TYPE_Q4_1, 96, 260, 65, {2, 1}, {2, 1}}});
    check_cases("mmq_wreg=0,mmq_wn=2,mmq_wm=2,mmq_stages=2", {{PA_TYPE_F16, 70, 150, 140}}); // X16
}

// Three local-memory stages (loads two k-steps ahead, b through X16 even where it could be read as
// F32): one, two, three, an odd and an even number of k-steps (the steps run in pairs, the last
// ones reload their tiles into idle stages), every weight source, partial tiles on both sides.
TEST(MulMatMma, ThreeStagesMatchTheReferences) {
    check_cases("mmq_wreg=0,mmq_wn=2,mmq_wm=2,mmq_stages=3",
                {{PA_TYPE_Q4_0, 32, 150, 140},
                 {PA_TYPE_Q4_1, 64, 130, 70, {1, 1}, {2, 1}},
                 {PA_TYPE_Q8_0, 96, 200, 65},
                 {PA_TYPE_F16, 100, 140, 129},
                 {PA_TYPE_F32, 160, 70, 40},
                 {PA_TYPE_Q4_0, 224, 129, 200, {2, 1}, {2, 1}, layout::padded, layout::packed}});
}

// Quantized weights dequantized in registers (mmq_wreg 2: mul_mat_mma_rq.cl for every quantized
// type, its own repacked layout, b always through X16): every quantized type at odd shapes (partial tiles on
// both sides, one k-step, a long K, broadcast batches, padded and permuted weights) with the device's tile
// (mmq_rq_wn x mmq_rq_wm, 2 x 4 warps, for the types of mmq_rq_tile_types where the rows are whole
// tiles of it, else mul_mat_mma.cl's mmq_wn x mmq_wm) and four stages, then both tiles in one table;
// then 2, 3 and 5 stages with fewer k-steps than stages (the loads past the end) and more, and the
// other tile shapes (rows never whole tiles of 256 there, so mmq_wn x mmq_wm: 2 x 2, 1 x 4 and 4 x 2
// warps, 1 to 8 activation chunks and 1 to 3 weight chunks a work-item, the last ones partly); on
// NVIDIA sm_90 the stages pass between the warps by mbarriers (mmq_rq_sync 1, the entry) in all of
// them but one, elsewhere by the barrier.
TEST(MulMatMma, WeightsDequantizedInRegistersMatchTheReferences) {
    std::vector<mm_case> cases;
    for (pa_type t : {PA_TYPE_Q4_0, PA_TYPE_Q4_1, PA_TYPE_Q8_0}) {
        cases.push_back({t, 96, 300, 130});
        cases.push_back({t, 32, 77, 33});                 // one k-step, odd M
        cases.push_back({t, 64, 40, 20, {2, 1}, {4, 3}}); // a broadcast over b's slices
        cases.push_back({t, 96, 9, 40, {2, 1}, {2, 1}, layout::padded, layout::packed});
    }
    cases.push_back({PA_TYPE_Q4_0, 1024, 70, 45}); // a long K
    cases.push_back({PA_TYPE_Q8_0, 64, 33, 50, {2, 1}, {2, 1}, layout::permuted, layout::permuted});
    cases.push_back({PA_TYPE_Q4_1, 96, 40, 70, {2, 1}, {2, 1}, layout::packed, layout::padded});
    // rows in whole tiles of 256: where the table gives a type mmq_rq_wn x mmq_rq_wm, that tile
    cases.push_back({PA_TYPE_Q4_0, 96, 256, 130});
    cases.push_back({PA_TYPE_Q4_1, 64, 512, 40, {2, 1}, {2, 1}});
    cases.push_back({PA_TYPE_Q8_0, 64, 256, 33});
    check_cases("mmq_wreg=2,mmq_rq_stages=4", cases);
    // both tiles in one table: 2 x 4 warps for rows in whole tiles of 256, else mul_mat_mma.cl's 2 x 2
    check_cases("mmq_wreg=2,mmq_wn=2,mmq_wm=2,mmq_rq_wn=2,mmq_rq_wm=4,mmq_rq_tile_types=268,mmq_rq_stages=3",
                {{PA_TYPE_Q4_0, 64, 512, 70},
                 {PA_TYPE_Q4_0, 64, 300, 70},
                 {PA_TYPE_Q4_1, 96, 256, 50},
                 {PA_TYPE_Q8_0, 64, 256, 40}});
    check_cases("mmq_wreg=2,mmq_wn=2,mmq_wm=2,mmq_rq_stages=2",
                {{PA_TYPE_Q4_1, 160, 130, 70}, {PA_TYPE_Q8_0, 32, 70, 20}});
    check_cases("mmq_wreg=2,mmq_wn=2,mmq_wm=2,mmq_rq_stages=3",
                {{PA_TYPE_Q4_0, 64, 150, 140}, {PA_TYPE_Q8_0, 224, 129, 200, {2, 1}, {2, 1}}});
    check_cases("mmq_wreg=2,mmq_wn=2,mmq_wm=2,mmq_rq_stages=5",
                {{PA_TYPE_Q4_0, 96, 150, 140}, {PA_TYPE_Q4_1, 256, 70, 40}});
    check_cases("mmq_wreg=2,mmq_wn=1,mmq_wm=4,mmq_stages=2,mmq_rq_stages=3",
                {{PA_TYPE_Q8_0, 64, 300, 70}, {PA_TYPE_Q4_1, 96, 260, 65, {2, 1}, {2, 1}}});
    check_cases("mmq_wreg=2,mmq_wn=4,mmq_wm=2,mmq_stages=2,mmq_rq_stages=2",
                {{PA_TYPE_Q4_0, 64, 150, 270, {1, 1}, {2, 1}}});
    // the other hand-over of the stages than the device's (NVIDIA sm_90: mbarriers by default, so
    // this is the barrier; elsewhere the barrier either way)
    check_cases("mmq_wreg=2,mmq_rq_sync=0,mmq_wn=2,mmq_wm=2,mmq_rq_stages=3",
                {{PA_TYPE_Q4_1, 480, 200, 130}, {PA_TYPE_Q8_0, 32, 70, 40}});
    check_cases("mmq_wreg=2,mmq_rq_sync=1,mmq_rq_stages=3",
                {{PA_TYPE_Q4_0, 480, 200, 130}, {PA_TYPE_Q4_0, 480, 256, 70}, {PA_TYPE_Q8_0, 64, 70, 40}});
}

// Another stage count for F16 / F32 weights than for quantized ones (mmq_f16_stages, NVIDIA's
// entry: three stages through X16 for quantized weights, two reading b as F32 for F16): both
// in one table, each weight source on its own path.
TEST(MulMatMma, StagesPerWeightSourceMatchTheReferences) {
    check_cases("mmq_wreg=0,mmq_wn=2,mmq_wm=2,mmq_stages=3,mmq_f16_stages=2",
                {{PA_TYPE_F16, 100, 140, 129},
                 {PA_TYPE_F32, 64, 70, 35, {1, 1}, {2, 1}, layout::packed, layout::transposed},
                 {PA_TYPE_Q4_0, 96, 150, 140},
                 {PA_TYPE_Q8_0, 64, 33, 50, {2, 1}, {2, 1}, layout::permuted, layout::permuted}});
    check_cases("mmq_wreg=0,mmq_wn=2,mmq_wm=2,mmq_stages=2,mmq_f16_stages=3",
                {{PA_TYPE_F16, 160, 70, 40}, {PA_TYPE_Q4_1, 64, 130, 70, {1, 1}, {2, 1}}});
}

// Weights the runtime keeps on the device (PA_FLAG_PARAM) are repacked once and the copy reused
// (opencl/repack_cache.h): rounds 1 and 2 use it with new activations; before round 3 the weights
// change and the scheduler forgets them (their buffer goes back to the pool, to be reused for the
// new upload or not), so round 3 must use the new values, not the kept copy.
TEST(MulMatMma, ParamWeightsAreRepackedOnceAndDroppedWithTheirBuffer) {
    std::unique_ptr<pa::backend> ocl = open_ocl("");
    if (!ocl) GTEST_SKIP() << "no OpenCL device";
    for (pa_type type : {PA_TYPE_Q4_0, PA_TYPE_F16}) {
        SCOPED_TRACE(pa::type_name(type));
        const mm_case c{type, 96, 150, 70};
        pa::context ctx;
        pa::tensor* a = pa::test::make_input(ctx, c.type, {c.K, c.M, 1, 1}, layout::packed, "a");
        a->flags |= PA_FLAG_PARAM;
        pa::tensor* b = pa::test::make_input(ctx, PA_TYPE_F32, {c.K, c.N, 1, 1}, layout::packed, "b");
        pa::tensor* out = pa::mul_mat(ctx, a, b);
        const pa::graph g = pa::build_forward({out});
        std::mt19937 rng(77);
        const env_guard mma("PA_MMA", mma_mode());
        pa::scheduler s({ocl.get(), env().cpu.get()});
        for (int round = 0; round < 4; ++round) {
            SCOPED_TRACE(fmt::format("round {}", round));
            if (round == 0 || round == 3) {
                pa::test::set_values(a, pa::test::random_values(size_t(pa::nelements(a)), rng()));
                if (round == 3) s.forget(a);
            }
            pa::test::set_values(b, pa::test::random_values(size_t(pa::nelements(b)), rng()));
            s.compute(g);
            EXPECT_EQ(s.assigned_backend(out), 0);
            const std::vector<float> got = pa::test::get_values(out);
            const double e = pa::test::nmse(got, reference_f16(c, input_values(a), input_values(b)));
            EXPECT_LE(e, 5e-9) << "not the product of the current weights";
        }
    }
}

// Products of one b in one graph share its f16 copy (x16_copy.h) until a node writes over b: q and
// k read x, then a cpy writes y into x's storage and v reads it (the same buffer, offset and
// shape as x: only the write tells the kept copy is stale), then o reads x once more. Every
// product against the f16 reference of the values it must have seen, the copy kept and not.
TEST(MulMatMma, ProductsOfOneInputShareItsCopyUntilItIsWritten) {
    for (const char* keep : {"mmq_keep_x16=1", "mmq_keep_x16=0"}) {
        SCOPED_TRACE(keep);
        std::unique_ptr<pa::backend> ocl = open_ocl(std::string("mmq_wn=2,mmq_wm=2,mmq_stages=3,") + keep);
        if (!ocl) GTEST_SKIP() << "no OpenCL device";
        const mm_case c{PA_TYPE_Q4_0, 96, 70, 40};
        pa::context ctx;
        std::vector<pa::tensor*> w;
        for (const char* name : {"wq", "wk", "wv", "wo"})
            w.push_back(pa::test::make_input(ctx, c.type, {c.K, c.M, 1, 1}, layout::packed, name));
        pa::tensor* x = pa::test::make_input(ctx, PA_TYPE_F32, {c.K, c.N, 1, 1}, layout::packed, "x");
        pa::tensor* y = pa::test::make_input(ctx, PA_TYPE_F32, {c.K, c.N, 1, 1}, layout::packed, "y");
        pa::tensor* q = pa::mul_mat(ctx, w[0], x);
        pa::tensor* k = pa::mul_mat(ctx, w[1], x);
        pa::tensor* x2 = pa::cpy(ctx, y, x);
        pa::tensor* v = pa::mul_mat(ctx, w[2], x2);
        pa::tensor* o = pa::mul_mat(ctx, w[3], x2);
        const pa::graph g = pa::build_forward({q, k, v, o});
        std::mt19937 rng(5);
        for (pa::tensor* leaf : g.leafs)
            pa::test::set_values(leaf, pa::test::random_values(size_t(pa::nelements(leaf)), rng()));
        const std::vector<float> xv = input_values(x), yv = input_values(y);
        const env_guard mma("PA_MMA", mma_mode());
        pa::scheduler s({ocl.get(), env().cpu.get()});
        s.compute(g);
        const std::pair<pa::tensor*, const std::vector<float>*> expect[] = {
            {q, &xv}, {k, &xv}, {v, &yv}, {o, &yv}};
        for (size_t i = 0; i < 4; ++i) {
            EXPECT_EQ(s.assigned_backend(expect[i].first), 0) << "product " << i;
            const double e = pa::test::nmse(pa::test::get_values(expect[i].first),
                                            reference_f16(c, input_values(w[i]), *expect[i].second));
            EXPECT_LE(e, 5e-9) << "product " << i << " did not see the values of its b";
        }
    }
}

// X16 in several launches of at most mmq_chunk_mib each (1 MiB = 128 tokens of K = 2048 in two
// slices here): each launch's tokens land at their own columns.
TEST(MulMatMma, TokensInSeveralLaunchesMatchTheReferences) {
    check_cases("mmq_chunk_mib=1",
                {{PA_TYPE_Q4_1, 2048, 40, 300, {1, 1}, {2, 1}, layout::packed, layout::padded},
                 {PA_TYPE_F16, 2040, 40, 140, {2, 1}, {2, 1}}});
}

} // namespace
