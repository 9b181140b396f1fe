// proxy_ocl.cpp - host side of the OpenCL lowering: validate, pick tile sizes, allocate
// scratch, launch the kernels of plugin/kernels/proxy_*.cl in order on the in-order queue.
#include "proxy_ocl.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "fa_tiled.h"
#include "pa/error.h"
#include "pa/types.h"
#include "sparse_mma.h"

// The generated table is an inline variable over file-local strings: included at global scope
// by two files it breaks the one-definition rule (sparse_mma.cpp includes it too), so this file
// keeps its own copy in a namespace of its own.
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

// Tile sizes (first version: portable, sized for 32-48 KiB of local memory).
struct tiles {
    int block_q = 32;     // queries per attention work-group
    int attn_tile_k = 32; // keys per attention tile
    int64_t sort_n = 1;   // bitonic length (power of two >= n_kblocks)

    explicit tiles(const geometry& geo) {
        block_q = int(std::min<int64_t>(32, geo.B));
        attn_tile_k = geo.d <= 128 ? 32 : 16;
        sort_n = next_pow2(geo.n_kblocks);
    }
    // The largest of the estimate kernels' local arrays: two staged tiles of 16 dims x (64 + 4)
    // rows and a 64 x 65 logit tile (proxy_lse_chunk, budget_block_lse); independent of d.
    size_t est_local(const geometry&) const { return size_t(2 * 16 * 68 + 64 * 65) * 4; }
    size_t attn_local(const geometry& geo) const { return size_t(2 * attn_tile_k * geo.d) * 4; }
    size_t sort_local() const { return size_t(sort_n) * 8; }
};

bool is_float(pa_type t) {
    return t == PA_TYPE_F32 || t == PA_TYPE_F16;
}
size_t elem_size(pa_type t) {
    return t == PA_TYPE_F16 ? 2 : 4;
}

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

ocl_tensor ocl_tensor_of(const device_context& ctx, const pa_tensor* t) {
    return {ctx.mem(t), shape_of(t), t->type};
}

std::string ocl_unsupported_reason(const device_caps& caps, const geometry& geo, const pa_tensor* q,
                                   const pa_tensor* k, const pa_tensor* v, const pa_tensor* dst) {
    if (q->type != PA_TYPE_F32 || !is_float(k->type) || !is_float(v->type))
        return "q must be f32, k/v f32 or f16";
    if (q->nb[0] != 4 || k->nb[0] != elem_size(k->type) || v->nb[0] != elem_size(v->type))
        return "q, k and v rows must be contiguous (nb[0] = element size)";
    if (dst && (dst->type != PA_TYPE_F32 || dst->nb[0] != 4))
        return "the result must be f32 with contiguous rows";
    if (geo.d > max_head_dim) return fmt::format("head dim {} > {}", geo.d, max_head_dim);
    const tiles tl(geo);
    if (caps.max_work_group < size_t(wg_sort)) return "work-groups of 128 items are needed";
    const size_t local = std::max({tl.est_local(geo), tl.attn_local(geo), tl.sort_local()});
    if (local > caps.local_mem)
        return fmt::format("needs {} bytes of local memory, the device has {}", local, caps.local_mem);
    return "";
}

bool ocl_supports(const device_context& ctx, const pa_tensor* node) {
    try {
        const geometry geo = make_geometry(node);
        return ocl_unsupported_reason(ctx.caps(), geo, node->src[0], node->src[1], node->src[2], node)
            .empty();
    } catch (const std::exception&) {
        return false;
    }
}

void ocl_compute(device_context& ctx, pa_tensor* node) {
    const geometry geo = make_geometry(node);
    const std::string why =
        ocl_unsupported_reason(ctx.caps(), geo, node->src[0], node->src[1], node->src[2], node);
    if (!why.empty()) throw error(fmt::format("proxy_sparse_attn on OpenCL: {}", why), PA_ERR_UNSUPPORTED);
    ocl_run(ctx, geo, ocl_tensor_of(ctx, node->src[0]), ocl_tensor_of(ctx, node->src[1]),
            ocl_tensor_of(ctx, node->src[2]), ocl_tensor_of(ctx, node), nullptr);
}

void ocl_run(device_context& ctx, const geometry& geo, const ocl_tensor& q, const ocl_tensor& k,
             const ocl_tensor& v, const ocl_tensor& dst, ocl_debug* dbg) {
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

    // step 7 (or 8, dense): block-sparse flash attention; on NVIDIA tensor cores when that path
    // takes this node (sparse_mma.h), else the portable kernel below
    if (sparse_mma_problem(ctx, geo, q, k, v, dst).empty()) {
        sparse_mma_attend(ctx, geo, q, k, v, dst, geo.all_kept ? nullptr : counts.mem(),
                          geo.all_kept ? nullptr : blocks.mem());
        return;
    }
    // portable register-tiled kernel (opencl/fa_tiled.h) where the head dim and block size allow
    if (pa::ocl::fa_tiled_usable(ctx, geo.d) && geo.B % 64 == 0) {
        const auto op = [](const ocl_tensor& t) { return pa::ocl::fa_operand{t.mem, t.shape, t.type}; };
        pa::ocl::fa_block_mask m;
        if (!geo.all_kept) {
            m.counts = counts.mem();
            m.blocks = blocks.mem();
        }
        m.block = B;
        m.row0 = row0;
        m.n_rows = n_rows;
        m.tri_total = tt;
        pa::ocl::fa_tiled_attention(ctx, op(q), op(k), op(v), op(dst), int32_t(n_past), true, geo.scale,
                                    geo.all_kept ? nullptr : &m);
        return;
    }
    const program_source att = source("proxy_attn.cl");
    const std::string att_opts =
        fmt::format("-DHEAD_DIM={} -DBLOCK_Q={} -DTILE_K={} -DK_F16={} -DV_F16={}", d, tl.block_q,
                    tl.attn_tile_k, k.type == PA_TYPE_F16 ? 1 : 0, v.type == PA_TYPE_F16 ? 1 : 0);
    const int32_t dense = geo.all_kept ? 1 : 0;
    const cl_mem mask_counts = dense ? dst.mem.mem : counts.mem();
    const cl_mem mask_blocks = dense ? dst.mem.mem : blocks.mem();
    const size_t tiles_per_row = size_t((geo.B + tl.block_q - 1) / tl.block_q);
    ctx.launch(ctx.get_kernel(att, "proxy_sparse_attn", att_opts),
               range3(size_t(tl.block_q) * tiles_per_row, size_t(n_rows), size_t(H)),
               range3(size_t(tl.block_q), 1, 1), q.mem, q.shape, k.mem, k.shape, v.mem, v.shape, dst.mem,
               dst.shape, mask_counts, mask_blocks, dense, n_past, n_keys, B, row0, n_rows, gqa, geo.scale);
}

} // namespace pa::proxy
