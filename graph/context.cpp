// context.cpp - tensor records and host storage.
#include "pa/context.h"

#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

#include "pa/error.h"

namespace pa {

void context::aligned_free::operator()(std::byte* p) const { std::free(p); }

tensor* context::new_record() {
    tensors_.emplace_back();
    tensor* t = &tensors_.back();
    std::memset(t, 0, sizeof(*t));
    return t;
}

tensor* context::new_tensor(pa_type type, std::initializer_list<int64_t> ne, bool host_data) {
    return new_tensor(type, static_cast<int>(ne.size()), ne.begin(), host_data);
}

tensor* context::new_tensor(pa_type type, int n_dims, const int64_t* ne, bool host_data) {
    if (n_dims < 1 || n_dims > PA_MAX_DIMS)
        throw error(fmt::format("new_tensor: {} dims (1 to {} supported)", n_dims, PA_MAX_DIMS));
    const type_traits& tr = traits(type);
    int64_t dims[PA_MAX_DIMS] = {1, 1, 1, 1};
    int64_t total = 1;
    for (int i = 0; i < n_dims; ++i) {
        if (ne[i] <= 0) throw error(fmt::format("new_tensor: dimension {} is {} (must be > 0)", i, ne[i]));
        if (ne[i] > max_tensor_elements || total > max_tensor_elements / ne[i])
            throw error(fmt::format("new_tensor: more than {} elements (the per-tensor limit)", max_tensor_elements));
        dims[i] = ne[i];
        total *= ne[i];
    }
    if (dims[0] % tr.block_elems != 0)
        throw error(fmt::format("new_tensor: {} rows of {} elements are not whole {}-element blocks", tr.name,
                                dims[0], tr.block_elems));
    tensor* t = new_record();
    t->type = type;
    for (int i = 0; i < PA_MAX_DIMS; ++i) t->ne[i] = dims[i];
    set_contiguous_strides(t);
    if (host_data) ensure_host_data(t);
    return t;
}

void* context::alloc_host(size_t bytes) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!p) throw error(fmt::format("out of host memory allocating {} bytes", bytes), PA_ERR_OUT_OF_MEMORY);
    std::memset(p, 0, rounded == 0 ? 64 : rounded);
    blocks_.emplace_back(static_cast<std::byte*>(p));
    host_bytes_ += rounded;
    return p;
}

void context::ensure_host_data(tensor* t) {
    if (t->view_src) throw error("ensure_host_data: called on a view");
    if (!t->data) t->data = alloc_host(nbytes(t));
}

} // namespace pa
