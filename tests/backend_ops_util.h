// backend_ops_util.h - small helpers for op tests: fill/read host tensors, run a graph on a
// host backend directly (without the scheduler), NMSE.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "pa/backend.h"
#include "pa/context.h"
#include "pa/graph.h"
#include "pa/tensor.h"
#include "pa/types.h"

namespace pa::test {

// Writes float values into a host tensor of any type (row by row, quantizing block types),
// following its strides. vals holds nelements(t) floats, i0 fastest.
inline void set_values(tensor* t, const std::vector<float>& vals) {
    const int64_t ne0 = t->ne[0];
    std::vector<uint8_t> row(row_size(t->type, ne0));
    int64_t r = 0;
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1, ++r) {
                char* base = static_cast<char*>(t->data) + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
                const float* src = vals.data() + r * ne0;
                if (traits(t->type).quantized) {
                    quantize_row(t->type, src, base, ne0);
                    continue;
                }
                quantize_row(t->type, src, row.data(), ne0); // f32/f16 conversion
                const size_t es = traits(t->type).block_bytes;
                for (int64_t i0 = 0; i0 < ne0; ++i0)
                    std::memcpy(base + i0 * t->nb[0], row.data() + i0 * es, es);
            }
}

inline void set_i32(tensor* t, const std::vector<int32_t>& vals) {
    std::memcpy(t->data, vals.data(), vals.size() * sizeof(int32_t));
}

// All elements of a host tensor (any float/block type, any strides) as floats, i0 fastest.
inline std::vector<float> get_values(const tensor* t) {
    const int64_t ne0 = t->ne[0];
    std::vector<float> out(size_t(nelements(t)));
    std::vector<uint8_t> row(row_size(t->type, ne0));
    int64_t r = 0;
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1, ++r) {
                const char* base =
                    static_cast<const char*>(t->data) + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
                if (traits(t->type).quantized) {
                    dequantize_row(t->type, base, out.data() + r * ne0, ne0);
                    continue;
                }
                const size_t es = traits(t->type).block_bytes;
                for (int64_t i0 = 0; i0 < ne0; ++i0)
                    std::memcpy(row.data() + i0 * es, base + i0 * t->nb[0], es);
                dequantize_row(t->type, row.data(), out.data() + r * ne0, ne0);
            }
    return out;
}

inline std::vector<float> random_values(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// Runs g on a host backend without the scheduler: computed roots get host storage from ctx,
// views point into their root's storage.
inline void run_on_host(context& ctx, const graph& g, backend& b) {
    for (tensor* n : g.nodes) {
        if (n->view_src) {
            if (!n->view_src->data) ctx.ensure_host_data(n->view_src);
            n->data = static_cast<char*>(n->view_src->data) + n->view_offs;
        } else if (!n->data) {
            n->data = ctx.alloc_host(nbytes(n));
        }
    }
    b.compute(g.nodes);
}

// Relative L2 error ||a - ref|| / ||ref||; infinite when a holds a non-finite value.
inline double rel_l2(const std::vector<float>& a, const std::vector<float>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i])) return INFINITY;
        num += double(a[i] - ref[i]) * double(a[i] - ref[i]);
        den += double(ref[i]) * double(ref[i]);
    }
    return std::sqrt(num / den);
}

// Normalised mean squared error sum((a-b)^2) / sum(b^2); b is the reference.
inline double nmse(const std::vector<float>& out, const std::vector<float>& ref) {
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < ref.size() && i < out.size(); ++i) {
        const double d = double(out[i]) - double(ref[i]);
        err += d * d;
        norm += double(ref[i]) * double(ref[i]);
    }
    if (out.size() != ref.size()) return INFINITY;
    return norm > 0.0 ? err / norm : err;
}

} // namespace pa::test
