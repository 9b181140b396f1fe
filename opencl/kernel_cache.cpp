// kernel_cache.cpp - hashing and matching of kernel keys.
#include "kernel_cache.h"

#include <algorithm>
#include <functional>

namespace pa::ocl {
namespace {

size_t combine(size_t seed, size_t v) {
    return seed ^ (v + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2));
}

} // namespace

size_t kernel_cache::hash_of(const kernel_key& k) {
    const std::hash<std::string_view> h;
    size_t s = combine(size_t(k.of), h(k.program));
    s = combine(s, h(k.kernel));
    s = combine(s, h(k.options));
    for (const define& d : k.defs)
        s = combine(combine(s, h(d.name)), std::hash<int64_t>{}(d.value));
    s = combine(s, k.text_size);
    s = combine(s, k.text_hash);
    return combine(s, k.prepend_common);
}

bool kernel_cache::matches(const entry& e, const kernel_key& k) {
    return e.of == k.of && e.program == k.program && e.kernel == k.kernel && e.options == k.options &&
           e.text_size == k.text_size && e.text_hash == k.text_hash && e.prepend_common == k.prepend_common &&
           std::equal(
               e.defs.begin(), e.defs.end(), k.defs.begin(), k.defs.end(),
               [](const auto& a, const define& b) { return a.first == b.name && a.second == b.value; });
}

cl_kernel kernel_cache::find(const kernel_key& k) const {
    auto it = table_.find(hash_of(k));
    if (it == table_.end()) return nullptr;
    for (const entry& e : it->second)
        if (matches(e, k)) return e.value;
    return nullptr;
}

void kernel_cache::insert(const kernel_key& k, cl_kernel kernel) {
    std::vector<entry>& bucket = table_[hash_of(k)];
    for (const entry& e : bucket)
        if (matches(e, k)) return; // built twice by racing threads: the first stays
    entry e{k.of,
            std::string(k.program),
            std::string(k.kernel),
            std::string(k.options),
            {},
            k.text_size,
            k.text_hash,
            k.prepend_common,
            kernel};
    for (const define& d : k.defs)
        e.defs.emplace_back(std::string(d.name), d.value);
    bucket.push_back(std::move(e));
}

} // namespace pa::ocl
