// ops.h - host side of the built-in ops: one supports/compute pair per op, grouped by kernel
// family in ops_*.cpp. Each compute validates nothing twice: supports() has accepted the node.
#pragma once

#include <cstdint>
#include <string>

#include "context_impl.h"
#include "ocl_api.h"
#include "pa/pa_tensor.h"

namespace pa::ocl {

struct builtin_op {
    bool (*supports)(const device_context&, const pa_tensor*);
    void (*compute)(device_context&, pa_tensor*);
};

// The entry of a built-in op, or nullptr (views, unknown ids).
const builtin_op* find_builtin_op(int32_t op);

// ---- shared helpers ----------------------------------------------------------------------
int64_t n_elements(const pa_tensor* t);
bool is_plain_float(pa_type t);    // F32 or F16
bool is_block_type(pa_type t);     // Q8_0, Q4_0, Q4_1
bool fits_int(const pa_tensor* t); // every index of t fits a 32-bit int
bool same_ne(const pa_tensor* a, const pa_tensor* b);
bool is_packed(const pa_tensor* t); // contiguous in dimension order
inline int32_t type_arg(pa_type t) {
    return static_cast<int32_t>(t);
} // matches PA_* in common.cl

// ---- families ----------------------------------------------------------------------------
bool supports_binary(const device_context&, const pa_tensor*); // add, mul
bool supports_swiglu(const device_context&, const pa_tensor*);
bool supports_unary(const device_context&, const pa_tensor*); // scale, silu, rms_norm
bool supports_rope(const device_context&, const pa_tensor*);
bool supports_soft_max(const device_context&, const pa_tensor*);
bool supports_get_rows(const device_context&, const pa_tensor*);
void compute_add(device_context&, pa_tensor*);
void compute_mul(device_context&, pa_tensor*);
void compute_swiglu(device_context&, pa_tensor*);
void compute_scale(device_context&, pa_tensor*);
void compute_silu(device_context&, pa_tensor*);
void compute_rms_norm(device_context&, pa_tensor*);
void compute_rope(device_context&, pa_tensor*);
void compute_soft_max(device_context&, pa_tensor*);
void compute_get_rows(device_context&, pa_tensor*);

bool supports_mul_mat(const device_context&, const pa_tensor*);
void compute_mul_mat(device_context&, pa_tensor*);

std::string cpy_options(const device_context& ctx); // build flags of cpy.cl (shared with mul_mat)
bool supports_cpy(const device_context&, const pa_tensor*);
void compute_cpy(device_context&, pa_tensor*);

bool supports_flash_attn(const device_context&, const pa_tensor*);
void compute_flash_attn(device_context&, pa_tensor*);

} // namespace pa::ocl
