// det_math.h - the arithmetic that decides the sparse mask, written so that the CPU reference
// and the OpenCL kernels (kernels/proxy_det.cl in front of each estimator's kernels, same
// constants, same order) produce BIT-IDENTICAL results: only IEEE add/mul, fma (exact on both
// sides), rint, integer arithmetic and bit casts; no library exp/log/division, whose accuracy
// differs between implementations.
// Budgets and kept blocks therefore match exactly between backends, ties included.
//
// Logits are integer dot products of int8-quantized rows (exact in any order, so the device may
// use tensor cores or any tiling) times a float scale per query and per key; sums of exp() within
// a key block are taken in 2^-32 fixed point (exact in any order); everything else runs in a
// documented sequential order.
//
// Keep in sync with kernels/proxy_det.cl (and the quantization loops of proxy_estimate.cl,
// xattn.cl, flex.cl). Change a constant here, change it there.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "pa/no_coverage.h"

// No contraction of a*b+c into fma behind our back (GCC contracts by default even in ISO C++
// mode): every fma here is written out. Applies to the rest of each file that includes this.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Hot loops get an FMA-instruction clone on x86 (std::fma is otherwise a libm call); both
// clones compute the same exact fma, so results do not depend on the clone picked.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__FMA__) &&                 \
    !defined(PA_COVERAGE_BUILD)
#define PA_DET_CLONES __attribute__((target_clones("fma", "default")))
#else
#define PA_DET_CLONES
#endif

namespace pa::proxy::det {

// exp(x) for x <= 0 (the only use): 0 below -87 (no denormals on either side), otherwise
// 2^n * poly(r) with r = x - n ln2 (ln2 rounded to float: off by n * 1.9e-9) and a degree-4
// polynomial on |r| <= ln2/2 (1 + r + c2 r^2 + c3 r^3 + c4 r^4, c2..c4 fitted for the least
// largest relative error). Relative error below 6e-6 on [-87, 0] (tests/test_proxy_ref.cpp),
// some 1000x below what the int8 rows already change a logit's exp by (median |logit error|
// 0.006 for unit-variance rows at d = 128, 0.05 at std 3), so a higher degree would only add fma
// to the estimate's hottest loops (docs/benchmarks.md, "A cheaper deterministic exp").
inline float exp(float x) {
    if (!(x >= -87.0f)) return 0.0f;
    if (x > 88.0f) x = 88.0f;
    const float n = std::rint(x * 1.44269504f);
    const float r = std::fma(n, -0x1.62e430p-1f, x);
    float p = 0x1.522572p-5f;
    p = std::fma(p, r, 0x1.571c8ap-3f);
    p = std::fma(p, r, 0x1.0006b4p-1f);
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

// log(x) for normal x > 0 (callers treat x < 2^-100 as zero first): x = 2^e * f with f in
// [sqrt(1/2), sqrt(2)), log f = 2 atanh(s) with s = (f - 1) / (f + 1), |s| < 0.172, as an odd
// polynomial in s up to s^11 (error ~1 ulp); e * ln2 in two parts.
inline float log(float x) {
    const int32_t bits = std::bit_cast<int32_t>(x);
    int32_t e = ((bits >> 23) & 0xFF) - 127;
    float f = std::bit_cast<float>((bits & 0x7FFFFF) | 0x3F800000);
    if (f > 1.41421356f) {
        f = f * 0.5f;
        e = e + 1;
    }
    const float s = (f - 1.0f) * recip(f + 1.0f);
    const float z = s * s;
    float p = 0.0909090909f; // 1/11
    p = std::fma(p, z, 0.111111111f);
    p = std::fma(p, z, 0.142857143f);
    p = std::fma(p, z, 0.2f);
    p = std::fma(p, z, 0.333333333f);
    p = std::fma(p, z, 1.0f);
    const float logf = 2.0f * s * p;
    const float fe = float(e);
    return std::fma(fe, 0.693145751953125f, std::fma(fe, 1.42860677e-06f, logf));
}

// Sequential dot product, one fma per element, in index order.
inline float dot(const float* a, const float* b, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; ++i)
        acc = std::fma(a[i], b[i], acc);
    return acc;
}

// Symmetric int8 quantization of a row: q[c] = rint(x[c] * 127 / amax) (|q| <= 127), returns
// the row's scale amax / 127 (0 for a row of zeros). x[c] ~ q[c] * scale. A row whose amax lies
// outside [2^-100, 2^50], or that holds NaN, is treated as zero: recip() needs a normal amax
// well below FLT_MAX, and logits of two rows up to 2^50 stay finite (2^100 / 127^2 times an
// integer dot product below 2^26).
inline float quantize_row(const float* x, int64_t n, int8_t* q) {
    float amax = 0.0f;
    bool has_nan = false;
    for (int64_t c = 0; c < n; ++c) {
        amax = std::fmax(amax, std::fabs(x[c]));
        has_nan = has_nan || std::isnan(x[c]);
    }
    if (has_nan || !(amax >= 0x1p-100f && amax <= 0x1p50f)) {
        for (int64_t c = 0; c < n; ++c)
            q[c] = 0;
        return 0.0f;
    }
    const float f = 127.0f * recip(amax);
    for (int64_t c = 0; c < n; ++c) {
        const float r = std::rint(x[c] * f);
        q[c] = int8_t(r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r));
    }
    return amax * 0x1.020408p-7f; // amax / 127
}

// Exact integer dot product of two int8 rows.
inline int32_t idot(const int8_t* a, const int8_t* b, int64_t n) {
    int32_t acc = 0;
    for (int64_t i = 0; i < n; ++i)
        acc += int32_t(a[i]) * int32_t(b[i]);
    return acc;
}

// The logit of an int8 query row (scale qs, already times the attention scale) and key row
// (scale ks): float(idot) * (qs * ks).
inline float logit(int32_t dot, float qs, float ks) {
    return float(dot) * (qs * ks);
}

// exp(x) for x <= 0 in 2^-32 fixed point (truncated): sums of these are exact in any order.
inline uint64_t exp_fixed(float x) {
    return uint64_t(exp(x) * 4294967296.0f);
}
inline float from_fixed(uint64_t s) {
    return float(s) * 0x1p-32f;
}

} // namespace pa::proxy::det
