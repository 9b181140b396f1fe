// launch.h - the one place that sets kernel arguments and enqueues kernels.
//
// set_args(k, a, b, c...) sets consecutive arguments from typed values:
//   cl_mem                  -> one __global pointer argument
//   mem_ref {mem, offs}     -> two arguments: __global pointer, ulong byte offset
//   shape_ref (shape_of(t)) -> two arguments: long4 ne, ulong4 nb (ggml ne / byte strides)
//   local_mem {bytes}       -> one __local pointer argument of that size
//   int32_t, uint32_t, int64_t, uint64_t, float, cl_int4, cl_long4, cl_ulong4, cl_float4
//                           -> one argument of the matching OpenCL type (int, uint, long, ulong, ...)
// Any other type is a compile error, so a size_t/int mix-up cannot reach the driver silently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "cl_common.h"
#include "pa/pa_tensor.h"

namespace pa::ocl {

struct mem_ref {
    cl_mem mem = nullptr;
    size_t offs = 0; // bytes
};
struct local_mem {
    size_t bytes = 0;
};
struct shape_ref {
    cl_long4 ne;
    cl_ulong4 nb;
};
shape_ref shape_of(const pa_tensor* t);

// A 1-3 dimensional work size.
struct nd_range {
    cl_uint dims = 0; // 0 = "let the driver choose" (only meaningful for local sizes)
    size_t size[3] = {1, 1, 1};
};
inline nd_range range1(size_t x) {
    return {1, {x, 1, 1}};
}
inline nd_range range2(size_t x, size_t y) {
    return {2, {x, y, 1}};
}
inline nd_range range3(size_t x, size_t y, size_t z) {
    return {3, {x, y, z}};
}

namespace detail {
[[noreturn]] void arg_error(cl_kernel k, cl_uint index, cl_int err);
inline void set_raw(cl_kernel k, cl_uint& i, size_t size, const void* value) {
    const cl_int err = clSetKernelArg(k, i, size, value);
    if (err != CL_SUCCESS) arg_error(k, i, err);
    ++i;
}
template <class T>
inline constexpr bool plain_arg =
    std::is_same_v<T, int32_t> || std::is_same_v<T, uint32_t> || std::is_same_v<T, int64_t> ||
    std::is_same_v<T, uint64_t> || std::is_same_v<T, float> || std::is_same_v<T, cl_int4> ||
    std::is_same_v<T, cl_long4> || std::is_same_v<T, cl_ulong4> || std::is_same_v<T, cl_float4>;

inline void set_arg(cl_kernel k, cl_uint& i, cl_mem m) {
    set_raw(k, i, sizeof(cl_mem), &m);
}
inline void set_arg(cl_kernel k, cl_uint& i, const mem_ref& r) {
    set_raw(k, i, sizeof(cl_mem), &r.mem);
    const cl_ulong offs = r.offs;
    set_raw(k, i, sizeof(cl_ulong), &offs);
}
inline void set_arg(cl_kernel k, cl_uint& i, const shape_ref& s) {
    set_raw(k, i, sizeof(cl_long4), &s.ne);
    set_raw(k, i, sizeof(cl_ulong4), &s.nb);
}
inline void set_arg(cl_kernel k, cl_uint& i, const local_mem& l) {
    set_raw(k, i, l.bytes, nullptr);
}
template <class T>
requires plain_arg<T>
inline void set_arg(cl_kernel k, cl_uint& i, const T& v) {
    set_raw(k, i, sizeof(T), &v);
}
} // namespace detail

template <class... A> void set_args(cl_kernel k, const A&... args) {
    cl_uint i = 0;
    (detail::set_arg(k, i, args), ...);
}

// The kernel's function name ("?" if the driver cannot say), for messages.
std::string kernel_name(cl_kernel k);

// Enqueues k. Each global size is rounded up to a multiple of the local size (kernels
// bounds-check); local.dims == 0 leaves the work-group size to the driver.
void launch(cl_command_queue q, cl_kernel k, const nd_range& global, const nd_range& local = {});

inline size_t round_up(size_t x, size_t m) {
    return (x + m - 1) / m * m;
}
inline size_t ceil_div(size_t x, size_t m) {
    return (x + m - 1) / m;
}

} // namespace pa::ocl
