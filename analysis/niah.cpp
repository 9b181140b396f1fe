// niah.cpp - see niah.h.
#include "niah.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "pa/error.h"

namespace pa::analysis {
namespace {

uint64_t splitmix64(uint64_t& s) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

// Length of a closing quote or bracket at text[i] (ASCII or the UTF-8 right quotes), 0 if none.
size_t closer_at(std::string_view text, size_t i) {
    const char c = text[i];
    if (c == '"' || c == '\'' || c == ')' || c == ']') return 1;
    if (text.substr(i, 3) == "\xE2\x80\x9D" || text.substr(i, 3) == "\xE2\x80\x99") return 3; // ” ’
    return 0;
}

std::string normalize_newlines(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i)
        if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) out += s[i];
    return out;
}

} // namespace

std::vector<size_t> sentence_starts(std::string_view text) {
    std::vector<size_t> starts{0};
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '.' && text[i] != '!' && text[i] != '?') continue;
        size_t j = i + 1;
        while (j < text.size()) {
            const size_t n = closer_at(text, j);
            if (n == 0) break;
            j += n;
        }
        if (j >= text.size() || !is_space(text[j])) continue;
        while (j < text.size() && is_space(text[j]))
            ++j;
        if (j < text.size() && j > starts.back()) starts.push_back(j);
        i = j - 1;
    }
    return starts;
}

std::vector<double> even_depths(int n) {
    if (n <= 1) return {0.5};
    std::vector<double> d;
    for (int i = 0; i < n; ++i)
        d.push_back(double(i) / double(n - 1));
    return d;
}

niah_builder::niah_builder(std::string_view haystack, text_codec codec, prompt_formatter format,
                           niah_options o)
    : codec_(std::move(codec)), format_(std::move(format)), opt_(std::move(o)) {
    if (opt_.n_tokens <= 0)
        throw error(fmt::format("needle in a haystack: {} tokens is not a length", opt_.n_tokens));
    if (opt_.digits < 1 || opt_.digits > 18)
        throw error(fmt::format("needle in a haystack: {} digits (1 to 18)", opt_.digits));
    if (opt_.needle.find("{}") == std::string::npos)
        throw error(
            fmt::format("needle in a haystack: the needle '{}' has no {{}} for the number", opt_.needle));
    hay_ = codec_.encode(normalize_newlines(haystack));
    if (int64_t(hay_.size()) < opt_.n_tokens)
        throw error(
            fmt::format("needle in a haystack: the text has {} tokens, fewer than the {} of one prompt "
                        "(give a longer text or fewer tokens)",
                        hay_.size(), opt_.n_tokens));
}

std::string niah_builder::needle_sentence(const std::string& number) const {
    std::string s = opt_.needle;
    s.replace(s.find("{}"), 2, number);
    return s;
}

std::string niah_builder::haystack_text(int64_t offset, int64_t n) const {
    if (n <= 0) return "";
    const std::string raw = codec_.decode(std::span<const int32_t>(hay_).subspan(size_t(offset), size_t(n)));
    const std::vector<size_t> starts = sentence_starts(raw);
    // a window that does not start at the text's beginning starts at its first whole sentence
    const size_t begin = offset == 0 ? 0 : (starts.size() > 1 ? starts[1] : raw.size());
    // ... and ends with its last whole sentence: before the last sentence start, unless the
    // window ends the text
    size_t end = raw.size();
    if (offset + n < int64_t(hay_.size())) end = starts.back() > begin ? starts.back() : begin;
    while (end > begin && is_space(raw[end - 1]))
        --end;
    return raw.substr(begin, end - begin);
}

std::string niah_builder::user_message(const std::string& hay, double depth, const std::string& needle,
                                       size_t* needle_at) const {
    std::string body;
    if (hay.empty()) {
        body = needle;
        *needle_at = 0;
    } else {
        std::vector<size_t> at = sentence_starts(hay);
        at.push_back(hay.size());
        const double want = depth * double(hay.size());
        size_t best = at.front();
        for (size_t a : at)
            if (std::abs(double(a) - want) < std::abs(double(best) - want)) best = a;
        if (best == 0) {
            body = needle + " " + hay;
        } else if (best == hay.size()) {
            body = hay + " " + needle;
            best = hay.size() + 1;
        } else {
            body = hay.substr(0, best) + needle + " " + hay.substr(best);
        }
        *needle_at = best;
    }
    return (opt_.preamble.empty() ? "" : opt_.preamble + "\n\n") + body + "\n\n" + opt_.question;
}

niah_prompt niah_builder::build(double depth, int trial) const {
    if (!(depth >= 0.0 && depth <= 1.0))
        throw error(fmt::format("needle in a haystack: depth {} is not in [0, 1]", depth));
    uint64_t state = opt_.seed ^ (0x5851f42d4c957f2dull * (uint64_t(trial) + 1));
    niah_prompt p;
    p.depth = depth;
    p.trial = trial;
    p.number = std::to_string(1 + splitmix64(state) % 9);
    for (int i = 1; i < opt_.digits; ++i)
        p.number += char('0' + splitmix64(state) % 10);
    const std::string needle = needle_sentence(p.number);

    // Room for re-tokenization: decoded text may encode into a few more or fewer tokens.
    const int64_t total = int64_t(hay_.size()), target = opt_.n_tokens;
    const int64_t cap = std::min(total, target + target / 8 + 16);
    p.haystack_offset = int64_t(splitmix64(state) % uint64_t(total - cap + 1));

    struct candidate {
        std::string text, hay;
        size_t needle_at = 0;
        int64_t tokens = 0;
    };
    const auto make = [&](int64_t n) {
        candidate c;
        c.hay = haystack_text(p.haystack_offset, n);
        c.text = format_(user_message(c.hay, depth, needle, &c.needle_at));
        if (!opt_.answer_prefix.empty() && !c.text.empty() && !is_space(c.text.back())) c.text += ' ';
        c.text += opt_.answer_prefix;
        c.tokens = codec_.prefix_tokens + int64_t(codec_.encode(c.text).size());
        return c;
    };
    candidate best = make(0);
    if (best.tokens > target)
        throw error(
            fmt::format("needle in a haystack: the needle, question and prompt format alone take {} tokens, "
                        "more than the {} asked for",
                        best.tokens, target));
    // the longest window whose prompt fits (prompt length grows with the window, by sentences)
    int64_t lo = 0, hi = cap;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo + 1) / 2;
        candidate c = make(mid);
        if (c.tokens <= target) {
            lo = mid;
            if (c.tokens >= best.tokens) best = std::move(c);
        } else {
            hi = mid - 1;
        }
    }
    p.text = std::move(best.text);
    p.n_tokens = best.tokens;
    p.depth_actual = best.hay.empty() ? 0.0 : std::min(1.0, double(best.needle_at) / double(best.hay.size()));
    const size_t in_text = p.text.find(needle);
    p.needle_token =
        codec_.prefix_tokens + int64_t(codec_.encode(std::string_view(p.text).substr(0, in_text)).size());
    return p;
}

} // namespace pa::analysis
