// op_registry.cpp - built-in op names and plugin-added ops.
#include "pa/op_registry.h"

#include <fmt/format.h>

#include "pa/builtin_ops.h"
#include "pa/error.h"

namespace pa {

op_registry& op_registry::global() {
    static op_registry instance;
    return instance;
}

namespace {

struct builtin {
    pa_op op;
    const char* name;
    int n_src_min, n_src_max;
};
constexpr builtin builtins[] = {
    {PA_OP_NONE, "none", 0, 0},
    {PA_OP_VIEW, "view", 1, 1},
    {PA_OP_RESHAPE, "reshape", 1, 1},
    {PA_OP_PERMUTE, "permute", 1, 1},
    {PA_OP_TRANSPOSE, "transpose", 1, 1},
    {PA_OP_GET_ROWS, "get_rows", 2, 2},
    {PA_OP_ADD, "add", 2, 2},
    {PA_OP_MUL, "mul", 2, 2},
    {PA_OP_SCALE, "scale", 1, 1},
    {PA_OP_RMS_NORM, "rms_norm", 1, 1},
    {PA_OP_MUL_MAT, "mul_mat", 2, 2},
    {PA_OP_ROPE, "rope", 1, 1},
    {PA_OP_SOFT_MAX, "soft_max_ext", 1, 2},
    {PA_OP_SILU, "silu", 1, 1},
    {PA_OP_SWIGLU, "swiglu", 2, 2},
    {PA_OP_CPY, "cpy", 1, 2},
    {PA_OP_FLASH_ATTN_EXT, "flash_attn_ext", 3, 3},
};
static_assert(covers_builtin_ops(builtins), "one name per built-in op, in enum pa_op order");

} // namespace

op_registry::op_registry() {
    ops_.resize(PA_OP_FIRST_DYNAMIC);
    for (const builtin& b : builtins) {
        op_info& o = ops_[b.op];
        o.id = b.op;
        o.name = b.name;
        o.n_src_min = b.n_src_min;
        o.n_src_max = b.n_src_max;
    }
}

int32_t op_registry::add(const pa_op_desc& desc) {
    if (!desc.name || !*desc.name) throw error("register_op: op without a name");
    if (!desc.infer || !desc.cpu_compute)
        throw error(fmt::format("register_op: op '{}' lacks a shape rule or a CPU reference", desc.name));
    if (desc.n_src_min < 0 || desc.n_src_max > PA_MAX_SRC || desc.n_src_min > desc.n_src_max)
        throw error(fmt::format("register_op: op '{}' has a bad source count range", desc.name));
    std::lock_guard lock(mu_);
    for (const op_info& o : ops_) {
        if (o.id < 0 || o.name != desc.name) continue;
        if (o.infer == desc.infer && o.cpu_compute == desc.cpu_compute) return o.id;
        throw error(fmt::format("register_op: an op named '{}' is already registered", desc.name));
    }
    op_info o;
    o.id = static_cast<int32_t>(ops_.size());
    o.name = desc.name;
    o.n_src_min = desc.n_src_min;
    o.n_src_max = desc.n_src_max;
    o.infer = desc.infer;
    o.cpu_compute = desc.cpu_compute;
    ops_.push_back(o);
    return o.id;
}

int32_t op_registry::find(std::string_view name) const {
    std::lock_guard lock(mu_);
    for (const op_info& o : ops_)
        if (o.id >= 0 && o.name == name) return o.id;
    return -1;
}

const op_info* op_registry::get(int32_t id) const {
    std::lock_guard lock(mu_);
    // entries are never removed; a deque-like stable address is needed across push_back
    if (id < 0 || size_t(id) >= ops_.size() || ops_[size_t(id)].id < 0) return nullptr;
    return &ops_[size_t(id)];
}

std::string op_registry::name(int32_t id) const {
    const op_info* o = get(id);
    return o ? o->name : std::string("?");
}

std::vector<op_info> op_registry::list() const {
    std::lock_guard lock(mu_);
    std::vector<op_info> out;
    for (const op_info& o : ops_)
        if (o.id >= 0) out.push_back(o);
    return out;
}

} // namespace pa
