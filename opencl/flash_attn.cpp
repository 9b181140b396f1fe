// flash_attn.cpp - flash attention, dense (flash_attn_ext) or over a block mask: tensor cores
// on NVIDIA (flash_attn_mma.h), else the register-tiled kernel (flash_attn_tiled.h) for head
// dims that are multiples of 32 up to 128, else the row kernels (flash_attn.cl dense,
// flash_attn_sparse.cl masked). For the dense row kernel the host picks the tile shape per head
// dim: FA_TPQ lanes per query so each lane owns <= 16 output dims, FA_BM queries fill the
// work-group, FA_BN keys as large as local memory allows (Q, K, V and score tiles).
#include "flash_attn.h"

#include <algorithm>

#include <fmt/format.h>

#include "flash_attn_decode.h"
#include "flash_attn_mma.h"
#include "flash_attn_tiled.h"
#include "op_table.h"
#include "pa/ops.h" // flash_attn_ext parameter slots
#include "pa/types.h"

namespace pa::ocl {
namespace {

constexpr int64_t max_head_dim = 256;
constexpr uint64_t local_budget_cap = 48 * 1024; // portable: NVIDIA's static local limit

struct row_config {
    int d = 0, bm = 0, bn = 0, tpq = 0;
};

uint64_t row_local_bytes(int d, int bm, int bn) {
    return 4ull * (uint64_t(bm) * d + uint64_t(bn) * (d + 1) + uint64_t(bn) * d + uint64_t(bm) * (bn + 1));
}

// bn == 0 when nothing fits
row_config pick_row_config(const device_context& ctx, int d) {
    row_config c;
    c.d = d;
    c.tpq = 1;
    while (c.tpq * 16 < d)
        c.tpq *= 2; // <= 16 output dims per lane
    const int threads = std::max(ctx.tune().fa_threads, c.tpq);
    c.bm = std::max(1, threads / c.tpq);
    const uint64_t budget = std::min<uint64_t>(ctx.caps().local_mem, local_budget_cap) - 256;
    const int max_bn = ctx.caps().is_gpu ? 32 : 64; // GPUs: keep occupancy; CPUs: fewer barriers
    for (int bn : {64, 32, 16, 8})
        if (bn <= max_bn && row_local_bytes(d, c.bm, bn) <= budget) {
            c.bn = bn;
            break;
        }
    return c;
}

// The masked row kernel (flash_attn_sparse.cl): one work-item per query, BLOCK_Q queries and
// TILE_K staged keys per work-group.
struct sparse_row_config {
    int block_q = 32, tile_k = 32;
    sparse_row_config(int64_t d, int64_t block) {
        block_q = int(std::min<int64_t>(32, block));
        tile_k = d <= 128 ? 32 : 16;
    }
    uint64_t local_bytes(int64_t d) const { return uint64_t(2 * tile_k * d) * 4; }
};

void flash_attn_rows(device_context& ctx, const operand& q, const operand& k, const operand& v,
                     const operand& o, int64_t n_past, bool causal, float scale) {
    const row_config c = pick_row_config(ctx, int(q.shape.ne.s[0]));
    const std::string opts =
        fmt::format("-DFA_D={} -DFA_BM={} -DFA_BN={} -DFA_TPQ={} -DFA_K_F16={} -DFA_V_F16={}", c.d, c.bm,
                    c.bn, c.tpq, int(k.type == PA_TYPE_F16), int(v.type == PA_TYPE_F16));
    const size_t wg = size_t(c.bm * c.tpq);
    const size_t N = size_t(q.shape.ne.s[1]), H = size_t(q.shape.ne.s[2]);
    ctx.launch(ctx.get_kernel("flash_attn.cl", "k_flash_attn", opts),
               range2(ceil_div(N, size_t(c.bm)) * wg, H), range2(wg, 1), q.mem, q.shape, k.mem, k.shape,
               v.mem, v.shape, o.mem, o.shape, scale, int32_t(n_past), int32_t(causal));
}

void flash_attn_sparse_rows(device_context& ctx, const operand& q, const operand& k, const operand& v,
                            const operand& o, int64_t n_past, float scale, const device_block_mask& mask) {
    const int64_t d = q.shape.ne.s[0], N = q.shape.ne.s[1], H = q.shape.ne.s[2], Hkv = k.shape.ne.s[2];
    const sparse_row_config c(d, mask.block);
    const std::string opts =
        fmt::format("-DHEAD_DIM={} -DBLOCK_Q={} -DTILE_K={} -DK_F16={} -DV_F16={}", d, c.block_q, c.tile_k,
                    int(k.type == PA_TYPE_F16), int(v.type == PA_TYPE_F16));
    const size_t tiles_per_row = size_t((mask.block + c.block_q - 1) / c.block_q);
    ctx.launch(ctx.get_kernel("flash_attn_sparse.cl", "k_flash_attn_sparse", opts),
               range3(size_t(c.block_q) * tiles_per_row, size_t(mask.n_rows), size_t(H)),
               range3(size_t(c.block_q), 1, 1), q.mem, q.shape, k.mem, k.shape, v.mem, v.shape, o.mem,
               o.shape, mask.counts, mask.blocks, n_past, n_past + N, mask.block, mask.row0, mask.n_rows,
               int32_t(H / Hkv), scale);
}

} // namespace

std::string flash_attn_problem(const device_context& ctx, const operand& q, const operand& k,
                               const operand& v, const operand& o, int64_t mask_block) {
    const int64_t d = q.shape.ne.s[0];
    if (q.type != PA_TYPE_F32 || o.type != PA_TYPE_F32 || !type_is_float(k.type) || !type_is_float(v.type))
        return "q and the result must be f32, k/v f32 or f16";
    if (d < 1 || d > max_head_dim) return fmt::format("head dim {} is not in 1..{}", d, max_head_dim);
    if (k.shape.ne.s[0] != d || v.shape.ne.s[0] != d) return "head dims of q, k and v differ";
    if (q.shape.ne.s[3] != 1 || k.shape.ne.s[3] != 1 || v.shape.ne.s[3] != 1)
        return "batch dimension must be 1";
    if (k.shape.ne.s[1] != v.shape.ne.s[1] || k.shape.ne.s[2] != v.shape.ne.s[2] || k.shape.ne.s[2] <= 0 ||
        q.shape.ne.s[2] % k.shape.ne.s[2] != 0)
        return "k/v shapes do not match q";
    if (o.shape.ne.s[0] != d || o.shape.ne.s[1] != q.shape.ne.s[2] || o.shape.ne.s[2] != q.shape.ne.s[1] ||
        o.shape.ne.s[3] != 1)
        return "the result must be [d, H, N]";
    if (mask_block <= 0) return pick_row_config(ctx, int(d)).bn > 0 ? "" : "no row tile fits local memory";
    if (flash_attn_mma_problem(ctx, q, k, v, o, mask_block).empty()) return "";
    if (q.shape.nb.s[0] != 4 || k.shape.nb.s[0] != traits(k.type).block_bytes ||
        v.shape.nb.s[0] != traits(v.type).block_bytes || o.shape.nb.s[0] != 4)
        return "rows of q, k, v and the result must be contiguous (nb[0] = element size)";
    const sparse_row_config c(d, mask_block);
    if (c.local_bytes(d) > ctx.caps().local_mem)
        return fmt::format("needs {} bytes of local memory, the device has {}", c.local_bytes(d),
                           ctx.caps().local_mem);
    return "";
}

flash_attn_kernel flash_attn_choice(const device_context& ctx, const operand& q, const operand& k,
                                    const operand& v, const operand& o, int64_t mask_block) {
    if (flash_attn_mma_problem(ctx, q, k, v, o, mask_block).empty()) return flash_attn_kernel::tensor_cores;
    if (flash_attn_tiled_usable(ctx, q.shape.ne.s[0]) && mask_block % flash_attn_tiled_rows == 0)
        return flash_attn_kernel::tiled;
    return flash_attn_kernel::rows;
}

void flash_attn(device_context& ctx, const operand& q, const operand& k, const operand& v, const operand& o,
                int64_t n_past, bool causal, float scale, const device_block_mask* mask) {
    if (mask && !causal) throw error("flash_attn: a block mask needs causal attention", PA_ERR_INVALID);
    if (!mask && flash_attn_decode_usable(ctx, q, k, v))
        return flash_attn_decode(ctx, q, k, v, o, n_past, causal, scale);
    switch (flash_attn_choice(ctx, q, k, v, o, mask ? mask->block : 0)) {
    case flash_attn_kernel::tensor_cores:
        return flash_attn_mma(ctx, q, k, v, o, n_past, causal, scale, mask);
    case flash_attn_kernel::tiled:
        return flash_attn_tiled(ctx, q, k, v, o, int32_t(n_past), causal, scale, mask);
    case flash_attn_kernel::rows:
        break;
    }
    if (mask) return flash_attn_sparse_rows(ctx, q, k, v, o, n_past, scale, *mask);
    flash_attn_rows(ctx, q, k, v, o, n_past, causal, scale);
}

bool supports_flash_attn(const device_context& ctx, const pa_tensor* o) {
    const pa_tensor *q = o->src[0], *k = o->src[1], *v = o->src[2];
    if (!q || !k || !v) return false;
    if (pa_param_i(o, fa_param_n_past) < 0 || !fits_int(q) || !fits_int(k) || !fits_int(o)) return false;
    // shapes only: supports_op runs before the tensors have device storage
    const auto shape = [](const pa_tensor* t) { return operand{{}, shape_of(t), t->type}; };
    return flash_attn_problem(ctx, shape(q), shape(k), shape(v), shape(o)).empty();
}

void compute_flash_attn(device_context& ctx, pa_tensor* o) {
    flash_attn(ctx, operand_of(ctx, o->src[0]), operand_of(ctx, o->src[1]), operand_of(ctx, o->src[2]),
               operand_of(ctx, o), pa_param_i(o, fa_param_n_past), pa_param_i(o, fa_param_causal) != 0,
               pa_param_f(o, fa_param_scale));
}

} // namespace pa::ocl
