// repack_cache.h - device copies of weights in a kernel's own layout, kept between calls.
// The tensor-core GEMM (mul_mat_mma.cpp) repacks its weights on every call; weights the runtime
// uploads once (PA_FLAG_PARAM) are repacked once instead and the copy kept here, keyed by the
// weight's buffer allocation (buffer_pool's serial: a buffer freed and reused is another key),
// offset, type and shape. PARAM tensors are read-only on the device (the scheduler uploads
// them once and no node writes them), so a kept copy stays right while its allocation lives.
// Entries of buffers no longer live are dropped at the next miss; past the byte cap nothing more
// is kept (the caller repacks per call as before).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "ocl_api.h"

namespace pa::ocl {

class buffer_pool;

class repack_cache {
  public:
    struct key {
        const void* buffer = nullptr; // the weight's device_buffer
        uint64_t serial = 0;
        size_t offs = 0;
        int type = 0;
        std::array<int64_t, 4> ne{};
        std::array<uint64_t, 4> nb{};
        int variant = 0; // which repacked layout (the caller's numbering)
        bool operator==(const key&) const = default;
    };
    struct entry {
        key k;
        scratch a, b; // the repacked copies (b may be empty)
        size_t bytes = 0;
    };

    // The kept copies of k, or nullptr (valid until the next keep()).
    const entry* find(const key& k) const;
    // Keeps a and b for k if they fit under cap_bytes (with entries of dead buffers dropped
    // first); returns the entry (valid until the next keep()), or nullptr when they do not fit
    // (a and b are then left to the caller).
    const entry* keep(const key& k, scratch&& a, scratch&& b, size_t bytes, uint64_t cap_bytes,
                      const buffer_pool& pool);
    size_t bytes() const { return bytes_; }

  private:
    std::vector<entry> entries_;
    size_t bytes_ = 0;
};

} // namespace pa::ocl
