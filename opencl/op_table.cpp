// op_table.cpp - the launcher of every built-in op, indexed by op id, and the helpers the
// launchers share. A new op without an entry here does not compile (covers_builtin_ops).
#include "op_table.h"

#include <climits>

#include "pa/builtin_ops.h"

namespace pa::ocl {
namespace {

bool any_view(const device_context&, const pa_tensor*) {
    return true;
}

constexpr builtin_op builtins[] = {
    {PA_OP_NONE, nullptr, nullptr},
    {PA_OP_VIEW, any_view, nullptr},
    {PA_OP_RESHAPE, any_view, nullptr},
    {PA_OP_PERMUTE, any_view, nullptr},
    {PA_OP_TRANSPOSE, any_view, nullptr},
    {PA_OP_GET_ROWS, supports_get_rows, compute_get_rows},
    {PA_OP_ADD, supports_binary, compute_add},
    {PA_OP_MUL, supports_binary, compute_mul},
    {PA_OP_SCALE, supports_unary, compute_scale},
    {PA_OP_RMS_NORM, supports_rms_norm, compute_rms_norm},
    {PA_OP_MUL_MAT, supports_mul_mat, compute_mul_mat},
    {PA_OP_ROPE, supports_rope, compute_rope},
    {PA_OP_SOFT_MAX, supports_soft_max, compute_soft_max},
    {PA_OP_SILU, supports_unary, compute_silu},
    {PA_OP_SWIGLU, supports_swiglu, compute_swiglu},
    {PA_OP_CPY, supports_cpy, compute_cpy},
    {PA_OP_FLASH_ATTN_EXT, supports_flash_attn, compute_flash_attn},
};
static_assert(covers_builtin_ops(builtins), "one OpenCL entry per built-in op, in enum pa_op order");

} // namespace

const builtin_op* find_builtin_op(int32_t op) {
    return op >= 0 && op < PA_OP_BUILTIN_COUNT ? &builtins[op] : nullptr;
}

bool fits_int(const pa_tensor* t) {
    for (int i = 0; i < 4; ++i)
        if (t->ne[i] < 0 || t->ne[i] > INT_MAX) return false;
    return nelements(t) <= INT_MAX;
}

bool f32_like_src0(const pa_tensor* d) {
    const pa_tensor* a = d->src[0];
    return d->type == PA_TYPE_F32 && a && a->type == PA_TYPE_F32 && same_shape(a, d) && fits_int(d);
}

} // namespace pa::ocl
