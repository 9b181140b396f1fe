// op_table.h - host side of the built-in ops: the supports/compute pair of every op id
// (op_table.cpp) and what the launchers share. One file per op family, named like its kernels
// in kernels/<family>.cl: elementwise (add, mul, scale, silu, swiglu), norm (rms_norm), rope,
// softmax (soft_max_ext), get_rows, mul_mat, cpy (cpy, cont), flash_attn (flash_attn_ext).
// A compute validates nothing twice: supports() has accepted the node.
#pragma once

#include <cstdint>
#include <string>

#include "context_impl.h"
#include "ocl_api.h"
#include "pa/pa_tensor.h"
#include "pa/tensor.h"
#include "pa/types.h"

namespace pa::ocl {

using supports_fn = bool(const device_context&, const pa_tensor* node);
using compute_fn = void(device_context&, pa_tensor* node);

struct builtin_op {
    pa_op op;
    supports_fn* supports; // nullptr: never
    compute_fn* compute;   // nullptr: nothing to compute (views)
};

// The entry of a built-in op id, or nullptr for other ids.
const builtin_op* find_builtin_op(int32_t op);

// ---- shared helpers ----------------------------------------------------------------------
bool fits_int(const pa_tensor* t);      // every index of t fits a 32-bit int
bool f32_like_src0(const pa_tensor* d); // d and src0 F32 of one shape, indices fit an int
inline int32_t type_arg(pa_type t) {    // matches PA_* in common.cl
    return static_cast<int32_t>(t);
}

// ---- families ----------------------------------------------------------------------------
// elementwise.cpp (scale and silu take supports_unary)
supports_fn supports_binary, supports_swiglu, supports_unary;
compute_fn compute_add, compute_mul, compute_swiglu, compute_scale, compute_silu;
// norm.cpp, rope.cpp, softmax.cpp, get_rows.cpp, mul_mat.cpp, cpy.cpp: one pair each
supports_fn supports_rms_norm, supports_rope, supports_soft_max, supports_get_rows, supports_mul_mat,
    supports_cpy;
compute_fn compute_rms_norm, compute_rope, compute_soft_max, compute_get_rows, compute_mul_mat, compute_cpy;
std::string cpy_options(const device_context& ctx); // build flags of cpy.cl (shared with mul_mat)
// flash attention (flash_attn.cpp)
supports_fn supports_flash_attn;
compute_fn compute_flash_attn;

} // namespace pa::ocl
