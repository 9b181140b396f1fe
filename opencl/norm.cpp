// norm.cpp - rms_norm (kernels/norm.cl): one work-group per row.
#include "op_table.h"

namespace pa::ocl {

bool supports_rms_norm(const device_context&, const pa_tensor* d) {
    return f32_like_src0(d);
}

void compute_rms_norm(device_context& ctx, pa_tensor* d) {
    const pa_tensor* a = d->src[0];
    const size_t wg = size_t(ctx.tune().norm_wg);
    ctx.launch(ctx.get_kernel("norm.cl", "k_rms_norm"), range1(size_t(nrows(a)) * wg), range1(wg), ctx.mem(a),
               shape_of(a), ctx.mem(d), shape_of(d), pa_param_f(d, 0));
}

} // namespace pa::ocl
