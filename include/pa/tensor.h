// tensor.h - helpers over struct pa_tensor (shapes, strides, sizes); no ownership here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "pa/pa_tensor.h"

namespace pa {

using tensor = pa_tensor;

int64_t nelements(const tensor* t);
int64_t nrows(const tensor* t);                    // ne1*ne2*ne3
size_t nbytes(const tensor* t);                    // bytes spanned, views and permutes included
bool is_contiguous(const tensor* t);               // rows packed, dims in order
bool same_shape(const tensor* a, const tensor* b);
bool can_repeat(const tensor* small, const tensor* big); // big's ne are multiples of small's
const tensor* storage_root(const tensor* t);       // view_src or t itself
tensor* storage_root(tensor* t);
bool is_view_op(int32_t op);                       // VIEW/RESHAPE/PERMUTE/TRANSPOSE
void set_contiguous_strides(tensor* t);            // nb from type and ne
std::string shape_string(const tensor* t);         // "[64, 17, 8, 1] f16"

// op params, floats bit-cast into int32 slots
void set_param_f(tensor* t, int i, float v);
void set_param_i(tensor* t, int i, int32_t v);

} // namespace pa
