// test_quant.cpp - the GGUF block formats and fp16 conversion against hand-written blocks and
// closed forms (not against another implementation of the same code).
#include <gtest/gtest.h>

#include <bit>
#include <cfenv>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "pa/error.h"
#include "pa/types.h"

namespace pa {
namespace {

// ---- fp16 -------------------------------------------------------------------------------

// The value of a half bit pattern from its definition (no bit tricks).
double half_value(uint16_t h) {
    const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    const double s = sign ? -1.0 : 1.0;
    if (exp == 0) return s * std::ldexp(double(mant), -24);
    if (exp == 31) return mant ? std::numeric_limits<double>::quiet_NaN() : s * INFINITY;
    return s * std::ldexp(1.0 + mant / 1024.0, exp - 15);
}

// Nearest half (ties to even) of a finite float, from the definition: the grid spacing in
// [2^e, 2^(e+1)) is 2^(e-10), at least 2^-24 (subnormals); |x| >= 65520 overflows.
uint16_t half_nearest(float f) {
    const double x = std::fabs(double(f));
    const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    if (x >= 65520.0) return sign | 0x7c00;
    if (x == 0.0) return sign;
    const int e = std::max(int(std::floor(std::log2(x))), -14);
    const double ulp = std::ldexp(1.0, e - 10);
    const double q = std::nearbyint(x / ulp); // default rounding mode: ties to even
    const double v = q * ulp;
    if (v == 0.0) return sign;
    if (v < std::ldexp(1.0, -14)) return sign | uint16_t(q); // subnormal: mantissa = q
    int ev = int(std::floor(std::log2(v)));                  // q may have carried into 2^(e+1)
    const uint16_t mant = uint16_t(std::lround((v / std::ldexp(1.0, ev) - 1.0) * 1024.0));
    return sign | uint16_t((ev + 15) << 10) | mant;
}

TEST(Fp16, DecodeEveryPatternMatchesDefinition) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = fp16_to_fp32(uint16_t(h));
        const double want = half_value(uint16_t(h));
        if (std::isnan(want)) {
            EXPECT_TRUE(std::isnan(f)) << std::hex << h;
        } else {
            EXPECT_EQ(double(f), want) << std::hex << h;
            EXPECT_EQ(std::signbit(f), bool(h & 0x8000)) << std::hex << h;
        }
    }
}

TEST(Fp16, RoundTripEveryNonNanPattern) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        if (((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff)) continue; // NaN: checked separately
        EXPECT_EQ(fp32_to_fp16(fp16_to_fp32(uint16_t(h))), h) << std::hex << h;
    }
}

TEST(Fp16, EncodeEdgeCases) {
    EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
    EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
    EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
    EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);  // largest finite
    EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7bff); // below the overflow tie
    EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // tie rounds up to inf
    EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
    EXPECT_EQ(fp32_to_fp16(INFINITY), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xfc00);
    const uint16_t nan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
    EXPECT_EQ(nan & 0x7c00, 0x7c00);
    EXPECT_NE(nan & 0x3ff, 0);
    EXPECT_TRUE(std::isnan(fp16_to_fp32(nan)));
    // subnormals: 2^-24 is the smallest, 2^-25 ties to even (0), 3 * 2^-25 ties to even (2)
    EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);
    EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);
    EXPECT_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
    EXPECT_EQ(fp32_to_fp16(-std::ldexp(1.0f, -25)), 0x8000);
    EXPECT_EQ(fp32_to_fp16(3 * std::ldexp(1.0f, -25)), 0x0002);
    EXPECT_EQ(fp32_to_fp16(5 * std::ldexp(1.0f, -25)), 0x0002);
    EXPECT_EQ(fp32_to_fp16(1023 * std::ldexp(1.0f, -24)), 0x03ff); // largest subnormal
    EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);        // smallest normal
    EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -30)), 0x0000);
    // normal range ties: 1 + 2^-11 -> 1 (even); 1 + 3 * 2^-11 -> 1 + 2^-9 (even)
    EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
    EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
    EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
    // carry into the exponent: just below 2 rounds to 2
    EXPECT_EQ(fp32_to_fp16(std::nextafter(2.0f, 0.0f)), 0x4000);
    // largest subnormal + half an ulp ties to the even smallest normal
    EXPECT_EQ(fp32_to_fp16(1023.5f * std::ldexp(1.0f, -24)), 0x0400);
}

TEST(Fp16, EncodeMatchesNearestOnRandomFloatsAndTies) {
    ASSERT_EQ(std::fegetround(), FE_TONEAREST);
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> exp(-28, 16);
    std::uniform_real_distribution<float> mant(1.0f, 2.0f);
    for (int i = 0; i < 200000; ++i) {
        float f = std::ldexp(mant(rng), exp(rng));
        if (i & 1) f = -f;
        ASSERT_EQ(fp32_to_fp16(f), half_nearest(f)) << f;
    }
    // every tie point between consecutive halves in [2^-15, 2^15]
    for (uint32_t h = 0x0000; h < 0x7bff; h += 7) {
        const float mid = float((half_value(uint16_t(h)) + half_value(uint16_t(h + 1))) / 2);
        const uint16_t even = (h & 1) ? uint16_t(h + 1) : uint16_t(h);
        ASSERT_EQ(fp32_to_fp16(mid), even) << std::hex << h;
        ASSERT_EQ(half_nearest(mid), even) << std::hex << h;
    }
}

// ---- block layouts ----------------------------------------------------------------------

TEST(Quant, Traits) {
    EXPECT_EQ(traits(PA_TYPE_Q8_0).block_bytes, 34u);
    EXPECT_EQ(traits(PA_TYPE_Q4_0).block_bytes, 18u);
    EXPECT_EQ(traits(PA_TYPE_Q4_1).block_bytes, 20u);
    EXPECT_EQ(traits(PA_TYPE_F16).block_bytes, 2u);
    EXPECT_EQ(traits(PA_TYPE_Q4_0).block_elems, 32);
    EXPECT_EQ(row_size(PA_TYPE_Q4_1, 96), 60u);
    EXPECT_EQ(row_size(PA_TYPE_F32, 7), 28u);
    EXPECT_THROW(traits(pa_type(5)), error);
    EXPECT_FALSE(type_is_valid(5));
    EXPECT_EQ(type_name(PA_TYPE_Q8_0), "q8_0");
    pa_type t{};
    EXPECT_TRUE(type_from_name("Q4_1", t));
    EXPECT_EQ(t, PA_TYPE_Q4_1);
    EXPECT_FALSE(type_from_name("q5_0", t));
}

TEST(Quant, DequantizeHandBlocks) {
    // Q8_0: d = -0.5 (f16 0xb800), qs = i - 16
    block_q8_0 q8{};
    q8.d = 0xb800;
    for (int i = 0; i < 32; ++i) q8.qs[i] = int8_t(i - 16);
    // Q4_0: d = 0.25 (0x3400); byte i = lo i | hi (15 - i)
    block_q4_0 q4{};
    q4.d = 0x3400;
    for (int i = 0; i < 16; ++i) q4.qs[i] = uint8_t(i | ((15 - i) << 4));
    // Q4_1: d = 2 (0x4000), m = 0.5 (0x3800); byte i = lo (i % 4) | hi 15
    block_q4_1 q41{};
    q41.d = 0x4000;
    q41.m = 0x3800;
    for (int i = 0; i < 16; ++i) q41.qs[i] = uint8_t((i % 4) | 0xf0);

    float out[32];
    dequantize_row(PA_TYPE_Q8_0, &q8, out, 32);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], -0.5f * float(i - 16)) << i;
    dequantize_row(PA_TYPE_Q4_0, &q4, out, 32);
    for (int i = 0; i < 16; ++i) {
        EXPECT_EQ(out[i], 0.25f * float(i - 8)) << i;
        EXPECT_EQ(out[16 + i], 0.25f * float(7 - i)) << i;
    }
    dequantize_row(PA_TYPE_Q4_1, &q41, out, 32);
    for (int i = 0; i < 16; ++i) {
        EXPECT_EQ(out[i], 2.0f * float(i % 4) + 0.5f) << i;
        EXPECT_EQ(out[16 + i], 2.0f * 15 + 0.5f) << i;
    }
    // two blocks in a row: the second block's values follow the first's
    block_q8_0 two[2] = {q8, q8};
    two[1].d = 0x3c00; // 1.0
    float out2[64];
    dequantize_row(PA_TYPE_Q8_0, two, out2, 64);
    EXPECT_EQ(out2[31], -0.5f * 15);
    EXPECT_EQ(out2[32], -16.0f);
    EXPECT_EQ(out2[63], 15.0f);
}

TEST(Quant, QuantizeQ8_0CraftedRow) {
    // amax 127 -> d = 1 exactly; q = round half away from zero
    float x[32];
    for (int i = 0; i < 32; ++i) x[i] = float(8 * i - 121);
    x[1] = 2.5f;
    x[2] = -2.5f;
    x[3] = 0.49f;
    block_q8_0 b{};
    quantize_row(PA_TYPE_Q8_0, x, &b, 32);
    EXPECT_EQ(b.d, 0x3c00);
    EXPECT_EQ(b.qs[0], -121);
    EXPECT_EQ(b.qs[1], 3);
    EXPECT_EQ(b.qs[2], -3);
    EXPECT_EQ(b.qs[3], 0);
    for (int i = 4; i < 32; ++i) EXPECT_EQ(b.qs[i], 8 * i - 121) << i;
    // an all-zero block: d = 0, every q = 0
    float z[32] = {};
    quantize_row(PA_TYPE_Q8_0, z, &b, 32);
    EXPECT_EQ(b.d, 0);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(b.qs[i], 0);
}

TEST(Quant, QuantizeQ4_0CraftedRow) {
    // the largest magnitude -8 maps to nibble 0: d = -8 / -8 = 1; x in [-8, 7] -> nibble x + 8
    float x[32];
    for (int i = 0; i < 32; ++i) x[i] = float(i % 16) - 8.0f;
    block_q4_0 b{};
    quantize_row(PA_TYPE_Q4_0, x, &b, 32);
    EXPECT_EQ(b.d, 0x3c00);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(b.qs[i], uint8_t(i | (i << 4))) << i;
    // largest magnitude positive: d = 8 / -8 = -1, nibble = floor(8.5 - x); 8 -> 0, -7 -> 15
    for (int i = 0; i < 32; ++i) x[i] = 0.0f;
    x[0] = 8.0f;
    x[1] = -7.0f;
    x[16] = 0.5f; // 8.0 -> 8 (decodes to 0)
    quantize_row(PA_TYPE_Q4_0, x, &b, 32);
    EXPECT_EQ(b.d, 0xbc00);
    EXPECT_EQ(b.qs[0] & 0xf, 0);
    EXPECT_EQ(b.qs[1] & 0xf, 15);
    EXPECT_EQ(b.qs[0] >> 4, 8);
    float back[32];
    dequantize_row(PA_TYPE_Q4_0, &b, back, 32);
    EXPECT_EQ(back[0], 8.0f);
    EXPECT_EQ(back[1], -7.0f);
    EXPECT_EQ(back[16], 0.0f);
}

TEST(Quant, QuantizeQ4_1CraftedRow) {
    // min -1, max 2.75 -> d = 3.75 / 15 = 0.25, m = -1; x = -1 + 0.25 k -> nibble k
    float x[32];
    for (int i = 0; i < 16; ++i) {
        x[i] = -1.0f + 0.25f * float(i);
        x[16 + i] = -1.0f + 0.25f * float(15 - i);
    }
    block_q4_1 b{};
    quantize_row(PA_TYPE_Q4_1, x, &b, 32);
    EXPECT_EQ(b.d, 0x3400);
    EXPECT_EQ(b.m, 0xbc00);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(b.qs[i], uint8_t(i | ((15 - i) << 4))) << i;
    float back[32];
    dequantize_row(PA_TYPE_Q4_1, &b, back, 32);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(back[i], x[i]) << i;
}

TEST(Quant, F16RowConversion) {
    const float x[4] = {1.0f, -0.5f, 65504.0f, std::ldexp(1.0f, -24)};
    uint16_t h[4];
    quantize_row(PA_TYPE_F16, x, h, 4);
    EXPECT_EQ(h[0], 0x3c00);
    EXPECT_EQ(h[1], 0xb800);
    EXPECT_EQ(h[2], 0x7bff);
    EXPECT_EQ(h[3], 0x0001);
    float back[4];
    dequantize_row(PA_TYPE_F16, h, back, 4);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(back[i], x[i]);
}

// Random rows: the round-trip error of each element is within the format's step.
TEST(Quant, RoundTripErrorBounds) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
    const int n = 32 * 8;
    std::vector<float> x(n), back(n);
    for (int rep = 0; rep < 50; ++rep) {
        for (float& v : x) v = dist(rng) * (rep % 5 + 1);
        for (pa_type t : {PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1}) {
            std::vector<uint8_t> q(row_size(t, n));
            quantize_row(t, x.data(), q.data(), n);
            dequantize_row(t, q.data(), back.data(), n);
            for (int b = 0; b < n / 32; ++b) {
                const float* xb = &x[size_t(b) * 32];
                float amax = 0, lo = xb[0], hi = xb[0];
                for (int i = 0; i < 32; ++i) {
                    amax = std::max(amax, std::fabs(xb[i]));
                    lo = std::min(lo, xb[i]);
                    hi = std::max(hi, xb[i]);
                }
                // step of the grid, plus the fp16 rounding of the scale (2^-11 relative)
                double bound = 0;
                if (t == PA_TYPE_Q8_0) bound = amax / 127.0 * (0.5 + 128 * 0x1p-11);
                if (t == PA_TYPE_Q4_0) bound = amax / 8.0 * (1.0 + 8 * 0x1p-11); // +amax side clamps
                if (t == PA_TYPE_Q4_1)
                    bound = (hi - lo) / 15.0 * (0.5 + 16 * 0x1p-11) + std::fabs(lo) * 0x1p-11;
                for (int i = 0; i < 32; ++i)
                    ASSERT_LE(std::fabs(back[size_t(b) * 32 + i] - xb[i]), bound * 1.0001 + 1e-7)
                        << type_name(t) << " block " << b << " elem " << i;
            }
        }
    }
}

TEST(Quant, BadRowsAreErrors) {
    float x[64] = {};
    uint8_t y[256];
    EXPECT_THROW(quantize_row(PA_TYPE_Q8_0, x, y, 31), error);
    EXPECT_THROW(dequantize_row(PA_TYPE_Q4_0, y, x, 48), error);
    EXPECT_THROW(quantize_row(PA_TYPE_I32, x, y, 4), error);
    EXPECT_THROW(dequantize_row(PA_TYPE_I32, y, x, 4), error);
}

} // namespace
} // namespace pa
