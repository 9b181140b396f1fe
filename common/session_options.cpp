// session_options.cpp - see session_options.h.
#include "session_options.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "pa/error.h"
#include "proxy_options.h"
#include "unicode.h"

namespace pa::cli {

model::attn_mode parse_attn_mode(const std::string& s) {
    if (s == "dense") return model::attn_mode::dense;
    if (s == "proxy") return model::attn_mode::proxy;
    throw error(fmt::format("--attn: '{}' is not dense or proxy", s));
}

model::session_options session_options_from(args& a, int default_batch, bool read_attn) {
    model::session_options o;
    if (read_attn) o.attn = parse_attn_mode(a.str("--attn", "proxy"));
    o.proxy_min_len = a.i64("--proxy-min-len", 4096);
    o.proxy = proxy_params_from(a, o.proxy);
    o.n_batch = int(a.i64("--batch", default_batch));
    const int64_t span = a.i64("--decode-span", o.decode_span);
    if (span < 0 || span > model::max_ctx)
        throw error(fmt::format("--decode-span {} is outside 0..{}", span, model::max_ctx));
    o.decode_span = int(span);
    const std::string kv = a.str("--kv-type", "f16");
    if (kv == "f16")
        o.kv_type = PA_TYPE_F16;
    else if (kv == "f32")
        o.kv_type = PA_TYPE_F32;
    else
        throw error(fmt::format("--kv-type: '{}' is not f16 or f32", kv));
    if (o.n_batch <= 0) throw error(fmt::format("--batch {} must be > 0", o.n_batch));
    return o;
}

std::string json_escape(std::string_view s) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size();) {
        uint32_t cp;
        const size_t n =
            model::utf8_decode(s, i, cp); // invalid bytes (a token cut inside a character) -> U+FFFD
        switch (cp) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (cp < 0x20)
                out += fmt::format("\\u{:04x}", cp);
            else
                model::utf8_append(out, cp);
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
    while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0)
        text.append(buf, n);
    if (std::ferror(f.get())) throw error(fmt::format("{}: read failed", path));
    return text;
}

std::string session_usage(std::string head) {
    return head + session_option_help + proxy_option_help + device_options;
}

text_source text_source_from(args& a) {
    text_source t;
    t.has_text = a.has("-p");
    t.text = t.has_text ? a.str("-p", "") : "";
    t.file = a.str("-f", "");
    return t;
}

} // namespace pa::cli
