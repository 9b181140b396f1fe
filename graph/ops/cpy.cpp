// cpy.cpp - cont (a contiguous copy, maybe converted) and cpy (a converted write into another
// tensor's storage, e.g. a KV cache slot).
#include <cstring>

#include <fmt/format.h>

#include "builder.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;

tensor* cont(context& ctx, tensor* a) {
    return cont(ctx, a, a ? a->type : PA_TYPE_F32);
}

tensor* cont(context& ctx, tensor* a, pa_type type) {
    require_tensor(a, "cont", "source");
    require(type != PA_TYPE_I32 || a->type == PA_TYPE_I32, "cont", "only i32 converts to i32");
    require(a->ne[0] % traits(type).block_elems == 0, "cont",
            fmt::format("rows of {} cannot be {}", a->ne[0], type_name(type)));
    require(!traits(a->type).quantized || a->type == type || type_is_float(type), "cont",
            "quantized sources convert only to f32/f16 or themselves");
    return new_result(ctx, "cont", PA_OP_CPY, type, a->ne, {a});
}

tensor* cpy(context& ctx, tensor* a, tensor* b) {
    require_tensor(a, "cpy", "source");
    require_tensor(b, "cpy", "destination");
    require(nelements(a) == nelements(b), "cpy",
            fmt::format("{} and {} differ in element count", shape_string(a), shape_string(b)));
    require(same_shape(a, b) || (is_contiguous(a) && is_contiguous(b)), "cpy",
            "shapes differ and are not both contiguous");
    require(!traits(a->type).quantized || a->type == b->type, "cpy",
            "quantized sources copy only to themselves");
    tensor* t = new_view(ctx, b, PA_OP_CPY, 0);
    std::memcpy(t->ne, b->ne, sizeof(t->ne));
    std::memcpy(t->nb, b->nb, sizeof(t->nb));
    t->src[0] = a;
    t->src[1] = b;
    return t;
}

} // namespace pa
