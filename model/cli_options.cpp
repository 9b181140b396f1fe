// cli_options.cpp - see cli_options.h.
#include "cli_options.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "unicode.h"

namespace pa::model {

attn_mode parse_attn_mode(const std::string& s) {
    if (s == "dense") return attn_mode::dense;
    if (s == "proxy") return attn_mode::proxy;
    throw error(fmt::format("--attn: '{}' is not dense or proxy", s));
}

std::string json_escape(std::string_view s) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size();) {
        uint32_t cp;
        const size_t n = utf8_decode(s, i, cp); // invalid bytes (a token cut inside a character) -> U+FFFD
        switch (cp) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (cp < 0x20) out += fmt::format("\\u{:04x}", cp);
            else utf8_append(out, cp);
        }
        i += n;
    }
    return out + "\"";
}

std::string read_text_file(const std::string& path) {
    struct closer {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, closer> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    std::string text;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
    if (std::ferror(f.get())) throw error(fmt::format("{}: read failed", path));
    return text;
}

} // namespace pa::model
