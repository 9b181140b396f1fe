// elementwise.cpp - add, mul (b broadcast over a), scale, silu, swiglu.
#include <cmath>

#include "ops.h"

namespace pa::cpu {
namespace {

float silu_f(float x) {
    return x / (1.0f + std::exp(-x));
}

// dst = f(a, b) with b broadcast over a (b's ne divide a's).
template <class F> void binary_broadcast(tensor* dst, int n_threads, F&& f) {
    const tensor* a = dst->src[0];
    const tensor* b = dst->src[1];
    const int64_t ne0 = dst->ne[0];
    for_each_row(dst, n_threads, double(ne0), [&](int64_t i1, int64_t i2, int64_t i3) {
        const char* ar = row_ptr(a, i1, i2, i3);
        const char* br = row_ptr(b, i1 % b->ne[1], i2 % b->ne[2], i3 % b->ne[3]);
        char* dr = row_ptr(dst, i1, i2, i3);
        for (int64_t i0 = 0; i0 < ne0; ++i0) {
            const float x = load_f(a->type, ar + size_t(i0) * a->nb[0]);
            const float y = load_f(b->type, br + size_t(i0 % b->ne[0]) * b->nb[0]);
            store_f(PA_TYPE_F32, dr + size_t(i0) * dst->nb[0], f(x, y));
        }
    });
}

// dst = f(a) element-wise.
template <class F> void unary_map(tensor* dst, int n_threads, F&& f) {
    const tensor* a = dst->src[0];
    const int64_t ne0 = dst->ne[0];
    for_each_row(dst, n_threads, double(ne0), [&](int64_t i1, int64_t i2, int64_t i3) {
        const char* ar = row_ptr(a, i1, i2, i3);
        char* dr = row_ptr(dst, i1, i2, i3);
        for (int64_t i0 = 0; i0 < ne0; ++i0)
            store_f(PA_TYPE_F32, dr + size_t(i0) * dst->nb[0],
                    f(load_f(a->type, ar + size_t(i0) * a->nb[0])));
    });
}

} // namespace

void op_add(tensor* dst, int n_threads, const simd_kernels&) {
    binary_broadcast(dst, n_threads, [](float x, float y) { return x + y; });
}

void op_mul(tensor* dst, int n_threads, const simd_kernels&) {
    binary_broadcast(dst, n_threads, [](float x, float y) { return x * y; });
}

void op_scale(tensor* dst, int n_threads, const simd_kernels&) {
    const float s = pa_param_f(dst, 0);
    unary_map(dst, n_threads, [s](float x) { return x * s; });
}

void op_silu(tensor* dst, int n_threads, const simd_kernels&) {
    unary_map(dst, n_threads, silu_f);
}

void op_swiglu(tensor* dst, int n_threads, const simd_kernels&) {
    binary_broadcast(dst, n_threads, [](float x, float y) { return silu_f(x) * y; });
}

} // namespace pa::cpu
