// mul_mat.cpp - a [K, M, a2, a3] times b [K, N, b2, b3] -> [M, N, b2, b3], a broadcast over b.
#include <fmt/format.h>

#include "builder.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;

tensor* mul_mat(context& ctx, tensor* a, tensor* b) {
    require_tensor(a, "mul_mat", "a");
    require_tensor(b, "mul_mat", "b");
    require(a->type != PA_TYPE_I32 && b->type == PA_TYPE_F32, "mul_mat",
            "a must be a float/quant type, b f32");
    require(a->ne[0] == b->ne[0], "mul_mat",
            fmt::format("inner dims differ: {} x {}", shape_string(a), shape_string(b)));
    require(b->ne[2] % a->ne[2] == 0 && b->ne[3] % a->ne[3] == 0, "mul_mat",
            fmt::format("{} does not broadcast over {}", shape_string(a), shape_string(b)));
    require(!traits(a->type).quantized || a->nb[0] == traits(a->type).block_bytes, "mul_mat",
            "quantized a must have packed rows");
    const int64_t ne[4] = {a->ne[1], b->ne[1], b->ne[2], b->ne[3]};
    return new_result(ctx, "mul_mat", PA_OP_MUL_MAT, PA_TYPE_F32, ne, {a, b});
}

} // namespace pa
