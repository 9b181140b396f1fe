// flash_attn.cpp - flash_attn_ext: softmax(scale * q k^T) v per query head, GQA, causal or not.
#include <fmt/format.h>

#include "builder.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;

tensor* flash_attn_ext(context& ctx, tensor* q, tensor* k, tensor* v, float s, int n_past, bool causal) {
    constexpr std::string_view op = "flash_attn_ext";
    require_tensor(q, op, "q");
    require_tensor(k, op, "k");
    require_tensor(v, op, "v");
    require(q->type == PA_TYPE_F32, op, "q must be f32");
    require(type_is_float(k->type) && type_is_float(v->type), op, "k and v must be f32 or f16");
    require(q->ne[3] == 1 && k->ne[3] == 1 && v->ne[3] == 1, op, "no batch dimension (ne[3] must be 1)");
    require(k->ne[0] == q->ne[0] && v->ne[0] == q->ne[0], op,
            fmt::format("head dims differ: q {} k {} v {}", q->ne[0], k->ne[0], v->ne[0]));
    require(k->ne[1] == v->ne[1] && k->ne[2] == v->ne[2], op, "k and v shapes differ");
    require(k->ne[2] > 0 && q->ne[2] % k->ne[2] == 0, op,
            fmt::format("{} query heads are not a multiple of {} kv heads", q->ne[2], k->ne[2]));
    require(n_past >= 0, op, "n_past must be >= 0");
    // kernels index positions with 32-bit ints (n_past is an int32 param too)
    require(q->ne[1] < (int64_t(1) << 31) && k->ne[1] < (int64_t(1) << 31), op,
            fmt::format("{} queries / {} keys exceed the limit of 2^31 - 1 positions", q->ne[1], k->ne[1]));
    require(
        !causal || n_past + q->ne[1] <= k->ne[1], op,
        fmt::format("causal attention needs n_past + N ({} + {}) <= Nkv ({})", n_past, q->ne[1], k->ne[1]));
    const int64_t ne[4] = {q->ne[0], q->ne[2], q->ne[1], 1};
    tensor* t = new_result(ctx, op, PA_OP_FLASH_ATTN_EXT, PA_TYPE_F32, ne, {q, k, v});
    set_param_f(t, fa_param_scale, s);
    set_param_i(t, fa_param_n_past, n_past);
    set_param_i(t, fa_param_causal, causal ? 1 : 0);
    return t;
}

} // namespace pa
