// mul_mat_mma.cpp - host side of the tensor-core GEMMs (kernels/mul_mat_mma.cl; quantized weights
// dequantized in registers: kernels/mul_mat_mma_rq.cl): which nodes take them, the operands
// (quantized weights repacked per block column, F16/F32 weights copied to f16; b read as F32 by
// the GEMM kernel where its rows allow, else copied to f16 in chunks of tokens, a copy of all of b
// kept for the next products of the same b: x16_copy.h), the launches.
#include "mul_mat_mma.h"

#include <algorithm>

#include <fmt/format.h>

#include "context_impl.h"
#include "flash_attn_mma.h"
#include "pa/types.h"

namespace pa::ocl {
namespace {

constexpr const char* program = "mul_mat_mma.cl";
constexpr const char* program_rq = "mul_mat_mma_rq.cl";
constexpr size_t prep_wg = 256; // work-group size of the prep kernels

bool quantized(pa_type t) {
    return t == PA_TYPE_Q4_0 || t == PA_TYPE_Q4_1 || t == PA_TYPE_Q8_0;
}

// Per 32-k block of quantized weights: bytes of quants and of scales in the repacked layout.
size_t quant_bytes(pa_type t) {
    return t == PA_TYPE_Q8_0 ? 32 : 16;
}
size_t scale_bytes(pa_type t) {
    return t == PA_TYPE_Q4_1 ? 8 : 4;
}

// mul_mat_mma_rq.cl's piece of one 32-k block of a 64-row group (GB words), in bytes.
size_t rq_piece_bytes(pa_type t) {
    const size_t quant_words = t == PA_TYPE_Q8_0 ? 16 * 32 : 8 * 32, scale_rows = t == PA_TYPE_Q4_1 ? 4 : 2;
    return (quant_words + scale_rows * 32) * 4;
}

// mul_mat_mma_rq.cl's stages handed over by mbarriers (tuning mmq_rq_sync): try_wait needs sm_90;
// the emulation (no mbarriers) keeps the barrier.
bool rq_mbarriers(const device_context& ctx) {
    return ctx.tune().mmq_rq_sync == 1 && !mma_emulated() && ctx.caps().nv_cc_major >= 9;
}

// The local-memory stages of mul_mat_mma_rq.cl for this weight type at a tile of wn x wm warps:
// mmq_rq_stages, fewer where they would not fit the device's local memory (each: 64 wn tokens of
// f16 activations, wm pieces), 0 where not even two fit.
int rq_stages_at(const device_context& ctx, pa_type t, int wn, int wm) {
    // with mbarriers, two of 8 bytes a stage
    const uint64_t stage =
        uint64_t(64 * wn) * 64 + uint64_t(wm) * rq_piece_bytes(t) + (rq_mbarriers(ctx) ? 16 : 0);
    const uint64_t emu = mma_emulated() ? mma_emulation_bytes(size_t(32 * wn * wm)) : 0;
    const uint64_t room = ctx.caps().local_mem > emu ? ctx.caps().local_mem - emu : 0;
    const int fit = int(std::min<uint64_t>(room / stage, 8));
    return fit >= 2 ? std::min(ctx.tune().mmq_rq_stages, fit) : 0;
}

// Which kernel a product of m weight rows of type t runs on, and its tile of wn x wm warps.
// mul_mat_mma_rq.cl (rq_stages > 0) where mmq_wreg takes the type and two stages fit: with the
// table's mmq_rq_wn x mmq_rq_wm for the types of mmq_rq_tile_types where m is whole tiles of it
// and all mmq_rq_stages stages fit (no rows computed for padding, no pipeline cut short), else
// with mul_mat_mma.cl's mmq_wn x mmq_wm; otherwise mul_mat_mma.cl (rq_stages 0) on that tile.
struct mmq_plan {
    int rq_stages = 0, wn = 0, wm = 0;
};
mmq_plan plan_mmq(const device_context& ctx, pa_type t, int64_t m) {
    const tuning& tu = ctx.tune();
    const mmq_plan own{0, tu.mmq_wn, tu.mmq_wm};
    if (!quantized(t) || tu.mmq_wreg == 0 || (tu.mmq_wreg == 1 && t == PA_TYPE_Q8_0)) return own;
    if (((tu.mmq_rq_tile_types >> int(t)) & 1) && m % (64 * tu.mmq_rq_wm) == 0) {
        const int s = rq_stages_at(ctx, t, tu.mmq_rq_wn, tu.mmq_rq_wm);
        if (s == tu.mmq_rq_stages) return {s, tu.mmq_rq_wn, tu.mmq_rq_wm};
    }
    return {rq_stages_at(ctx, t, tu.mmq_wn, tu.mmq_wm), tu.mmq_wn, tu.mmq_wm};
}

bool all_multiple(const pa_tensor* t, size_t offs, size_t m) {
    return offs % m == 0 && t->nb[0] % m == 0 && t->nb[1] % m == 0 && t->nb[2] % m == 0 && t->nb[3] % m == 0;
}

// dst allows one 8-byte store per two adjacent rows.
bool dst_vec2(const device_context& ctx, const pa_tensor* d) {
    return d->nb[0] == 4 && ctx.mem(d).offs % 8 == 0 && d->nb[1] % 8 == 0 && d->nb[2] % 8 == 0 &&
           d->nb[3] % 8 == 0;
}

// b read as F32 by the GEMM kernel itself: rows of whole 32-k blocks, 16-byte aligned.
bool direct_b(const device_context& ctx, const pa_tensor* b) {
    return b->nb[0] == 4 && b->ne[0] % 32 == 0 && ctx.mem(b).offs % 16 == 0 && b->nb[1] % 16 == 0 &&
           b->nb[2] % 16 == 0 && b->nb[3] % 16 == 0;
}

// What identifies a weight's repacked copy: its buffer allocation, offset, type, shape, and the
// tile height the rows are padded to (bw).
repack_cache::key weight_key(const pa_tensor* a, const mem_ref& am, size_t bw) {
    repack_cache::key k;
    k.buffer = a->buffer;
    k.serial = a->buffer ? static_cast<const device_buffer*>(a->buffer)->serial : 0;
    k.offs = am.offs;
    k.type = int(a->type);
    for (int i = 0; i < 4; ++i) {
        k.ne[size_t(i)] = a->ne[i];
        k.nb[size_t(i)] = a->nb[i];
    }
    k.variant = int(bw);
    return k;
}

// The stages of this product's weight source (tuning.h mmq_f16_stages).
int stages_of(const tuning& tu, pa_type t) {
    return !quantized(t) && tu.mmq_f16_stages > 0 ? tu.mmq_f16_stages : tu.mmq_stages;
}

std::string build_options_rq(const device_context& ctx, pa_type t, const mmq_plan& rq) {
    const char* sync = mma_emulated()      ? " -DMMA_EMULATE=1"
                       : rq_mbarriers(ctx) ? " -DRQ_MBAR=1 -DMMA_MBARRIER=1"
                                           : "";
    return fmt::format("-DMMQ_W={} -DRQ_STAGES={} -DMMQ_WN={} -DMMQ_WM={}{}", int(t), rq.rq_stages, rq.wn,
                       rq.wm, sync);
}

std::string build_options(const tuning& tu, const pa_tensor* d, bool xf32) {
    const pa_type t = d->src[0]->type;
    const int w = quantized(t) ? int(t) : int(PA_TYPE_F16); // F32 weights go through the f16 copy too
    const int stages = stages_of(tu, t);
    return fmt::format("-DMMQ_W={} -DMMQ_XF32={}{}{}", w, xf32 ? 1 : 0,
                       stages != tu.mmq_stages ? fmt::format(" -DMMQ_STAGES_W={}", stages) : "",
                       mma_emulated() ? " -DMMA_EMULATE=1" : "");
}

} // namespace

std::string mul_mat_mma_problem(const device_context& ctx, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    if (!mma_available(ctx.caps())) return "no tensor-core path on this device";
    const tuning& tu = ctx.tune();
    const int64_t N = b->ne[1];
    if (a->type == PA_TYPE_F32) {
        if (N < tu.mmq_f32_min_n)
            return fmt::format("F32 weights at N = {} (mmq_f32_min_n {})", N, tu.mmq_f32_min_n);
    } else if (a->type == PA_TYPE_F16 || quantized(a->type)) {
        if (N < tu.mmq_min_n) return fmt::format("N = {} < mmq_min_n {}", N, tu.mmq_min_n);
    } else {
        return "weight type";
    }
    // element (F16, F32) or block (2-byte aligned fields) loads of the prep kernels
    if (!all_multiple(a, ctx.mem(a).offs, a->type == PA_TYPE_F32 ? 4 : 2)) return "weights misaligned";
    if (!all_multiple(b, ctx.mem(b).offs, 4) || !all_multiple(d, ctx.mem(d).offs, 4))
        return "activations or result misaligned";
    return "";
}

void mul_mat_mma(device_context& ctx, pa_tensor* d) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    const tuning& tu = ctx.tune();
    const int64_t K = a->ne[0], M = a->ne[1], N = b->ne[1];
    const size_t kp = round_up(size_t(K), 32), kc = kp / 8, n_kb = kp / 32;
    const size_t slices_a = size_t(a->ne[2] * a->ne[3]), slices_b = size_t(b->ne[2] * b->ne[3]);
    // weights dequantized in registers (b through X16), or mul_mat_mma.cl; each kernel its tile
    const mmq_plan plan = plan_mmq(ctx, a->type, M);
    const int stages_rq = plan.rq_stages;
    const size_t bt = size_t(64 * plan.wn), bw = size_t(64 * plan.wm), nt = size_t(32 * plan.wn * plan.wm);
    const size_t mp = round_up(size_t(M), bw);
    // b as F32 re-read by every weight tile, or once converted (N K 6 bytes more device traffic;
    // three stages only take the copy)
    const bool xf32 = !stages_rq && direct_b(ctx, b) && M < tu.mmq_x16_min_m && stages_of(tu, a->type) == 2;
    const std::string opts = build_options(tu, d, xf32);
    const std::string opts_rq = stages_rq ? build_options_rq(ctx, a->type, plan) : "";
    const mem_ref am = ctx.mem(a), bm = ctx.mem(b), dm = ctx.mem(d);

    // weights: W16, WQ + WS, or WR (mul_mat_mma_rq.cl); those the runtime uploaded once (PARAM) are
    // repacked once
    repack_cache& kept = ctx.internals().mmq_weights;
    const repack_cache::key wkey = weight_key(a, am, stages_rq ? (bw | 1) : bw); // odd: WR
    const bool param = (a->flags & PA_FLAG_PARAM) && a->buffer;
    const repack_cache::entry* cached = param ? kept.find(wkey) : nullptr;
    scratch w, ws;
    if (!cached) {
        if (stages_rq) {
            w = ctx.temp(slices_a * n_kb * (mp / 64) * rq_piece_bytes(a->type));
            ctx.launch(ctx.get_kernel(program_rq, "k_mmq_prep_r", opts_rq),
                       range2(round_up(mp * n_kb, prep_wg), slices_a), range2(prep_wg, 1), am, shape_of(a),
                       w.mem(), int32_t(mp), int32_t(n_kb));
        } else if (quantized(a->type)) {
            w = ctx.temp(slices_a * n_kb * mp * quant_bytes(a->type));
            ws = ctx.temp(slices_a * n_kb * mp * scale_bytes(a->type));
            ctx.launch(ctx.get_kernel(program, "k_mmq_prep_q", opts),
                       range2(round_up(mp * n_kb, prep_wg), slices_a), range2(prep_wg, 1), am, shape_of(a),
                       w.mem(), ws.mem(), int32_t(mp), int32_t(n_kb));
        } else {
            w = ctx.temp(slices_a * mp * kp * 2);
            ctx.launch(ctx.get_kernel(program, "k_mmq_prep_f16", opts),
                       range2(round_up(mp * kc, prep_wg), slices_a), range2(prep_wg, 1), am, shape_of(a),
                       int32_t(a->type == PA_TYPE_F16 ? 1 : 0), w.mem(), int32_t(mp), int32_t(kc));
        }
        if (param) {
            const uint64_t cap =
                std::min<uint64_t>(uint64_t(tu.mmq_cache_mib) << 20, ctx.caps().global_mem / 8);
            const size_t bytes = w.size() + ws.size();
            cached = kept.keep(wkey, std::move(w), std::move(ws), bytes, cap, *ctx.internals().pool);
        }
    }
    const cl_mem w_mem = cached ? cached->a.mem() : w.mem();
    const cl_mem ws_mem = cached ? cached->b.mem() : ws.mem();

    cl_kernel gemm =
        stages_rq ? ctx.get_kernel(program_rq, "k_mmq_rq", opts_rq) : ctx.get_kernel(program, "k_mmq", opts);
    const int32_t tiles_w = int32_t(mp / bw);
    const int32_t b2 = int32_t(b->ne[2]), r2 = int32_t(b->ne[2] / a->ne[2]),
                  r3 = int32_t(b->ne[3] / a->ne[3]);
    const auto run = [&](cl_mem x, uint64_t x_offs, cl_ulong4 x_nb, size_t n0, size_t nc) {
        const nd_range global = range2(ceil_div(nc, bt) * size_t(tiles_w) * nt, slices_b),
                       local = range2(nt, 1);
        const uint64_t d_offs = dm.offs + n0 * d->nb[1];
        const int32_t d_vec2 = dst_vec2(ctx, d) ? 1 : 0;
        if (stages_rq)
            return ctx.launch(gemm, global, local, x, x_offs, x_nb, int32_t(n_kb), w_mem, int32_t(mp / 64),
                              dm.mem, d_offs, shape_of(d).nb, d_vec2, int32_t(nc), int32_t(M), tiles_w, b2,
                              r2, r3, int32_t(a->ne[2]));
        ctx.launch(gemm, global, local, x, x_offs, x_nb, int32_t(n_kb), w_mem, ws_mem ? ws_mem : w_mem,
                   int32_t(mp), int32_t(kc), dm.mem, d_offs, shape_of(d).nb, d_vec2, int32_t(nc), int32_t(M),
                   tiles_w, b2, r2, r3, int32_t(a->ne[2]));
    };
    if (xf32) return run(bm.mem, bm.offs, shape_of(b).nb, 0, size_t(N));

    // b through X16, at most mmq_chunk_mib per launch (whole token tiles)
    const size_t token_bytes = kp * 2 * slices_b;
    const size_t np_all = round_up(size_t(N), bt);
    const size_t chunk =
        std::min(np_all, std::max(bt, (size_t(tu.mmq_chunk_mib) << 20) / token_bytes / bt * bt));
    const auto x16_nb = [&](size_t np) { // X16's byte strides for np (padded) tokens
        return cl_ulong4{{2, kp * 2, np * kp * 2, size_t(b2) * np * kp * 2}};
    };
    const bool keep = tu.mmq_keep_x16 && chunk == np_all; // one launch's copy of all of b
    x16_keeper& kept_x = ctx.internals().mmq_x16;
    if (const x16_copy* k = keep ? kept_x.find(ctx, b, np_all, kp) : nullptr)
        return run(k->x.mem(), 0, x16_nb(np_all), 0, size_t(N));
    kept_x.forget(); // another b: the kept copy's buffer goes back to the pool, free for this one
    scratch x = ctx.temp(chunk * token_bytes);
    cl_kernel prep_x = ctx.get_kernel(program, "k_mmq_prep_f16", opts);
    for (size_t n0 = 0; n0 < size_t(N); n0 += chunk) {
        const size_t nc = std::min(chunk, size_t(N) - n0), np = round_up(nc, bt);
        pa_tensor bc = *b; // the chunk's columns
        bc.ne[1] = int64_t(nc);
        ctx.launch(prep_x, range2(round_up(np * kc, prep_wg), slices_b), range2(prep_wg, 1),
                   mem_ref{bm.mem, bm.offs + n0 * b->nb[1]}, shape_of(&bc), int32_t(0), x.mem(), int32_t(np),
                   int32_t(kc));
        run(x.mem(), 0, x16_nb(np), n0, nc);
    }
    if (keep) kept_x.keep(ctx, b, np_all, kp, std::move(x));
}

} // namespace pa::ocl
