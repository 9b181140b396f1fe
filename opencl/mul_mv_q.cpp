// mul_mv_q.cpp - see mul_mv_q.h. Lanes a row and threads a work-group come from the tuning table
// (tuning.h mvq_lanes, mvq_wg: 16 and 64 by default, 8 and 64 on NVIDIA, where fewer lanes a row
// measured faster); one column a work-group for a decoded token, four for short chunks.
#include "mul_mv_q.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "launch.h"
#include "op_table.h"

namespace pa::ocl {
namespace {

// Whether k_mul_mv_q can stage a's rows through local memory as 4-byte words (MVQ_STAGE): rows
// at 4-byte alignment, whole words per two blocks for the 18- and 34-byte blocks.
bool stageable(device_context& ctx, const pa_tensor* a) {
    const bool even_blocks = a->type == PA_TYPE_Q4_1 || (a->ne[0] / 32) % 2 == 0;
    return even_blocks && a->nb[1] % 4 == 0 && a->nb[2] % 4 == 0 && a->nb[3] % 4 == 0 &&
           ctx.mem(a).offs % 4 == 0;
}

// Whether the staged kernel's local memory (mul_mv_q.cl: mvq_chunk blocks of every row of the
// work-group, of two weight matrices for SwiGLU's gate and up products, the chunk's activations
// a column, the partial sums) fits the device's.
bool stage_fits(const device_context& ctx, const pa_tensor* a, int64_t cols, int weight_sets) {
    const tuning& t = ctx.tune();
    const uint64_t rows = uint64_t(t.mvq_wg / t.mvq_lanes), chunk = uint64_t(t.mvq_chunk);
    const uint64_t bytes = uint64_t(weight_sets) * rows * chunk * traits(a->type).block_bytes +
                           uint64_t(cols) * chunk * 36 * 4 +
                           uint64_t(weight_sets) * uint64_t(cols) * uint64_t(t.mvq_wg) * 4;
    return bytes + 1024 <= ctx.caps().local_mem;
}

// Columns of b a work-group takes: one for a decoded token (the kernel's per-column registers
// then hold one column, not four), else four.
int columns_for(int64_t n) {
    return n == 1 ? 1 : 4;
}

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

// The norm arguments of k_mul_mv_q(_heads): with MVQ_NORM the norm's weight row, eps and the two
// results; without, placeholders the kernel never reads or writes (d's storage).
struct norm_args {
    mem_ref w, norm, mul;
    float eps = 0.0f;
    uint64_t norm_nb1 = 0, mul_nb1 = 0;
};
norm_args norm_args_of(device_context& ctx, const mv_norm* norm, const pa_tensor* d) {
    if (!norm) return {ctx.mem(d), ctx.mem(d), ctx.mem(d)};
    return {ctx.mem(norm->mul->src[1]), ctx.mem(norm->norm),         ctx.mem(norm->mul),
            pa_param_f(norm->norm, 0),  uint64_t(norm->norm->nb[1]), uint64_t(norm->mul->nb[1])};
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
              const mv_view& view, const mv_norm* norm) {
    const int wg = ctx.tune().mvq_wg, lanes = ctx.tune().mvq_lanes;
    const pa_tensor *a = d->src[0], *b = norm ? norm->norm->src[0] : d->src[1];
    const size_t M = size_t(a->ne[1]), N = size_t(b->ne[1]), slices = size_t(b->ne[2] * b->ne[3]);
    if (epi != mv_epilogue::none && epi != mv_epilogue::store && (!r || !e))
        throw error("mul_mv_q: an epilogue needs r and e", PA_ERR_INVALID);
    if (epi == mv_epilogue::store && !e) throw error("mul_mv_q: a store needs e", PA_ERR_INVALID);
    if (epi == mv_epilogue::none) r = e = d;                              // unused by the kernel
    if (epi == mv_epilogue::store) r = d;                                 // unused by the kernel
    const pa_tensor* g = epi == mv_epilogue::gate_swiglu ? r->src[0] : a; // gate weights, or unused
    const norm_args na = norm_args_of(ctx, norm, d);
    const cl_kernel k =
        ctx.get_kernel("mul_mv_q.cl", "k_mul_mv_q",
                       {{"A_TYPE", a->type},
                        {"MVQ_WG", wg},
                        {"MVQ_LANES", lanes},
                        {"MVQ_N", columns_for(int64_t(N))},
                        {"MVQ_EPI", int(epi)},
                        {"MVQ_NORM", norm != nullptr},
                        {"MVQ_STAGE", stageable(ctx, a) && stageable(ctx, g) &&
                                          stage_fits(ctx, a, columns_for(int64_t(N)),
                                                     epi == mv_epilogue::gate_swiglu ? 2 : 1)}});
    const mem_ref ma = ctx.mem(a), mb = ctx.mem(b), md = ctx.mem(d), mr = ctx.mem(r), me = ctx.mem(e),
                  mg = ctx.mem(g);
    buffer_args variant_buffers(ma.mem, mb.mem, md.mem); // as k_mul_mv_q declares them for the variant
    if (epi == mv_epilogue::add || epi == mv_epilogue::swiglu || epi == mv_epilogue::gate_swiglu)
        variant_buffers.add(mr.mem);
    if (epi != mv_epilogue::none) variant_buffers.add(me.mem);
    if (epi == mv_epilogue::gate_swiglu) variant_buffers.add(mg.mem);
    if (norm) variant_buffers.add(na.w.mem).add(na.norm.mem).add(na.mul.mem);
    ctx.launch(k,
               range3(ceil_div(M, size_t(wg / lanes)) * size_t(wg),
                      ceil_div(N, size_t(columns_for(int64_t(N)))), slices),
               range3(size_t(wg), 1, 1), variant_buffers,
               arg_pack(uint64_t(ma.offs), shape_of(a), uint64_t(mb.offs), shape_of(b), uint64_t(md.offs),
                        shape_of(d), uint64_t(mr.offs), shape_of(r).nb, uint64_t(me.offs), shape_of(e).nb,
                        uint64_t(mg.offs), shape_of(g).nb, view.ne, view.st, int32_t(e->type == PA_TYPE_F16),
                        uint64_t(na.w.offs), na.eps, uint64_t(na.norm.offs), na.norm_nb1,
                        uint64_t(na.mul.offs), na.mul_nb1));
}

void mul_mv_q_heads(device_context& ctx, const mv_head* heads, int n, const mv_norm* norm) {
    const int wg = ctx.tune().mvq_wg, lanes = ctx.tune().mvq_lanes;
    if (n < 1 || n > mul_mv_q_max_heads) throw error("mul_mv_q_heads: 1 to 3 products", PA_ERR_INVALID);
    const pa_tensor* p0 = heads[0].product;
    const pa_tensor *a0 = p0->src[0], *b = norm ? norm->norm->src[0] : p0->src[1];
    const int64_t K = a0->ne[0], N = b->ne[1];
    cl_int4 rows{{0, 0, 0, 0}}, first{{INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX}}, flags{{0, 0, 0, 0}};
    int32_t rope_d = 2, rope_mode = 0, n_past = 0;
    float theta = 10000.0f;
    int64_t groups = 0;
    for (int s = 0; s < n; ++s) {
        const mv_head& h = heads[s];
        rows.s[s] = int32_t(h.product->ne[0]);
        first.s[s] = int32_t(groups);
        groups += ceil_div(h.product->ne[0], int64_t(wg / lanes));
        if (h.rope) {
            flags.s[s] |= 1;
            rope_d = pa_param_i(h.rope, 0);
            rope_mode = pa_param_i(h.rope, 1);
            theta = pa_param_f(h.rope, 2);
            n_past = pa_param_i(h.rope, 3);
        }
        if (h.store) flags.s[s] |= h.store->type == PA_TYPE_F16 ? 6 : 2;
    }
    struct seg_args { // a_S .. v_S of the kernel
        mem_ref a, d, r, e;
        uint64_t a_nb1, d_nb1;
        cl_ulong4 r_nb, e_nb;
        cl_long4 v_ne, v_st;
    } sa[mul_mv_q_max_heads];
    for (int s = 0; s < mul_mv_q_max_heads; ++s) {
        const mv_head& h = heads[s < n ? s : 0]; // unused segments repeat the first (never reached)
        const pa_tensor* r = h.rope ? h.rope : h.product;
        const pa_tensor* e = h.store ? h.store : h.product;
        sa[s] = {ctx.mem(h.product->src[0]),
                 ctx.mem(h.product),
                 ctx.mem(r),
                 ctx.mem(e),
                 uint64_t(h.product->src[0]->nb[1]),
                 uint64_t(h.product->nb[1]),
                 shape_of(r).nb,
                 shape_of(e).nb,
                 h.view.ne,
                 h.view.st};
    }
    bool stage = stage_fits(ctx, a0, columns_for(N), 1);
    for (int s = 0; s < n; ++s)
        stage = stage && stageable(ctx, heads[s].product->src[0]);
    const norm_args na = norm_args_of(ctx, norm, p0);
    const cl_kernel k = ctx.get_kernel("mul_mv_q.cl", "k_mul_mv_q_heads",
                                       {{"A_TYPE", a0->type},
                                        {"MVQ_WG", wg},
                                        {"MVQ_LANES", lanes},
                                        {"MVQ_N", columns_for(N)},
                                        {"MVQ_NORM", norm != nullptr},
                                        {"MVQ_STAGE", stage}});
    const mem_ref mb = ctx.mem(b);
    arg_pack args(uint64_t(mb.offs), uint64_t(b->nb[1]), int32_t(K), int32_t(N), uint64_t(a0->nb[0]),
                  uint64_t(na.w.offs), na.eps, uint64_t(na.norm.offs), na.norm_nb1, uint64_t(na.mul.offs),
                  na.mul_nb1, rows, first, flags, rope_d, rope_mode, theta, n_past);
    for (const seg_args& g : sa) // in mvq_heads_args' order
        args.add(uint64_t(g.a.offs), g.a_nb1, uint64_t(g.d.offs), g.d_nb1, uint64_t(g.r.offs), g.r_nb,
                 uint64_t(g.e.offs), g.e_nb, g.v_ne, g.v_st);
    ctx.launch(k, range3(size_t(groups) * size_t(wg), ceil_div(size_t(N), size_t(columns_for(N))), 1),
               range3(size_t(wg), 1, 1), mb.mem, na.w.mem, na.norm.mem, na.mul.mem, sa[0].a.mem, sa[0].d.mem,
               sa[0].r.mem, sa[0].e.mem, sa[1].a.mem, sa[1].d.mem, sa[1].r.mem, sa[1].e.mem, sa[2].a.mem,
               sa[2].d.mem, sa[2].r.mem, sa[2].e.mem, args);
}

} // namespace pa::ocl
