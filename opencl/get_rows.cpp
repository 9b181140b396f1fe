// get_rows.cpp - rows of a (any type, dequantized) picked by I32 ids (kernels/get_rows.cl).
#include "op_table.h"

namespace pa::ocl {

bool supports_get_rows(const device_context&, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *ids = d->src[1];
    if (d->type != PA_TYPE_F32 || !a || !ids || ids->type != PA_TYPE_I32 || !fits_int(d) || !fits_int(a))
        return false;
    return type_is_valid(a->type) && d->ne[0] == a->ne[0] && d->ne[1] == ids->ne[0] && d->ne[2] == a->ne[2] &&
           d->ne[3] == a->ne[3] && ids->ne[1] == a->ne[2] && ids->ne[2] == a->ne[3];
}

void compute_get_rows(device_context& ctx, pa_tensor* d) {
    const pa_tensor *a = d->src[0], *ids = d->src[1];
    const size_t wx = size_t(ctx.tune().get_rows_wg);
    ctx.launch(ctx.get_kernel("get_rows.cl", "k_get_rows"),
               range2(round_up(size_t(d->ne[0]), wx), size_t(nrows(d))), range2(wx, 1), ctx.mem(a),
               shape_of(a), type_arg(a->type), ctx.mem(ids), shape_of(ids).nb, ctx.mem(d), shape_of(d));
}

} // namespace pa::ocl
