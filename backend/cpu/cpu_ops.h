// cpu_ops.h - the reference CPU kernels (one function per op) and the small helpers they share.
// Every kernel indexes its tensors through ne/nb, so views, permutes and broadcast sources work
// without copies. Correctness first: the OpenCL backend is tested against these.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>

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
    default: std::memcpy(p, &v, 4); return;
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

// ---- kernels: dst is the node; srcs hang off dst->src[] ----------------------------------
void op_get_rows(tensor* dst, int n_threads);
void op_add(tensor* dst, int n_threads);
void op_mul(tensor* dst, int n_threads);
void op_scale(tensor* dst, int n_threads);
void op_silu(tensor* dst, int n_threads);
void op_swiglu(tensor* dst, int n_threads);
void op_rms_norm(tensor* dst, int n_threads);
void op_rope(tensor* dst, int n_threads);
void op_soft_max(tensor* dst, int n_threads);
void op_mul_mat(tensor* dst, int n_threads, const simd_kernels& k);
void op_cpy(tensor* dst, int n_threads);
void op_flash_attn_ext(tensor* dst, int n_threads, const simd_kernels& k);

} // namespace pa::cpu
