// repack_cache.cpp - see repack_cache.h.
#include "repack_cache.h"

#include <algorithm>

#include "buffer_pool.h"

namespace pa::ocl {

const repack_cache::entry* repack_cache::find(const key& k) const {
    for (const entry& e : entries_)
        if (e.k == k) return &e;
    return nullptr;
}

const repack_cache::entry* repack_cache::keep(const key& k, scratch&& a, scratch&& b, size_t bytes,
                                              uint64_t cap_bytes, const buffer_pool& pool) {
    // the copies of weights whose buffer was released (or reused for something else) go first
    const auto dead = [&](const entry& e) { return !pool.same_allocation(e.k.buffer, e.k.serial); };
    for (const entry& e : entries_)
        if (dead(e)) bytes_ -= e.bytes;
    std::erase_if(entries_, dead);
    if (bytes_ + bytes > cap_bytes) return nullptr; // a and b untouched: the caller's still
    entries_.push_back({k, std::move(a), std::move(b), bytes});
    bytes_ += bytes;
    return &entries_.back();
}

} // namespace pa::ocl
