// proxy_options.cpp - see proxy_options.h.
#include "proxy_options.h"

#include <fmt/format.h>
#include <vector>

#include "pa/error.h"

namespace pa::cli {

// XAttention's published tile size (its Llama settings use 8 and 16); the node's default
// stride (4) is ProxyAttn's query stride, which would make xattn cost dense QK^T / 4.
constexpr int32_t xattn_default_stride = 8;

proxy_params proxy_params_from(args& a, proxy_params p) {
    const std::string estimator = a.str("--estimator", proxy_estimator_name(p.estimator));
    if (!proxy_estimator_from_name(estimator, p.estimator))
        throw error(fmt::format("--estimator must be proxy, xattn or flex, not '{}'", estimator));
    if (p.estimator == proxy_estimator::xattn && !a.has("--stride")) p.stride = xattn_default_stride;
    p.gamma = float(a.f64("--gamma", p.gamma));
    p.block = int32_t(a.i64("--block", p.block));
    p.stride = int32_t(a.i64("--stride", p.stride));
    p.n_proxy = int32_t(a.i64("--proxy-heads", p.n_proxy));
    p.min_tokens = int32_t(a.i64("--min-tokens", p.min_tokens));
    p.max_tokens = int32_t(a.i64("--max-tokens", p.max_tokens));
    p.flex_tau = float(a.f64("--flex-tau", p.flex_tau));
    if (a.flag("--no-force")) p.force_sink_and_local = false;
    p.key_stride = int32_t(a.i64("--key-stride", p.key_stride));
    p.n_samples = int32_t(a.i64("--samples", p.n_samples));
    if (a.flag("--no-exact-rows")) p.exact_rows = false;
    const std::string budget = a.str("--budget", proxy_budget_name(p.budget));
    if (!proxy_budget_from_name(budget, p.budget))
        throw error(fmt::format("--budget must be rows, last or fixed, not '{}'", budget));
    if (!(p.gamma > 0.0f && p.gamma <= 1.0f))
        throw error(fmt::format("--gamma {} must be in (0, 1]", p.gamma));
    if (!(p.flex_tau >= 0.0f)) throw error(fmt::format("--flex-tau {} must be >= 0", p.flex_tau));
    if (p.max_tokens < 0) throw error(fmt::format("--max-tokens {} must be >= 0", p.max_tokens));
    proxy_params_check(p); // the rest, before any model or node exists
    return p;
}

proxy_params proxy_params_from_pairs(const std::string& pairs, proxy_params defaults,
                                     const std::function<void(args&)>& more) {
    std::vector<std::string> words{"setting"};
    for (const std::string& piece : split_list(pairs, ','))
        if (const std::string w = trimmed(piece); !w.empty()) words.push_back("--" + w);
    std::vector<char*> argv;
    for (std::string& w : words)
        argv.push_back(w.data());
    args a(int(argv.size()), argv.data(), "");
    const proxy_params p = proxy_params_from(a, defaults);
    if (more) more(a);
    if (!a.positional().empty()) throw error(fmt::format("'{}' is not a flag", a.positional()[0]));
    a.finish();
    return p;
}

} // namespace pa::cli
