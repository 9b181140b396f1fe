// params_check.cpp - the input-independent rules of proxy_params (proxy_sparse_attn.h).
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "pa/error.h"
#include "pa/proxy_sparse_attn.h"

namespace pa {
namespace {

void require(bool ok, const std::string& what) {
    if (!ok) throw error(fmt::format("{}: {}", proxy_op_name, what));
}

} // namespace

void proxy_params_check(const proxy_params& p) {
    require(p.block > 0 && p.stride > 0,
            fmt::format("block ({}) and stride ({}) must be > 0", p.block, p.stride));
    require(p.block % p.stride == 0,
            fmt::format("block ({}) must be a multiple of stride ({})", p.block, p.stride));
    require(p.key_stride > 0 && p.block % p.key_stride == 0,
            fmt::format("block ({}) must be a multiple of key_stride ({})", p.block, p.key_stride));
    require(p.block <= (1 << 20), fmt::format("block ({}) must be at most 2^20", p.block));
    require(int32_t(p.budget) >= 0 && int32_t(p.budget) <= 2,
            fmt::format("budget mode ({}) must be rows (0), last (1) or fixed (2)", int32_t(p.budget)));
    require(int32_t(p.estimator) >= 0 && int32_t(p.estimator) <= 2,
            fmt::format("estimator ({}) must be proxy (0), xattn (1) or flex (2)", int32_t(p.estimator)));
    require(std::isfinite(p.flex_tau) && p.flex_tau >= 0.0f,
            fmt::format("flex_tau ({}) must be finite and >= 0", p.flex_tau));
    require(
        p.max_tokens >= 0 && (p.max_tokens == 0 || p.max_tokens >= p.min_tokens),
        fmt::format("max_tokens ({}) must be 0 (no cap) or >= min_tokens ({})", p.max_tokens, p.min_tokens));
    require(p.n_samples >= 1 && p.n_samples <= 1024,
            fmt::format("n_samples ({}) must be in 1..1024", p.n_samples));
    require(p.n_proxy > 0, fmt::format("n_proxy ({}) must be > 0", p.n_proxy));
    require(std::isfinite(p.gamma) && p.gamma > 0.0f && p.gamma <= 1.0f,
            fmt::format("gamma ({}) must be in (0, 1]", p.gamma));
    require(p.min_tokens >= 0, fmt::format("min_tokens ({}) must be >= 0", p.min_tokens));
    // A row with no kept block has no softmax (0 / 0): fixed budgets must keep something.
    require(p.estimator != proxy_estimator::proxy || p.budget != proxy_budget::fixed || p.min_tokens > 0 ||
                p.force_sink_and_local,
            "budget fixed keeps ceil(min_tokens / block) blocks a row: min_tokens (0) must be > 0 when the "
            "sink and diagonal blocks are not forced");
    require(std::isfinite(p.scale), "scale must be finite");
    require(p.n_past >= 0, fmt::format("n_past ({}) must be >= 0", p.n_past));
    require(p.stop_after >= 0 && p.stop_after <= 4,
            fmt::format("stop_after ({}) must be in 0..4", p.stop_after));
}

} // namespace pa
