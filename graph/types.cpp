// types.cpp - type table and fp16 conversion.
#include "pa/types.h"

#include <cctype>
#include <cstring>
#include <fmt/format.h>

#include "pa/error.h"

namespace pa {
namespace {

struct type_entry { pa_type type; type_traits tr; };

constexpr type_entry type_table[] = {
    {PA_TYPE_F32, {"f32", 1, 4, false}},
    {PA_TYPE_F16, {"f16", 1, 2, false}},
    {PA_TYPE_Q4_0, {"q4_0", quant_block_elems, sizeof(block_q4_0), true}},
    {PA_TYPE_Q4_1, {"q4_1", quant_block_elems, sizeof(block_q4_1), true}},
    {PA_TYPE_Q8_0, {"q8_0", quant_block_elems, sizeof(block_q8_0), true}},
    {PA_TYPE_I32, {"i32", 1, 4, false}},
};

const type_entry* find_entry(int id) {
    for (const auto& e : type_table)
        if (e.type == id) return &e;
    return nullptr;
}

} // namespace

bool type_is_valid(int id) { return find_entry(id) != nullptr; }

const type_traits& traits(pa_type t) {
    const type_entry* e = find_entry(t);
    if (!e) throw error(fmt::format("unsupported tensor type id {}", int(t)), PA_ERR_UNSUPPORTED);
    return e->tr;
}

std::string_view type_name(pa_type t) {
    const type_entry* e = find_entry(t);
    return e ? e->tr.name : std::string_view("?");
}

bool type_from_name(std::string_view name, pa_type& out) {
    for (const auto& e : type_table) {
        if (e.tr.name.size() != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < name.size(); ++i)
            same &= std::tolower(static_cast<unsigned char>(name[i])) == e.tr.name[i];
        if (same) {
            out = e.type;
            return true;
        }
    }
    return false;
}

size_t row_size(pa_type t, int64_t n) {
    const type_traits& tr = traits(t);
    return static_cast<size_t>(n / tr.block_elems) * tr.block_bytes;
}

float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ffu;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t fp32_to_fp16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
    const uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) // inf or NaN (keep a quiet NaN)
        return uint16_t(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
    if (abs >= 0x477ff000u) // rounds to >= 65520: overflow to inf
        return uint16_t(sign | 0x7c00u);
    if (abs < 0x38800000u) { // below the smallest normal half: subnormal or zero
        if (abs < 0x33000000u) return sign; // < 2^-25 rounds to 0
        const uint32_t exp = abs >> 23;
        const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - exp; // 14 + (113 - exp) + ... so that result = mant >> (shift - ...)
        // value = mant * 2^(exp-150); half subnormal unit = 2^-24 -> q = mant * 2^(exp-126)
        const uint32_t rshift = shift; // 126 - exp in [14, 24]
        uint32_t q = mant >> rshift;
        const uint32_t rem = mant & ((1u << rshift) - 1);
        const uint32_t halfway = 1u << (rshift - 1);
        if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
        return uint16_t(sign | q);
    }
    // normal: rebias exponent, round mantissa to 10 bits (nearest even)
    uint32_t h = ((abs - 0x38000000u) >> 13);
    const uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return uint16_t(sign | h);
}

} // namespace pa
