// get_rows.cpp - rows of a picked by the I32 ids (the token embedding lookup).
#include <fmt/format.h>

#include "builder.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;

tensor* get_rows(context& ctx, tensor* a, tensor* ids) {
    require_tensor(a, "get_rows", "source");
    require_tensor(ids, "get_rows", "ids");
    require(ids->type == PA_TYPE_I32, "get_rows", "ids must be i32");
    require(ids->ne[1] == a->ne[2] && ids->ne[2] == a->ne[3] && ids->ne[3] == 1, "get_rows",
            fmt::format("ids {} do not match source {}", shape_string(ids), shape_string(a)));
    const int64_t ne[4] = {a->ne[0], ids->ne[0], a->ne[2], a->ne[3]};
    return new_result(ctx, "get_rows", PA_OP_GET_ROWS, PA_TYPE_F32, ne, {a, ids});
}

} // namespace pa
