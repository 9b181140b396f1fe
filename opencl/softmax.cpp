// softmax.cpp - soft_max_ext (kernels/softmax.cl): one work-group per row, optional F32/F16 mask.
#include "op_table.h"

namespace pa::ocl {

bool supports_soft_max(const device_context&, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *m = d->src[1];
    if (!f32_like_src0(d)) return false;
    if (!m) return true;
    return type_is_float(m->type) && m->ne[0] == a->ne[0] && m->ne[1] >= a->ne[1] && m->ne[2] == 1 &&
           m->ne[3] == 1;
}

void compute_soft_max(device_context& ctx, pa_tensor* d) {
    const pa_tensor *a = d->src[0], *m = d->src[1];
    const size_t wg = size_t(ctx.tune().softmax_wg);
    const mem_ref mm = m ? ctx.mem(m) : ctx.mem(a); // without a mask the kernel never reads it
    const shape_ref ms = shape_of(m ? m : a);
    ctx.launch(ctx.get_kernel("softmax.cl", "k_soft_max"), range1(size_t(nrows(a)) * wg), range1(wg),
               ctx.mem(a), shape_of(a), mm, ms.nb, m ? type_arg(m->type) : int32_t(-1), ctx.mem(d),
               shape_of(d), pa_param_f(d, 0));
}

} // namespace pa::ocl
