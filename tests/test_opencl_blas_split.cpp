// test_opencl_blas_split.cpp - CLBlast GEMMs larger than the span one call may address
// ($PA_BLAS_SPAN_LIMIT, 2 GiB by default; lowered here to 64 KiB) are split and read through
// sub-buffers: single GEMMs along n, strided-batched ones into groups of batch items (and items
// still too big along n). The result must equal the CPU reference, for F32 and dequantized
// weights, also when b and dst sit at large offsets inside their buffers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "pa/ops.h"
#include "pa/plugin_loader.h"
#include "pa/scheduler.h"
#include "pa/types.h"

namespace {

void fill(pa::tensor* t, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(size_t(pa::nelements(t)));
    for (float& x : v)
        x = u(rng);
    pa::quantize_row(pa_type(t->type), v.data(), t->data, int64_t(v.size())); // contiguous: one long row
}

std::vector<float> compute(pa::backend* accel, pa::backend* cpu, pa::tensor* out) {
    std::vector<pa::backend*> order;
    if (accel) order.push_back(accel);
    order.push_back(cpu);
    pa::scheduler s(order);
    pa::graph g = pa::build_forward({out});
    s.compute(g);
    const auto* p = static_cast<const float*>(out->data);
    return {p, p + pa::nelements(out)};
}

double nmse(const std::vector<float>& a, const std::vector<float>& b) {
    double e = 0, n = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        e += (a[i] - b[i]) * double(a[i] - b[i]);
        n += double(b[i]) * b[i];
    }
    return e / n;
}

class BlasSplit : public ::testing::TestWithParam<pa_type> {};

TEST_P(BlasSplit, LargeGemmsAreSplitAndMatchTheCpu) {
    ::setenv("PA_BLAS_SPAN_LIMIT", "65536", 1); // read once, at the first GEMM of this process
    ::setenv("PA_MMA", "0", 1);                 // CLBlast, not the NVIDIA tensor-core GEMM, is under test
    auto plug = pa::plugin::load(PA_PLUGIN_PATH);
    if (plug->device_count() == 0) GTEST_SKIP() << "no OpenCL device";
    auto ocl = plug->open_backend("");
    auto cpu = pa::make_cpu_backend(2);
    std::mt19937 rng(7);
    const int64_t K = 64, M = 96, N = 1000; // C is 384 KB: six pieces of at most 32 KB of columns
    pa::context ctx;
    pa::tensor* a = ctx.new_tensor(GetParam(), {K, M});
    // b: the second half of a bigger tensor (a view at 256 KB), scaled on the device so that the
    // GEMM reads a device tensor; pieces of b and dst past the first start deep in their buffers
    pa::tensor* big = ctx.new_tensor(PA_TYPE_F32, {K, 2 * N});
    fill(a, rng);
    fill(big, rng);
    pa::tensor* b = pa::view_2d(ctx, big, K, N, big->nb[1], size_t(N) * big->nb[1]);
    pa::tensor* c = pa::mul_mat(ctx, a, pa::scale(ctx, b, 1.0f));
    const std::vector<float> ref = compute(nullptr, cpu.get(), c);
    const std::vector<float> got = compute(ocl.get(), cpu.get(), c);
    ASSERT_EQ(ref.size(), got.size());
    EXPECT_LT(nmse(got, ref), 1e-10);
}

INSTANTIATE_TEST_SUITE_P(Types, BlasSplit,
                         ::testing::Values(PA_TYPE_F32, PA_TYPE_F16, PA_TYPE_Q8_0, PA_TYPE_Q4_0),
                         [](const auto& info) { return std::string(pa::type_name(info.param)); });

// mul_mat over slices: one strided-batched GEMM per i3 (a's slices, or b's r2 slices merged into
// one item's columns when a is broadcast), split into groups of items under the lowered limit.
struct batched_case {
    const char* name;
    int64_t K, M, N, a2, b2, b3;
    bool b_offset; // b a view deep inside a bigger tensor
};

class BlasBatchedSplit : public ::testing::TestWithParam<std::tuple<pa_type, batched_case>> {};

TEST_P(BlasBatchedSplit, LargeBatchedGemmsAreSplitAndMatchTheCpu) {
    ::setenv("PA_BLAS_SPAN_LIMIT", "65536", 1);
    ::setenv("PA_MMA", "0", 1); // CLBlast, not the NVIDIA tensor-core GEMM, is under test
    auto plug = pa::plugin::load(PA_PLUGIN_PATH);
    if (plug->device_count() == 0) GTEST_SKIP() << "no OpenCL device";
    auto ocl = plug->open_backend("");
    auto cpu = pa::make_cpu_backend(2);
    const auto& [type, c] = GetParam();
    std::mt19937 rng(11);
    pa::context ctx;
    pa::tensor* a = ctx.new_tensor(type, {c.K, c.M, c.a2});
    pa::tensor* big = ctx.new_tensor(PA_TYPE_F32, {c.K, c.N, c.b2, c.b3 * (c.b_offset ? 2 : 1)});
    fill(a, rng);
    fill(big, rng);
    pa::tensor* b = c.b_offset ? pa::view_4d(ctx, big, c.K, c.N, c.b2, c.b3, big->nb[1], big->nb[2],
                                             big->nb[3], size_t(c.b3) * big->nb[3])
                               : big;
    pa::tensor* d = pa::mul_mat(ctx, a, pa::scale(ctx, b, 1.0f));
    const std::vector<float> ref = compute(nullptr, cpu.get(), d);
    const std::vector<float> got = compute(ocl.get(), cpu.get(), d);
    ASSERT_EQ(ref.size(), got.size());
    EXPECT_LT(nmse(got, ref), 1e-10);
}

// Sizes against the 32 KiB each piece may span: 24 items of 8/10/5 KiB (a/b/c) go in groups
// of 3; merged broadcast items of 75 KiB of b are split along n one by one; b3 = 2 makes two
// batched calls, the second deep in b's and d's buffers.
const batched_case batched_cases[] = {
    {"groups_of_items", 64, 32, 40, 24, 24, 1, false},
    {"broadcast_items_split_along_n", 64, 32, 100, 2, 6, 1, false},
    {"two_batches_b_offset", 64, 32, 40, 12, 12, 2, true},
    {"a_broadcast_over_i3", 64, 48, 33, 5, 5, 3, true},
};

INSTANTIATE_TEST_SUITE_P(Shapes, BlasBatchedSplit,
                         ::testing::Combine(::testing::Values(PA_TYPE_F32, PA_TYPE_F16, PA_TYPE_Q8_0),
                                            ::testing::ValuesIn(batched_cases)),
                         [](const auto& info) {
                             return std::string(pa::type_name(std::get<0>(info.param))) + "_" +
                                    std::get<1>(info.param).name;
                         });

} // namespace
