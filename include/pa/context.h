// context.h - the arena that owns tensor records and host data. No hidden globals: every
// graph is built in a context, and pointers stay valid until the context dies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <vector>

#include "pa/tensor.h"
#include "pa/types.h"

namespace pa {

class context {
public:
    context() = default;
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    // A new tensor of 1 to 4 dims (missing dims are 1), contiguous strides. With host_data the
    // context allocates zero-filled host storage (64-byte aligned); otherwise data stays NULL.
    // Throws pa::error for invalid types, negative or overflowing sizes, rows that are not
    // whole blocks.
    tensor* new_tensor(pa_type type, std::initializer_list<int64_t> ne, bool host_data = true);
    tensor* new_tensor(pa_type type, int n_dims, const int64_t* ne, bool host_data = true);

    // A record only (op constructors use this): copies nothing, allocates nothing.
    tensor* new_record();

    void* alloc_host(size_t bytes);     // zero-filled, 64-byte aligned, lives as long as the context
    void ensure_host_data(tensor* t);   // root tensors only: allocate host storage if missing

    size_t tensor_count() const { return tensors_.size(); }
    size_t host_bytes() const { return host_bytes_; }

private:
    struct aligned_free { void operator()(std::byte* p) const; };
    std::deque<tensor> tensors_;
    std::vector<std::unique_ptr<std::byte, aligned_free>> blocks_;
    size_t host_bytes_ = 0;
};

// Largest element count we accept for one tensor (2^40): larger requests are rejected before
// any allocation with a message naming this limit.
inline constexpr int64_t max_tensor_elements = int64_t(1) << 40;

} // namespace pa
