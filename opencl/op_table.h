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

struct builtin_op {
    pa_op op;
    bool (*supports)(const device_context&, const pa_tensor*); // nullptr: never
    void (*compute)(device_context&, pa_tensor*);              // nullptr: nothing to compute (views)
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
// elementwise.cpp
bool supports_binary(const device_context&, const pa_tensor*); // add, mul
bool supports_swiglu(const device_context&, const pa_tensor*);
bool supports_unary(const device_context&, const pa_tensor*); // scale, silu
void compute_add(device_context&, pa_tensor*);
void compute_mul(device_context&, pa_tensor*);
void compute_swiglu(device_context&, pa_tensor*);
void compute_scale(device_context&, pa_tensor*);
void compute_silu(device_context&, pa_tensor*);

// norm.cpp, rope.cpp, softmax.cpp, get_rows.cpp
bool supports_rms_norm(const device_context&, const pa_tensor*);
void compute_rms_norm(device_context&, pa_tensor*);
bool supports_rope(const device_context&, const pa_tensor*);
void compute_rope(device_context&, pa_tensor*);
bool supports_soft_max(const device_context&, const pa_tensor*);
void compute_soft_max(device_context&, pa_tensor*);
bool supports_get_rows(const device_context&, const pa_tensor*);
void compute_get_rows(device_context&, pa_tensor*);

// mul_mat.cpp
bool supports_mul_mat(const device_context&, const pa_tensor*);
void compute_mul_mat(device_context&, pa_tensor*);

// cpy.cpp
std::string cpy_options(const device_context& ctx); // build flags of cpy.cl (shared with mul_mat)
bool supports_cpy(const device_context&, const pa_tensor*);
void compute_cpy(device_context&, pa_tensor*);

// flash attention (ops_flash_attn.cpp)
bool supports_flash_attn(const device_context&, const pa_tensor*);
void compute_flash_attn(device_context&, pa_tensor*);

} // namespace pa::ocl
