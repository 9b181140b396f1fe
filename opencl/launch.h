// launch.h - the one place that sets kernel arguments and enqueues kernels.
//
// set_args(k, a, b, c...) sets consecutive arguments from typed values:
//   cl_mem                  -> one __global pointer argument
//   mem_ref {mem, offs}     -> two arguments: __global pointer, ulong byte offset
//   shape_ref (shape_of(t)) -> two arguments: long4 ne, ulong4 nb (ggml ne / byte strides)
//   local_mem {bytes}       -> one __local pointer argument of that size
//   arg_pack(values...)     -> one by-value struct argument holding the values (below)
//   buffer_args(mems...)    -> one __global pointer argument each (a variant's own list, below)
//   int32_t, uint32_t, int64_t, uint64_t, float, cl_int4, cl_long4, cl_ulong4, cl_float4
//                           -> one argument of the matching OpenCL type (int, uint, long, ulong, ...)
// Any other type is a compile error, so a size_t/int mix-up cannot reach the driver silently.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
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

namespace detail {
template <class T>
inline constexpr bool plain_arg =
    std::is_same_v<T, int32_t> || std::is_same_v<T, uint32_t> || std::is_same_v<T, int64_t> ||
    std::is_same_v<T, uint64_t> || std::is_same_v<T, float> || std::is_same_v<T, cl_int4> ||
    std::is_same_v<T, cl_long4> || std::is_same_v<T, cl_ulong4> || std::is_same_v<T, cl_float4>;
} // namespace detail

// Scalar arguments packed into one by-value struct argument. NVIDIA's OpenCL charges every
// argument of a launch in clEnqueueNDRangeKernel (~0.04 us a scalar, ~0.3 us a buffer; a struct
// of 30 longs costs what one scalar does), so kernels launched per decoded token take their
// scalars this way. The bytes are laid out as OpenCL C lays out a struct of the same members in
// the same order: each member at a multiple of its size (int4 / float4 at 16 bytes, long4 /
// ulong4 at 32; a shape_ref is its ne then its nb), the whole padded to its largest member; the
// kernel declares that struct (OpenclDevice.ArgPackMatchesTheKernelsStruct checks the agreement
// on the device). The largest, k_mul_mv_q_heads', is 800 bytes: with its 16 buffers (128) under
// the 1024 bytes of parameters every full-profile device takes.
class arg_pack {
  public:
    static constexpr size_t max_bytes = 1024;
    template <class... A> explicit arg_pack(const A&... v) { add(v...); }
    template <class... A> arg_pack& add(const A&... v) {
        (add_one(v), ...);
        return *this;
    }
    const void* data() const { return bytes_.data(); }
    size_t size() const { return (size_ + align_ - 1) / align_ * align_; }

  private:
    template <class T> void add_raw(const T& v) {
        static_assert(sizeof(T) <= 32 && (sizeof(T) & (sizeof(T) - 1)) == 0);
        size_ = (size_ + sizeof(T) - 1) / sizeof(T) * sizeof(T);
        if (size_ + sizeof(T) > max_bytes) overflow();
        std::memcpy(bytes_.data() + size_, &v, sizeof(T));
        size_ += sizeof(T);
        align_ = std::max(align_, sizeof(T));
    }
    void add_one(const shape_ref& s) {
        add_raw(s.ne);
        add_raw(s.nb);
    }
    template <class T>
    requires detail::plain_arg<T>
    void add_one(const T& v) { add_raw(v); }
    [[noreturn]] static void overflow();

    alignas(32) std::array<std::byte, max_bytes> bytes_{};
    size_t size_ = 0, align_ = 1;
};

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

// Buffer arguments whose number depends on the kernel variant (a kernel built without a norm
// takes no norm buffers): one __global pointer argument each, in the order added. A buffer the
// variant never touches costs the enqueue as much as one it does (~0.3 us on NVIDIA), so variants
// declare only the ones they use.
class buffer_args {
  public:
    static constexpr size_t max_count = 16;
    template <class... M> explicit buffer_args(M... m) { (add(m), ...); }
    buffer_args& add(cl_mem m) {
        if (n_ == max_count) overflow();
        mems_[n_++] = m;
        return *this;
    }
    std::span<const cl_mem> mems() const { return {mems_.data(), n_}; }

  private:
    [[noreturn]] static void overflow();
    std::array<cl_mem, max_count> mems_{};
    size_t n_ = 0;
};

namespace detail {
[[noreturn]] void arg_error(cl_kernel k, cl_uint index, cl_int err);
inline void set_raw(cl_kernel k, cl_uint& i, size_t size, const void* value) {
    const cl_int err = clSetKernelArg(k, i, size, value);
    if (err != CL_SUCCESS) arg_error(k, i, err);
    ++i;
}
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
inline void set_arg(cl_kernel k, cl_uint& i, const buffer_args& b) {
    for (cl_mem m : b.mems())
        set_raw(k, i, sizeof(cl_mem), &m);
}
inline void set_arg(cl_kernel k, cl_uint& i, const arg_pack& p) {
    set_raw(k, i, p.size(), p.data());
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
