// unicode.h - the little Unicode the tokenizers need: UTF-8 decoding and encoding, the
// general categories L and N, White_Space, and GPT-2's byte <-> codepoint mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pa::model {

struct cp_range {
    uint32_t first, last;
};

namespace unicode_tables {
extern const cp_range letters[];
extern const size_t letters_count;
extern const cp_range numbers[];
extern const size_t numbers_count;
} // namespace unicode_tables

// Decodes one codepoint at s[i]; returns its byte length (>= 1). Invalid bytes decode as
// U+FFFD with length 1, so every byte is consumed exactly once.
size_t utf8_decode(std::string_view s, size_t i, uint32_t& cp);
size_t utf8_len(unsigned char lead); // 1..4 from the lead byte (1 for invalid leads)
void utf8_append(std::string& out, uint32_t cp);
std::vector<uint32_t> utf8_to_codepoints(std::string_view s);

bool is_letter(uint32_t cp);     // \p{L}
bool is_number(uint32_t cp);     // \p{N}
bool is_whitespace(uint32_t cp); // \s (Unicode White_Space)

// GPT-2 byte-level BPE alphabet: each byte maps to a printable codepoint.
uint32_t byte_to_codepoint(uint8_t b);
int codepoint_to_byte(uint32_t cp); // -1 if cp is not in the alphabet

} // namespace pa::model
