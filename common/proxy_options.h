// proxy_options.h - the proxy_sparse_attn flags of every command that runs sparse attention
// (pa attn, pa run, pa perplexity, pa eval, pa bench attn): parsed in one place.
#pragma once

#include <functional>
#include <string>

#include "cli.h"
#include "pa/proxy_sparse_attn.h"

namespace pa::cli {

inline constexpr const char* proxy_option_help =
    "  --estimator E      proxy | xattn | flex: ProxyAttn, XAttention or FlexPrefill (proxy)\n"
    "  --gamma G          kept attention mass per (head, row) in (0, 1] (0.99); xattn's threshold\n"
    "                     tau, flex's coverage gamma\n"
    "  --budget MODE      rows | last | fixed: blocks per row from sample rows, from the last\n"
    "                     B queries (the paper), or ceil(min_tokens / B) (rows; proxy)\n"
    "  --samples R        sample rows of --budget rows (16)\n"
    "  --min-tokens M     floor in tokens: blocks per row (flex: also lines) (0)\n"
    "  --max-tokens M     flex: cap in tokens on lines and blocks per row (0: none)\n"
    "  --flex-tau T       flex: query-aware head when sqrt(JS) of its last block < T (0.1)\n"
    "  --block B          block size (128)                --stride S       query stride (4);\n"
    "                     xattn: antidiagonal tile size (8 unless given)\n"
    "  --key-stride K     score every K-th key (1: every key; proxy)\n"
    "  --proxy-heads g    proxy heads, divides the KV heads (1)\n"
    "  --no-exact-rows    measured rows keep only the shared ranking's blocks (proxy)\n"
    "  --no-force         do not force the sink and diagonal blocks\n";

// Reads the flags above over `defaults`; the node validates the values it is built with.
proxy_params proxy_params_from(args& a, proxy_params defaults = {});

// One setting written as name=value pairs separated by ',' ("gamma=0.99,no-force" means
// --gamma=0.99 --no-force): the flags above over `defaults`, then `more` reads any other flag
// of the setting. Used by `pa eval --settings` and `pa bench attn --variants`.
proxy_params proxy_params_from_pairs(const std::string& pairs, proxy_params defaults,
                                     const std::function<void(args&)>& more = {});

} // namespace pa::cli
