// types.h - element types, GGUF block layouts, fp16 conversion, row (de)quantization.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pa/pa_tensor.h"

namespace pa {

// GGUF block layouts (32 elements a block):
//   Q8_0: { f16 d; int8 qs[32]; }        x = d * qs[i]
//   Q4_0: { f16 d; uint8 qs[16]; }       x = d * (nibble - 8); low nibbles are elements 0..15,
//                                         high nibbles 16..31
//   Q4_1: { f16 d; f16 m; uint8 qs[16]; } x = d * nibble + m; nibble order as Q4_0
inline constexpr int64_t quant_block_elems = 32;

struct block_q8_0 {
    uint16_t d;
    int8_t qs[32];
};
struct block_q4_0 {
    uint16_t d;
    uint8_t qs[16];
};
struct block_q4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[16];
};
static_assert(sizeof(block_q8_0) == 34 && sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20);

struct type_traits {
    std::string_view name;
    int64_t block_elems; // 1 for plain types
    size_t block_bytes;  // bytes of one block (or element)
    bool quantized;
};

bool type_is_valid(int id); // one of the pa_type values we support
inline bool type_is_float(pa_type t) {
    return t == PA_TYPE_F32 || t == PA_TYPE_F16;
}
const type_traits& traits(pa_type t);                     // throws pa::error for an invalid type
std::string_view type_name(pa_type t);                    // "?" for an invalid type
bool type_from_name(std::string_view name, pa_type& out); // "f32", "q4_0", ... (case-insensitive)

// Bytes of a row of n elements; n must be a multiple of the block size (checked by callers).
size_t row_size(pa_type t, int64_t n);

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f); // round to nearest even; overflow -> inf, NaN kept

// Row conversions. n must be a multiple of the type's block size.
void dequantize_row(pa_type t, const void* src, float* dst, int64_t n); // any type except I32
void quantize_row(pa_type t, const float* src, void* dst, int64_t n);   // any type except I32

} // namespace pa
