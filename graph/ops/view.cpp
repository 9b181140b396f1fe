// view.cpp - view_1d..4d, reshape, permute, transpose: records that alias their source's
// storage (always pointing at the root owner) and compute nothing.
#include <fmt/format.h>

#include "builder.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;
namespace {

// The view must lie inside its root's storage. Byte extents are summed with overflow checks so
// that huge strides or offsets cannot wrap around and pass.
void check_view_fits(tensor* v, const tensor* a, std::string_view op, size_t offset) {
    checked_elements(v->ne, op);
    const tensor* root = storage_root(a);
    const size_t root_bytes = nbytes(root);
    const type_traits& tr = traits(v->type);
    bool overflow = __builtin_add_overflow(a->view_offs, offset, &v->view_offs);
    size_t end = v->view_offs;
    const size_t first = tr.block_elems == 1 ? tr.block_bytes : row_size(v->type, v->ne[0]);
    overflow |= __builtin_add_overflow(end, first, &end);
    for (int i = tr.block_elems == 1 ? 0 : 1; i < 4; ++i) {
        size_t span = 0;
        overflow |= __builtin_mul_overflow(size_t(v->ne[i] - 1), v->nb[i], &span);
        overflow |= __builtin_add_overflow(end, span, &end);
    }
    require(!overflow && end <= root_bytes, op,
            fmt::format("view {} at offset {} + {} exceeds its source of {} bytes", shape_string(v),
                        a->view_offs, offset, root_bytes));
}

} // namespace

tensor* view_4d(context& ctx, tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, size_t nb1,
                size_t nb2, size_t nb3, size_t offset) {
    require_tensor(a, "view", "source");
    const int64_t ne[4] = {ne0, ne1, ne2, ne3};
    for (int i = 0; i < 4; ++i)
        require(ne[i] > 0, "view", fmt::format("dimension {} is {}", i, ne[i]));
    require(ne0 % traits(a->type).block_elems == 0, "view", "row is not whole quantization blocks");
    tensor* t = new_view(ctx, a, PA_OP_VIEW, offset);
    for (int i = 0; i < 4; ++i)
        t->ne[i] = ne[i];
    t->nb[0] = a->nb[0];
    t->nb[1] = nb1;
    t->nb[2] = nb2;
    t->nb[3] = nb3;
    check_view_fits(t, a, "view", offset);
    return t;
}

tensor* view_1d(context& ctx, tensor* a, int64_t ne0, size_t offset) {
    require_tensor(a, "view", "source");
    const size_t row = row_size(a->type, ne0);
    return view_4d(ctx, a, ne0, 1, 1, 1, row, row, row, offset);
}

tensor* view_2d(context& ctx, tensor* a, int64_t ne0, int64_t ne1, size_t nb1, size_t offset) {
    return view_4d(ctx, a, ne0, ne1, 1, 1, nb1, nb1 * size_t(ne1), nb1 * size_t(ne1), offset);
}

tensor* view_3d(context& ctx, tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, size_t nb1, size_t nb2,
                size_t offset) {
    return view_4d(ctx, a, ne0, ne1, ne2, 1, nb1, nb2, nb2 * size_t(ne2), offset);
}

tensor* reshape(context& ctx, tensor* a, std::initializer_list<int64_t> shape) {
    require_tensor(a, "reshape", "source");
    require(shape.size() >= 1 && shape.size() <= 4, "reshape", "1 to 4 dims");
    require(is_contiguous(a), "reshape", fmt::format("source {} is not contiguous", shape_string(a)));
    int64_t ne[4] = {1, 1, 1, 1};
    int i = 0;
    for (int64_t n : shape) {
        require(n > 0, "reshape", fmt::format("dimension {} is {}", i, n));
        ne[i++] = n;
    }
    const int64_t total = checked_elements(ne, "reshape");
    require(total == nelements(a), "reshape",
            fmt::format("{} elements cannot become {}", nelements(a), total));
    require(ne[0] % traits(a->type).block_elems == 0, "reshape", "row is not whole quantization blocks");
    tensor* t = new_view(ctx, a, PA_OP_RESHAPE, 0);
    for (int k = 0; k < 4; ++k)
        t->ne[k] = ne[k];
    set_contiguous_strides(t);
    return t;
}

tensor* permute(context& ctx, tensor* a, int axis0, int axis1, int axis2, int axis3) {
    require_tensor(a, "permute", "source");
    const int axis[4] = {axis0, axis1, axis2, axis3};
    bool seen[4] = {false, false, false, false};
    for (int x : axis) {
        require(x >= 0 && x < 4 && !seen[x], "permute", "axes must be a permutation of 0..3");
        seen[x] = true;
    }
    require(!traits(a->type).quantized || axis0 == 0, "permute", "quantized rows cannot move dimension 0");
    tensor* t = new_view(ctx, a, PA_OP_PERMUTE, 0);
    for (int i = 0; i < 4; ++i) {
        t->ne[axis[i]] = a->ne[i];
        t->nb[axis[i]] = a->nb[i];
    }
    for (int i = 0; i < 4; ++i)
        t->op_params[i] = axis[i];
    return t;
}

tensor* transpose(context& ctx, tensor* a) {
    tensor* t = permute(ctx, a, 1, 0, 2, 3);
    t->op = PA_OP_TRANSPOSE;
    return t;
}

} // namespace pa
