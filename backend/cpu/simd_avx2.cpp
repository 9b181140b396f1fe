// simd_avx2.cpp - the kernels of simd_kernels.h for AVX2 + FMA + F16C
// (flags set in backend/CMakeLists.txt).
#define PA_SIMD_NS avx2
#define PA_SIMD_NAME "avx2"
#define PA_SIMD_LANES 8
#include "simd_kernels.h"
