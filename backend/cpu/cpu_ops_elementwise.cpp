// cpu_ops_elementwise.cpp - element- and row-wise ops: get_rows, add, mul, scale, silu, swiglu,
// rms_norm, rope, soft_max. Sums run in double so the reference is well below float noise.
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "cpu_ops.h"
#include "pa/error.h"

namespace pa::cpu {
namespace {

// Calls fn(i1, i2, i3) for every row of t, rows split over threads.
template <class F>
void for_each_row(const tensor* t, int n_threads, double cost_per_row, F&& fn) {
    const int64_t n1 = t->ne[1], n2 = t->ne[2];
    parallel_for(n_threads, nrows(t), cost_per_row, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) fn(r % n1, (r / n1) % n2, r / (n1 * n2));
    });
}

float silu_f(float x) { return x / (1.0f + std::exp(-x)); }

// dst = f(a, b) with b broadcast over a (b's ne divide a's).
template <class F>
void binary_broadcast(tensor* dst, int n_threads, F&& f) {
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
template <class F>
void unary_map(tensor* dst, int n_threads, F&& f) {
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

// Writes a float row into an F32 row of dst with dst's element stride.
void store_row(tensor* dst, int64_t i1, int64_t i2, int64_t i3, const float* v) {
    char* dr = row_ptr(dst, i1, i2, i3);
    for (int64_t i0 = 0; i0 < dst->ne[0]; ++i0) store_f(PA_TYPE_F32, dr + size_t(i0) * dst->nb[0], v[i0]);
}

} // namespace

void op_get_rows(tensor* dst, int n_threads) {
    const tensor* a = dst->src[0];
    const tensor* ids = dst->src[1];
    std::vector<float> row(size_t(a->ne[0]));
    for_each_row(dst, 1, 0.0, [&](int64_t i1, int64_t i2, int64_t i3) {
        int32_t id;
        std::memcpy(&id, elem_ptr(ids, i1, i2, i3, 0), 4);
        if (id < 0 || id >= a->ne[1])
            throw error(fmt::format("get_rows: row id {} out of range [0, {})", id, a->ne[1]));
        load_row(a, id, i2, i3, row.data());
        store_row(dst, i1, i2, i3, row.data());
    });
    (void)n_threads; // memory bound and cheap: one thread keeps one scratch row
}

void op_add(tensor* dst, int n_threads) {
    binary_broadcast(dst, n_threads, [](float x, float y) { return x + y; });
}

void op_mul(tensor* dst, int n_threads) {
    binary_broadcast(dst, n_threads, [](float x, float y) { return x * y; });
}

void op_scale(tensor* dst, int n_threads) {
    const float s = pa_param_f(dst, 0);
    unary_map(dst, n_threads, [s](float x) { return x * s; });
}

void op_silu(tensor* dst, int n_threads) { unary_map(dst, n_threads, silu_f); }

void op_swiglu(tensor* dst, int n_threads) {
    binary_broadcast(dst, n_threads, [](float x, float y) { return silu_f(x) * y; });
}

void op_rms_norm(tensor* dst, int n_threads) {
    const tensor* a = dst->src[0];
    const double eps = pa_param_f(dst, 0);
    const int64_t ne0 = a->ne[0];
    for_each_row(dst, n_threads, 3.0 * double(ne0), [&](int64_t i1, int64_t i2, int64_t i3) {
        std::vector<float> x(static_cast<size_t>(ne0));
        load_row(a, i1, i2, i3, x.data());
        double sum_sq = 0.0;
        for (float v : x) sum_sq += double(v) * double(v);
        const double inv = 1.0 / std::sqrt(sum_sq / double(ne0) + eps);
        for (float& v : x) v = float(double(v) * inv);
        store_row(dst, i1, i2, i3, x.data());
    });
}

// x [d, H, N, 1]: the pair (p, q) of head h of token t turns by pos * theta^(-2i/n_dims),
// pos = n_past + t; normal mode pairs (2i, 2i+1), neox (i, i + n_dims/2); the rest is copied.
void op_rope(tensor* dst, int n_threads) {
    const tensor* a = dst->src[0];
    const int n_dims = pa_param_i(dst, 0);
    const int mode = pa_param_i(dst, 1);
    const double theta = pa_param_f(dst, 2);
    const int n_past = pa_param_i(dst, 3);
    const int64_t d = a->ne[0];
    const int half = n_dims / 2;
    for_each_row(dst, n_threads, 10.0 * double(d), [&](int64_t i1, int64_t i2, int64_t i3) {
        std::vector<float> x(static_cast<size_t>(d));
        load_row(a, i1, i2, i3, x.data());
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
        store_row(dst, i1, i2, i3, x.data());
    });
}

// softmax(a * scale + mask) along ne0; mask row i1 serves every (i2, i3). A row whose every
// entry is -inf gives zeros (no NaN).
void op_soft_max(tensor* dst, int n_threads) {
    const tensor* a = dst->src[0];
    const tensor* mask = dst->src[1];
    const float s = pa_param_f(dst, 0);
    const int64_t ne0 = a->ne[0];
    for_each_row(dst, n_threads, 20.0 * double(ne0), [&](int64_t i1, int64_t i2, int64_t i3) {
        std::vector<float> x(static_cast<size_t>(ne0));
        load_row(a, i1, i2, i3, x.data());
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < ne0; ++i) {
            x[size_t(i)] *= s;
            if (mask) x[size_t(i)] += load_f(mask->type, elem_ptr(mask, i, i1, 0, 0));
            mx = std::max(mx, x[size_t(i)]);
        }
        if (mx == -std::numeric_limits<float>::infinity()) {
            std::fill(x.begin(), x.end(), 0.0f);
        } else {
            double sum = 0.0;
            for (float& v : x) {
                v = float(std::exp(double(v) - double(mx)));
                sum += v;
            }
            const double inv = 1.0 / sum;
            for (float& v : x) v = float(double(v) * inv);
        }
        store_row(dst, i1, i2, i3, x.data());
    });
}

} // namespace pa::cpu
