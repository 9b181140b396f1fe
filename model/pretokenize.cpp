// pretokenize.cpp - hand-written equivalents of the pre-tokenizer regexes in pretokenize.h.
// Each matcher returns the end of the word that starts at i, trying the regex alternatives
// in their order, so the result is what the leftmost-first regex engine would return.
#include "pretokenize.h"

#include "unicode.h"

namespace pa::model {
namespace {

class scanner {
public:
    explicit scanner(std::string_view text) : text_(text) {
        for (size_t i = 0; i < text.size();) {
            uint32_t cp;
            const size_t n = utf8_decode(text, i, cp);
            cps_.push_back(cp);
            offs_.push_back(i);
            i += n;
        }
        offs_.push_back(text.size());
    }
    size_t size() const { return cps_.size(); }
    uint32_t cp(size_t i) const { return cps_[i]; }
    bool L(size_t i, size_t e) const { return i < e && is_letter(cps_[i]); }
    bool N(size_t i, size_t e) const { return i < e && is_number(cps_[i]); }
    bool S(size_t i, size_t e) const { return i < e && is_whitespace(cps_[i]); }
    bool other(size_t i, size_t e) const { return i < e && !is_whitespace(cps_[i]) && !is_letter(cps_[i]) && !is_number(cps_[i]); }
    bool newline(size_t i, size_t e) const { return i < e && (cps_[i] == '\r' || cps_[i] == '\n'); }
    std::string_view piece(size_t b, size_t e) const { return text_.substr(offs_[b], offs_[e] - offs_[b]); }

private:
    std::string_view text_;
    std::vector<uint32_t> cps_;
    std::vector<size_t> offs_;
};

uint32_t lower_ascii(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// 's 't 're 've 'm 'll 'd at i; returns the end or i if none.
size_t contraction(const scanner& s, size_t i, size_t e, bool any_case) {
    if (s.cp(i) != '\'' || i + 1 >= e) return i;
    auto at = [&](size_t k) { return k < e ? (any_case ? lower_ascii(s.cp(k)) : s.cp(k)) : 0u; };
    const uint32_t a = at(i + 1), b = at(i + 2);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    return i;
}

// \s+(?!\S) then \s+, for a whitespace run starting at i.
size_t whitespace_run(const scanner& s, size_t i, size_t e) {
    size_t j = i;
    while (s.S(j, e)) ++j;
    if (j == e || j - i < 2) return j; // at the end, or a lone space before a word (\s+)
    return j - 1;                      // leave the last one to prefix the next word
}

size_t match_gpt2(const scanner& s, size_t i, size_t e) {
    if (size_t k = contraction(s, i, e, false); k != i) return k;
    size_t k = s.cp(i) == ' ' ? i + 1 : i;
    if (s.L(k, e)) {
        while (s.L(k, e)) ++k;
        return k;
    }
    if (s.N(k, e)) {
        while (s.N(k, e)) ++k;
        return k;
    }
    if (s.other(k, e)) {
        while (s.other(k, e)) ++k;
        return k;
    }
    if (s.S(i, e)) return whitespace_run(s, i, e);
    return i + 1;
}

size_t match_llama3(const scanner& s, size_t i, size_t e, size_t max_digits) {
    if (size_t k = contraction(s, i, e, true); k != i) return k;
    const uint32_t c = s.cp(i);
    size_t k = i;
    if (s.L(i, e) || (c != '\r' && c != '\n' && !s.N(i, e) && s.L(i + 1, e))) { // [^\r\n\p{L}\p{N}]?\p{L}+
        k = i + 1;
        while (s.L(k, e)) ++k;
        return k;
    }
    if (s.N(i, e)) {
        while (s.N(k, e) && k - i < max_digits) ++k;
        return k;
    }
    k = c == ' ' ? i + 1 : i; // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if (s.other(k, e)) {
        while (s.other(k, e)) ++k;
        while (s.newline(k, e)) ++k;
        return k;
    }
    if (s.S(i, e)) {
        size_t j = i, last_nl = e;
        for (; s.S(j, e); ++j)
            if (s.newline(j, e)) last_nl = j;
        if (last_nl != e) return last_nl + 1; // \s*[\r\n]+
        return whitespace_run(s, i, e);
    }
    return i + 1;
}

void scan_range(const scanner& s, size_t b, size_t e, pre_style style, std::vector<std::string_view>& out) {
    for (size_t i = b; i < e;) {
        size_t j;
        switch (style) {
        case pre_style::llama3: j = match_llama3(s, i, e, 3); break;
        case pre_style::qwen2: j = match_llama3(s, i, e, 1); break;
        default: j = match_gpt2(s, i, e); break;
        }
        out.push_back(s.piece(i, j));
        i = j;
    }
}

} // namespace

pre_style pre_style_from_name(std::string_view name, bool* known) {
    if (known) *known = true;
    if (name == "smollm") return pre_style::smollm;
    if (name == "qwen2" || name == "deepseek-r1-qwen") return pre_style::qwen2;
    if (name == "llama3" || name == "llama-bpe" || name == "llama-v3") return pre_style::llama3;
    if (name == "gpt2" || name == "gpt-2" || name == "default" || name.empty()) return pre_style::gpt2;
    if (known) *known = false;
    return pre_style::gpt2;
}

std::vector<std::string_view> pretokenize(std::string_view text, pre_style style) {
    const scanner s(text);
    std::vector<std::string_view> out;
    if (style != pre_style::smollm) {
        scan_range(s, 0, s.size(), style, out);
        return out;
    }
    // smollm: digits are isolated words; gpt2 runs between them
    size_t b = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (!s.N(i, s.size())) continue;
        scan_range(s, b, i, pre_style::gpt2, out);
        out.push_back(s.piece(i, i + 1));
        b = i + 1;
    }
    scan_range(s, b, s.size(), pre_style::gpt2, out);
    return out;
}

} // namespace pa::model
