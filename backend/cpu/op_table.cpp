// op_table.cpp - the CPU kernel of every built-in op, indexed by op id, with the types and
// layouts each takes. A new op without an entry here does not compile (covers_builtin_ops).
#include "ops.h"
#include "pa/builtin_ops.h"

namespace pa::cpu {
namespace {

bool is_weight_type(pa_type t) {
    return type_is_valid(t) && t != PA_TYPE_I32;
} // float or block type

bool any_view(const tensor*) {
    return true;
}

bool f32_src(const tensor* n) {
    return n->src[0] && n->src[0]->type == PA_TYPE_F32;
}

bool get_rows_ok(const tensor* n) {
    const tensor *a = n->src[0], *b = n->src[1];
    return a && b && type_is_valid(a->type) && b->type == PA_TYPE_I32;
}

// add, mul: F32 a, F32 or F16 b
bool broadcast_ok(const tensor* n) {
    const tensor* b = n->src[1];
    return f32_src(n) && b && type_is_float(b->type);
}

bool swiglu_ok(const tensor* n) {
    return f32_src(n) && n->src[1] && n->src[1]->type == PA_TYPE_F32;
}

bool soft_max_ok(const tensor* n) {
    const tensor* mask = n->src[1];
    return f32_src(n) && (!mask || type_is_float(mask->type));
}

bool mul_mat_ok(const tensor* n) {
    const tensor *a = n->src[0], *b = n->src[1];
    return a && b && is_weight_type(a->type) && b->type == PA_TYPE_F32 &&
           (!traits(a->type).quantized || a->nb[0] == traits(a->type).block_bytes);
}

bool cpy_ok(const tensor* n) {
    const tensor* a = n->src[0];
    if (!a || !type_is_valid(a->type) || !type_is_valid(n->type)) return false;
    if (n->type == PA_TYPE_I32 && a->type != PA_TYPE_I32) return false; // i32 -> float is fine
    return !traits(n->type).quantized || n->nb[0] == traits(n->type).block_bytes;
}

bool flash_attn_ok(const tensor* n) {
    const tensor *k = n->src[1], *v = n->src[2];
    return f32_src(n) && k && v && type_is_float(k->type) && type_is_float(v->type);
}

constexpr builtin_kernel builtins[] = {
    {PA_OP_NONE, nullptr, nullptr},
    {PA_OP_VIEW, any_view, nullptr},
    {PA_OP_RESHAPE, any_view, nullptr},
    {PA_OP_PERMUTE, any_view, nullptr},
    {PA_OP_TRANSPOSE, any_view, nullptr},
    {PA_OP_GET_ROWS, get_rows_ok, op_get_rows},
    {PA_OP_ADD, broadcast_ok, op_add},
    {PA_OP_MUL, broadcast_ok, op_mul},
    {PA_OP_SCALE, f32_src, op_scale},
    {PA_OP_RMS_NORM, f32_src, op_rms_norm},
    {PA_OP_MUL_MAT, mul_mat_ok, op_mul_mat},
    {PA_OP_ROPE, f32_src, op_rope},
    {PA_OP_SOFT_MAX, soft_max_ok, op_soft_max},
    {PA_OP_SILU, f32_src, op_silu},
    {PA_OP_SWIGLU, swiglu_ok, op_swiglu},
    {PA_OP_CPY, cpy_ok, op_cpy},
    {PA_OP_FLASH_ATTN_EXT, flash_attn_ok, op_flash_attn_ext},
};
static_assert(covers_builtin_ops(builtins), "one CPU kernel entry per built-in op, in enum pa_op order");

} // namespace

const builtin_kernel* find_builtin(int32_t op) {
    return op >= 0 && op < PA_OP_BUILTIN_COUNT ? &builtins[op] : nullptr;
}

} // namespace pa::cpu
