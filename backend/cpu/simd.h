// simd.h - the vectorised inner kernels of the CPU backend's matmul and attention, built once
// per instruction set (simd_generic.cpp: the compiler's baseline, SSE2 on x86-64; simd_avx2.cpp:
// AVX2 + FMA + F16C; simd_avx512.cpp: AVX-512) from one source (simd_kernels.h) and picked at
// run time from what the CPU supports. PA_CPU_SIMD=generic|avx2|avx512 forces one (tests run
// every variant the CPU has against the scalar reference).
//
// Layouts. Weights A: M rows of K elements of any weight type (F32, F16, Q8_0, Q4_0, Q4_1),
// row m at a + m * row_bytes. Activations B: N rows of K floats (row n at b + n * ldb). Results
// C: c[n * ldc + m] (the dst of mul_mat: ne0 = M fastest).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pa/pa_tensor.h"

namespace pa::cpu {

// Keys and values of one KV head, as attn_rows reads them: rows of d elements, F16 or F32
// (each row's elements packed), read in place (a decoding step) or from rows converted once
// (a prefill: the same numbers, read faster).
struct attn_kv {
    const char* k = nullptr;
    size_t k_row = 0; // bytes from one key row to the next
    pa_type k_type = PA_TYPE_F32;
    const char* v = nullptr;
    size_t v_row = 0;
    pa_type v_type = PA_TYPE_F32;
    int64_t d = 0;
};

struct simd_kernels {
    const char* name;
    int64_t attn_block; // keys per block of attn_rows' online softmax (a multiple of the lanes)
    bool f16_vectors;   // halves convert a vector at a time (F16C): attn_rows reads F16 K/V in place

    // Every dot product below sums w[k] * x[k] in the same order (vector chunks of k in turn,
    // then the lanes, then a scalar tail), so a result does not depend on the path, the tile
    // or the number of columns: prefill in one graph or in chunks gives identical numbers.

    // rows x K weights of any type into floats: out[r * K + k].
    void (*dequantize_rows)(pa_type t, const char* a, size_t row_bytes, int64_t rows, int64_t K, float* out);
    // c[n * ldc + m] = dot(a + m * lda, b + n * ldb) over K floats, m < M, n < N (register tiles
    // of rows x columns: for many columns, on rows dequantized once).
    void (*gemm)(const float* a, int64_t lda, int64_t M, const float* b, int64_t ldb, int64_t N, int64_t K,
                 float* c, int64_t ldc);
    // As gemm, reading A's rows in place (blocks unpacked in registers): for few columns (decoding).
    void (*dot_rows)(pa_type t, const char* a, size_t row_bytes, int64_t M, int64_t K, const float* b,
                     int64_t ldb, int64_t N, float* c, int64_t ldc);
    // Attention of `rows` (1..attn_max_rows) queries of one KV head: q[r * d ..] (times the softmax
    // scale) attends to keys [0, limit[r]) (limit >= 1) with an online softmax over blocks of
    // attn_block keys; out[r * d ..] gets the weighted values. A score is the dot product summed
    // as everywhere (vector chunks in turn, then the lanes halving, then the tail), so each
    // query's arithmetic does not depend on the other rows or on the layout of K and V:
    // decoding and prefill agree bit for bit.
    void (*attn_rows)(const attn_kv& kv, const float* q, const int32_t* limit, int rows, float* out,
                      float* scratch);
    // n halves to floats.
    void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t n);
};

inline constexpr int attn_max_rows = 4;
inline int64_t attn_scratch_floats(int64_t d, int64_t block) {
    return attn_max_rows * (d + block);
}

const simd_kernels& simd();                                // the best for this CPU, or PA_CPU_SIMD's choice
const simd_kernels* simd_variant(const std::string& name); // nullptr if not built or the CPU lacks it
std::vector<std::string> simd_variants();                  // names usable on this CPU, best last

namespace generic {
const simd_kernels& kernels();
}
namespace avx2 {
const simd_kernels& kernels();
}
namespace avx512 {
const simd_kernels& kernels();
}

} // namespace pa::cpu
