// unicode.cpp - UTF-8, categories and the GPT-2 byte alphabet (see unicode.h).
#include "unicode.h"

#include <algorithm>
#include <array>

namespace pa::model {
namespace {

constexpr uint32_t replacement_char = 0xFFFD;

bool in_ranges(const cp_range* r, size_t n, uint32_t cp) {
    const cp_range* end = r + n;
    const cp_range* it = std::upper_bound(r, end, cp, [](uint32_t c, const cp_range& x) { return c < x.first; });
    return it != r && cp <= (it - 1)->last;
}

// GPT-2's alphabet: printable Latin-1 bytes map to themselves, the other 68 bytes to 256, 257, ...
// in byte order, so every byte has a visible, non-space codepoint.
struct byte_alphabet {
    std::array<uint32_t, 256> to_cp{};
    std::array<int16_t, 512> to_byte{};
    byte_alphabet() {
        to_byte.fill(-1);
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            to_cp[b] = printable ? uint32_t(b) : next++;
            to_byte[to_cp[b]] = int16_t(b);
        }
    }
};

const byte_alphabet& alphabet() {
    static const byte_alphabet a;
    return a;
}

} // namespace

size_t utf8_len(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if ((lead & 0xF8) == 0xF0) return 4;
    return 1;
}

size_t utf8_decode(std::string_view s, size_t i, uint32_t& cp) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const size_t n = utf8_len(b0);
    if (n == 1) {
        cp = b0 < 0x80 ? b0 : replacement_char;
        return 1;
    }
    if (i + n > s.size()) {
        cp = replacement_char;
        return 1;
    }
    uint32_t v = b0 & (0xFF >> (n + 1));
    for (size_t k = 1; k < n; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            cp = replacement_char;
            return 1;
        }
        v = (v << 6) | (b & 0x3F);
    }
    cp = v;
    return n;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

std::vector<uint32_t> utf8_to_codepoints(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        uint32_t cp;
        i += utf8_decode(s, i, cp);
        out.push_back(cp);
    }
    return out;
}

bool is_letter(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return in_ranges(unicode_tables::letters, unicode_tables::letters_count, cp);
}

bool is_number(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return in_ranges(unicode_tables::numbers, unicode_tables::numbers_count, cp);
}

bool is_whitespace(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

uint32_t byte_to_codepoint(uint8_t b) { return alphabet().to_cp[b]; }

int codepoint_to_byte(uint32_t cp) { return cp < 512 ? alphabet().to_byte[cp] : -1; }

} // namespace pa::model
