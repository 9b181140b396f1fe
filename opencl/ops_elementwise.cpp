// ops_elementwise.cpp - add, mul, swiglu, scale, silu (elementwise.cl), rms_norm (norm.cl),
// rope (rope.cl), soft_max_ext (softmax.cl), get_rows (get_rows.cl).
#include "ops.h"

namespace pa::ocl {
namespace {

bool f32(const pa_tensor* t) {
    return t && t->type == PA_TYPE_F32;
}

// flat kernels: one work item per element of dst
nd_range flat_global(device_context& ctx, int64_t n) {
    return range1(round_up(size_t(n), size_t(ctx.internals().tune.ew_wg)));
}
nd_range flat_local(device_context& ctx) {
    return range1(size_t(ctx.internals().tune.ew_wg));
}

void binary(device_context& ctx, pa_tensor* d, const char* kernel) {
    const pa_tensor* a = d->src[0];
    const pa_tensor* b = d->src[1];
    const int64_t n = n_elements(d);
    ctx.launch(ctx.get_kernel("elementwise.cl", kernel), flat_global(ctx, n), flat_local(ctx), ctx.mem(a),
               shape_of(a), ctx.mem(b), shape_of(b), type_arg(b->type), ctx.mem(d), shape_of(d), int32_t(n));
}

void unary(device_context& ctx, pa_tensor* d, int32_t op, float s) {
    const pa_tensor* a = d->src[0];
    const int64_t n = n_elements(d);
    ctx.launch(ctx.get_kernel("elementwise.cl", "k_unary"), flat_global(ctx, n), flat_local(ctx), ctx.mem(a),
               shape_of(a), ctx.mem(d), shape_of(d), int32_t(n), op, s);
}

} // namespace

bool supports_binary(const device_context&, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    if (!f32(d) || !f32(a) || !b || !is_plain_float(b->type) || !same_ne(a, d) || !fits_int(d)) return false;
    for (int i = 0; i < 4; ++i)
        if (b->ne[i] <= 0 || a->ne[i] % b->ne[i] != 0) return false;
    return true;
}

bool supports_swiglu(const device_context&, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    return f32(d) && f32(a) && f32(b) && same_ne(a, d) && same_ne(b, d) && fits_int(d);
}

bool supports_unary(const device_context&, const pa_tensor* d) {
    return f32(d) && f32(d->src[0]) && same_ne(d->src[0], d) && fits_int(d);
}

void compute_add(device_context& ctx, pa_tensor* d) {
    binary(ctx, d, "k_add");
}
void compute_mul(device_context& ctx, pa_tensor* d) {
    binary(ctx, d, "k_mul");
}
void compute_swiglu(device_context& ctx, pa_tensor* d) {
    binary(ctx, d, "k_swiglu");
}
void compute_scale(device_context& ctx, pa_tensor* d) {
    unary(ctx, d, 0, pa_param_f(d, 0));
}
void compute_silu(device_context& ctx, pa_tensor* d) {
    unary(ctx, d, 1, 0.0f);
}

void compute_rms_norm(device_context& ctx, pa_tensor* d) {
    const pa_tensor* a = d->src[0];
    const size_t wg = size_t(ctx.internals().tune.norm_wg);
    const size_t rows = size_t(a->ne[1] * a->ne[2] * a->ne[3]);
    ctx.launch(ctx.get_kernel("norm.cl", "k_rms_norm"), range1(rows * wg), range1(wg), ctx.mem(a),
               shape_of(a), ctx.mem(d), shape_of(d), pa_param_f(d, 0));
}

bool supports_rope(const device_context&, const pa_tensor* d) {
    const pa_tensor* a = d->src[0];
    if (!f32(d) || !f32(a) || !same_ne(a, d) || !fits_int(d) || a->ne[3] != 1) return false;
    const int n_dims = pa_param_i(d, 0), mode = pa_param_i(d, 1);
    return n_dims > 0 && n_dims % 2 == 0 && n_dims <= a->ne[0] && (mode == 0 || mode == 2) &&
           pa_param_i(d, 3) >= 0;
}

void compute_rope(device_context& ctx, pa_tensor* d) {
    const pa_tensor* a = d->src[0];
    const int32_t n_dims = pa_param_i(d, 0);
    const size_t pairs = size_t(n_dims / 2 + (a->ne[0] - n_dims + 1) / 2);
    const size_t rows = size_t(a->ne[1] * a->ne[2]);
    const std::string opts = ctx.caps().fp64 ? "-DPA_FP64" : "";
    const size_t wx = 32; // pairs per work-group along x; rows fill y
    ctx.launch(ctx.get_kernel("rope.cl", "k_rope", opts), range2(round_up(pairs, wx), rows), range2(wx, 1),
               ctx.mem(a), shape_of(a), ctx.mem(d), shape_of(d), n_dims, pa_param_i(d, 1), pa_param_f(d, 2),
               pa_param_i(d, 3));
}

bool supports_soft_max(const device_context&, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *m = d->src[1];
    if (!f32(d) || !f32(a) || !same_ne(a, d) || !fits_int(d)) return false;
    if (!m) return true;
    return is_plain_float(m->type) && m->ne[0] == a->ne[0] && m->ne[1] >= a->ne[1] && m->ne[2] == 1 &&
           m->ne[3] == 1;
}

void compute_soft_max(device_context& ctx, pa_tensor* d) {
    const pa_tensor *a = d->src[0], *m = d->src[1];
    const size_t wg = size_t(ctx.internals().tune.softmax_wg);
    const size_t rows = size_t(a->ne[1] * a->ne[2] * a->ne[3]);
    const mem_ref mm = m ? ctx.mem(m) : ctx.mem(a); // without a mask the kernel never reads it
    const shape_ref ms = shape_of(m ? m : a);
    ctx.launch(ctx.get_kernel("softmax.cl", "k_soft_max"), range1(rows * wg), range1(wg), ctx.mem(a),
               shape_of(a), mm, ms.nb, m ? type_arg(m->type) : int32_t(-1), ctx.mem(d), shape_of(d),
               pa_param_f(d, 0));
}

bool supports_get_rows(const device_context&, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *ids = d->src[1];
    if (!f32(d) || !a || !ids || ids->type != PA_TYPE_I32 || !fits_int(d) || !fits_int(a)) return false;
    const pa_type t = a->type;
    if (!(is_plain_float(t) || is_block_type(t) || t == PA_TYPE_I32)) return false;
    return d->ne[0] == a->ne[0] && d->ne[1] == ids->ne[0] && d->ne[2] == a->ne[2] && d->ne[3] == a->ne[3] &&
           ids->ne[1] == a->ne[2] && ids->ne[2] == a->ne[3];
}

void compute_get_rows(device_context& ctx, pa_tensor* d) {
    const pa_tensor *a = d->src[0], *ids = d->src[1];
    const size_t rows = size_t(d->ne[1] * d->ne[2] * d->ne[3]);
    const size_t wx = 64;
    ctx.launch(ctx.get_kernel("get_rows.cl", "k_get_rows"), range2(round_up(size_t(d->ne[0]), wx), rows),
               range2(wx, 1), ctx.mem(a), shape_of(a), type_arg(a->type), ctx.mem(ids), shape_of(ids).nb,
               ctx.mem(d), shape_of(d));
}

} // namespace pa::ocl
