// softmax.cpp - soft_max_ext: softmax(a * scale + mask) along ne0.
#include <fmt/format.h>

#include "builder.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;

tensor* soft_max_ext(context& ctx, tensor* a, tensor* mask, float s) {
    tensor* t = unary(ctx, a, PA_OP_SOFT_MAX, "soft_max_ext");
    if (mask) {
        require(type_is_float(mask->type), "soft_max_ext", "mask must be f32 or f16");
        require(mask->ne[0] == a->ne[0] && mask->ne[1] >= a->ne[1] && mask->ne[2] == 1 && mask->ne[3] == 1,
                "soft_max_ext",
                fmt::format("mask {} does not cover {}", shape_string(mask), shape_string(a)));
        t->src[1] = mask;
    }
    set_param_f(t, 0, s);
    return t;
}

} // namespace pa
