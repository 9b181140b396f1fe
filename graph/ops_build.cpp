// ops_build.cpp - op constructors: check, make the result, pack params, link srcs.
#include "pa/ops.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "pa/error.h"
#include "pa/op_registry.h"

namespace pa {
namespace {

[[noreturn]] void fail(std::string_view op, const std::string& why) {
    throw error(fmt::format("{}: {}", op, why));
}

void require(bool ok, std::string_view op, const std::string& why) {
    if (!ok) fail(op, why);
}

void require_tensor(const tensor* t, std::string_view op, std::string_view what) {
    if (!t) fail(op, fmt::format("{} is null", what));
}

// A fresh, contiguous result of the given type and shape, without host storage.
tensor* new_result(context& ctx, pa_type type, const int64_t ne[4], int32_t op) {
    tensor* t = ctx.new_record();
    t->type = type;
    for (int i = 0; i < 4; ++i) t->ne[i] = ne[i];
    set_contiguous_strides(t);
    t->op = op;
    return t;
}

tensor* new_result_like(context& ctx, const tensor* a, pa_type type, int32_t op) {
    return new_result(ctx, type, a->ne, op);
}

// A view record of a's storage (always pointing at the root owner).
tensor* new_view(context& ctx, tensor* a, int32_t op, size_t offset) {
    tensor* t = ctx.new_record();
    t->type = a->type;
    t->op = op;
    t->src[0] = a;
    t->view_src = storage_root(a);
    t->view_offs = a->view_offs + offset;
    return t;
}

// Elements of a shape; an error naming the per-tensor limit when above it (no overflow).
int64_t checked_elements(const int64_t ne[4], std::string_view op) {
    int64_t total = 1;
    for (int i = 0; i < 4; ++i) {
        if (ne[i] > max_tensor_elements || total > max_tensor_elements / ne[i])
            fail(op, fmt::format("more than {} elements (the per-tensor limit)", max_tensor_elements));
        total *= ne[i];
    }
    return total;
}

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
            fmt::format("view {} at offset {} + {} exceeds its source of {} bytes", shape_string(v), a->view_offs,
                        offset, root_bytes));
}

bool is_float_type(pa_type t) { return t == PA_TYPE_F32 || t == PA_TYPE_F16; }

} // namespace

// ---- views ----------------------------------------------------------------------------
tensor* view_4d(context& ctx, tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, size_t nb1,
                size_t nb2, size_t nb3, size_t offset) {
    require_tensor(a, "view", "source");
    const int64_t ne[4] = {ne0, ne1, ne2, ne3};
    for (int i = 0; i < 4; ++i) require(ne[i] > 0, "view", fmt::format("dimension {} is {}", i, ne[i]));
    require(ne0 % traits(a->type).block_elems == 0, "view", "row is not whole quantization blocks");
    tensor* t = new_view(ctx, a, PA_OP_VIEW, offset);
    for (int i = 0; i < 4; ++i) t->ne[i] = ne[i];
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
    for (int k = 0; k < 4; ++k) t->ne[k] = ne[k];
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
    for (int i = 0; i < 4; ++i) t->op_params[i] = axis[i];
    return t;
}

tensor* transpose(context& ctx, tensor* a) {
    tensor* t = permute(ctx, a, 1, 0, 2, 3);
    t->op = PA_OP_TRANSPOSE;
    return t;
}

// ---- copies ---------------------------------------------------------------------------
tensor* cont(context& ctx, tensor* a) { return cont(ctx, a, a ? a->type : PA_TYPE_F32); }

tensor* cont(context& ctx, tensor* a, pa_type type) {
    require_tensor(a, "cont", "source");
    require(type != PA_TYPE_I32 || a->type == PA_TYPE_I32, "cont", "only i32 converts to i32");
    require(a->ne[0] % traits(type).block_elems == 0, "cont",
            fmt::format("rows of {} cannot be {}", a->ne[0], type_name(type)));
    require(!traits(a->type).quantized || a->type == type || type == PA_TYPE_F32 || type == PA_TYPE_F16, "cont",
            "quantized sources convert only to f32/f16 or themselves");
    tensor* t = new_result_like(ctx, a, type, PA_OP_CPY);
    t->src[0] = a;
    return t;
}

tensor* cpy(context& ctx, tensor* a, tensor* b) {
    require_tensor(a, "cpy", "source");
    require_tensor(b, "cpy", "destination");
    require(nelements(a) == nelements(b), "cpy",
            fmt::format("{} and {} differ in element count", shape_string(a), shape_string(b)));
    require(same_shape(a, b) || (is_contiguous(a) && is_contiguous(b)), "cpy",
            "shapes differ and are not both contiguous");
    require(!traits(a->type).quantized || a->type == b->type, "cpy", "quantized sources copy only to themselves");
    tensor* t = new_view(ctx, b, PA_OP_CPY, 0);
    std::memcpy(t->ne, b->ne, sizeof(t->ne));
    std::memcpy(t->nb, b->nb, sizeof(t->nb));
    t->src[0] = a;
    t->src[1] = b;
    return t;
}

// ---- compute --------------------------------------------------------------------------
tensor* get_rows(context& ctx, tensor* a, tensor* ids) {
    require_tensor(a, "get_rows", "source");
    require_tensor(ids, "get_rows", "ids");
    require(ids->type == PA_TYPE_I32, "get_rows", "ids must be i32");
    require(ids->ne[1] == a->ne[2] && ids->ne[2] == a->ne[3] && ids->ne[3] == 1, "get_rows",
            fmt::format("ids {} do not match source {}", shape_string(ids), shape_string(a)));
    const int64_t ne[4] = {a->ne[0], ids->ne[0], a->ne[2], a->ne[3]};
    checked_elements(ne, "get_rows"); // the result can outgrow both sources
    tensor* t = new_result(ctx, PA_TYPE_F32, ne, PA_OP_GET_ROWS);
    t->src[0] = a;
    t->src[1] = ids;
    return t;
}

static tensor* binary(context& ctx, tensor* a, tensor* b, int32_t op, std::string_view name) {
    require_tensor(a, name, "a");
    require_tensor(b, name, "b");
    require(a->type == PA_TYPE_F32 && is_float_type(b->type), name, "a must be f32, b f32 or f16");
    require(can_repeat(b, a), name,
            fmt::format("{} does not broadcast over {}", shape_string(b), shape_string(a)));
    tensor* t = new_result_like(ctx, a, PA_TYPE_F32, op);
    t->src[0] = a;
    t->src[1] = b;
    return t;
}

tensor* add(context& ctx, tensor* a, tensor* b) { return binary(ctx, a, b, PA_OP_ADD, "add"); }
tensor* mul(context& ctx, tensor* a, tensor* b) { return binary(ctx, a, b, PA_OP_MUL, "mul"); }

static tensor* unary(context& ctx, tensor* a, int32_t op, std::string_view name) {
    require_tensor(a, name, "source");
    require(a->type == PA_TYPE_F32, name, fmt::format("source must be f32, not {}", type_name(a->type)));
    tensor* t = new_result_like(ctx, a, PA_TYPE_F32, op);
    t->src[0] = a;
    return t;
}

tensor* scale(context& ctx, tensor* a, float s) {
    tensor* t = unary(ctx, a, PA_OP_SCALE, "scale");
    set_param_f(t, 0, s);
    return t;
}

tensor* rms_norm(context& ctx, tensor* a, float eps) {
    require(eps >= 0.0f, "rms_norm", "eps must be >= 0");
    tensor* t = unary(ctx, a, PA_OP_RMS_NORM, "rms_norm");
    set_param_f(t, 0, eps);
    return t;
}

tensor* silu(context& ctx, tensor* a) { return unary(ctx, a, PA_OP_SILU, "silu"); }

tensor* swiglu(context& ctx, tensor* a, tensor* b) {
    require_tensor(b, "swiglu", "b");
    require(b->type == PA_TYPE_F32 && a && same_shape(a, b), "swiglu", "a and b must be f32 of one shape");
    tensor* t = unary(ctx, a, PA_OP_SWIGLU, "swiglu");
    t->src[1] = b;
    return t;
}

tensor* mul_mat(context& ctx, tensor* a, tensor* b) {
    require_tensor(a, "mul_mat", "a");
    require_tensor(b, "mul_mat", "b");
    require(a->type != PA_TYPE_I32 && b->type == PA_TYPE_F32, "mul_mat", "a must be a float/quant type, b f32");
    require(a->ne[0] == b->ne[0], "mul_mat",
            fmt::format("inner dims differ: {} x {}", shape_string(a), shape_string(b)));
    require(b->ne[2] % a->ne[2] == 0 && b->ne[3] % a->ne[3] == 0, "mul_mat",
            fmt::format("{} does not broadcast over {}", shape_string(a), shape_string(b)));
    require(!traits(a->type).quantized || a->nb[0] == traits(a->type).block_bytes, "mul_mat",
            "quantized a must have packed rows");
    const int64_t ne[4] = {a->ne[1], b->ne[1], b->ne[2], b->ne[3]};
    checked_elements(ne, "mul_mat"); // the result can outgrow both sources
    tensor* t = new_result(ctx, PA_TYPE_F32, ne, PA_OP_MUL_MAT);
    t->src[0] = a;
    t->src[1] = b;
    return t;
}

tensor* rope(context& ctx, tensor* a, int n_dims, int mode, float theta, int n_past) {
    require(a && a->ne[3] == 1, "rope", "source must be [d, H, N, 1]");
    require(n_dims > 0 && n_dims % 2 == 0 && n_dims <= a->ne[0], "rope",
            fmt::format("n_dims {} must be even and <= head dim {}", n_dims, a->ne[0]));
    require(mode == rope_mode_normal || mode == rope_mode_neox, "rope", fmt::format("unknown mode {}", mode));
    require(theta > 0.0f && n_past >= 0, "rope", "theta must be > 0 and n_past >= 0");
    tensor* t = unary(ctx, a, PA_OP_ROPE, "rope");
    set_param_i(t, 0, n_dims);
    set_param_i(t, 1, mode);
    set_param_f(t, 2, theta);
    set_param_i(t, 3, n_past);
    return t;
}

tensor* soft_max_ext(context& ctx, tensor* a, tensor* mask, float s) {
    tensor* t = unary(ctx, a, PA_OP_SOFT_MAX, "soft_max_ext");
    if (mask) {
        require(is_float_type(mask->type), "soft_max_ext", "mask must be f32 or f16");
        require(mask->ne[0] == a->ne[0] && mask->ne[1] >= a->ne[1] && mask->ne[2] == 1 && mask->ne[3] == 1,
                "soft_max_ext",
                fmt::format("mask {} does not cover {}", shape_string(mask), shape_string(a)));
        t->src[1] = mask;
    }
    set_param_f(t, 0, s);
    return t;
}

tensor* flash_attn_ext(context& ctx, tensor* q, tensor* k, tensor* v, float s, int n_past, bool causal) {
    constexpr std::string_view op = "flash_attn_ext";
    require_tensor(q, op, "q");
    require_tensor(k, op, "k");
    require_tensor(v, op, "v");
    require(q->type == PA_TYPE_F32, op, "q must be f32");
    require(is_float_type(k->type) && is_float_type(v->type), op, "k and v must be f32 or f16");
    require(q->ne[3] == 1 && k->ne[3] == 1 && v->ne[3] == 1, op, "no batch dimension (ne[3] must be 1)");
    require(k->ne[0] == q->ne[0] && v->ne[0] == q->ne[0], op,
            fmt::format("head dims differ: q {} k {} v {}", q->ne[0], k->ne[0], v->ne[0]));
    require(k->ne[1] == v->ne[1] && k->ne[2] == v->ne[2], op, "k and v shapes differ");
    require(k->ne[2] > 0 && q->ne[2] % k->ne[2] == 0, op,
            fmt::format("{} query heads are not a multiple of {} kv heads", q->ne[2], k->ne[2]));
    require(n_past >= 0, op, "n_past must be >= 0");
    // kernels index positions with 32-bit ints (n_past is an int32 param too)
    require(q->ne[1] < (int64_t(1) << 31) && k->ne[1] < (int64_t(1) << 31), op,
            fmt::format("{} queries / {} keys exceed the limit of 2^31 - 1 positions", q->ne[1], k->ne[1]));
    require(!causal || n_past + q->ne[1] <= k->ne[1], op,
            fmt::format("causal attention needs n_past + N ({} + {}) <= Nkv ({})", n_past, q->ne[1], k->ne[1]));
    const int64_t ne[4] = {q->ne[0], q->ne[2], q->ne[1], 1};
    tensor* t = new_result(ctx, PA_TYPE_F32, ne, PA_OP_FLASH_ATTN_EXT);
    t->src[0] = q;
    t->src[1] = k;
    t->src[2] = v;
    set_param_f(t, fa_param_scale, s);
    set_param_i(t, fa_param_n_past, n_past);
    set_param_i(t, fa_param_causal, causal ? 1 : 0);
    return t;
}

tensor* custom(context& ctx, std::string_view op_name, std::initializer_list<tensor*> srcs,
               std::span<const int32_t> params) {
    const op_registry& reg = op_registry::global();
    const int32_t id = reg.find(op_name);
    if (id < 0) fail(op_name, "unknown op (is the plugin that adds it loaded?)");
    const op_info* info = reg.get(id);
    const int n = static_cast<int>(srcs.size());
    require(n >= info->n_src_min && n <= info->n_src_max, op_name,
            fmt::format("takes {} to {} sources, got {}", info->n_src_min, info->n_src_max, n));
    require(params.size() <= PA_MAX_OP_PARAMS, op_name, "too many params");
    for (tensor* s : srcs) require_tensor(s, op_name, "a source");
    require(info->infer != nullptr, op_name, "has no shape rule");
    tensor* t = ctx.new_record();
    t->op = id;
    std::copy(params.begin(), params.end(), t->op_params);
    int i = 0;
    for (tensor* s : srcs) t->src[i++] = s;
    char err[256] = {0};
    tensor shape = *t;
    if (info->infer(t->src, n, t->op_params, &shape, err, sizeof err) != PA_OK)
        fail(op_name, err[0] ? err : "invalid arguments");
    t->type = shape.type;
    for (int d = 0; d < 4; ++d) {
        require(shape.ne[d] > 0, op_name, "shape rule gave an empty dimension");
        t->ne[d] = shape.ne[d];
    }
    checked_elements(t->ne, op_name);
    set_contiguous_strides(t);
    return t;
}

} // namespace pa
