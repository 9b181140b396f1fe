// session_options.h - options shared by the commands that run a model (`pa run`,
// `pa perplexity`, `pa eval`): attention mode, proxy flags, context, batch, KV type; plus a JSON
// string escaper, a text file reader, the usage text and the -p/-f text of such commands.
#pragma once

#include <string>
#include <string_view>

#include "cli.h"
#include "session.h"

namespace pa::cli {

// Followed by proxy_option_help (proxy_options.h) in usage texts.
inline constexpr const char* session_option_help =
    "  --attn MODE        dense | proxy (default proxy: prefill chunks that attend to at least\n"
    "                     --proxy-min-len keys use proxy_sparse_attn; the rest and decoding stay dense)\n"
    "  --proxy-min-len L  keys (n_past + chunk) from which prefill uses proxy attention (default 4096)\n"
    "  --batch B          tokens per prefill graph\n"
    "  --kv-type T        f16 | f32 KV cache (default f16)\n"
    "  --decode-span S    decoding reuses one graph for S positions (default 256; 0: a graph per token)\n";

model::attn_mode parse_attn_mode(const std::string& s); // dense | proxy

// Reads --attn (when read_attn), --proxy-min-len, the proxy flags, --batch (default_batch),
// --kv-type.
model::session_options session_options_from(args& a, int default_batch, bool read_attn = true);

std::string json_escape(std::string_view s); // quoted JSON string
std::string read_text_file(const std::string& path);

// head followed by the help of the session, proxy and device options (what a command that runs
// a model takes).
std::string session_usage(std::string head);

// -p TEXT and -f FILE, the two ways to give a command its text; each command says which
// combinations it takes.
struct text_source {
    bool has_text = false; // -p was given (an empty TEXT counts)
    std::string text;      // -p's TEXT
    std::string file;      // -f's FILE, "" when not given
    bool given() const { return has_text || !file.empty(); }
    std::string read() const { return has_text ? text : read_text_file(file); } // -p's, else the file's
};
text_source text_source_from(args& a);

} // namespace pa::cli
