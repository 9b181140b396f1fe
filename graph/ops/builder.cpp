// builder.cpp - checks and records shared by the op constructors.
#include "builder.h"

#include <fmt/format.h>

#include "pa/error.h"

namespace pa::builder {

void fail(std::string_view op, const std::string& why) {
    throw error(fmt::format("{}: {}", op, why));
}

void require(bool ok, std::string_view op, const std::string& why) {
    if (!ok) fail(op, why);
}

void require_tensor(const tensor* t, std::string_view op, std::string_view what) {
    if (!t) fail(op, fmt::format("{} is null", what));
}

int64_t checked_elements(const int64_t ne[4], std::string_view op) {
    int64_t total = 1;
    for (int i = 0; i < 4; ++i) {
        if (ne[i] > max_tensor_elements || total > max_tensor_elements / ne[i])
            fail(op, fmt::format("more than {} elements (the per-tensor limit)", max_tensor_elements));
        total *= ne[i];
    }
    return total;
}

tensor* new_result(context& ctx, std::string_view op_name, int32_t op, pa_type type, const int64_t ne[4],
                   std::initializer_list<tensor*> srcs) {
    checked_elements(ne, op_name); // a result can outgrow its sources (get_rows, mul_mat)
    tensor* t = ctx.new_record();
    t->type = type;
    for (int i = 0; i < 4; ++i)
        t->ne[i] = ne[i];
    set_contiguous_strides(t);
    t->op = op;
    int i = 0;
    for (tensor* s : srcs)
        t->src[i++] = s;
    return t;
}

tensor* new_view(context& ctx, tensor* a, int32_t op, size_t offset) {
    tensor* t = ctx.new_record();
    t->type = a->type;
    t->op = op;
    t->src[0] = a;
    t->view_src = storage_root(a);
    t->view_offs = a->view_offs + offset;
    return t;
}

tensor* unary(context& ctx, tensor* a, int32_t op, std::string_view op_name) {
    require_tensor(a, op_name, "source");
    require(a->type == PA_TYPE_F32, op_name, fmt::format("source must be f32, not {}", type_name(a->type)));
    return new_result(ctx, op_name, op, PA_TYPE_F32, a->ne, {a});
}

} // namespace pa::builder
