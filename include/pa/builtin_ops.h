// builtin_ops.h - the compile-time check of tables indexed by built-in op id (the op names, each
// backend's kernels), as ggml checks its op tables against GGML_OP_COUNT: a table that misses a
// new op, or lists ops out of order, does not compile.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pa/pa_tensor.h"

namespace pa {

// Whether table (entries with a member `op`) lists every built-in op once, in enum pa_op order.
template <class Entry, size_t N> constexpr bool covers_builtin_ops(const Entry (&table)[N]) {
    if (N != PA_OP_BUILTIN_COUNT) return false;
    for (size_t i = 0; i < N; ++i)
        if (int32_t(table[i].op) != int32_t(i)) return false;
    return true;
}

} // namespace pa
