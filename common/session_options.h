// session_options.h - options shared by the commands that run a model (`pa run`,
// `pa perplexity`, `pa eval`): attention mode, proxy flags, context, batch, KV type; plus a JSON
// string escaper and a text file reader.
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
    "  --kv-type T        f16 | f32 KV cache (default f16)\n";

model::attn_mode parse_attn_mode(const std::string& s); // dense | proxy

// Reads --attn (when read_attn), --proxy-min-len, the proxy flags, --batch (default_batch),
// --kv-type.
model::session_options session_options_from(args& a, int default_batch, bool read_attn = true);

std::string json_escape(std::string_view s); // quoted JSON string
std::string read_text_file(const std::string& path);

} // namespace pa::cli
