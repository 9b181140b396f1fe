// host_api.cpp - what hosts call (pa/proxy_sparse_attn.h): the node constructor and the graph
// pass that swaps dense attention for proxy_sparse_attn. Linked into host programs with libpa.
#include <cmath>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "pa/error.h"
#include "pa/op_registry.h"
#include "pa/proxy_sparse_attn.h"

namespace pa {
namespace {

const op_info& proxy_op() {
    const op_registry& reg = op_registry::global();
    const op_info* info = reg.get(reg.find(proxy_op_name));
    if (!info)
        throw error(fmt::format("{} is not registered (load the OpenCL plugin first)", proxy_op_name),
                    PA_ERR_UNSUPPORTED);
    return *info;
}

// "attn-12" -> 12; -1 when the name does not end in "-<digits>".
int layer_from_name(const char* name) {
    const std::string_view s(name, strnlen(name, PA_MAX_NAME));
    const size_t dash = s.rfind('-');
    if (dash == std::string_view::npos || dash + 1 >= s.size() || s.size() - dash > 10) return -1;
    int v = 0;
    for (char c : s.substr(dash + 1)) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

} // namespace

tensor* proxy_sparse_attn(context& ctx, tensor* q, tensor* k, tensor* v, const proxy_params& p) {
    if (!q || !k || !v) throw error(fmt::format("{}: q, k and v are required", proxy_op_name));
    proxy_params r = p;
    if (r.scale == 0.0f) r.scale = 1.0f / std::sqrt(float(q->ne[0]));
    const auto params = proxy_params_pack(r);
    return custom(ctx, proxy_op_name, {q, k, v}, params);
}

int swap_dense_attention(graph& g, const proxy_params& p, const attn_layer_filter& filter, int64_t min_len) {
    proxy_params_check(p); // also when no node is long enough to swap
    const op_info* info = nullptr;
    int ordinal = 0, swapped = 0;
    for (tensor* node : g.nodes) {
        if (node->op != PA_OP_FLASH_ATTN_EXT) continue;
        const int named = layer_from_name(node->name);
        const int layer = named >= 0 ? named : ordinal;
        ++ordinal;
        if (pa_param_i(node, fa_param_causal) == 0) continue; // ProxyAttn is causal prefill only
        if (node->src[0]->ne[1] < min_len) continue;
        if (filter && !filter(layer, node)) continue;
        if (!info) info = &proxy_op();

        proxy_params r = p;
        r.scale = pa_param_f(node, fa_param_scale);
        r.n_past = pa_param_i(node, fa_param_n_past);
        const auto params = proxy_params_pack(r);
        tensor shape = *node;
        char err[256] = {0};
        if (info->infer(node->src, 3, params.data(), &shape, err, sizeof err) != PA_OK)
            throw error(
                fmt::format("swap_dense_attention: node '{}': {}", node->name, err[0] ? err : "invalid"));
        if (shape.type != node->type || shape.ne[0] != node->ne[0] || shape.ne[1] != node->ne[1] ||
            shape.ne[2] != node->ne[2] || shape.ne[3] != node->ne[3])
            throw error(fmt::format("swap_dense_attention: node '{}': {} would change the result shape",
                                    node->name, proxy_op_name));
        node->op = info->id;
        std::memcpy(node->op_params, params.data(), sizeof node->op_params);
        ++swapped;
    }
    return swapped;
}

} // namespace pa
