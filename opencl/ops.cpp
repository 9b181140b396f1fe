// ops.cpp - the table of built-in ops and helpers shared by the op families.
#include "ops.h"

#include <climits>

#include "pa/tensor.h"
#include "pa/types.h"

namespace pa::ocl {

const builtin_op* find_builtin_op(int32_t op) {
    static const builtin_op add{supports_binary, compute_add};
    static const builtin_op mul{supports_binary, compute_mul};
    static const builtin_op scale{supports_unary, compute_scale};
    static const builtin_op rms_norm{supports_unary, compute_rms_norm};
    static const builtin_op silu{supports_unary, compute_silu};
    static const builtin_op swiglu{supports_swiglu, compute_swiglu};
    static const builtin_op rope{supports_rope, compute_rope};
    static const builtin_op soft_max{supports_soft_max, compute_soft_max};
    static const builtin_op get_rows{supports_get_rows, compute_get_rows};
    static const builtin_op mul_mat{supports_mul_mat, compute_mul_mat};
    static const builtin_op cpy{supports_cpy, compute_cpy};
    static const builtin_op flash_attn{supports_flash_attn, compute_flash_attn};
    switch (op) {
    case PA_OP_ADD:
        return &add;
    case PA_OP_MUL:
        return &mul;
    case PA_OP_SCALE:
        return &scale;
    case PA_OP_RMS_NORM:
        return &rms_norm;
    case PA_OP_SILU:
        return &silu;
    case PA_OP_SWIGLU:
        return &swiglu;
    case PA_OP_ROPE:
        return &rope;
    case PA_OP_SOFT_MAX:
        return &soft_max;
    case PA_OP_GET_ROWS:
        return &get_rows;
    case PA_OP_MUL_MAT:
        return &mul_mat;
    case PA_OP_CPY:
        return &cpy;
    case PA_OP_FLASH_ATTN_EXT:
        return &flash_attn;
    default:
        return nullptr;
    }
}

int64_t n_elements(const pa_tensor* t) {
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

bool is_plain_float(pa_type t) {
    return t == PA_TYPE_F32 || t == PA_TYPE_F16;
}

bool is_block_type(pa_type t) {
    return t == PA_TYPE_Q8_0 || t == PA_TYPE_Q4_0 || t == PA_TYPE_Q4_1;
}

bool fits_int(const pa_tensor* t) {
    for (int i = 0; i < 4; ++i)
        if (t->ne[i] < 0 || t->ne[i] > INT_MAX) return false;
    return n_elements(t) <= INT_MAX;
}

bool same_ne(const pa_tensor* a, const pa_tensor* b) {
    for (int i = 0; i < 4; ++i)
        if (a->ne[i] != b->ne[i]) return false;
    return true;
}

bool is_packed(const pa_tensor* t) {
    return is_contiguous(t);
}

} // namespace pa::ocl
