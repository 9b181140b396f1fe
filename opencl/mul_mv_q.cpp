// mul_mv_q.cpp - see mul_mv_q.h. Sixteen lanes a row and four rows a work-group keep a row's
// blocks (18 for k = 576, 48 for k = 1536) spread over the lanes without idle halves, and four
// columns a work-group cover a decode token (one column) and short chunks without a second pass.
#include "mul_mv_q.h"

#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "launch.h"
#include "op_table.h"

namespace pa::ocl {
namespace {

constexpr int wg = 64, lanes = 16, cols = 4;

bool enabled() {
    static const bool on = [] {
        const char* e = std::getenv("PA_MUL_MV_Q");
        return !(e && std::string_view(e) == "0");
    }();
    return on;
}

bool quantized_type(pa_type t) {
    return t == PA_TYPE_Q8_0 || t == PA_TYPE_Q4_0 || t == PA_TYPE_Q4_1;
}

} // namespace

bool mul_mv_q_usable(const device_context& ctx, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    if (!enabled() || !quantized_type(a->type) || a->nb[0] != traits(a->type).block_bytes ||
        a->ne[0] % 32 != 0)
        return false;
    if (b->type != PA_TYPE_F32 || b->ne[1] > mul_mv_q_max_n || b->nb[0] != 4) return false;
    if (b->nb[1] % 4 || b->nb[2] % 4 || b->nb[3] % 4) return false;
    return ctx.mem(b).offs % 4 == 0;
}

void mul_mv_q(device_context& ctx, pa_tensor* d, mv_epilogue epi, pa_tensor* r, pa_tensor* e,
              const mv_view& view) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    const size_t M = size_t(a->ne[1]), N = size_t(b->ne[1]), slices = size_t(b->ne[2] * b->ne[3]);
    if (epi != mv_epilogue::none && epi != mv_epilogue::store && (!r || !e))
        throw error("mul_mv_q: an epilogue needs r and e", PA_ERR_INVALID);
    if (epi == mv_epilogue::store && !e) throw error("mul_mv_q: a store needs e", PA_ERR_INVALID);
    const std::string opts = fmt::format("-DA_TYPE={} -DMVQ_WG={} -DMVQ_LANES={} -DMVQ_N={} -DMVQ_EPI={}",
                                         int(a->type), wg, lanes, cols, int(epi));
    if (epi == mv_epilogue::none) r = e = d;                              // unused by the kernel
    if (epi == mv_epilogue::store) r = d;                                 // unused by the kernel
    const pa_tensor* g = epi == mv_epilogue::gate_swiglu ? r->src[0] : a; // gate weights, or unused
    ctx.launch(ctx.get_kernel("mul_mv_q.cl", "k_mul_mv_q", opts),
               range3(ceil_div(M, size_t(wg / lanes)) * size_t(wg), ceil_div(N, size_t(cols)), slices),
               range3(size_t(wg), 1, 1), ctx.mem(a), shape_of(a), ctx.mem(b), shape_of(b), ctx.mem(d),
               shape_of(d), ctx.mem(r), shape_of(r).nb, ctx.mem(e), shape_of(e).nb, ctx.mem(g),
               shape_of(g).nb, view.ne, view.st, int32_t(e->type == PA_TYPE_F16));
}

} // namespace pa::ocl
