// det_math.h - the float operations that decide the sparse mask, written so that the CPU
// reference and the OpenCL kernels (plugin/kernels/proxy_estimate.cl, same constants, same
// order) produce BIT-IDENTICAL results: only IEEE add/mul, fma (exact on both sides), rint and
// bit casts; no library exp/log/division, whose accuracy differs between implementations.
// Budgets and kept blocks therefore match exactly between backends, ties included.
//
// Keep in sync with proxy_estimate.cl. Change a constant here, change it there.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

// No contraction of a*b+c into fma behind our back (GCC contracts by default even in ISO C++
// mode): every fma here is written out. Applies to the rest of each file that includes this.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Hot loops get an FMA-instruction clone on x86 (std::fma is otherwise a libm call); both
// clones compute the same exact fma, so results do not depend on the clone picked.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__FMA__)
#define PA_DET_CLONES __attribute__((target_clones("fma", "default")))
#else
#define PA_DET_CLONES
#endif

namespace pa::proxy::det {

// exp(x) for x <= 0 (the only use): 0 below -87 (no denormals on either side), otherwise
// 2^n * poly(r) with a degree-7 Taylor polynomial on |r| <= ln2/2 (error ~1 ulp).
inline float exp(float x) {
    if (!(x >= -87.0f)) return 0.0f;
    if (x > 88.0f) x = 88.0f;
    const float n = std::rint(x * 1.44269504f);
    float r = std::fma(n, -0.693145751953125f, x);
    r = std::fma(n, -1.42860677e-06f, r);
    float p = 1.98412698e-4f;
    p = std::fma(p, r, 1.38888889e-3f);
    p = std::fma(p, r, 8.33333333e-3f);
    p = std::fma(p, r, 4.16666667e-2f);
    p = std::fma(p, r, 1.66666667e-1f);
    p = std::fma(p, r, 0.5f);
    p = std::fma(p, r, 1.0f);
    p = std::fma(p, r, 1.0f);
    const int32_t e = (static_cast<int32_t>(n) + 127) << 23;
    return p * std::bit_cast<float>(e);
}

// 1/s for normal s > 0: bit-trick seed, four Newton steps.
inline float recip(float s) {
    float r = std::bit_cast<float>(int32_t(0x7EF311C3) - std::bit_cast<int32_t>(s));
    for (int i = 0; i < 4; ++i) {
        const float e = std::fma(-s, r, 1.0f);
        r = std::fma(r, e, r);
    }
    return r;
}

// Sequential dot product, one fma per element, in index order.
inline float dot(const float* a, const float* b, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; ++i)
        acc = std::fma(a[i], b[i], acc);
    return acc;
}

// Online log-sum-exp state of a row: max and sum of exp(x - max), updated key by key in order.
struct lse_state {
    float mx = -INFINITY;
    float sum = 0.0f;
    void add(float x) {
        if (x > mx) {
            sum = std::fma(sum, det::exp(mx - x), 1.0f);
            mx = x;
        } else {
            sum = sum + det::exp(x - mx);
        }
    }
};

} // namespace pa::proxy::det
