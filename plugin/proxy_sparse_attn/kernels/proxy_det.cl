// proxy_det.cl - the deterministic arithmetic of ref/det_math.h in OpenCL C (same constants,
// fma written out, contraction off), put in front of every program of the estimators by the host
// (ocl/program_text.cpp).
// Keep in sync with det_math.h: change a constant there, change it here.
#pragma OPENCL FP_CONTRACT OFF

// exp(x - n ln 2) for the integer-valued n nearest x / ln 2: degree-4 polynomial of the
// remainder (ln 2 rounded to float; coefficients and error bound in det_math.h). Shared by
// det_exp and exp_fixed_fast.
inline float det_exp_remainder(float x, float n) {
    const float r = fma(n, -0x1.62e430p-1f, x);
    float p = 0x1.522572p-5f;
    p = fma(p, r, 0x1.571c8ap-3f);
    p = fma(p, r, 0x1.0006b4p-1f);
    p = fma(p, r, 1.0f);
    p = fma(p, r, 1.0f);
    return p;
}

// exp(x) for x <= 0: 0 below -87, otherwise 2^n * poly(r).
inline float det_exp(float x) {
    if (!(x >= -87.0f)) return 0.0f;
    if (x > 88.0f) x = 88.0f;
    const float n = rint(x * 1.44269504f);
    const float p = det_exp_remainder(x, n);
    const int e = ((int)n + 127) << 23;
    return p * as_float(e);
}

// 1/s for normal s > 0: bit-trick seed, four Newton steps.
inline float det_recip(float s) {
    float r = as_float(0x7EF311C3 - as_int(s));
    for (int i = 0; i < 4; ++i) {
        const float e = fma(-s, r, 1.0f);
        r = fma(r, e, r);
    }
    return r;
}

// log(x) for normal x > 0 (callers treat x < 2^-100 as zero first): x = 2^e * f with f in
// [sqrt(1/2), sqrt(2)), log f = 2 atanh(s), s = (f - 1) / (f + 1), odd polynomial up to s^11.
inline float det_log(float x) {
    const int bits = as_int(x);
    int e = ((bits >> 23) & 0xFF) - 127;
    float f = as_float((bits & 0x7FFFFF) | 0x3F800000);
    if (f > 1.41421356f) {
        f = f * 0.5f;
        e = e + 1;
    }
    const float s = (f - 1.0f) * det_recip(f + 1.0f);
    const float z = s * s;
    float p = 0.0909090909f;
    p = fma(p, z, 0.111111111f);
    p = fma(p, z, 0.142857143f);
    p = fma(p, z, 0.2f);
    p = fma(p, z, 0.333333333f);
    p = fma(p, z, 1.0f);
    const float logf = 2.0f * s * p;
    const float fe = (float)e;
    return fma(fe, 0.693145751953125f, fma(fe, 1.42860677e-06f, logf));
}

// The zero-row rule of det_math.h quantize_row: a row that holds NaN, or whose largest |x| lies
// outside [2^-100, 2^50], quantizes as zeros with scale 0. A row's amax taken as the fmax of
// quant_abs(x) (|x|, NaN as +inf) is the reference's amax when the row has no NaN and +inf when
// it has one, so quant_zero_row(amax) is the reference's test and the scale is unchanged.
inline float quant_abs(float x) { return isnan(x) ? INFINITY : fabs(x); }
inline bool quant_zero_row(float amax) { return !(amax >= 0x1p-100f && amax <= 0x1p50f); }
// The rest of quantize_row for a row that is not zero: f = quant_factor(amax), element
// quant_q8(x, f) = rint(x * f) clamped to +-127, scale quant_scale(amax) = amax / 127.
inline float quant_factor(float amax) { return 127.0f * det_recip(amax); }
inline char quant_q8(float x, float f) {
    const float r = rint(x * f);
    return (char)(r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r));
}
inline float quant_scale(float amax) { return amax * 0x1.020408p-7f; }

inline ulong exp_fixed(float x) { return (ulong)(det_exp(x) * 4294967296.0f); }
inline float from_fixed(ulong s) { return (float)s * 0x1p-32f; }

// exp_fixed(x) for x <= 0 or NaN (x = logit - block max: never positive), bit for bit, with
// fewer instructions for the hot loops of proxy_block_stats.cl:
// - x < -87 gives 0 in the reference, and so does x = -87 (2^-126 * 2^32 truncates to 0): a clamp
//   replaces the branch (NaN clamps to -87 as well, 0 as in the reference);
// - rint(t) for |t| < 2^22 is (t + 1.5 * 2^23) - 1.5 * 2^23 (round to nearest even in the add),
//   and the sum's low mantissa bits hold n, so 2^(n + 32) is a shift of its bits;
// - det_exp(x) * 2^32 = p * 2^n * 2^32 = p * 2^(n + 32) exactly when p * 2^n is normal; when it is
//   subnormal (n = -126) both products are below 1 and truncate to 0.
inline ulong exp_fixed_fast(float x) {
    x = fmax(x, -87.0f);
    const float t = x * 1.44269504f;
    const float s = t + 12582912.0f;
    const float n = s - 12582912.0f;
    const float p = det_exp_remainder(x, n);
    // as_uint(s) = 0x4B400000 + n: shifted by 23 only n's low 9 bits remain, n << 23 mod 2^32
    const float scale = as_float((as_uint(s) << 23) + (159u << 23)); // 2^(n + 32), n >= -126
    return (ulong)(p * scale);
}
