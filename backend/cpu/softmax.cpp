// softmax.cpp - soft_max_ext: softmax(a * scale + mask) along ne0, sums in double.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops.h"

namespace pa::cpu {

// Mask row i1 serves every (i2, i3). A row whose every entry is -inf gives zeros (no NaN).
void op_soft_max(tensor* dst, int n_threads, const simd_kernels&) {
    const tensor* mask = dst->src[1];
    const float s = pa_param_f(dst, 0);
    const int64_t ne0 = dst->ne[0];
    transform_rows(dst, n_threads, 20.0 * double(ne0),
                   [&](std::vector<float>& x, int64_t i1, int64_t, int64_t) {
                       float mx = -std::numeric_limits<float>::infinity();
                       for (int64_t i = 0; i < ne0; ++i) {
                           x[size_t(i)] *= s;
                           if (mask) x[size_t(i)] += load_f(mask->type, elem_ptr(mask, i, i1, 0, 0));
                           mx = std::max(mx, x[size_t(i)]);
                       }
                       if (mx == -std::numeric_limits<float>::infinity()) {
                           std::fill(x.begin(), x.end(), 0.0f);
                           return;
                       }
                       double sum = 0.0;
                       for (float& v : x) {
                           v = float(std::exp(double(v) - double(mx)));
                           sum += v;
                       }
                       const double inv = 1.0 / sum;
                       for (float& v : x)
                           v = float(double(v) * inv);
                   });
}

} // namespace pa::cpu
