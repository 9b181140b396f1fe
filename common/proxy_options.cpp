// proxy_options.cpp - see proxy_options.h.
#include "proxy_options.h"

#include <fmt/format.h>

#include "pa/error.h"

namespace pa::cli {

proxy_params proxy_params_from(args& a, proxy_params p) {
    p.gamma = float(a.f64("--gamma", p.gamma));
    p.block = int32_t(a.i64("--block", p.block));
    p.stride = int32_t(a.i64("--stride", p.stride));
    p.n_proxy = int32_t(a.i64("--proxy-heads", p.n_proxy));
    p.min_tokens = int32_t(a.i64("--min-tokens", p.min_tokens));
    if (a.flag("--no-force")) p.force_sink_and_local = false;
    p.key_stride = int32_t(a.i64("--key-stride", p.key_stride));
    p.n_samples = int32_t(a.i64("--samples", p.n_samples));
    if (a.flag("--no-exact-rows")) p.exact_rows = false;
    const std::string budget = a.str("--budget", proxy_budget_name(p.budget));
    if (!proxy_budget_from_name(budget, p.budget))
        throw error(fmt::format("--budget must be rows, last or fixed, not '{}'", budget));
    if (!(p.gamma > 0.0f && p.gamma <= 1.0f))
        throw error(fmt::format("--gamma {} must be in (0, 1]", p.gamma));
    return p;
}

} // namespace pa::cli
