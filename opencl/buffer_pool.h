// buffer_pool.h - device memory: allocation with a byte cap, reuse of freed buffers of close
// size, and host<->device copies.
//
// Every cl_mem is counted from creation to clReleaseMemObject, pooled (free) buffers
// included. A cap (max_alloc_bytes option or $PA_OPENCL_MAX_MEM; 0 = none) makes running out
// of memory reproducible: a request that would exceed it first drops pooled buffers, then
// throws pa::error(PA_ERR_OUT_OF_MEMORY) naming the request, the live total and the cap. A
// driver allocation failure (CL_MEM_OBJECT_ALLOCATION_FAILURE / CL_OUT_OF_RESOURCES, also
// reported late by the first write, or for a small write that does not wait by the next write,
// read or finish) is the same error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cl_common.h"
#include "device.h"

namespace pa::ocl {

// One device allocation; the backend's buffer handle (pa_tensor::buffer) points to one.
struct device_buffer {
    mem_handle mem;
    size_t size = 0;     // bytes requested
    size_t capacity = 0; // bytes of the cl_mem
    uint64_t serial = 0; // new at every acquire: a buffer reused from the pool is a new allocation
};

class buffer_pool {
  public:
    buffer_pool(cl_context ctx, cl_command_queue queue, const device_caps& dev);
    ~buffer_pool();

    device_buffer* acquire(size_t bytes); // throws pa::error(PA_ERR_OUT_OF_MEMORY)
    void give_back(device_buffer* b);     // b returns to the free list (or is released)
    bool owns(const void* handle) const;  // a live buffer of this pool
    // Whether handle is a live buffer of this pool with this serial (the same allocation).
    bool same_allocation(const void* handle, uint64_t serial) const;

    // A small write (at most staged_write_max bytes) is enqueued from a copy the pool keeps until
    // the device has read it, so the host does not wait for it (a decoded token's id must not
    // cost a round trip before its first kernel); a larger one blocks until done.
    static constexpr size_t staged_write_max = 64 * 1024;
    void write(device_buffer* b, size_t offset, const void* src, size_t bytes);
    void read(device_buffer* b, size_t offset, void* dst, size_t bytes); // blocking
    void fill_zero(device_buffer* b);                                    // whole capacity

    void set_cap(uint64_t bytes); // 0 = none; drops pooled buffers above the new cap
    uint64_t cap() const;
    uint64_t allocated() const; // live cl_mem bytes (in use + pooled)
    uint64_t pooled() const;    // bytes of free pooled buffers
    void trim();                // releases every pooled buffer

  private:
    void check_bounds(const device_buffer* b, size_t offset, size_t bytes, const char* what) const;
    void drop_pooled_locked(uint64_t need);
    void write_staged(device_buffer* b, size_t offset, const void* src, size_t bytes);

    cl_context ctx_;
    cl_command_queue queue_;
    device_caps dev_;
    mutable std::mutex mu_;
    std::unordered_map<const device_buffer*, std::unique_ptr<device_buffer>> live_;
    std::multimap<size_t, std::unique_ptr<device_buffer>> free_; // by capacity
    uint64_t allocated_ = 0, pooled_ = 0, cap_ = 0;
    uint64_t serial_ = 0;     // of the last acquire
    uint64_t max_pooled_ = 0; // bytes of free buffers kept for reuse

    // host copies of small writes the device may not have read yet, oldest first
    struct staged_copy {
        std::vector<std::byte> bytes;
        event_handle done;
    };
    std::mutex staged_mu_;
    std::deque<staged_copy> staged_;
};

} // namespace pa::ocl
