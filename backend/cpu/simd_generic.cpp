// simd_generic.cpp - the kernels of simd_kernels.h for the compiler's baseline (SSE2 on x86-64, NEON on
// AArch64) (flags set in backend/CMakeLists.txt).
#define PA_SIMD_NS generic
#define PA_SIMD_NAME "generic"
#define PA_SIMD_LANES 4
#include "simd_kernels.h"
