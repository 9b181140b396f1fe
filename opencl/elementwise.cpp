// elementwise.cpp - add, mul, swiglu (b broadcast over a) and scale, silu: kernels/elementwise.cl,
// one work item per element of dst, or per float4 where the tensors are contiguous F32 (a model's
// activations: residual adds, norm weights, the FFN gate).
#include "op_table.h"

namespace pa::ocl {
namespace {

nd_range flat_global(device_context& ctx, int64_t n) {
    return range1(round_up(size_t(n), size_t(ctx.tune().ew_wg)));
}
nd_range flat_local(device_context& ctx) {
    return range1(size_t(ctx.tune().ew_wg));
}

bool aligned16(const device_context& ctx, const pa_tensor* t) {
    return ctx.mem(t).offs % 16 == 0;
}

// The float4 kernels' b: 0 when it has d's shape, the float4s of its one row when that row is
// repeated over d, -1 when neither (or a, b, d are not contiguous F32 at 16-byte offsets).
int64_t flat4_b_row(const device_context& ctx, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    if (b->type != PA_TYPE_F32 || d->ne[0] % 4 != 0 || !is_contiguous(a) || !is_contiguous(b) ||
        !is_contiguous(d) || !aligned16(ctx, a) || !aligned16(ctx, b) || !aligned16(ctx, d))
        return -1;
    if (same_shape(b, d)) return 0;
    if (b->ne[0] == d->ne[0] && nelements(b) == b->ne[0]) return b->ne[0] / 4;
    return -1;
}

void binary(device_context& ctx, pa_tensor* d, const char* kernel, const char* kernel4) {
    const pa_tensor* a = d->src[0];
    const pa_tensor* b = d->src[1];
    const int64_t n = nelements(d);
    if (const int64_t b_row4 = flat4_b_row(ctx, d); b_row4 >= 0) {
        ctx.launch(ctx.get_kernel("elementwise.cl", kernel4), flat_global(ctx, n / 4), flat_local(ctx),
                   ctx.mem(a), ctx.mem(b), int32_t(b_row4), ctx.mem(d), int32_t(n / 4));
        return;
    }
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
    binary(ctx, d, "k_add", "k_add4");
}
void compute_mul(device_context& ctx, pa_tensor* d) {
    binary(ctx, d, "k_mul", "k_mul4");
}
void compute_swiglu(device_context& ctx, pa_tensor* d) {
    binary(ctx, d, "k_swiglu", "k_swiglu4");
}
void compute_scale(device_context& ctx, pa_tensor* d) {
    unary(ctx, d, 0, pa_param_f(d, 0));
}
void compute_silu(device_context& ctx, pa_tensor* d) {
    unary(ctx, d, 1, 0.0f);
}

} // namespace pa::ocl
