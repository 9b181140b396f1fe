// fast_dot.h - a vectorisable float dot product for the parts that need no bit-exactness
// (attention over kept blocks, analysis). PA_FAST_CLONES adds an AVX2 clone on x86.
#pragma once

#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX2__)
#define PA_FAST_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PA_FAST_CLONES
#endif

namespace pa {

inline float fast_dot(const float* a, const float* b, int64_t n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int u = 0; u < 8; ++u)
            s[u] += a[i + u] * b[i + u];
    float r = 0.0f;
    for (; i < n; ++i)
        r += a[i] * b[i];
    return r + ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

} // namespace pa
