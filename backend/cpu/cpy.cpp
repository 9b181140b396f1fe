// cpy.cpp - cpy/cont: src0 converted into the node's own type and strides. With equal
// shapes element (i0..i3) goes to (i0..i3); otherwise (both contiguous, checked by cpy())
// elements keep their flat order. Block-type destinations quantize whole rows.
#include <vector>

#include <fmt/format.h>

#include "ops.h"
#include "pa/error.h"

namespace pa::cpu {
namespace {

// Element with flat (row-major, i0 fastest) index k of a plain-type tensor.
const char* flat_elem(const tensor* t, int64_t k) {
    const int64_t i0 = k % t->ne[0];
    k /= t->ne[0];
    const int64_t i1 = k % t->ne[1];
    k /= t->ne[1];
    const int64_t i2 = k % t->ne[2];
    return elem_ptr(t, i0, i1, i2, k / t->ne[2]);
}

template <class F> void for_rows(const tensor* t, int n_threads, F&& fn) {
    const int64_t n1 = t->ne[1], n2 = t->ne[2];
    parallel_for(n_threads, nrows(t), 4.0 * double(t->ne[0]), [&](int64_t begin, int64_t end) {
        std::vector<float> scratch(size_t(t->ne[0]));
        for (int64_t r = begin; r < end; ++r)
            fn(r, r % n1, (r / n1) % n2, r / (n1 * n2), scratch.data());
    });
}

} // namespace

void op_cpy(tensor* dst, int n_threads, const simd_kernels&) {
    const tensor* a = dst->src[0];
    const bool same = same_shape(a, dst);
    const bool a_quant = traits(a->type).quantized, d_quant = traits(dst->type).quantized;
    const int64_t ne0 = dst->ne[0];

    if (a->type == dst->type && a_quant) { // blocks copied as bytes
        if (same) {
            const size_t row = row_size(a->type, ne0);
            for_rows(dst, n_threads, [&](int64_t, int64_t i1, int64_t i2, int64_t i3, float*) {
                std::memcpy(row_ptr(dst, i1, i2, i3), row_ptr(a, i1, i2, i3), row);
            });
            return;
        }
        if (!is_contiguous(a) || !is_contiguous(dst))
            throw error(
                fmt::format("cpy: {} to {} needs contiguous tensors", shape_string(a), shape_string(dst)));
        std::memcpy(dst->data, a->data, nbytes(a));
        return;
    }
    if (a_quant && !same)
        throw error(fmt::format("cpy: cannot reshape {} while converting it", shape_string(a)),
                    PA_ERR_UNSUPPORTED);

    if (a->type == dst->type) { // plain types: exact byte copy per element (keeps NaN payloads)
        const size_t es = traits(a->type).block_bytes;
        for_rows(dst, n_threads, [&](int64_t r, int64_t i1, int64_t i2, int64_t i3, float*) {
            for (int64_t i0 = 0; i0 < ne0; ++i0) {
                const char* s = same ? elem_ptr(a, i0, i1, i2, i3) : flat_elem(a, r * ne0 + i0);
                std::memcpy(elem_ptr(dst, i0, i1, i2, i3), s, es);
            }
        });
        return;
    }

    for_rows(dst, n_threads, [&](int64_t r, int64_t i1, int64_t i2, int64_t i3, float* v) {
        if (same) {
            load_row(a, i1, i2, i3, v);
        } else {
            for (int64_t i0 = 0; i0 < ne0; ++i0)
                v[i0] = load_f(a->type, flat_elem(a, r * ne0 + i0));
        }
        if (d_quant) {
            quantize_row(dst->type, v, row_ptr(dst, i1, i2, i3), ne0);
        } else {
            for (int64_t i0 = 0; i0 < ne0; ++i0)
                store_f(dst->type, elem_ptr(dst, i0, i1, i2, i3), v[i0]);
        }
    });
}

} // namespace pa::cpu
