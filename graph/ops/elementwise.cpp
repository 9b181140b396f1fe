// elementwise.cpp - add, mul (b broadcast over a), scale, silu, swiglu.
#include <fmt/format.h>

#include "builder.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;
namespace {

tensor* binary(context& ctx, tensor* a, tensor* b, int32_t op, std::string_view name) {
    require_tensor(a, name, "a");
    require_tensor(b, name, "b");
    require(a->type == PA_TYPE_F32 && type_is_float(b->type), name, "a must be f32, b f32 or f16");
    require(can_repeat(b, a), name,
            fmt::format("{} does not broadcast over {}", shape_string(b), shape_string(a)));
    return new_result(ctx, name, op, PA_TYPE_F32, a->ne, {a, b});
}

} // namespace

tensor* add(context& ctx, tensor* a, tensor* b) {
    return binary(ctx, a, b, PA_OP_ADD, "add");
}
tensor* mul(context& ctx, tensor* a, tensor* b) {
    return binary(ctx, a, b, PA_OP_MUL, "mul");
}

tensor* scale(context& ctx, tensor* a, float s) {
    tensor* t = unary(ctx, a, PA_OP_SCALE, "scale");
    set_param_f(t, 0, s);
    return t;
}

tensor* silu(context& ctx, tensor* a) {
    return unary(ctx, a, PA_OP_SILU, "silu");
}

tensor* swiglu(context& ctx, tensor* a, tensor* b) {
    require_tensor(b, "swiglu", "b");
    require(b->type == PA_TYPE_F32 && a && same_shape(a, b), "swiglu", "a and b must be f32 of one shape");
    tensor* t = unary(ctx, a, PA_OP_SWIGLU, "swiglu");
    t->src[1] = b;
    return t;
}

} // namespace pa
