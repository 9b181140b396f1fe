// rope.cpp - rotary position embedding of [d, H, N, 1] (normal and neox pairings).
#include <fmt/format.h>

#include "builder.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;

tensor* rope(context& ctx, tensor* a, int n_dims, int mode, float theta, int n_past) {
    require(a && a->ne[3] == 1, "rope", "source must be [d, H, N, 1]");
    require(n_dims > 0 && n_dims % 2 == 0 && n_dims <= a->ne[0], "rope",
            fmt::format("n_dims {} must be even and <= head dim {}", n_dims, a->ne[0]));
    require(mode == rope_mode_normal || mode == rope_mode_neox, "rope", fmt::format("unknown mode {}", mode));
    require(theta > 0.0f && n_past >= 0, "rope", "theta must be > 0 and n_past >= 0");
    tensor* t = unary(ctx, a, PA_OP_ROPE, "rope");
    set_param_i(t, 0, n_dims);
    set_param_i(t, 1, mode);
    set_param_f(t, 2, theta);
    set_param_i(t, rope_param_n_past, n_past);
    return t;
}

} // namespace pa
