// flash_attn_tiled.cpp - host side of the register-tiled attention kernels: the variant the tuning
// table names (fat_variant), its local memory, options and launch geometry.
#include "flash_attn_tiled.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numbers>
#include <string_view>

#include <fmt/format.h>

#include "context_impl.h"

namespace pa::ocl {
namespace {

constexpr uint64_t local_budget_cap = 48 * 1024; // portable: NVIDIA's static local limit

// The variants (fat_variant indexes this): 0 is flash_attn_tiled.cl (64 queries x 32 keys, Q and
// K staged 16 dims at a time for every key tile); the others are flash_attn_tiled_q.cl (the
// work-group's queries staged once, K and V staged key-major, row statistics in registers) in the
// geometries below. Every query tile divides flash_attn_tiled_rows.
struct tiled_geometry {
    std::string_view program, kernel;
    int64_t bm, bn, wg, vk;   // queries a work-group, keys a tile, work-items, V keys a stage (q only)
    bool pipelined = false;   // FQ_PF: each stage's loads issued before the previous stage's products
    int unroll_s = 0;         // FQ_UNROLL_S: S's loop over dims unrolled so often (GPUs)
    bool heavy_first = false; // FQ_ORDER: KV group by KV group, the last query tiles first (1-D grid)
    bool lazy_max = false;    // FQ_LAZY: the running max moves only when outgrown by 2^8
    bool fold = false;        // FQ_FOLD: scale log2(e) in the staged Q, unmasked tiles not masked
};
constexpr tiled_geometry geometries[] = {
    {"flash_attn_tiled.cl", "k_flash_attn_tiled", 64, 32, 128, 0},
    // 32 x 64, 128 work-items: S 4 x 4, O 4 rows x d/16 dims a work-item (fewest registers)
    {"flash_attn_tiled_q.cl", "k_flash_attn_tiled_q", 32, 64, 128, 32},
    // 32 x 64, 64 work-items: S 4 x 8, O 4 x d/8 (half the local reads of Q a multiply-add)
    {"flash_attn_tiled_q.cl", "k_flash_attn_tiled_q", 32, 64, 64, 32},
    // 32 x 32, 64 work-items: S 4 x 4, O 4 x d/8, K and V of a tile staged at once (4 barriers a tile)
    {"flash_attn_tiled_q.cl", "k_flash_attn_tiled_q", 32, 32, 64, 32},
    // 1 with pipelined staging (4-dim loads only, else as 1) and S's loop over dims unrolled by 2
    {"flash_attn_tiled_q.cl", "k_flash_attn_tiled_q", 32, 64, 128, 32, true, 2},
    // 4 launched KV group by KV group, the heaviest query tiles first
    {"flash_attn_tiled_q.cl", "k_flash_attn_tiled_q", 32, 64, 128, 32, true, 2, true, false},
    // 5 with the lazy running max
    {"flash_attn_tiled_q.cl", "k_flash_attn_tiled_q", 32, 64, 128, 32, true, 2, true, true},
    // 6 with the scale folded into Q and no masking of unmasked tiles
    {"flash_attn_tiled_q.cl", "k_flash_attn_tiled_q", 32, 64, 128, 32, true, 2, true, true, true},
};
static_assert(std::size(geometries) == flash_attn_tiled_variants);

// Dims of K staged at a time (FQ_DC): the whole row where K and V share the V buffer's size,
// else 64 or 32.
int64_t k_dims(const tiled_geometry& g, int64_t d) {
    return g.bn == g.vk ? d : d % 64 == 0 ? 64 : 32;
}

uint64_t local_bytes(const tiled_geometry& g, int64_t d) {
    if (g.vk == 0) // Qt, Kt, Vs, P and the row statistics of flash_attn_tiled.cl
        return 4ull * (16 * (64 + 4) + 16 * (32 + 4) + 32 * uint64_t(d + 4) + 32 * (64 + 4) + 5 * 64);
    const int64_t ngk = g.wg / (g.bm / 4);
    const int64_t kv = std::max(g.bn * (k_dims(g, d) + 4), g.vk * (d + 4));
    const int64_t grew = g.lazy_max ? g.bm / 4 : 0; // FQ_LAZY's flag a row group
    return 4ull *
           uint64_t(g.bm * (d + 4) + kv + g.bn * (g.bm + 4) + ngk * (g.bm + 4) + grew); // Qs, KV, P, red
}

bool fits(const device_context& ctx, int variant, int64_t d) {
    return local_bytes(geometries[variant], d) + 256 <=
           std::min<uint64_t>(ctx.caps().local_mem, local_budget_cap);
}

// The variant to run: the one asked for (-1: the tuning table's) where it fits, else 0; -1 for none.
int pick_variant(const device_context& ctx, int64_t d, int variant) {
    if (variant < 0) variant = ctx.tune().fat_variant;
    if (variant < 0 || variant >= flash_attn_tiled_variants)
        throw error(fmt::format("flash_attn_tiled: no variant {}", variant), PA_ERR_INVALID);
    if (d % 32 != 0 || d < 32 || d > 128) return -1;
    if (fits(ctx, variant, d)) return variant;
    return fits(ctx, 0, d) ? 0 : -1;
}

// Whether the kernel may stage Q, K and V 4 dims a load (FA_VEC): every row contiguous along the
// head dim and starting at a multiple of 4 elements (a 4-element load is then aligned, whatever
// the compiler makes of vload4 / vload_half4).
bool rows_vectorizable(const operand& q, const operand& k, const operand& v) {
    const auto fits = [](const operand& t) {
        const uint64_t elem = t.type == PA_TYPE_F16 ? 2 : 4, word = 4 * elem;
        return (t.type == PA_TYPE_F32 || t.type == PA_TYPE_F16) && t.shape.nb.s[0] == elem &&
               t.mem.offs % word == 0 && t.shape.nb.s[1] % word == 0 && t.shape.nb.s[2] % word == 0;
    };
    return q.type == PA_TYPE_F32 && fits(q) && fits(k) && fits(v);
}

} // namespace

bool flash_attn_tiled_usable(const device_context& ctx, int64_t d) {
    static const bool enabled = [] {
        const char* e = std::getenv("PA_FA_TILED");
        return !(e && std::string_view(e) == "0");
    }();
    return enabled && pick_variant(ctx, d, -1) >= 0;
}

void flash_attn_tiled(device_context& ctx, const operand& q, const operand& k, const operand& v,
                      const operand& o, int32_t n_past, bool causal, float scale,
                      const device_block_mask* mask, int variant) {
    const int64_t d = q.shape.ne.s[0];
    const bool vec = rows_vectorizable(q, k, v);
    const int picked = pick_variant(ctx, d, variant);
    if (picked < 0) throw error(fmt::format("flash_attn_tiled: head dim {} does not fit", d), PA_ERR_INVALID);
    const tiled_geometry& g = geometries[picked];
    const tuning& tu = ctx.tune();
    // FQ_FOLD multiplies Q by scale log2(e) before the product: only where that factor is at most 1
    // in magnitude, so that a folded score is finite wherever the unfolded product is (a scale
    // near FLT_MAX with small scores would overflow Q); else the variant runs unfolded
    const bool fold = g.fold && std::fabs(scale) * std::numbers::log2e_v<float> <= 1.0f;
    std::string opts =
        fmt::format("-DFA_D={} -DFA_K_F16={} -DFA_V_F16={} -DFA_SPARSE={} -DFA_VEC={}", d,
                    int(k.type == PA_TYPE_F16), int(v.type == PA_TYPE_F16), mask ? 1 : 0, int(vec));
    if (g.vk > 0) // (unrolling hints on GPUs only: on PoCL's CPU devices they double the compile time)
        opts +=
            fmt::format(" -DFQ_BM={} -DFQ_BN={} -DFQ_WG={} -DFQ_DC={} -DFQ_VK={} -DFQ_PF={} -DFQ_ORDER={} "
                        "-DFQ_LAZY={} -DFQ_FOLD={}{}",
                        g.bm, g.bn, g.wg, k_dims(g, d), g.vk, int(g.pipelined && vec), int(g.heavy_first),
                        int(g.lazy_max), int(fold),
                        ctx.caps().is_gpu ? fmt::format(" -DFQ_UNROLL_S={} -DFQ_UNROLL_PV={}",
                                                        tu.fat_unroll_s > 0 ? tu.fat_unroll_s : g.unroll_s,
                                                        tu.fat_unroll_pv)
                                          : " -DFQ_UNROLL= -DFQ_UNROLL_4=");
    cl_kernel kern = ctx.get_kernel(g.program, g.kernel, opts);
    const int64_t N = q.shape.ne.s[1], H = q.shape.ne.s[2];
    const size_t wg = size_t(g.wg);
    // tiles x heads work-groups: a 2-D grid, or 1-D in FQ_ORDER's order
    const auto grid = [&](size_t tiles) {
        return g.heavy_first ? range2(tiles * size_t(H) * wg, 1) : range2(tiles * wg, size_t(H));
    };
    if (!mask) {
        ctx.launch(kern, grid(ceil_div(size_t(N), size_t(g.bm))), range2(wg, 1), q.mem, q.shape, k.mem,
                   k.shape, v.mem, v.shape, o.mem, o.shape, scale, n_past, int32_t(causal));
        return;
    }
    if (mask->block % flash_attn_tiled_rows != 0)
        throw error(fmt::format("flash_attn_tiled: mask block {} is not a multiple of {}", mask->block,
                                flash_attn_tiled_rows),
                    PA_ERR_INVALID);
    const int64_t first_tile = n_past / g.bm, end_tile = (int64_t(n_past) + N + g.bm - 1) / g.bm;
    ctx.launch(kern, grid(size_t(end_tile - first_tile)), range2(wg, 1), q.mem, q.shape, k.mem, k.shape,
               v.mem, v.shape, o.mem, o.shape, scale, n_past, int32_t(causal), mask->counts, mask->blocks,
               mask->block, mask->row0, mask->n_rows, mask->tri_total, int32_t(first_tile));
}

} // namespace pa::ocl
