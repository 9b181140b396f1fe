// builder.h - what the op constructors in graph/ops/ share: checks whose errors name the op, and
// the result and view records they make.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "pa/context.h"

namespace pa::builder {

[[noreturn]] void fail(std::string_view op, const std::string& why);
void require(bool ok, std::string_view op, const std::string& why);
void require_tensor(const tensor* t, std::string_view op, std::string_view what);

// Elements of a shape; an error naming the per-tensor limit when above it (no overflow).
int64_t checked_elements(const int64_t ne[4], std::string_view op);

// A fresh, contiguous node of the given type and shape (checked against the element limit)
// reading srcs, without host storage.
tensor* new_result(context& ctx, std::string_view op_name, int32_t op, pa_type type, const int64_t ne[4],
                   std::initializer_list<tensor*> srcs);

// A view record of a's storage (always pointing at the root owner), offset bytes further in.
tensor* new_view(context& ctx, tensor* a, int32_t op, size_t offset);

// An F32 node of a's shape reading a, which must be F32 (scale, silu, rms_norm, rope, ...).
tensor* unary(context& ctx, tensor* a, int32_t op, std::string_view op_name);

} // namespace pa::builder
