// launch.cpp - kernel argument errors and the enqueue helper.
#include "launch.h"

#include <fmt/format.h>

#include "kernel_profile.h"

namespace pa::ocl {

std::string kernel_name(cl_kernel k) {
    char name[256] = {};
    if (clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof(name) - 1, name, nullptr) != CL_SUCCESS)
        return "?";
    return name;
}

shape_ref shape_of(const pa_tensor* t) {
    shape_ref s{};
    for (int i = 0; i < 4; ++i) {
        s.ne.s[i] = t->ne[i];
        s.nb.s[i] = t->nb[i];
    }
    return s;
}

void arg_pack::overflow() {
    throw error(fmt::format("kernel arguments: more than {} bytes of scalars in one arg_pack", max_bytes),
                PA_ERR_INVALID);
}

void buffer_args::overflow() {
    throw error(fmt::format("kernel arguments: more than {} buffers in one buffer_args", max_count),
                PA_ERR_INVALID);
}

void detail::arg_error(cl_kernel k, cl_uint index, cl_int err) {
    check(err, fmt::format("setting argument {} of kernel {}", index, kernel_name(k)));
    throw error("unreachable", PA_ERR_DEVICE);
}

void launch(cl_command_queue q, cl_kernel k, const nd_range& global, const nd_range& local) {
    size_t g[3], l[3];
    const cl_uint dims = global.dims ? global.dims : 1;
    for (cl_uint i = 0; i < dims; ++i) {
        if (global.size[i] == 0) return; // empty tensor: nothing to do
        l[i] = local.dims ? local.size[i] : 1;
        g[i] = round_up(global.size[i], l[i]);
    }
    const auto enqueue = [&](cl_event* ev) {
        return clEnqueueNDRangeKernel(q, k, dims, nullptr, g, local.dims ? l : nullptr, 0, nullptr, ev);
    };
    const cl_int err = kernel_profile::current() == kernel_profile::mode::off
                           ? enqueue(nullptr)
                           : kernel_profile::enqueue(q, k, enqueue);
    if (err != CL_SUCCESS)
        check(err, fmt::format("launching kernel {} (global {}x{}x{}, local {}x{}x{})", kernel_name(k), g[0],
                               dims > 1 ? g[1] : 1, dims > 2 ? g[2] : 1, local.dims ? l[0] : 0,
                               local.dims > 1 ? l[1] : 0, local.dims > 2 ? l[2] : 0));
}

} // namespace pa::ocl
