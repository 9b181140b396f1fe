// cl_common.h - the OpenCL C API (1.2), error checking and RAII handles for every cl object.
// Errors become pa::error: allocation failures (CL_MEM_OBJECT_ALLOCATION_FAILURE,
// CL_OUT_OF_RESOURCES, CL_OUT_OF_HOST_MEMORY) carry PA_ERR_OUT_OF_MEMORY, the rest PA_ERR_DEVICE.
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <string>
#include <string_view>
#include <utility>

#include "pa/error.h"

namespace pa::ocl {

const char* cl_error_name(cl_int err); // "CL_OUT_OF_RESOURCES", or "CL_ERROR" for unknown codes
pa_status cl_error_status(cl_int err); // PA_ERR_OUT_OF_MEMORY or PA_ERR_DEVICE

// Throws pa::error("<what>: <CL name> (<code>)") when err != CL_SUCCESS.
void check(cl_int err, std::string_view what);

// Owning wrapper of a reference-counted cl object: copy retains, destruction releases.
template <class T, cl_int(CL_API_CALL* Retain)(T), cl_int(CL_API_CALL* Release)(T)> class handle {
  public:
    handle() = default;
    explicit handle(T h) noexcept : h_(h) {} // takes over one reference
    handle(const handle& o) noexcept : h_(o.h_) {
        if (h_) Retain(h_);
    }
    handle(handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    handle& operator=(handle o) noexcept {
        std::swap(h_, o.h_);
        return *this;
    }
    ~handle() {
        if (h_) Release(h_);
    }
    T get() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }

  private:
    T h_ = nullptr;
};

using context_handle = handle<cl_context, clRetainContext, clReleaseContext>;
using queue_handle = handle<cl_command_queue, clRetainCommandQueue, clReleaseCommandQueue>;
using mem_handle = handle<cl_mem, clRetainMemObject, clReleaseMemObject>;
using program_handle = handle<cl_program, clRetainProgram, clReleaseProgram>;
using kernel_handle = handle<cl_kernel, clRetainKernel, clReleaseKernel>;
using event_handle = handle<cl_event, clRetainEvent, clReleaseEvent>;

} // namespace pa::ocl
