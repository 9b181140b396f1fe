// cli_options.h - options shared by `pa run` and `pa perplexity` (attention, proxy, context,
// batch, KV type), parsed from the CLI's argument object, plus a JSON string escaper. A
// template over the argument type, so pa_model does not depend on the CLI.
#pragma once

#include <fmt/format.h>
#include <string>

#include "pa/error.h"
#include "session.h"

namespace pa::model {

inline constexpr const char* session_option_help =
    "  --attn MODE        dense | proxy (default proxy: prefill chunks that attend to at least\n"
    "                     --proxy-min-len keys use proxy_sparse_attn; the rest and decoding stay dense)\n"
    "  --proxy-min-len L  keys (n_past + chunk) from which prefill uses proxy attention (default 4096)\n"
    "  --gamma G          proxy budget threshold (0.95)     --stride S   proxy stride (4)\n"
    "  --block B          proxy block size (128)            --proxy-heads g  proxy heads (1)\n"
    "  --min-tokens M     proxy budget floor in tokens (2048)\n"
    "  --batch B          tokens per prefill graph\n"
    "  --kv-type T        f16 | f32 KV cache (default f16)\n";

attn_mode parse_attn_mode(const std::string& s); // dense | proxy

// Reads --attn (unless attn_given), --proxy-min-len, --gamma, --stride, --block,
// --proxy-heads, --min-tokens, --batch (default_batch), --kv-type.
template <class Args> session_options session_options_from(Args& a, int default_batch, bool read_attn = true) {
    session_options o;
    if (read_attn) o.attn = parse_attn_mode(a.str("--attn", "proxy"));
    o.proxy_min_len = a.i64("--proxy-min-len", 4096);
    o.proxy.gamma = float(a.f64("--gamma", 0.95));
    o.proxy.stride = int32_t(a.i64("--stride", 4));
    o.proxy.block = int32_t(a.i64("--block", 128));
    o.proxy.n_proxy = int32_t(a.i64("--proxy-heads", 1));
    o.proxy.min_tokens = int32_t(a.i64("--min-tokens", 2048));
    o.n_batch = int(a.i64("--batch", default_batch));
    const std::string kv = a.str("--kv-type", "f16");
    if (kv == "f16") o.kv_type = PA_TYPE_F16;
    else if (kv == "f32") o.kv_type = PA_TYPE_F32;
    else throw error(fmt::format("--kv-type: '{}' is not f16 or f32", kv));
    if (o.n_batch <= 0) throw error(fmt::format("--batch {} must be > 0", o.n_batch));
    if (!(o.proxy.gamma > 0.0f && o.proxy.gamma <= 1.0f)) throw error("--gamma must be in (0, 1]");
    return o;
}

std::string json_escape(std::string_view s); // quoted JSON string
std::string read_text_file(const std::string& path);

} // namespace pa::model
