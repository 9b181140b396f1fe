// rope.cpp - rotary position embedding in double precision.
#include <cmath>

#include "ops.h"

namespace pa::cpu {

// x [d, H, N, 1]: the pair (p, q) of head h of token t turns by pos * theta^(-2i/n_dims),
// pos = n_past + t; normal mode pairs (2i, 2i+1), neox (i, i + n_dims/2); the rest is copied.
void op_rope(tensor* dst, int n_threads, const simd_kernels&) {
    const int n_dims = pa_param_i(dst, 0);
    const int mode = pa_param_i(dst, 1);
    const double theta = pa_param_f(dst, 2);
    const int n_past = pa_param_i(dst, 3);
    const int half = n_dims / 2;
    transform_rows(dst, n_threads, 10.0 * double(dst->ne[0]),
                   [&](std::vector<float>& x, int64_t, int64_t i2, int64_t) {
                       const double pos = double(n_past) + double(i2);
                       for (int i = 0; i < half; ++i) {
                           const double angle = pos * std::pow(theta, -2.0 * i / n_dims);
                           const double c = std::cos(angle), s = std::sin(angle);
                           const int p = mode == 2 ? i : 2 * i;
                           const int q = mode == 2 ? i + half : 2 * i + 1;
                           const double x0 = x[size_t(p)], x1 = x[size_t(q)];
                           x[size_t(p)] = float(x0 * c - x1 * s);
                           x[size_t(q)] = float(x0 * s + x1 * c);
                       }
                   });
}

} // namespace pa::cpu
