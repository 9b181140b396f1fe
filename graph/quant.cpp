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
        throw error(fmt::format("{} row of {} elements is not a whole number of {}-element blocks",
                                type_name(t), n, quant_block_elems));
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

void quantize_block(const float* x, block_q8_0& y) {
    const float d = max_abs(x, 32) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = fp32_to_fp16(d);
    for (int i = 0; i < 32; ++i)
        y.qs[i] = static_cast<int8_t>(std::lround(x[i] * id));
}

void quantize_block(const float* x, block_q4_0& y) {
    // the element of largest magnitude maps to -8, so the full [-8, 7] range is used
    float vmax = 0.0f;
    max_abs(x, 32, &vmax);
    const float d = vmax / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = fp32_to_fp16(d);
    for (int i = 0; i < 16; ++i) {
        const int lo = to_nibble(x[i] * id + 8.5f);
        const int hi = to_nibble(x[i + 16] * id + 8.5f);
        y.qs[i] = static_cast<uint8_t>(lo | (hi << 4));
    }
}

void quantize_block(const float* x, block_q4_1& y) {
    const float lo = *std::min_element(x, x + 32);
    const float hi = *std::max_element(x, x + 32);
    const float d = (hi - lo) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = fp32_to_fp16(d);
    y.m = fp32_to_fp16(lo);
    for (int i = 0; i < 16; ++i) {
        const int a = to_nibble((x[i] - lo) * id + 0.5f);
        const int c = to_nibble((x[i + 16] - lo) * id + 0.5f);
        y.qs[i] = static_cast<uint8_t>(a | (c << 4));
    }
}

template <class Block> void quantize_blocks(pa_type t, const float* src, void* dst, int64_t n) {
    check_blocks(t, n);
    auto* b = static_cast<Block*>(dst);
    for (int64_t k = 0; k < n / quant_block_elems; ++k)
        quantize_block(src + k * quant_block_elems, b[k]);
}

void dequantize_block(const block_q8_0& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int i = 0; i < 32; ++i)
        y[i] = d * b.qs[i];
}

void dequantize_block(const block_q4_0& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int i = 0; i < 16; ++i) {
        y[i] = d * (float((b.qs[i] & 0x0f)) - 8.0f);
        y[i + 16] = d * (float((b.qs[i] >> 4)) - 8.0f);
    }
}

void dequantize_block(const block_q4_1& b, float* y) {
    const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
    for (int i = 0; i < 16; ++i) {
        y[i] = d * float(b.qs[i] & 0x0f) + m;
        y[i + 16] = d * float(b.qs[i] >> 4) + m;
    }
}

template <class Block> void dequantize_blocks(pa_type t, const void* src, float* dst, int64_t n) {
    check_blocks(t, n);
    const auto* b = static_cast<const Block*>(src);
    for (int64_t k = 0; k < n / quant_block_elems; ++k)
        dequantize_block(b[k], dst + k * quant_block_elems);
}

void dequantize_f32(pa_type, const void* src, float* dst, int64_t n) {
    std::memcpy(dst, src, size_t(n) * 4);
}
void quantize_f32(pa_type, const float* src, void* dst, int64_t n) {
    std::memcpy(dst, src, size_t(n) * 4);
}

void dequantize_f16(pa_type, const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i)
        dst[i] = fp16_to_fp32(h[i]);
}
void quantize_f16(pa_type, const float* src, void* dst, int64_t n) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i)
        h[i] = fp32_to_fp16(src[i]);
}

// Row conversions of one type, to and from float.
struct row_codec {
    void (*to_float)(pa_type t, const void* src, float* dst, int64_t n);
    void (*from_float)(pa_type t, const float* src, void* dst, int64_t n);
};

const row_codec* codec_of(pa_type t) {
    static constexpr row_codec f32{dequantize_f32, quantize_f32}, f16{dequantize_f16, quantize_f16},
        q8_0{dequantize_blocks<block_q8_0>, quantize_blocks<block_q8_0>},
        q4_0{dequantize_blocks<block_q4_0>, quantize_blocks<block_q4_0>},
        q4_1{dequantize_blocks<block_q4_1>, quantize_blocks<block_q4_1>};
    switch (t) {
    case PA_TYPE_F32:
        return &f32;
    case PA_TYPE_F16:
        return &f16;
    case PA_TYPE_Q8_0:
        return &q8_0;
    case PA_TYPE_Q4_0:
        return &q4_0;
    case PA_TYPE_Q4_1:
        return &q4_1;
    default:
        return nullptr;
    }
}

} // namespace

void dequantize_row(pa_type t, const void* src, float* dst, int64_t n) {
    const row_codec* c = codec_of(t);
    if (!c) throw error(fmt::format("cannot dequantize type {}", type_name(t)), PA_ERR_UNSUPPORTED);
    c->to_float(t, src, dst, n);
}

void quantize_row(pa_type t, const float* src, void* dst, int64_t n) {
    const row_codec* c = codec_of(t);
    if (!c) throw error(fmt::format("cannot quantize to type {}", type_name(t)), PA_ERR_UNSUPPORTED);
    c->from_float(t, src, dst, n);
}

} // namespace pa
