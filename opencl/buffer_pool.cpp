// buffer_pool.cpp - allocation with a cap, reuse, copies.
#include "buffer_pool.h"

#include "host_wait.h"

#include <cstdlib>
#include <fmt/format.h>

namespace pa::ocl {
namespace {

constexpr size_t granule = 256;      // sizes round up to this (also keeps offsets aligned)
constexpr double reuse_slack = 1.25; // a pooled buffer up to 25% larger than asked is reused
constexpr uint64_t min_pool_bytes = 64ull << 20;
constexpr size_t max_staged_copies = 64; // beyond: wait for the oldest

std::string mib(uint64_t b) {
    return fmt::format("{:.1f} MiB", double(b) / (1024.0 * 1024.0));
}

uint64_t env_cap() {
    const char* v = std::getenv("PA_OPENCL_MAX_MEM");
    if (!v || !*v) return 0;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 10);
    return end && *end == '\0' ? n : 0;
}

} // namespace

buffer_pool::buffer_pool(cl_context ctx, cl_command_queue queue, const device_caps& dev)
    : ctx_(ctx), queue_(queue), dev_(dev), cap_(env_cap()) {
    // keep at most a quarter of device memory idle in the pool
    max_pooled_ = std::max<uint64_t>(min_pool_bytes, dev.global_mem / 4);
}

buffer_pool::~buffer_pool() {
    // the device may still read the staged copies (the context finishes its queue first, but a
    // pool can be the last owner of it)
    for (staged_copy& c : staged_) {
        const cl_event e = c.done.get();
        clWaitForEvents(1, &e);
    }
}

void buffer_pool::drop_pooled_locked(uint64_t need) {
    // release the largest free buffers first until `need` more bytes fit (or the pool is empty)
    while (!free_.empty() && (need == UINT64_MAX || (cap_ && allocated_ + need > cap_))) {
        auto it = std::prev(free_.end());
        allocated_ -= it->second->capacity;
        pooled_ -= it->second->capacity;
        free_.erase(it);
    }
}

device_buffer* buffer_pool::acquire(size_t bytes) {
    size_t want = std::max<size_t>(granule, (bytes + granule - 1) / granule * granule);
    if (dev_.max_alloc && bytes <= dev_.max_alloc) want = std::min<size_t>(want, dev_.max_alloc);
    std::lock_guard lock(mu_);
    // reuse a free buffer of close size
    auto it = free_.lower_bound(want);
    if (it != free_.end() && double(it->first) <= double(want) * reuse_slack + granule) {
        std::unique_ptr<device_buffer> b = std::move(it->second);
        free_.erase(it);
        pooled_ -= b->capacity;
        b->size = bytes;
        b->serial = ++serial_;
        device_buffer* raw = b.get();
        live_.emplace(raw, std::move(b));
        return raw;
    }
    if (cap_ && allocated_ + want > cap_) drop_pooled_locked(want);
    if (cap_ && allocated_ + want > cap_)
        throw error(fmt::format("OpenCL out of memory: allocating {} bytes ({}) with {} in use exceeds the "
                                "max_alloc_bytes cap of {} bytes ({})",
                                bytes, mib(bytes), mib(allocated_), cap_, mib(cap_)),
                    PA_ERR_OUT_OF_MEMORY);
    if (dev_.max_alloc && bytes > dev_.max_alloc)
        throw error(fmt::format("OpenCL out of memory: a single buffer of {} bytes ({}) exceeds the device's "
                                "max allocation of {} bytes ({})",
                                bytes, mib(bytes), dev_.max_alloc, mib(dev_.max_alloc)),
                    PA_ERR_OUT_OF_MEMORY);
    cl_int err = CL_SUCCESS;
    cl_mem mem = clCreateBuffer(ctx_, CL_MEM_READ_WRITE, want, nullptr, &err);
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
        err == CL_OUT_OF_HOST_MEMORY) {
        drop_pooled_locked(UINT64_MAX); // free everything idle and try once more
        mem = clCreateBuffer(ctx_, CL_MEM_READ_WRITE, want, nullptr, &err);
    }
    if (err != CL_SUCCESS)
        throw error(
            fmt::format("OpenCL out of memory: allocating {} bytes ({}) with {} in use failed: {} ({})",
                        bytes, mib(bytes), mib(allocated_), cl_error_name(err), err),
            err == CL_INVALID_BUFFER_SIZE ? PA_ERR_OUT_OF_MEMORY : cl_error_status(err));
    auto b = std::make_unique<device_buffer>();
    b->mem = mem_handle(mem);
    b->size = bytes;
    b->capacity = want;
    b->serial = ++serial_;
    allocated_ += want;
    device_buffer* raw = b.get();
    live_.emplace(raw, std::move(b));
    return raw;
}

void buffer_pool::give_back(device_buffer* b) {
    if (!b) return;
    std::lock_guard lock(mu_);
    auto it = live_.find(b);
    if (it == live_.end()) return; // not ours (or double release): ignore rather than corrupt state
    std::unique_ptr<device_buffer> owned = std::move(it->second);
    live_.erase(it);
    if (pooled_ + owned->capacity > max_pooled_) {
        allocated_ -= owned->capacity; // released by unique_ptr
        return;
    }
    pooled_ += owned->capacity;
    free_.emplace(owned->capacity, std::move(owned));
}

bool buffer_pool::owns(const void* handle) const {
    std::lock_guard lock(mu_);
    return live_.count(static_cast<const device_buffer*>(handle)) != 0;
}

bool buffer_pool::same_allocation(const void* handle, uint64_t serial) const {
    std::lock_guard lock(mu_);
    auto it = live_.find(static_cast<const device_buffer*>(handle));
    return it != live_.end() && it->second->serial == serial;
}

void buffer_pool::check_bounds(const device_buffer* b, size_t offset, size_t bytes, const char* what) const {
    if (!b || offset > b->capacity || bytes > b->capacity - offset)
        throw error(fmt::format("OpenCL {} of {} bytes at offset {} is outside the buffer of {} bytes", what,
                                bytes, offset, b ? b->capacity : 0),
                    PA_ERR_INVALID);
}

void buffer_pool::write(device_buffer* b, size_t offset, const void* src, size_t bytes) {
    check_bounds(b, offset, bytes, "write");
    if (bytes == 0) return;
    if (bytes <= staged_write_max) return write_staged(b, offset, src, bytes);
    // done before returning: the caller's host memory may go away right after
    const cl_int err = enqueue_waited(
        queue_,
        [&](cl_bool blocking, cl_event* ev) {
            return clEnqueueWriteBuffer(queue_, b->mem.get(), blocking, offset, bytes, src, 0, nullptr, ev);
        },
        "writing to the device");
    if (err != CL_SUCCESS) check(err, fmt::format("writing {} bytes ({}) to the device", bytes, mib(bytes)));
}

void buffer_pool::write_staged(device_buffer* b, size_t offset, const void* src, size_t bytes) {
    std::lock_guard lock(staged_mu_);
    // drop the copies the device has read, oldest first; with too many kept, wait for the oldest
    while (!staged_.empty()) {
        const cl_event e = staged_.front().done.get();
        if (staged_.size() >= max_staged_copies)
            check(clWaitForEvents(1, &e), "waiting for a write to the device");
        else if (!command_done(e, "writing to the device"))
            break;
        staged_.pop_front();
    }
    staged_copy c;
    c.bytes.assign(static_cast<const std::byte*>(src), static_cast<const std::byte*>(src) + bytes);
    cl_event ev = nullptr;
    const cl_int err =
        clEnqueueWriteBuffer(queue_, b->mem.get(), CL_FALSE, offset, bytes, c.bytes.data(), 0, nullptr, &ev);
    if (err != CL_SUCCESS) check(err, fmt::format("writing {} bytes ({}) to the device", bytes, mib(bytes)));
    c.done = event_handle(ev);
    staged_.push_back(std::move(c));
}

void buffer_pool::read(device_buffer* b, size_t offset, void* dst, size_t bytes) {
    check_bounds(b, offset, bytes, "read");
    if (bytes == 0) return;
    const cl_int err = enqueue_waited(
        queue_,
        [&](cl_bool blocking, cl_event* ev) {
            return clEnqueueReadBuffer(queue_, b->mem.get(), blocking, offset, bytes, dst, 0, nullptr, ev);
        },
        "reading from the device");
    if (err != CL_SUCCESS)
        check(err, fmt::format("reading {} bytes ({}) from the device", bytes, mib(bytes)));
}

void buffer_pool::fill_zero(device_buffer* b) {
    const cl_uchar zero = 0;
    check(clEnqueueFillBuffer(queue_, b->mem.get(), &zero, 1, 0, b->capacity, 0, nullptr, nullptr),
          "clearing a device buffer");
}

void buffer_pool::set_cap(uint64_t bytes) {
    std::lock_guard lock(mu_);
    cap_ = bytes;
    if (cap_) drop_pooled_locked(0);
}

uint64_t buffer_pool::cap() const {
    std::lock_guard lock(mu_);
    return cap_;
}

uint64_t buffer_pool::allocated() const {
    std::lock_guard lock(mu_);
    return allocated_;
}

uint64_t buffer_pool::pooled() const {
    std::lock_guard lock(mu_);
    return pooled_;
}

void buffer_pool::trim() {
    std::lock_guard lock(mu_);
    drop_pooled_locked(UINT64_MAX);
}

} // namespace pa::ocl
