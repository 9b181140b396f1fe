// simd_avx512.cpp - the kernels of simd_kernels.h for AVX-512 F/BW/VL + FMA + F16C
// (flags set in backend/CMakeLists.txt).
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns inside its own _mm512_cvtph_ps (its _mm512_undefined_ps pass-through).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define PA_SIMD_NS avx512
#define PA_SIMD_NAME "avx512"
#define PA_SIMD_LANES 16
#include "simd_kernels.h"
