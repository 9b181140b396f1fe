// rope.cpp - rotary position embedding (kernels/rope.cl): one work item per pair of a token, for
// all its heads; in double where the device has it, like the CPU reference.
#include "op_table.h"

namespace pa::ocl {

bool supports_rope(const device_context&, const pa_tensor* d) {
    const pa_tensor* a = d->src[0];
    if (!f32_like_src0(d) || a->ne[3] != 1) return false;
    const int n_dims = pa_param_i(d, 0), mode = pa_param_i(d, 1);
    return n_dims > 0 && n_dims % 2 == 0 && n_dims <= a->ne[0] && (mode == 0 || mode == 2) &&
           pa_param_i(d, 3) >= 0;
}

void compute_rope(device_context& ctx, pa_tensor* d) {
    const pa_tensor* a = d->src[0];
    const int32_t n_dims = pa_param_i(d, 0);
    const size_t pairs = size_t(n_dims / 2 + (a->ne[0] - n_dims + 1) / 2);
    const size_t tokens = size_t(a->ne[2]);
    const std::string opts = ctx.caps().fp64 ? "-DPA_FP64" : "";
    const size_t wx = size_t(ctx.tune().rope_wg); // pairs per work-group along x; tokens fill y
    ctx.launch(ctx.get_kernel("rope.cl", "k_rope", opts), range2(round_up(pairs, wx), tokens), range2(wx, 1),
               ctx.mem(a), shape_of(a), ctx.mem(d), shape_of(d), n_dims, pa_param_i(d, 1), pa_param_f(d, 2),
               pa_param_i(d, 3));
}

} // namespace pa::ocl
