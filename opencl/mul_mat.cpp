// mul_mat.cpp - mul_mat (kernels/mul_mat.cl, CLBlast): dst[m, n, i2, i3] = sum_k a[k, m, i2/r2, i3/r3] * b[k,
// n, i2, i3]. Paths, in order of preference:
//   few columns of quantized a (decode)    -> k_mul_mv_q (mul_mv_q.h)
//   few columns (N <= mv_max_n)            -> k_mul_mv, any a type, any strides
//   NVIDIA tensor cores, N >= mmq_min_n    -> mul_mat_mma (F16/quantized a; F32 a from mmq_f32_min_n)
//   a F32 with unit-stride rows            -> CLBlast strided batched SGEMM
//   a F16/quantized, N >= blas_min_n       -> a dequantized to F32 scratch (in row chunks), CLBlast
//   anything else                          -> k_mul_mat_tiled (local-memory tiles, dequant per tile)
#include <algorithm>

#include <fmt/format.h>

#include "mul_mat_mma.h"
#include "mul_mv_q.h"
#include "op_table.h"

namespace pa::ocl {
namespace {

std::string a_type_define(pa_type t) {
    return fmt::format("-DA_TYPE={}", int(t));
}

bool aligned4(size_t v) {
    return v % 4 == 0;
}

// b and dst as CLBlast sees them: unit-stride rows, 4-byte aligned strides and offsets.
bool blas_ok_b_d(device_context& ctx, const pa_tensor* b, const pa_tensor* d) {
    if (b->nb[0] != 4 || !aligned4(b->nb[1]) || !aligned4(b->nb[2]) || !aligned4(b->nb[3])) return false;
    if (b->nb[1] < size_t(b->ne[0]) * 4 || !is_contiguous(d)) return false;
    return aligned4(ctx.mem(b).offs) && aligned4(ctx.mem(d).offs);
}

bool blas_ok_a(device_context& ctx, const pa_tensor* a) {
    return a->type == PA_TYPE_F32 && a->nb[0] == 4 && aligned4(a->nb[1]) && aligned4(a->nb[2]) &&
           aligned4(a->nb[3]) && a->nb[1] >= size_t(a->ne[0]) * 4 && aligned4(ctx.mem(a).offs);
}

// An F32 view of a's rows [m0, m0 + mc) for every (a2, a3) slice; strides in elements.
struct a_view {
    mem_ref base; // element (0, m0, 0, 0)
    size_t ld, s2, s3;
};

// CLBlast over every (i2, i3) slice of dst for rows [m0, m0 + mc): batched where strides allow.
void blas_slices(device_context& ctx, const a_view& A, size_t m0, size_t mc, const pa_tensor* b,
                 pa_tensor* d) {
    const int64_t K = b->ne[0], N = b->ne[1], B2 = b->ne[2], B3 = b->ne[3];
    const int64_t A2 = d->src[0]->ne[2], A3 = d->src[0]->ne[3];
    const int64_t r2 = B2 / A2, r3 = B3 / A3;
    const mem_ref bm = ctx.mem(b), dm = ctx.mem(d);
    // b's r2 slices of one a slice merge into r2 * N columns when they follow each other
    const bool merge = r2 > 1 && b->nb[2] == size_t(N) * b->nb[1];
    for (int64_t i3 = 0; i3 < B3; ++i3) {
        gemm_desc g;
        g.trans_a = true;
        g.m = mc;
        g.k = size_t(K);
        g.lda = A.ld;
        g.ldb = b->nb[1] / 4;
        g.ldc = d->nb[1] / 4;
        const size_t a_off = A.base.offs + size_t(i3 / r3) * A.s3 * 4;
        const size_t b_off = bm.offs + size_t(i3) * b->nb[3];
        const size_t d_off = dm.offs + size_t(i3) * d->nb[3] + m0 * 4;
        if (r2 == 1 || merge) { // one batched call over a's slices
            g.n = size_t(N * r2);
            g.batch = size_t(A2);
            g.a = {A.base.mem, a_off};
            g.stride_a = A.s2;
            g.b = {bm.mem, b_off};
            g.stride_b = size_t(r2) * b->nb[2] / 4;
            g.c = {dm.mem, d_off};
            g.stride_c = size_t(r2) * d->nb[2] / 4;
            ctx.gemm(g);
            continue;
        }
        for (int64_t i2 = 0; i2 < B2; ++i2) { // broadcast with gaps: one call per slice
            g.n = size_t(N);
            g.a = {A.base.mem, a_off + size_t(i2 / r2) * A.s2 * 4};
            g.b = {bm.mem, b_off + size_t(i2) * b->nb[2]};
            g.c = {dm.mem, d_off + size_t(i2) * d->nb[2]};
            ctx.gemm(g);
        }
    }
}

void mul_mat_blas_f32(device_context& ctx, pa_tensor* d) {
    const pa_tensor* a = d->src[0];
    const a_view A{ctx.mem(a), a->nb[1] / 4, a->nb[2] / 4, a->nb[3] / 4};
    blas_slices(ctx, A, 0, size_t(a->ne[1]), d->src[1], d);
}

// Dequantizes chunks of a's rows into scratch with cpy.cl, then runs CLBlast on them.
void mul_mat_blas_dequant(device_context& ctx, pa_tensor* d) {
    const pa_tensor* a = d->src[0];
    const size_t K = size_t(a->ne[0]), M = size_t(a->ne[1]), slices = size_t(a->ne[2] * a->ne[3]);
    const size_t chunk_bytes = size_t(ctx.tune().dequant_chunk_mib) << 20;
    const size_t rows_fit = std::max<size_t>(64, chunk_bytes / (K * slices * 4));
    const size_t mc_max = std::min(M, rows_fit);
    scratch tmp = ctx.temp(K * mc_max * slices * 4);
    cl_kernel conv = ctx.get_kernel("cpy.cl", "k_cpy_elem", cpy_options(ctx));
    const mem_ref am = ctx.mem(a);
    for (size_t m0 = 0; m0 < M; m0 += mc_max) {
        const size_t mc = std::min(mc_max, M - m0);
        pa_tensor src = *a; // rows [m0, m0 + mc) of every slice
        src.ne[1] = int64_t(mc);
        pa_tensor dst{};
        dst.type = PA_TYPE_F32;
        dst.ne[0] = int64_t(K);
        dst.ne[1] = int64_t(mc);
        dst.ne[2] = a->ne[2];
        dst.ne[3] = a->ne[3];
        dst.nb[0] = 4;
        dst.nb[1] = K * 4;
        dst.nb[2] = K * mc * 4;
        dst.nb[3] = K * mc * size_t(a->ne[2]) * 4;
        const int64_t n = int64_t(K * mc * slices);
        const size_t wg = size_t(ctx.tune().cpy_wg);
        ctx.launch(conv, range1(round_up(size_t(n), wg)), range1(wg),
                   mem_ref{am.mem, am.offs + m0 * a->nb[1]}, shape_of(&src), type_arg(a->type), tmp.ref(),
                   shape_of(&dst), type_arg(PA_TYPE_F32), int32_t(1), n);
        const a_view A{tmp.ref(), K, K * mc, K * mc * size_t(a->ne[2])};
        blas_slices(ctx, A, m0, mc, d->src[1], d);
    }
}

void mul_mat_kernel(device_context& ctx, pa_tensor* d, bool vector) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    const tuning& tu = ctx.tune();
    const size_t M = size_t(a->ne[1]), N = size_t(b->ne[1]), slices = size_t(b->ne[2] * b->ne[3]);
    const std::string opts = a_type_define(a->type);
    if (vector) {
        const size_t wg = size_t(tu.mv_wg);
        ctx.launch(ctx.get_kernel("mul_mat.cl", "k_mul_mv", opts),
                   range3(M * wg, ceil_div(N, size_t(tu.mv_max_n)), slices), range3(wg, 1, 1), ctx.mem(a),
                   shape_of(a), ctx.mem(b), shape_of(b), ctx.mem(d), shape_of(d));
        return;
    }
    const size_t wg = size_t((tu.mm_tm / tu.mm_wm) * (tu.mm_tn / tu.mm_wn));
    ctx.launch(ctx.get_kernel("mul_mat.cl", "k_mul_mat_tiled", opts),
               range3(ceil_div(M, size_t(tu.mm_tm)) * wg, ceil_div(N, size_t(tu.mm_tn)), slices),
               range3(wg, 1, 1), ctx.mem(a), shape_of(a), ctx.mem(b), shape_of(b), ctx.mem(d), shape_of(d));
}

} // namespace

bool supports_mul_mat(const device_context&, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    if (!a || !b || d->type != PA_TYPE_F32 || b->type != PA_TYPE_F32) return false;
    if (!type_is_valid(a->type) || a->type == PA_TYPE_I32) return false;
    if (a->ne[0] != b->ne[0] || b->ne[2] % a->ne[2] || b->ne[3] % a->ne[3]) return false;
    if (d->ne[0] != a->ne[1] || d->ne[1] != b->ne[1] || d->ne[2] != b->ne[2] || d->ne[3] != b->ne[3])
        return false;
    if (traits(a->type).quantized && (a->ne[0] % 32 != 0 || a->nb[0] != traits(a->type).block_bytes))
        return false;
    return fits_int(a) && fits_int(b) && fits_int(d);
}

void compute_mul_mat(device_context& ctx, pa_tensor* d) {
    const pa_tensor *a = d->src[0], *b = d->src[1];
    const tuning& tu = ctx.tune();
    const int64_t N = b->ne[1];
    if (nelements(d) == 0) return;
    if (N <= mul_mv_q_max_n && mul_mv_q_usable(ctx, d)) return mul_mv_q(ctx, d);
    if (N <= tu.mv_max_n) return mul_mat_kernel(ctx, d, true);
    if (mul_mat_mma_problem(ctx, d).empty()) return mul_mat_mma(ctx, d);
    if (blas_ok_b_d(ctx, b, d)) {
        if (blas_ok_a(ctx, a)) return mul_mat_blas_f32(ctx, d);
        if (a->type != PA_TYPE_F32 && N >= tu.blas_min_n) return mul_mat_blas_dequant(ctx, d);
    }
    mul_mat_kernel(ctx, d, false);
}

} // namespace pa::ocl
