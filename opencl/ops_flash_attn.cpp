// ops_flash_attn.cpp - dense flash_attn_ext: tensor cores on NVIDIA (fa_mma.h), else the
// register-tiled kernel (flash_attn_tiled.cl) for head dims that are multiples of 32 up to 128,
// else the row kernel (flash_attn.cl). For the row kernel the host picks the tile shape per
// head dim: FA_TPQ lanes per query so each lane owns <= 16 output dims, FA_BM queries fill the
// work-group, FA_BN keys as large as local memory allows (Q, K, V and score tiles).
#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "fa_mma.h"
#include "fa_tiled.h"
#include "op_table.h"

namespace pa::ocl {
namespace {

constexpr int64_t max_head_dim = 256;
constexpr uint64_t local_budget_cap = 48 * 1024; // portable: NVIDIA's static local limit
constexpr float log2e = 1.4426950408889634f;

struct fa_config {
    int d = 0, bm = 0, bn = 0, tpq = 0;
};

uint64_t local_bytes(int d, int bm, int bn) {
    return 4ull * (uint64_t(bm) * d + uint64_t(bn) * (d + 1) + uint64_t(bn) * d + uint64_t(bm) * (bn + 1));
}

// bn == 0 when nothing fits
fa_config pick_config(const device_context& ctx, int d) {
    fa_config c;
    c.d = d;
    c.tpq = 1;
    while (c.tpq * 16 < d)
        c.tpq *= 2; // <= 16 output dims per lane
    const int threads = std::max(ctx.internals().tune.fa_threads, c.tpq);
    c.bm = std::max(1, threads / c.tpq);
    const uint64_t budget = std::min<uint64_t>(ctx.caps().local_mem, local_budget_cap) - 256;
    const int max_bn = ctx.caps().is_gpu ? 32 : 64; // GPUs: keep occupancy; CPUs: fewer barriers
    for (int bn : {64, 32, 16, 8})
        if (bn <= max_bn && local_bytes(d, c.bm, bn) <= budget) {
            c.bn = bn;
            break;
        }
    return c;
}

} // namespace

bool fa_tiled_usable(const device_context& ctx, int64_t d) {
    static const bool enabled = [] {
        const char* e = std::getenv("PA_FA_TILED");
        return !(e && std::string_view(e) == "0");
    }();
    const uint64_t bytes =
        4ull * (16 * (64 + 4) + 16 * (32 + 4) + 32 * uint64_t(d + 4) + 32 * (64 + 4) + 5 * 64);
    return enabled && d % 32 == 0 && d >= 32 && d <= 128 &&
           bytes + 256 <= std::min<uint64_t>(ctx.caps().local_mem, local_budget_cap);
}

void fa_tiled_attention(device_context& ctx, const fa_operand& q, const fa_operand& k, const fa_operand& v,
                        const fa_operand& o, int32_t n_past, bool causal, float scale,
                        const fa_block_mask* mask) {
    const std::string opts =
        fmt::format("-DFA_D={} -DFA_K_F16={} -DFA_V_F16={} -DFA_SPARSE={}", q.shape.ne.s[0],
                    int(k.type == PA_TYPE_F16), int(v.type == PA_TYPE_F16), mask ? 1 : 0);
    cl_kernel kern = ctx.get_kernel("flash_attn_tiled.cl", "k_flash_attn_tiled", opts);
    const int64_t N = q.shape.ne.s[1], H = q.shape.ne.s[2];
    if (!mask) {
        ctx.launch(kern, range2(ceil_div(size_t(N), size_t(64)) * 128, size_t(H)), range2(128, 1), q.mem,
                   q.shape, k.mem, k.shape, v.mem, v.shape, o.mem, o.shape, scale * log2e, n_past,
                   int32_t(causal));
        return;
    }
    if (mask->block % 64 != 0)
        throw error("fa_tiled_attention: mask block must be a multiple of 64", PA_ERR_INVALID);
    const int64_t first_tile = n_past / 64, end_tile = (int64_t(n_past) + N + 63) / 64;
    ctx.launch(kern, range2(size_t(end_tile - first_tile) * 128, size_t(H)), range2(128, 1), q.mem, q.shape,
               k.mem, k.shape, v.mem, v.shape, o.mem, o.shape, scale * log2e, n_past, int32_t(causal),
               mask->counts, mask->blocks, mask->block, mask->row0, mask->n_rows, mask->tri_total,
               int32_t(first_tile));
}

bool supports_flash_attn(const device_context& ctx, const pa_tensor* o) {
    const pa_tensor *q = o->src[0], *k = o->src[1], *v = o->src[2];
    if (!q || !k || !v || o->type != PA_TYPE_F32 || q->type != PA_TYPE_F32) return false;
    if (!type_is_float(k->type) || !type_is_float(v->type)) return false;
    const int64_t D = q->ne[0];
    if (D < 1 || D > max_head_dim || k->ne[0] != D || v->ne[0] != D) return false;
    if (q->ne[3] != 1 || k->ne[3] != 1 || v->ne[3] != 1) return false;
    if (k->ne[1] != v->ne[1] || k->ne[2] != v->ne[2] || k->ne[2] <= 0 || q->ne[2] % k->ne[2] != 0)
        return false;
    if (o->ne[0] != D || o->ne[1] != q->ne[2] || o->ne[2] != q->ne[1] || o->ne[3] != 1) return false;
    if (pa_param_i(o, 1) < 0 || !fits_int(q) || !fits_int(k) || !fits_int(o)) return false;
    return pick_config(ctx, int(D)).bn > 0;
}

void compute_flash_attn(device_context& ctx, pa_tensor* o) {
    if (fa_mma_supports(ctx, o)) return fa_mma_compute(ctx, o); // NVIDIA tensor cores (fa_mma.h)
    const pa_tensor *q = o->src[0], *k = o->src[1], *v = o->src[2];
    if (fa_tiled_usable(ctx, q->ne[0]))
        return fa_tiled_attention(
            ctx, {ctx.mem(q), shape_of(q), pa_type(q->type)}, {ctx.mem(k), shape_of(k), pa_type(k->type)},
            {ctx.mem(v), shape_of(v), pa_type(v->type)}, {ctx.mem(o), shape_of(o), pa_type(o->type)},
            pa_param_i(o, 1), pa_param_i(o, 2) != 0, pa_param_f(o, 0));
    const fa_config c = pick_config(ctx, int(q->ne[0]));
    const std::string opts =
        fmt::format("-DFA_D={} -DFA_BM={} -DFA_BN={} -DFA_TPQ={} -DFA_K_F16={} -DFA_V_F16={}", c.d, c.bm,
                    c.bn, c.tpq, int(k->type == PA_TYPE_F16), int(v->type == PA_TYPE_F16));
    const size_t wg = size_t(c.bm * c.tpq);
    const size_t N = size_t(q->ne[1]), H = size_t(q->ne[2]);
    ctx.launch(ctx.get_kernel("flash_attn.cl", "k_flash_attn", opts),
               range2(ceil_div(N, size_t(c.bm)) * wg, H), range2(wg, 1), ctx.mem(q), shape_of(q), ctx.mem(k),
               shape_of(k), ctx.mem(v), shape_of(v), ctx.mem(o), shape_of(o), pa_param_f(o, 0) * log2e,
               pa_param_i(o, 1), pa_param_i(o, 2));
}

} // namespace pa::ocl
