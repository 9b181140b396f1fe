// custom.cpp - a node of any op in the registry by name (plugin ops): its shape rule gives the
// result's type and shape.
#include <algorithm>

#include <fmt/format.h>

#include "builder.h"
#include "pa/op_registry.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;

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
    for (tensor* s : srcs)
        require_tensor(s, op_name, "a source");
    require(info->infer != nullptr, op_name, "has no shape rule");
    tensor* t = ctx.new_record();
    t->op = id;
    std::copy(params.begin(), params.end(), t->op_params);
    int i = 0;
    for (tensor* s : srcs)
        t->src[i++] = s;
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
