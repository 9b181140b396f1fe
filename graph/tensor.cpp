// tensor.cpp - shape and stride helpers over pa_tensor.
#include "pa/tensor.h"

#include <cstring>
#include <fmt/format.h>

#include "pa/types.h"

namespace pa {

int64_t nelements(const tensor* t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }
int64_t nrows(const tensor* t) { return t->ne[1] * t->ne[2] * t->ne[3]; }

size_t nbytes(const tensor* t) {
    for (int i = 0; i < PA_MAX_DIMS; ++i)
        if (t->ne[i] <= 0) return 0;
    const type_traits& tr = traits(t->type);
    size_t bytes = row_size(t->type, t->ne[0]);
    for (int i = 1; i < PA_MAX_DIMS; ++i) bytes += size_t(t->ne[i] - 1) * t->nb[i];
    if (tr.block_elems == 1) { // plain types may be permuted: dim 0 need not be innermost
        bytes = tr.block_bytes;
        for (int i = 0; i < PA_MAX_DIMS; ++i) bytes += size_t(t->ne[i] - 1) * t->nb[i];
    }
    return bytes;
}

bool is_contiguous(const tensor* t) {
    const type_traits& tr = traits(t->type);
    size_t expect = tr.block_bytes;
    if (t->nb[0] != expect) return false;
    expect = row_size(t->type, t->ne[0]);
    for (int i = 1; i < PA_MAX_DIMS; ++i) {
        if (t->ne[i] != 1 && t->nb[i] != expect) return false;
        expect *= size_t(t->ne[i]);
    }
    return true;
}

bool same_shape(const tensor* a, const tensor* b) {
    for (int i = 0; i < PA_MAX_DIMS; ++i)
        if (a->ne[i] != b->ne[i]) return false;
    return true;
}

bool can_repeat(const tensor* small, const tensor* big) {
    for (int i = 0; i < PA_MAX_DIMS; ++i)
        if (small->ne[i] <= 0 || big->ne[i] % small->ne[i] != 0) return false;
    return true;
}

const tensor* storage_root(const tensor* t) { return t->view_src ? t->view_src : t; }
tensor* storage_root(tensor* t) { return t->view_src ? t->view_src : t; }

bool is_view_op(int32_t op) {
    return op == PA_OP_VIEW || op == PA_OP_RESHAPE || op == PA_OP_PERMUTE || op == PA_OP_TRANSPOSE;
}

void set_contiguous_strides(tensor* t) {
    const type_traits& tr = traits(t->type);
    t->nb[0] = tr.block_bytes;
    t->nb[1] = row_size(t->type, t->ne[0]);
    for (int i = 2; i < PA_MAX_DIMS; ++i) t->nb[i] = t->nb[i - 1] * size_t(t->ne[i - 1]);
}

std::string shape_string(const tensor* t) {
    return fmt::format("[{}, {}, {}, {}] {}", t->ne[0], t->ne[1], t->ne[2], t->ne[3], type_name(t->type));
}

void set_param_f(tensor* t, int i, float v) { std::memcpy(&t->op_params[i], &v, 4); }
void set_param_i(tensor* t, int i, int32_t v) { t->op_params[i] = v; }

} // namespace pa
