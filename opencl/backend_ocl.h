// backend_ocl.h - the OpenCL backend on one device: memory handles, supports_op, compute.
// C++ and exceptions inside; plugin/plugin_entry.cpp puts the C ABI around it.
// Thread safety: compute() holds a mutex (kernels are shared objects whose arguments are set
// per launch), so two threads may compute graphs on one backend at once; alloc/release/
// write/read are thread-safe through the pool and the (thread-safe) OpenCL queue.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

#include "ocl_api.h"

namespace pa::ocl {

class opencl_backend {
  public:
    explicit opencl_backend(std::string_view spec); // throws pa::error
    ~opencl_backend();

    std::string description();
    bool supports_op(const pa_tensor* node) const noexcept;
    void* alloc(size_t bytes);
    void release(void* handle) noexcept;
    void write(void* handle, size_t offset, const void* src, size_t bytes);
    void read(void* handle, size_t offset, void* dst, size_t bytes);
    void compute(pa_tensor* const* nodes, int n_nodes);
    void synchronize();
    // "max_alloc_bytes" (bytes, 0 = no cap), "blas_warmup" (any value: compile CLBlast now),
    // "trim_pool" (release idle pooled buffers). Unknown keys: pa::error(PA_ERR_INVALID).
    void set_option(std::string_view key, std::string_view value);

    device_context& context() { return ctx_; }

  private:
    device_context ctx_;
    std::mutex compute_mu_;
    // PA_OPENCL_SYNC=1: wait for every node and name the one whose kernels failed (drivers report
    // faults at the next synchronization, which otherwise is the end of the graph).
    bool sync_each_node_ = false;
};

} // namespace pa::ocl
