// backend.h - the backend interface the scheduler drives. A backend owns device memory
// (handles), says which nodes it supports, and computes nodes whose srcs it holds.
// Plugin backends arrive through the C table in pa_plugin.h and are wrapped by the loader.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "pa/tensor.h"

namespace pa {

class backend {
public:
    virtual ~backend() = default;
    virtual std::string name() const = 0;        // "cpu", "opencl"
    virtual std::string description() const = 0; // device, driver
    // Host backends read and write tensors through `data`; the scheduler sets data to
    // (char*)buffer + offs for them. Device backends use (buffer, offs).
    virtual bool is_host() const { return false; }
    // node's srcs are given as they are in the graph (types and shapes matter, not storage).
    virtual bool supports_op(const tensor* node) const = 0;
    virtual void* alloc(size_t bytes) = 0;              // throws pa::error(PA_ERR_OUT_OF_MEMORY)
    virtual void release(void* handle) = 0;
    virtual void write(void* handle, size_t offset, const void* src, size_t bytes) = 0;
    virtual void read(void* handle, size_t offset, void* dst, size_t bytes) = 0;
    // Every node and src carries storage of this backend (see is_host()).
    virtual void compute(std::span<tensor* const> nodes) = 0;
    virtual void synchronize() {}
    virtual void set_option(const std::string& key, const std::string& value); // throws if unknown
};

// The reference backend: every built-in op, plus the CPU reference of every registered op.
// n_threads 0 = hardware concurrency.
std::unique_ptr<backend> make_cpu_backend(int n_threads = 0);

} // namespace pa
