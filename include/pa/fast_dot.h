// fast_dot.h - a vectorisable float dot product for the parts that need no bit-exactness
// (attention over kept blocks, analysis). PA_FAST_CLONES adds an AVX2 clone on x86.
#pragma once

#include <cstdint>

#include "pa/no_coverage.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX2__) &&                \
    !defined(PA_COVERAGE_BUILD)
#define PA_FAST_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PA_FAST_CLONES
#endif

namespace pa {

// Eight partial sums, named rather than an array: under ASan a local array stays in memory.
PA_NO_COVERAGE inline float fast_dot(const float* a, const float* b, int64_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
        s4 += a[i + 4] * b[i + 4];
        s5 += a[i + 5] * b[i + 5];
        s6 += a[i + 6] * b[i + 6];
        s7 += a[i + 7] * b[i + 7];
    }
    float r = 0.0f;
    for (; i < n; ++i)
        r += a[i] * b[i];
    return r + ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
}

} // namespace pa
