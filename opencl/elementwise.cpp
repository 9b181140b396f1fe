// elementwise.cpp - add, mul, swiglu (b broadcast over a) and scale, silu: kernels/elementwise.cl,
// one work item per element of dst.
#include "op_table.h"

namespace pa::ocl {
namespace {

nd_range flat_global(device_context& ctx, int64_t n) {
    return range1(round_up(size_t(n), size_t(ctx.tune().ew_wg)));
}
nd_range flat_local(device_context& ctx) {
    return range1(size_t(ctx.tune().ew_wg));
}

void binary(device_context& ctx, pa_tensor* d, const char* kernel) {
    const pa_tensor* a = d->src[0];
    const pa_tensor* b = d->src[1];
    const int64_t n = nelements(d);
    ctx.launch(ctx.get_kernel("elementwise.cl", kernel), flat_global(ctx, n), flat_local(ctx), ctx.mem(a),
               shape_of(a), ctx.mem(b), shape_of(b), type_arg(b->type), ctx.mem(d), shape_of(d), int32_t(n));
}

void unary(device_context& ctx, pa_tensor* d, int32_t op, float s) {
    const pa_tensor* a = d->src[0];
    const int64_t n = nelements(d);
    ctx.launch(ctx.get_kernel("elementwise.cl", "k_unary"), flat_global(ctx, n), flat_local(ctx), ctx.mem(a),
               shape_of(a), ctx.mem(d), shape_of(d), int32_t(n), op, s);
}

} // namespace

bool supports_binary(const device_context&, const pa_tensor* d) {
    const pa_tensor* b = d->src[1];
    return f32_like_src0(d) && b && type_is_float(b->type) && can_repeat(b, d);
}

bool supports_swiglu(const device_context&, const pa_tensor* d) {
    const pa_tensor* b = d->src[1];
    return f32_like_src0(d) && b && b->type == PA_TYPE_F32 && same_shape(b, d);
}

bool supports_unary(const device_context&, const pa_tensor* d) {
    return f32_like_src0(d);
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

} // namespace pa::ocl
