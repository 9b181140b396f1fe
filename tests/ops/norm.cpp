// norm.cpp - rms_norm: the CPU reference against a hand-computed row (CpuOps). Its backend cases
// share the unary case list with scale and silu: BackendOps.ScaleSiluRmsNorm in elementwise.cpp.
#include <cmath>

#include "op_test.h"

namespace pa::test {
namespace {

TEST_F(CpuOps, RmsNorm) {
    // row [3, 4]: mean of squares 12.5
    tensor* a = f32({2, 2}, {3, 4, 0, 2});
    const float eps = 1e-3f;
    const float i1 = 1.0f / std::sqrt(12.5f + eps), i2 = 1.0f / std::sqrt(2.0f + eps);
    expect_near_all(run(rms_norm(ctx, a, eps)), {3 * i1, 4 * i1, 0, 2 * i2});
}

} // namespace
} // namespace pa::test
