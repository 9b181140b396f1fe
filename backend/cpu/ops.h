// ops.h - the reference CPU kernels (one function per op, in the file of its family: get_rows.cpp,
// elementwise.cpp, norm.cpp, rope.cpp, softmax.cpp, mul_mat.cpp, cpy.cpp, flash_attn.cpp), the
// table that dispatches to them (op_table.cpp) and the small helpers they share (util.cpp).
// mul_mat and flash_attn_ext run their inner loops on the vector kernels of simd.h; parallel_for
// hands chunks to the workers of thread_pool.h.
// Every kernel indexes its tensors through ne/nb, so views, permutes and broadcast sources work
// without copies. Correctness first: the OpenCL backend is tested against these.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "pa/tensor.h"
#include "pa/types.h"

namespace pa::cpu {

struct simd_kernels; // simd.h

// Address of element (i0, i1, i2, i3); for block types i0 counts blocks.
inline char* elem_ptr(const tensor* t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return static_cast<char*>(t->data) + size_t(i0) * t->nb[0] + size_t(i1) * t->nb[1] +
           size_t(i2) * t->nb[2] + size_t(i3) * t->nb[3];
}
inline char* row_ptr(const tensor* t, int64_t i1, int64_t i2, int64_t i3) {
    return elem_ptr(t, 0, i1, i2, i3);
}

// One element of a plain type (F32, F16, I32) as float, and back.
inline float load_f(pa_type type, const char* p) {
    switch (type) {
    case PA_TYPE_F16: {
        uint16_t h;
        std::memcpy(&h, p, 2);
        return fp16_to_fp32(h);
    }
    case PA_TYPE_I32: {
        int32_t i;
        std::memcpy(&i, p, 4);
        return static_cast<float>(i);
    }
    default: {
        float f;
        std::memcpy(&f, p, 4);
        return f;
    }
    }
}

inline void store_f(pa_type type, char* p, float v) {
    switch (type) {
    case PA_TYPE_F16: {
        const uint16_t h = fp32_to_fp16(v);
        std::memcpy(p, &h, 2);
        return;
    }
    case PA_TYPE_I32: {
        const int32_t i = static_cast<int32_t>(v);
        std::memcpy(p, &i, 4);
        return;
    }
    default:
        std::memcpy(p, &v, 4);
        return;
    }
}

// The ne0 elements of row (i1, i2, i3) of t as floats: plain types follow nb[0] (permuted
// rows), block types dequantize their packed blocks.
void load_row(const tensor* t, int64_t i1, int64_t i2, int64_t i3, float* out);

// Runs fn(begin, end) over [0, n) split into contiguous chunks on up to n_threads threads.
// Small jobs (n * cost_per_item below a threshold) stay on the calling thread. The first
// exception thrown by any chunk is rethrown here after all threads joined.
void parallel_for(int n_threads, int64_t n, double cost_per_item,
                  const std::function<void(int64_t, int64_t)>& fn);

// Dot product of two float arrays with several partial sums (vectorisable, accurate enough
// for a reference: error grows like sqrt(n) ulps).
float dot(const float* a, const float* b, int64_t n);

// Calls fn(i1, i2, i3) for every row of t, rows split over threads.
template <class F> void for_each_row(const tensor* t, int n_threads, double cost_per_row, F&& fn) {
    const int64_t n1 = t->ne[1], n2 = t->ne[2];
    parallel_for(n_threads, nrows(t), cost_per_row, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
            fn(r % n1, (r / n1) % n2, r / (n1 * n2));
    });
}

// Writes a float row into an F32 row of dst with dst's element stride.
void store_row(tensor* dst, int64_t i1, int64_t i2, int64_t i3, const float* v);

// Row-wise ops: src0's row (i1, i2, i3) as floats, changed in place by fn(x, i1, i2, i3),
// stored into the same row of dst.
template <class F> void transform_rows(tensor* dst, int n_threads, double cost_per_row, F&& fn) {
    const tensor* a = dst->src[0];
    for_each_row(dst, n_threads, cost_per_row, [&](int64_t i1, int64_t i2, int64_t i3) {
        std::vector<float> x(static_cast<size_t>(a->ne[0]));
        load_row(a, i1, i2, i3, x.data());
        fn(x, i1, i2, i3);
        store_row(dst, i1, i2, i3, x.data());
    });
}

// ---- kernels: dst is the node; srcs hang off dst->src[] ----------------------------------
// simd: the backend's vector kernels (simd.h), used by mul_mat and flash_attn_ext.
using kernel = void(tensor* dst, int n_threads, const simd_kernels& simd);
kernel op_get_rows;                                  // get_rows.cpp
kernel op_add, op_mul, op_scale, op_silu, op_swiglu; // elementwise.cpp
kernel op_rms_norm;                                  // norm.cpp
kernel op_rope;                                      // rope.cpp
kernel op_soft_max;                                  // softmax.cpp
kernel op_mul_mat;                                   // mul_mat.cpp
kernel op_cpy;                                       // cpy.cpp
kernel op_flash_attn_ext;                            // flash_attn.cpp

// The kernel of a built-in op and the types and layouts it takes (shapes were checked by the
// op constructor); op_table.cpp holds one per op id.
struct builtin_kernel {
    pa_op op;
    bool (*supports)(const tensor* node); // nullptr: never
    kernel* compute;                      // nullptr: nothing to compute (views)
};
// The entry of a built-in op id, or nullptr for other ids.
const builtin_kernel* find_builtin(int32_t op);

} // namespace pa::cpu
