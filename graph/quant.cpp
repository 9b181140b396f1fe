// quant.cpp - row quantization and dequantization for the GGUF block types.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "pa/error.h"
#include "pa/types.h"

namespace pa {
namespace {

void check_blocks(pa_type t, int64_t n) {
    if (n % quant_block_elems != 0)
        throw error(fmt::format("{} row of {} elements is not a whole number of {}-element blocks", type_name(t),
                                n, quant_block_elems));
}

float max_abs(const float* x, int64_t n, float* signed_max = nullptr) {
    float amax = 0.0f, vmax = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            vmax = x[i];
        }
    }
    if (signed_max) *signed_max = vmax;
    return amax;
}

// v rounded down and clamped to a 4-bit code. NaN (a NaN input, or 0 * inf when a subnormal
// scale makes 1/d overflow) becomes 0: converting NaN or inf to int is undefined behaviour.
int to_nibble(float v) {
    if (!(v >= 0.0f)) return 0;
    return v < 15.0f ? static_cast<int>(v) : 15;
}

void quantize_q8_0(const float* x, block_q8_0* y, int64_t nb) {
    for (int64_t b = 0; b < nb; ++b, x += 32) {
        const float d = max_abs(x, 32) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int i = 0; i < 32; ++i) y[b].qs[i] = static_cast<int8_t>(std::lround(x[i] * id));
    }
}

void quantize_q4_0(const float* x, block_q4_0* y, int64_t nb) {
    for (int64_t b = 0; b < nb; ++b, x += 32) {
        // the element of largest magnitude maps to -8, so the full [-8, 7] range is used
        float vmax = 0.0f;
        max_abs(x, 32, &vmax);
        const float d = vmax / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int i = 0; i < 16; ++i) {
            const int lo = to_nibble(x[i] * id + 8.5f);
            const int hi = to_nibble(x[i + 16] * id + 8.5f);
            y[b].qs[i] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
}

void quantize_q4_1(const float* x, block_q4_1* y, int64_t nb) {
    for (int64_t b = 0; b < nb; ++b, x += 32) {
        const float lo = *std::min_element(x, x + 32);
        const float hi = *std::max_element(x, x + 32);
        const float d = (hi - lo) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        y[b].m = fp32_to_fp16(lo);
        for (int i = 0; i < 16; ++i) {
            const int a = to_nibble((x[i] - lo) * id + 0.5f);
            const int c = to_nibble((x[i + 16] - lo) * id + 0.5f);
            y[b].qs[i] = static_cast<uint8_t>(a | (c << 4));
        }
    }
}

} // namespace

void dequantize_row(pa_type t, const void* src, float* dst, int64_t n) {
    switch (t) {
    case PA_TYPE_F32: std::memcpy(dst, src, size_t(n) * 4); return;
    case PA_TYPE_F16: {
        const auto* h = static_cast<const uint16_t*>(src);
        for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
        return;
    }
    case PA_TYPE_Q8_0: {
        check_blocks(t, n);
        const auto* b = static_cast<const block_q8_0*>(src);
        for (int64_t k = 0; k < n / 32; ++k) {
            const float d = fp16_to_fp32(b[k].d);
            for (int i = 0; i < 32; ++i) dst[k * 32 + i] = d * b[k].qs[i];
        }
        return;
    }
    case PA_TYPE_Q4_0: {
        check_blocks(t, n);
        const auto* b = static_cast<const block_q4_0*>(src);
        for (int64_t k = 0; k < n / 32; ++k) {
            const float d = fp16_to_fp32(b[k].d);
            for (int i = 0; i < 16; ++i) {
                dst[k * 32 + i] = d * (float((b[k].qs[i] & 0x0f)) - 8.0f);
                dst[k * 32 + i + 16] = d * (float((b[k].qs[i] >> 4)) - 8.0f);
            }
        }
        return;
    }
    case PA_TYPE_Q4_1: {
        check_blocks(t, n);
        const auto* b = static_cast<const block_q4_1*>(src);
        for (int64_t k = 0; k < n / 32; ++k) {
            const float d = fp16_to_fp32(b[k].d), m = fp16_to_fp32(b[k].m);
            for (int i = 0; i < 16; ++i) {
                dst[k * 32 + i] = d * float(b[k].qs[i] & 0x0f) + m;
                dst[k * 32 + i + 16] = d * float(b[k].qs[i] >> 4) + m;
            }
        }
        return;
    }
    default: throw error(fmt::format("cannot dequantize type {}", type_name(t)), PA_ERR_UNSUPPORTED);
    }
}

void quantize_row(pa_type t, const float* src, void* dst, int64_t n) {
    switch (t) {
    case PA_TYPE_F32: std::memcpy(dst, src, size_t(n) * 4); return;
    case PA_TYPE_F16: {
        auto* h = static_cast<uint16_t*>(dst);
        for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
        return;
    }
    case PA_TYPE_Q8_0: check_blocks(t, n); quantize_q8_0(src, static_cast<block_q8_0*>(dst), n / 32); return;
    case PA_TYPE_Q4_0: check_blocks(t, n); quantize_q4_0(src, static_cast<block_q4_0*>(dst), n / 32); return;
    case PA_TYPE_Q4_1: check_blocks(t, n); quantize_q4_1(src, static_cast<block_q4_1*>(dst), n / 32); return;
    default: throw error(fmt::format("cannot quantize to type {}", type_name(t)), PA_ERR_UNSUPPORTED);
    }
}

} // namespace pa
