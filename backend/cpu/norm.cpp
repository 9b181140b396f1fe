// norm.cpp - rms_norm along ne0; the sum of squares runs in double, well below float noise.
#include <cmath>

#include "ops.h"

namespace pa::cpu {

void op_rms_norm(tensor* dst, int n_threads, const simd_kernels&) {
    const double eps = pa_param_f(dst, 0);
    const int64_t ne0 = dst->ne[0];
    transform_rows(dst, n_threads, 3.0 * double(ne0), [&](std::vector<float>& x, int64_t, int64_t, int64_t) {
        double sum_sq = 0.0;
        for (float v : x)
            sum_sq += double(v) * double(v);
        const double inv = 1.0 / std::sqrt(sum_sq / double(ne0) + eps);
        for (float& v : x)
            v = float(double(v) * inv);
    });
}

} // namespace pa::cpu
