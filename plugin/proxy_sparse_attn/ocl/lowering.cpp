// lowering.cpp - host side of the OpenCL lowering: validate, pick tile sizes, allocate
// scratch, launch the kernels of kernels/proxy_*.cl in order on the in-order queue.
#include "lowering.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "flash_attn.h"
#include "pa/error.h"
#include "pa/types.h"

namespace pa::proxy::embedded {
#include "proxy_kernels.h"
} // namespace pa::proxy::embedded

namespace pa::proxy {
namespace {

using namespace pa::ocl;

constexpr int64_t max_head_dim = 256;
constexpr int wg_rows = 64;  // LQ / UQ of proxy_estimate.cl (work-group size of the row kernels)
constexpr int wg_sort = 128; // LS of proxy_sort.cl

int64_t next_pow2(int64_t x) {
    int64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

program_source source(std::string_view name) {
    for (const auto& s : embedded::pa_proxy_sources)
        if (name == s.name) return {std::string(name), s.text, false};
    throw error(fmt::format("proxy_sparse_attn: no embedded kernel file {}", name), PA_ERR_DEVICE);
}

// Device memory for the per-(strided query, key block) maxima of step 4, per batch of rows:
// 256 MiB, or $PA_PROXY_BM_BYTES (tests lower it to run many batches on small problems).
int64_t bm_budget_bytes() {
    static const int64_t v = [] {
        const char* e = std::getenv("PA_PROXY_BM_BYTES");
        return e && *e ? std::max<int64_t>(1, std::atoll(e)) : int64_t(256) << 20;
    }();
    return v;
}

// Tile sizes of the estimate kernels (portable, sized for 32-48 KiB of local memory).
struct tiles {
    int64_t sort_n = 1; // bitonic length (power of two >= n_kblocks)

    explicit tiles(const geometry& geo) { sort_n = next_pow2(geo.n_kblocks); }
    // The largest of the estimate kernels' local arrays: two staged tiles of 16 dims x (64 + 4)
    // rows and a 64 x 65 logit tile (proxy_lse_chunk, budget_block_lse); independent of d.
    size_t est_local() const { return size_t(2 * 16 * 68 + 64 * 65) * 4; }
    size_t sort_local() const { return size_t(sort_n) * 8; }
};

template <class T> std::vector<T> read_back(device_context& ctx, const scratch& s, int64_t count) {
    std::vector<T> out(static_cast<size_t>(count));
    if (count > 0)
        check(clEnqueueReadBuffer(ctx.queue(), s.mem(), CL_TRUE, 0, size_t(count) * sizeof(T), out.data(), 0,
                                  nullptr, nullptr),
              "proxy_sparse_attn: reading debug output");
    return out;
}

scratch temp_of(device_context& ctx, int64_t elems) {
    return ctx.temp(size_t(std::max<int64_t>(elems, 1)) * 4);
}

} // namespace

std::string ocl_unsupported_reason(const device_context& ctx, const geometry& geo, const operand& q,
                                   const operand& k, const operand& v, const operand& dst) {
    if (q.type != PA_TYPE_F32 || !type_is_float(k.type) || !type_is_float(v.type))
        return "q must be f32, k/v f32 or f16";
    if (q.shape.nb.s[0] != 4 || k.shape.nb.s[0] != traits(k.type).block_bytes ||
        v.shape.nb.s[0] != traits(v.type).block_bytes)
        return "q, k and v rows must be contiguous (nb[0] = element size)";
    if (dst.type != PA_TYPE_F32 || dst.shape.nb.s[0] != 4)
        return "the result must be f32 with contiguous rows";
    if (geo.d > max_head_dim) return fmt::format("head dim {} > {}", geo.d, max_head_dim);
    const tiles tl(geo);
    const device_caps& caps = ctx.caps();
    if (caps.max_work_group < size_t(wg_sort)) return "work-groups of 128 items are needed";
    const size_t local = std::max(tl.est_local(), tl.sort_local());
    if (local > caps.local_mem)
        return fmt::format("needs {} bytes of local memory, the device has {}", local, caps.local_mem);
    return pa::ocl::flash_attn_problem(ctx, q, k, v, dst, geo.B);
}

bool ocl_supports(const device_context& ctx, const pa_tensor* node) {
    try {
        const geometry geo = make_geometry(node);
        // shapes only: supports_op runs before the tensors have device storage
        const auto shape = [](const pa_tensor* t) { return operand{{}, shape_of(t), t->type}; };
        return ocl_unsupported_reason(ctx, geo, shape(node->src[0]), shape(node->src[1]), shape(node->src[2]),
                                      shape(node))
            .empty();
    } catch (const std::exception&) {
        return false;
    }
}

void ocl_compute(device_context& ctx, pa_tensor* node) {
    const geometry geo = make_geometry(node);
    const operand q = operand_of(ctx, node->src[0]), k = operand_of(ctx, node->src[1]),
                  v = operand_of(ctx, node->src[2]), dst = operand_of(ctx, node);
    const std::string why = ocl_unsupported_reason(ctx, geo, q, k, v, dst);
    if (!why.empty()) throw error(fmt::format("proxy_sparse_attn on OpenCL: {}", why), PA_ERR_UNSUPPORTED);
    ocl_run(ctx, geo, q, k, v, dst, nullptr);
}

void ocl_run(device_context& ctx, const geometry& geo, const operand& q, const operand& k, const operand& v,
             const operand& dst, ocl_debug* dbg) {
    const tiles tl(geo);
    const int32_t d = int32_t(geo.d), g = int32_t(geo.g), H = int32_t(geo.H);
    const int32_t n_sq = int32_t(geo.n_sq), n_sk = int32_t(geo.n_sk), nb = int32_t(geo.n_kblocks);
    const int32_t n_rows = int32_t(geo.n_rows), row0 = int32_t(geo.row0), B = int32_t(geo.B),
                  S = int32_t(geo.S);
    const int32_t sq_first = int32_t(geo.sq_first), gqa = int32_t(geo.gqa);
    const int64_t n_past = geo.n_past, n_keys = geo.n_keys, first_full = (geo.row0 + 1) * geo.B;
    const int64_t tt = geo.tri_total();
    const int32_t force = geo.force ? 1 : 0;

    scratch counts, blocks;
    if (!geo.all_kept) {
        const program_source est = source("proxy_estimate.cl");
        const std::string est_opts =
            fmt::format("-DHEAD_DIM={} -DK_F16={}", d, k.type == PA_TYPE_F16 ? 1 : 0);
        // steps 1-2: proxy pooling at strided positions
        scratch qs = temp_of(ctx, geo.g * geo.n_sq * d), ks = temp_of(ctx, geo.g * geo.n_sk * d);
        ctx.launch(ctx.get_kernel(est, "proxy_pool_q", est_opts), range3(size_t(d), size_t(n_sq), size_t(g)),
                   {}, q.mem, q.shape, qs.mem(), n_sq, sq_first, n_past, first_full, S,
                   int32_t(geo.heads_per_group), 1.0f / float(geo.heads_per_group));
        ctx.launch(ctx.get_kernel(est, "proxy_pool_k", est_opts), range3(size_t(d), size_t(n_sk), size_t(g)),
                   {}, k.mem, k.shape, ks.mem(), n_sk, S, int32_t(geo.kv_per_group),
                   1.0f / float(geo.kv_per_group));
        if (dbg) {
            dbg->pooled_q = read_back<float>(ctx, qs, geo.g * geo.n_sq * d);
            dbg->pooled_k = read_back<float>(ctx, ks, geo.g * geo.n_sk * d);
        }
        if (geo.stop_after == 1) return;

        // steps 3-4: row LSE, then block max of the proxy probabilities
        scratch rmax = temp_of(ctx, geo.g * geo.n_sq), rinv = temp_of(ctx, geo.g * geo.n_sq);
        scratch scores = temp_of(ctx, geo.g * tt);
        const int32_t CH = int32_t(geo.lse_chunk()), n_ch = int32_t((geo.n_sk + CH - 1) / CH);
        const int32_t kpb = int32_t(geo.sq_per_block());
        // Rows in batches so that the per-(query, key block) maxima stay under bm_budget_bytes().
        const int64_t per_row = geo.g * geo.sq_per_block() * geo.n_kblocks * 4;
        const int64_t rows_per_batch =
            std::max<int64_t>(1, bm_budget_bytes() / std::max<int64_t>(1, per_row));
        const int64_t batch_q =
            std::min<int64_t>(geo.n_sq, rows_per_batch * geo.sq_per_block() + geo.sq_per_block());
        scratch cmax = temp_of(ctx, geo.g * n_ch * geo.n_sq), csum = temp_of(ctx, geo.g * n_ch * geo.n_sq);
        scratch bmx = temp_of(ctx, geo.g * batch_q * geo.n_kblocks);
        for (int64_t m0 = geo.row0; m0 < geo.n_kblocks; m0 += rows_per_batch) {
            const int64_t m1 = std::min(geo.n_kblocks, m0 + rows_per_batch);
            const int32_t i_begin = int32_t(geo.sq_row_first(m0));
            const int32_t i_end = int32_t(m1 == geo.n_kblocks ? geo.n_sq : geo.sq_row_first(m1));
            const size_t nqb = size_t(i_end - i_begin);
            ctx.launch(ctx.get_kernel(est, "proxy_lse_chunk", est_opts),
                       range3(round_up(nqb, wg_rows), size_t(n_ch), size_t(g)), range3(wg_rows, 1, 1),
                       qs.mem(), ks.mem(), cmax.mem(), csum.mem(), bmx.mem(), i_begin, i_end, n_sq, n_sk,
                       sq_first, n_past, first_full, S, CH, kpb, nb, geo.scale);
            ctx.launch(ctx.get_kernel(est, "proxy_lse_merge", est_opts), range2(nqb, size_t(g)), {},
                       cmax.mem(), csum.mem(), rmax.mem(), rinv.mem(), i_begin, i_end, n_sq, n_ch, sq_first,
                       n_past, first_full, S, CH);
            ctx.launch(ctx.get_kernel(est, "proxy_blockmax", est_opts),
                       range3(size_t(nb), size_t(m1 - m0), size_t(g)), {}, bmx.mem(), rmax.mem(), rinv.mem(),
                       scores.mem(), i_begin, i_end, n_sq, sq_first, n_past, S, B, row0, int32_t(m0), n_keys,
                       nb);
        }
        if (dbg) {
            dbg->row_max = read_back<float>(ctx, rmax, geo.g * geo.n_sq);
            dbg->row_inv_sum = read_back<float>(ctx, rinv, geo.g * geo.n_sq);
            dbg->scores = read_back<float>(ctx, scores, geo.g * tt);
        }
        if (geo.stop_after == 2) return;

        // step 5: per-head budgets from the last query block
        const int64_t last_begin = geo.row_begin(geo.last_row());
        const int32_t nq = int32_t(geo.row_end(geo.last_row()) - last_begin);
        scratch bmax = temp_of(ctx, geo.H * nq), binv = temp_of(ctx, geo.H * nq);
        scratch pmax = temp_of(ctx, geo.H * nb * int64_t(nq)), psum = temp_of(ctx, geo.H * nb * int64_t(nq));
        scratch mass = temp_of(ctx, geo.H * nb), budgets = temp_of(ctx, geo.H);
        ctx.launch(ctx.get_kernel(est, "budget_block_lse", est_opts),
                   range3(round_up(size_t(nq), wg_rows), size_t(nb), size_t(H)), range3(wg_rows, 1, 1), q.mem,
                   q.shape, k.mem, k.shape, pmax.mem(), psum.mem(), n_past, last_begin, nq, gqa, B, nb,
                   geo.scale);
        ctx.launch(ctx.get_kernel(est, "budget_row", est_opts), range2(size_t(nq), size_t(H)), {}, pmax.mem(),
                   psum.mem(), bmax.mem(), binv.mem(), nq, nb);
        ctx.launch(ctx.get_kernel(est, "budget_reduce", est_opts), range2(size_t(nb), size_t(H)), {},
                   pmax.mem(), psum.mem(), bmax.mem(), binv.mem(), mass.mem(), nq, nb);
        const program_source srt = source("proxy_sort.cl");
        const std::string srt_opts = fmt::format("-DLS={}", wg_sort);
        const int32_t sort_n = int32_t(tl.sort_n);
        ctx.launch(ctx.get_kernel(srt, "budget_select", srt_opts), range1(size_t(wg_sort) * size_t(H)),
                   range1(wg_sort), mass.mem(), budgets.mem(), nb, geo.gamma, int32_t(geo.k_min), sort_n,
                   local_mem{size_t(sort_n) * 4}, local_mem{size_t(sort_n) * 4});
        if (dbg) {
            dbg->head_mass = read_back<float>(ctx, mass, geo.H * nb);
            dbg->budgets = read_back<int32_t>(ctx, budgets, geo.H);
        }
        if (geo.stop_after == 3) return;

        // step 6: one ranking per (group, row), kept lists per (head, row)
        scratch ranks = temp_of(ctx, geo.g * tt);
        counts = temp_of(ctx, geo.H * geo.n_rows);
        blocks = temp_of(ctx, geo.H * tt);
        ctx.launch(ctx.get_kernel(srt, "rank_rows", srt_opts),
                   range2(size_t(wg_sort) * size_t(n_rows), size_t(g)), range2(wg_sort, 1), scores.mem(),
                   ranks.mem(), row0, n_rows, force, sort_n, local_mem{size_t(sort_n) * 4},
                   local_mem{size_t(sort_n) * 4});
        ctx.launch(ctx.get_kernel(srt, "build_mask", srt_opts), range2(size_t(n_rows), size_t(H)), {},
                   ranks.mem(), budgets.mem(), counts.mem(), blocks.mem(), row0, n_rows,
                   int32_t(geo.heads_per_group), force);
        if (dbg) {
            dbg->ranks = read_back<int32_t>(ctx, ranks, geo.g * tt);
            dbg->counts = read_back<int32_t>(ctx, counts, geo.H * geo.n_rows);
            dbg->blocks = read_back<int32_t>(ctx, blocks, geo.H * tt);
        }
        if (geo.stop_after == 4) return;
    }

    // step 7 (or 8, dense): flash attention over the kept blocks
    const pa::ocl::device_block_mask mask{counts.mem(), blocks.mem(), B, row0, n_rows, tt};
    pa::ocl::flash_attn(ctx, q, k, v, dst, n_past, true, geo.scale, geo.all_kept ? nullptr : &mask);
}

} // namespace pa::proxy
