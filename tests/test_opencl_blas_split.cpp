// test_opencl_blas_split.cpp - CLBlast GEMMs larger than the span one call may address
// ($PA_BLAS_SPAN_LIMIT, 2 GiB by default; lowered here to 64 KiB) are split along n and read
// through sub-buffers; the result must equal the CPU reference, for F32 and dequantized weights,
// also when b and dst sit at large offsets inside their buffers.
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

} // namespace
