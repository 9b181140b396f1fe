// test_proxy_ocl.cpp - the OpenCL lowering of proxy_sparse_attn against the CPU reference:
// every intermediate of the estimate bit for bit (pooled proxies, softmax states, block scores,
// ranks, sample masses, budgets, exact rows, flex lines and pattern choices, kept lists) for every
// estimator, outputs within float tolerance, and the dense path against dense attention. Runs the
// lowering directly on a device_context of its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <tuple>

#include <limits>
#include <random>

#include "flash_attn.h"
#include "ocl/lowering.h"
#include "ocl/program_text.h"
#include "ref/det_math.h"
#include "test_proxy_util.h"

using namespace proxy_test;
using pa::proxy::geometry;

namespace {

pa::ocl::device_context* device() {
    static std::unique_ptr<pa::ocl::device_context> ctx = [] {
        std::unique_ptr<pa::ocl::device_context> c;
        if (!pa::ocl::list_devices().empty()) c = std::make_unique<pa::ocl::device_context>("");
        return c;
    }();
    return ctx.get();
}

#define REQUIRE_DEVICE()                                                                                     \
    if (!device()) GTEST_SKIP() << "no OpenCL device";                                                       \
    static_assert(true)

pa::ocl::mem_handle upload(const pa_tensor* t) {
    cl_int err = CL_SUCCESS;
    const size_t bytes = pa::nbytes(t);
    pa::ocl::mem_handle m(clCreateBuffer(device()->cl_ctx(), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes,
                                         const_cast<void*>(t->data), &err));
    pa::ocl::check(err, "test upload");
    return m;
}

// The output bound of a run: f32 kernels to 1e-5 relative, the tensor-core kernel to what its
// f16 operands allow (opencl/flash_attn.h flash_attn_choice).
double out_tolerance(const qkv& t, const attn_case& c, bool dense) {
    const auto shape = [](const pa_tensor* x) { return pa::ocl::operand{{}, pa::ocl::shape_of(x), x->type}; };
    pa::context ctx;
    pa::tensor* dst = ctx.new_tensor(PA_TYPE_F32, {c.d, c.H, c.N});
    const auto kernel = pa::ocl::flash_attn_choice(*device(), shape(t.q), shape(t.k), shape(t.v), shape(dst),
                                                   dense ? 0 : c.B);
    return kernel == pa::ocl::flash_attn_kernel::tensor_cores ? 5e-3 : 1e-5;
}

struct ocl_result {
    pa::proxy::ocl_debug dbg;
    std::vector<float> out; // [N][H][d]
};

ocl_result run_ocl(pa::context& ctx, const qkv& t, const attn_case& c, int stop_after = 0) {
    pa::proxy_params p = c.params();
    p.stop_after = stop_after;
    const geometry geo = pa::proxy::make_geometry(t.q, t.k, t.v, p);
    pa::tensor* dst = ctx.new_tensor(PA_TYPE_F32, {c.d, c.H, c.N});
    auto mq = upload(t.q), mk = upload(t.k), mv = upload(t.v), md = upload(dst);
    auto as = [](const pa::ocl::mem_handle& m, const pa_tensor* x) {
        return pa::ocl::operand{{m.get(), 0}, pa::ocl::shape_of(x), x->type};
    };
    ocl_result r;
    pa::proxy::ocl_run(*device(), geo, as(mq, t.q), as(mk, t.k), as(mv, t.v), as(md, dst), &r.dbg);
    r.out.resize(size_t(pa::nelements(dst)));
    pa::ocl::check(clEnqueueReadBuffer(device()->queue(), md.get(), CL_TRUE, 0, r.out.size() * 4,
                                       r.out.data(), 0, nullptr, nullptr),
                   "test read");
    return r;
}

// ---- estimate and output against the reference --------------------------------------------------
void expect_same_estimate(const pa::proxy::estimate& cpu, const pa::proxy::ocl_debug& gpu,
                          const geometry& g) {
    // bit-identical, ties included: == on floats is intended
    EXPECT_EQ(gpu.pooled_q, cpu.pooled_q);
    EXPECT_EQ(gpu.pooled_k, cpu.pooled_k);
    EXPECT_EQ(gpu.row_max, cpu.row_max);
    EXPECT_EQ(gpu.row_inv_sum, cpu.row_inv_sum);
    EXPECT_EQ(gpu.scores, cpu.scores);
    EXPECT_EQ(gpu.ranks, cpu.ranks);
    EXPECT_EQ(gpu.sample_mass, cpu.sample_mass);
    EXPECT_EQ(gpu.sample_budget, cpu.sample_budget);
    EXPECT_EQ(gpu.budgets, cpu.budgets);
    EXPECT_EQ(gpu.exact, cpu.exact);
    EXPECT_EQ(gpu.flex.lines, cpu.flex.lines);
    EXPECT_EQ(gpu.flex.js, cpu.flex.js);
    EXPECT_EQ(gpu.flex.pick, cpu.flex.pick);
    EXPECT_EQ(gpu.flex.keep, cpu.flex.keep);
    EXPECT_EQ(gpu.counts, cpu.mask.counts);
    ASSERT_EQ(gpu.blocks.size(), cpu.mask.blocks.size());
    for (int64_t h = 0; h < g.H; ++h)
        for (int64_t m = g.row0; m < g.n_kblocks; ++m) {
            const size_t at = size_t(h * g.tri_total() + g.tri(m));
            const auto kept = cpu.kept(h, m);
            EXPECT_TRUE(std::equal(kept.begin(), kept.end(), gpu.blocks.begin() + at))
                << "head " << h << " row " << m;
        }
}

// One node of case c on the device against the CPU reference: every intermediate bit-identical,
// the output within the attention kernel's tolerance.
void expect_node_matches_reference(const attn_case& c) {
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result ref = run_ref(t, c);
    ASSERT_FALSE(ref.geo.all_kept);
    const ocl_result r = run_ocl(ctx, t, c);
    expect_same_estimate(ref.est, r.dbg, ref.geo);
    EXPECT_LT(rel_l2(r.out, ref.out), out_tolerance(t, c, false));
}

class ProxyOcl : public ::testing::TestWithParam<attn_case> {};

TEST_P(ProxyOcl, EstimateIsBitIdenticalAndOutputMatches) {
    REQUIRE_DEVICE();
    expect_node_matches_reference(GetParam());
    // the kernels that count finished work-groups (sample_budgets, exact_tail) leave the context's
    // counters at zero, as the next launch that counts in them needs (all of them, as allocated:
    // asking for one never grows the buffer)
    const cl_mem counters = device()->counters(1);
    size_t bytes = 0;
    pa::ocl::check(clGetMemObjectInfo(counters, CL_MEM_SIZE, sizeof(bytes), &bytes, nullptr), "test size");
    std::vector<int32_t> left(bytes / 4, -1);
    pa::ocl::check(clEnqueueReadBuffer(device()->queue(), counters, CL_TRUE, 0, left.size() * 4, left.data(),
                                       0, nullptr, nullptr),
                   "test read");
    EXPECT_EQ(left, std::vector<int32_t>(left.size(), 0));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ProxyOcl, ::testing::ValuesIn(shape_cases()),
                         [](const auto& info) { return info.param.name(); });
// The same shapes with estimator = xattn | flex (estimator_cases()).
INSTANTIATE_TEST_SUITE_P(Estimators, ProxyOcl, ::testing::ValuesIn(estimator_cases()),
                         [](const auto& info) { return info.param.name(); });

// The device keeps the sample rows' tables between nodes (lowering.cpp upload_samples): nodes
// run one after another in one context, whose sample rows differ only in where their queries
// lie (the same block count, the last row cut at another length, a cache in front) or in which
// make exact sets (budget modes), each match the CPU reference, also when an earlier shape
// comes back.
TEST(ProxyOclKept, SampleTablesFollowEachNode) {
    REQUIRE_DEVICE();
    std::vector<attn_case> cases;
    for (int64_t n : {256, 250, 241, 256}) {
        attn_case c;
        c.N = n;
        cases.push_back(c);
    }
    attn_case past;
    past.N = 240;
    past.n_past = 16;
    cases.push_back(past);
    attn_case last;
    last.budget = pa::proxy_budget::last;
    cases.push_back(last);
    attn_case no_exact;
    no_exact.exact = false;
    cases.push_back(no_exact);
    cases.push_back(attn_case{});
    for (const attn_case& c : cases) {
        SCOPED_TRACE(c.name());
        expect_node_matches_reference(c);
    }
}

// Equal scores everywhere (zero queries): every ranking and budget is decided by block index.
TEST(ProxyOclTies, TiesAreBrokenByBlockIndexOnBothSides) {
    REQUIRE_DEVICE();
    attn_case c;
    c.N = 200;
    c.min_tokens = 0;
    c.gamma = 0.5f;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    std::memset(t.q->data, 0, pa::nbytes(t.q));
    const ref_result ref = run_ref(t, c);
    const ocl_result r = run_ocl(ctx, t, c);
    expect_same_estimate(ref.est, r.dbg, ref.geo);
    // row m keeps the forced blocks then the lowest indices
    const auto kept = ref.est.kept(0, 10);
    const int32_t K = ref.est.budgets[size_t(10 - ref.geo.row0)];
    ASSERT_LT(K + 2, 11);
    for (int32_t i = 0; i < K + 1; ++i)
        EXPECT_EQ(kept[size_t(i)], i);
    EXPECT_EQ(kept.back(), 10);
    EXPECT_LT(rel_l2(r.out, ref.out), out_tolerance(t, c, false));
}

// A huge attention scale (|q| * scale * log2 e past the float range) with every score
// scale * (q . k) finite: the sparse step applies the scale to q . k, as the reference does, on
// the row kernel (d = 16) and the register-tiled one (d = 64, blocks of 64).
TEST(ProxyOclScale, HugeScaleWithFiniteScoresMatchesTheReference) {
    REQUIRE_DEVICE();
    for (auto [d, B, scale] : {std::tuple{int64_t(16), 16, -3e38f}, {int64_t(64), 64, 3e38f}}) {
        attn_case c;
        c.N = 16 * B;
        c.d = d;
        c.B = B;
        c.scale = scale;
        pa::context ctx;
        const qkv t = make_qkv(ctx, c);
        // q to amax 1, k to amax 1 / (2 d): |q . k| <= 1/2
        for (auto [x, amax] : {std::pair{t.q, 1.0f}, {t.k, 0.5f / float(d)}}) {
            float* e = static_cast<float*>(x->data);
            float m = 0;
            for (int64_t i = 0; i < pa::nelements(x); ++i)
                m = std::max(m, std::fabs(e[i]));
            for (int64_t i = 0; i < pa::nelements(x); ++i)
                e[i] *= amax / m;
        }
        const ref_result ref = run_ref(t, c);
        ASSERT_FALSE(ref.geo.all_kept);
        const ocl_result r = run_ocl(ctx, t, c);
        for (float x : ref.out)
            ASSERT_TRUE(std::isfinite(x));
        expect_same_estimate(ref.est, r.dbg, ref.geo);
        EXPECT_LT(rel_l2(r.out, ref.out), out_tolerance(t, c, false)) << "d " << d;
    }
}

// ---- dense path ---------------------------------------------------------------------------------------
TEST(ProxyOclDense, GammaOneEqualsDenseAttention) {
    REQUIRE_DEVICE();
    for (auto [past, kv] : {std::pair{int64_t(0), PA_TYPE_F32}, {int64_t(21), PA_TYPE_F16}}) {
        attn_case c;
        c.N = 170;
        c.n_past = past;
        c.H = 8;
        c.Hkv = 2;
        c.gamma = 1.0f;
        c.kv = kv;
        pa::context ctx;
        const qkv t = make_qkv(ctx, c);
        const ocl_result r = run_ocl(ctx, t, c);
        EXPECT_TRUE(r.dbg.budgets.empty()); // nothing estimated
        EXPECT_LT(rel_l2(r.out, dense_cpu(ctx, t, c)), out_tolerance(t, c, true)) << c.name();
    }
}

// The sparse kernel given every block through the mask (not the fallback) is dense attention.
TEST(ProxyOclDense, FullMaskThroughTheSparsePathEqualsDense) {
    REQUIRE_DEVICE();
    attn_case c;
    c.N = 160; // 10 blocks
    c.force = false;
    c.min_tokens = 9 * 16; // k_min = 9 < 10: not all_kept, but only the last row can drop a block
    c.gamma = 1.0f - 1e-7f;
    c.pat = pa::analysis::pattern::random;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result ref = run_ref(t, c);
    ASSERT_FALSE(ref.geo.all_kept);
    const ocl_result r = run_ocl(ctx, t, c);
    expect_same_estimate(ref.est, r.dbg, ref.geo);
    bool full = true;
    for (int64_t h = 0; h < ref.geo.H; ++h)
        for (int64_t m = ref.geo.row0; m < ref.geo.n_kblocks; ++m)
            full &= int64_t(ref.est.kept(h, m).size()) == m + 1;
    if (!full) GTEST_SKIP() << "a row came out below every block";
    EXPECT_LT(rel_l2(r.out, dense_cpu(ctx, t, c)), out_tolerance(t, c, false));
}

// A kv cache longer than n_past + N: the keys past the last query are never read (NaN there).
TEST(ProxyOclCache, KeysPastTheLastQueryAreNotRead) {
    REQUIRE_DEVICE();
    attn_case c;
    c.N = 150;
    c.n_past = 40;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const int64_t nk = c.n_past + c.N, extra = 37;
    qkv big = t;
    for (pa::tensor** kv : {&big.k, &big.v}) {
        const pa::tensor* src = *kv == big.k ? t.k : t.v;
        pa::tensor* cache = ctx.new_tensor(PA_TYPE_F32, {c.d, nk + extra, c.Hkv});
        auto* dst = static_cast<float*>(cache->data);
        for (int64_t h = 0; h < c.Hkv; ++h)
            for (int64_t j = 0; j < nk + extra; ++j)
                for (int64_t e = 0; e < c.d; ++e)
                    dst[(h * (nk + extra) + j) * c.d + e] =
                        j < nk ? static_cast<const float*>(src->data)[(h * nk + j) * c.d + e] : NAN;
        *kv = cache;
    }
    const ref_result ref = run_ref(t, c);
    const ocl_result r = run_ocl(ctx, big, c);
    expect_same_estimate(ref.est, r.dbg, ref.geo);
    EXPECT_LT(rel_l2(r.out, ref.out), out_tolerance(t, c, false));
    c.gamma = 1.0f; // and the dense path
    const ocl_result rd = run_ocl(ctx, big, c);
    EXPECT_LT(rel_l2(rd.out, dense_cpu(ctx, t, c)), out_tolerance(t, c, true));
}

// Rows that quantize as zero rows (det_math.h quantize_row: NaN, largest |x| above 2^50 or below
// 2^-100) and rows just inside the range, in queries and keys, for every estimator: the device's
// quantization (the cooperative one of the proxy pass, xattn's tiles, flex's rows) keeps the
// reference's rule, so the estimate stays bit-identical. The pooled proxies hold NaN (compared as
// bits); the output is not compared (queries with NaN give NaN rows on both sides).
TEST(ProxyOclQuantization, NonFiniteAndOutOfRangeRowsQuantizeAsOnTheCpu) {
    REQUIRE_DEVICE();
    // Bit for bit, except that every NaN is one: devices differ in the NaN payloads they produce
    // (NVIDIA 0x7fffffff, x86 0x7fc00000) and the pooled rows carry the spoilt rows' NaN on.
    const auto bits = [](const std::vector<float>& v) {
        std::vector<uint32_t> b;
        for (float x : v)
            b.push_back(std::isnan(x) ? 0x7fc00000u : std::bit_cast<uint32_t>(x));
        return b;
    };
    for (auto e : {pa::proxy_estimator::proxy, pa::proxy_estimator::xattn, pa::proxy_estimator::flex}) {
        attn_case c;
        c.estimator = e;
        c.N = 301;
        pa::context ctx;
        const qkv t = make_qkv(ctx, c);
        auto* q = static_cast<float*>(t.q->data);
        auto* k = static_cast<float*>(t.k->data);
        const int64_t nk = c.n_past + c.N;
        // in turn per row: one NaN among finite values, or every element scaled (amax above 2^50,
        // below 2^-100, or near 2^45: inside the range, a normal row)
        const auto spoil = [&](float* row, int64_t at, float f) {
            if (std::isnan(f)) {
                row[at % c.d] = f;
                return;
            }
            for (int64_t i = 0; i < c.d; ++i)
                row[i] *= f;
        };
        const float q_factors[] = {NAN, 0x1p60f, 0x1p-110f, 0x1p45f},
                    k_factors[] = {-NAN, 0x1p70f, 0x1p-120f};
        for (int64_t h = 0; h < c.H; ++h) // q [d, N, H]: every 5th query of each head
            for (int64_t p = h; p < c.N; p += 5)
                spoil(q + (h * c.N + p) * c.d, p, q_factors[(p / 5 + h) % 4]);
        for (int64_t h = 0; h < c.Hkv; ++h) // k [d, nk, Hkv]: every 7th key
            for (int64_t j = 2 * h + 1; j < nk; j += 7)
                spoil(k + (h * nk + j) * c.d, j, k_factors[(j / 7) % 3]);
        const ref_result ref = run_ref(t, c);
        const ocl_result r = run_ocl(ctx, t, c);
        SCOPED_TRACE(c.name());
        EXPECT_EQ(bits(r.dbg.pooled_q), bits(ref.est.pooled_q));
        EXPECT_EQ(bits(r.dbg.pooled_k), bits(ref.est.pooled_k));
        pa::proxy::estimate cpu = ref.est;
        pa::proxy::ocl_debug gpu = r.dbg;
        cpu.pooled_q.clear();
        cpu.pooled_k.clear();
        gpu.pooled_q.clear();
        gpu.pooled_k.clear();
        expect_same_estimate(cpu, gpu, ref.geo);
    }
}

// The tile loops' exp_fixed_fast (a clamp instead of the branch, rint and 2^n by float adds)
// against the reference's exp_fixed, on edge values and random ones.
TEST(ProxyOclDetMath, FastFixedExpMatchesTheReference) {
    REQUIRE_DEVICE();
    pa::ocl::program_source src = pa::proxy::program_text({}, "proxy_det.cl");
    src.name = "det_math_test.cl";
    src.text += R"(
__kernel void det_math_test(__global const float* x, __global ulong* e, int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    e[i] = exp_fixed_fast(x[i]);
})";
    std::vector<float> x = {0.0f,
                            -0.0f,
                            -1e-30f,
                            -1e-8f,
                            -0.3465736f,
                            -0.5f,
                            -0.6931472f,
                            -1.0f,
                            -10.0f,
                            -22.18071f,
                            -86.9f,
                            -86.99999f,
                            -87.0f,
                            -87.00001f,
                            -88.0f,
                            -100.0f,
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN()};
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> logit(-90.0f, 0.0f), near_max(-0.75f, 0.0f);
    while (x.size() < 57344)
        x.push_back(logit(rng));
    while (x.size() < 65536) // results in [2^31, 2^32]: the conversion's top bit and its 2^32 case
        x.push_back(near_max(rng));
    const int n = int(x.size());
    pa::ocl::device_context& ctx = *device();
    cl_int err = CL_SUCCESS;
    const auto buffer = [&](size_t bytes, void* host) {
        pa::ocl::mem_handle m(clCreateBuffer(
            ctx.cl_ctx(), CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0), bytes, host, &err));
        pa::ocl::check(err, "test buffer");
        return m;
    };
    const pa::ocl::mem_handle xb = buffer(x.size() * 4, x.data()), eb = buffer(x.size() * 8, nullptr);
    ctx.launch(ctx.get_kernel(src, "det_math_test", ""), pa::ocl::range1(size_t(n)), pa::ocl::range1(64),
               xb.get(), eb.get(), int32_t(n));
    std::vector<uint64_t> e(x.size());
    pa::ocl::check(
        clEnqueueReadBuffer(ctx.queue(), eb.get(), CL_TRUE, 0, e.size() * 8, e.data(), 0, nullptr, nullptr),
        "reading e");
    int bad = 0;
    for (size_t i = 0; i < x.size() && bad < 10; ++i) {
        const float xi = std::isnan(x[i]) ? -87.0f : x[i]; // the clamp's NaN rule: 0 either way
        if (e[i] != pa::proxy::det::exp_fixed(xi)) {
            ADD_FAILURE() << "exp_fixed_fast(" << x[i] << ") = " << e[i] << ", reference "
                          << pa::proxy::det::exp_fixed(xi);
            ++bad;
        }
    }
    EXPECT_EQ(e[0], uint64_t(1) << 32); // exp(0) = 1
}

// xattn and flex stopped after each stage: the intermediates of that stage are those of the
// reference stopped there, bit for bit; the mask only after stage 4.
TEST(ProxyOclStages, EstimatorsStopAfterEachStage) {
    REQUIRE_DEVICE();
    for (auto e : {pa::proxy_estimator::xattn, pa::proxy_estimator::flex}) {
        attn_case c;
        c.estimator = e;
        c.N = 150;
        c.flex_tau = e == pa::proxy_estimator::flex ? 0.5f : 0.1f;
        pa::context ctx;
        const qkv t = make_qkv(ctx, c);
        for (int st = 1; st <= 4; ++st) {
            pa::proxy_params p = c.params();
            p.stop_after = st;
            const geometry geo = pa::proxy::make_geometry(t.q, t.k, t.v, p);
            const auto cpu = pa::proxy::estimate_mask(geo, pa::proxy::load_qkv(geo, t.q, t.k, t.v));
            const ocl_result r = run_ocl(ctx, t, c, st);
            const std::string what = fmt::format("{} stage {}", c.name(), st);
            EXPECT_EQ(r.dbg.scores, cpu.scores) << what;
            EXPECT_EQ(r.dbg.ranks, cpu.ranks) << what;
            EXPECT_EQ(r.dbg.budgets, cpu.budgets) << what;
            EXPECT_EQ(r.dbg.flex.lines, cpu.flex.lines) << what;
            EXPECT_EQ(r.dbg.flex.pick, cpu.flex.pick) << what;
            EXPECT_EQ(r.dbg.flex.keep, cpu.flex.keep) << what;
            EXPECT_EQ(r.dbg.budgets.empty(), st < 3) << what;
            EXPECT_EQ(r.dbg.counts.empty(), st < 4) << what;
            if (st == 4) {
                EXPECT_EQ(r.dbg.counts, cpu.mask.counts) << what;
            }
        }
    }
}

TEST(ProxyOclStages, StopAfterEachStage) {
    REQUIRE_DEVICE();
    attn_case c;
    c.N = 100;
    pa::context ctx;
    const qkv t = make_qkv(ctx, c);
    const ref_result ref = run_ref(t, c);
    for (int st = 1; st <= 4; ++st) {
        const ocl_result r = run_ocl(ctx, t, c, st);
        EXPECT_EQ(r.dbg.pooled_q, ref.est.pooled_q);
        EXPECT_EQ(r.dbg.scores.empty(), st < 2);
        EXPECT_EQ(r.dbg.ranks.empty(), st < 2);
        EXPECT_EQ(r.dbg.budgets.empty(), st < 3);
        EXPECT_EQ(r.dbg.counts.empty(), st < 4);
        if (st >= 2) {
            EXPECT_EQ(r.dbg.ranks, ref.est.ranks);
        }
        if (st >= 3) {
            EXPECT_EQ(r.dbg.budgets, ref.est.budgets);
            EXPECT_EQ(r.dbg.exact, ref.est.exact);
        }
    }
}

} // namespace
