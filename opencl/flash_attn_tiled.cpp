// flash_attn_tiled.cpp - host side of the register-tiled attention kernel.
#include "flash_attn_tiled.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "context_impl.h"

namespace pa::ocl {
namespace {

constexpr uint64_t local_budget_cap = 48 * 1024; // portable: NVIDIA's static local limit
constexpr size_t tiled_wg = 128;                 // TWG of flash_attn_tiled.cl

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
    // Qt, Kt, Vs, P and the row statistics of flash_attn_tiled.cl
    const uint64_t bytes =
        4ull * (16 * (64 + 4) + 16 * (32 + 4) + 32 * uint64_t(d + 4) + 32 * (64 + 4) + 5 * 64);
    return enabled && d % 32 == 0 && d >= 32 && d <= 128 &&
           bytes + 256 <= std::min<uint64_t>(ctx.caps().local_mem, local_budget_cap);
}

void flash_attn_tiled(device_context& ctx, const operand& q, const operand& k, const operand& v,
                      const operand& o, int32_t n_past, bool causal, float scale,
                      const device_block_mask* mask) {
    const std::string opts =
        fmt::format("-DFA_D={} -DFA_K_F16={} -DFA_V_F16={} -DFA_SPARSE={} -DFA_VEC={}", q.shape.ne.s[0],
                    int(k.type == PA_TYPE_F16), int(v.type == PA_TYPE_F16), mask ? 1 : 0,
                    int(rows_vectorizable(q, k, v)));
    cl_kernel kern = ctx.get_kernel("flash_attn_tiled.cl", "k_flash_attn_tiled", opts);
    const int64_t N = q.shape.ne.s[1], H = q.shape.ne.s[2], rows = flash_attn_tiled_rows;
    if (!mask) {
        ctx.launch(kern, range2(ceil_div(size_t(N), size_t(rows)) * tiled_wg, size_t(H)), range2(tiled_wg, 1),
                   q.mem, q.shape, k.mem, k.shape, v.mem, v.shape, o.mem, o.shape, scale, n_past,
                   int32_t(causal));
        return;
    }
    if (mask->block % rows != 0)
        throw error(fmt::format("flash_attn_tiled: mask block {} is not a multiple of {}", mask->block, rows),
                    PA_ERR_INVALID);
    const int64_t first_tile = n_past / rows, end_tile = (int64_t(n_past) + N + rows - 1) / rows;
    ctx.launch(kern, range2(size_t(end_tile - first_tile) * tiled_wg, size_t(H)), range2(tiled_wg, 1), q.mem,
               q.shape, k.mem, k.shape, v.mem, v.shape, o.mem, o.shape, scale, n_past, int32_t(causal),
               mask->counts, mask->blocks, mask->block, mask->row0, mask->n_rows, mask->tri_total,
               int32_t(first_tile));
}

} // namespace pa::ocl
