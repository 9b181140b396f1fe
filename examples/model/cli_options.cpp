// cli_options.cpp - see cli_options.h.
#include "cli_options.h"

#include <cstdio>
#include <cstring>
#include <memory>

namespace pa::model {

attn_mode parse_attn_mode(const std::string& s) {
    if (s == "dense") return attn_mode::dense;
    if (s == "proxy") return attn_mode::proxy;
    throw error(fmt::format("--attn: '{}' is not dense or proxy", s));
}

std::string json_escape(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) out += fmt::format("\\u{:04x}", c);
            else out += char(c);
        }
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
