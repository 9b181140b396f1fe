// ptx_register_cap.cpp - .maxnreg on every kernel entry of a PTX text (see the header).
#include "ptx_register_cap.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace pa::ocl {
namespace {

bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Position of the next ".entry" that stands as a word at or after from; npos when none.
size_t next_entry(std::string_view text, size_t from) {
    constexpr std::string_view word = ".entry";
    for (size_t at = text.find(word, from); at != std::string_view::npos; at = text.find(word, at + 1)) {
        const bool starts = at == 0 || is_space(text[at - 1]);
        const size_t end = at + word.size();
        if (starts && end < text.size() && is_space(text[end])) return at;
    }
    return std::string_view::npos;
}

} // namespace

int register_cap_of(std::string_view options) {
    const std::string flag = fmt::format("{}=", register_cap_option);
    int cap = 0;
    for (size_t at = options.find(flag); at != std::string_view::npos; at = options.find(flag, at + 1)) {
        const char* first = options.data() + at + flag.size();
        const char* last = options.data() + options.size();
        int value = 0;
        const auto [end, ec] = std::from_chars(first, last, value);
        const bool whole = ec == std::errc() && (end == last || is_space(*end));
        cap = whole && value > 0 ? value : 0;
    }
    return cap;
}

std::optional<std::string> ptx_with_register_cap(std::string_view ptx, int cap) {
    if (cap <= 0) return std::nullopt;
    size_t body_end = ptx.size();
    while (body_end > 0 && ptx[body_end - 1] == '\0')
        --body_end;
    const std::string_view text = ptx.substr(0, body_end);
    const std::string directive = fmt::format(".maxnreg {}", cap);
    std::string out;
    out.reserve(ptx.size() + 64);
    size_t copied = 0;
    int entries = 0;
    for (size_t at = next_entry(text, 0); at != std::string_view::npos; at = next_entry(text, at + 1)) {
        const size_t open = text.find('(', at);
        const size_t close = open == std::string_view::npos ? open : text.find(')', open);
        const size_t body = close == std::string_view::npos ? close : text.find('{', close);
        if (body == std::string_view::npos) return std::nullopt; // cut short
        const std::string_view between = text.substr(close + 1, body - close - 1);
        if (between.find(';') != std::string_view::npos) continue; // a declaration, no body
        // between holds the entry's directives (.reqntid, .maxntid, ...): replace a .maxnreg there
        if (const size_t old = between.find(".maxnreg"); old != std::string_view::npos) {
            size_t num_end = old + std::string_view(".maxnreg").size();
            while (num_end < between.size() &&
                   (is_space(between[num_end]) || std::isdigit(static_cast<unsigned char>(between[num_end]))))
                ++num_end;
            out.append(text, copied, close + 1 + old - copied);
            out += directive;
            out += '\n';
            copied = close + 1 + num_end;
        } else {
            out.append(text, copied, body - copied);
            out += directive;
            out += '\n';
            copied = body;
        }
        ++entries;
    }
    if (entries == 0) return std::nullopt;
    out.append(ptx, copied, std::string_view::npos); // the rest, trailing NULs included
    return out;
}

} // namespace pa::ocl
