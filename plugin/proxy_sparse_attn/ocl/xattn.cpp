// xattn.cpp - estimator = xattn on the device: the steps of ref/xattn.cpp with the kernels of
// kernels/xattn.cl (behind estimator_common.cl), in order on the in-order queue.
#include <algorithm>

#include <fmt/format.h>

#include "estimator_util.h"
#include "estimators.h"
#include "lowering.h"
#include "program_text.h"

namespace pa::proxy {
namespace {

using namespace pa::ocl;

// xattn_block_stats_tiled (xattn.cl): work-group size and local buffers.
constexpr size_t tiled_ls = 256;
// a block's key tiles: B * d (at most 16384) + 16 bytes of padding a tile (at most 32 tiles)
constexpr int64_t tiled_key_bytes = 16896, tiled_q_bytes = 16384, tiled_pairs = 2048;

struct xattn_state {
    device_context& ctx;
    const geometry& geo;
    const program_source& src;
    std::string opts;
    scratch q8, qs, k8, ks; // step 1: tile rows
    scratch scores;         // step 2
    scratch ranks, budgets; // step 3
    xattn_state(device_context& c, const geometry& g, pa_type k_type)
        : ctx(c), geo(g), src(estimator_program("xattn.cl")) {
        // one program per (private logits capacity, K type): d and S are kernel arguments
        int64_t tpb_max = 8;
        while (tpb_max < g.tiles_per_block())
            tpb_max <<= 1;
        opts = fmt::format("-DTPB_MAX={} -DK_F16={} -DLS={} -DXT_LS={} -DXT_KEY_BYTES={} -DXT_Q_BYTES={} "
                           "-DXT_PAIRS={}",
                           tpb_max, k_type == PA_TYPE_F16 ? 1 : 0, est::wg_sort, tiled_ls, tiled_key_bytes,
                           tiled_q_bytes, tiled_pairs);
    }
    cl_kernel kernel(const char* name) { return ctx.get_kernel(src, name, opts); }
};

// Step 1: int8 query tile rows (times scale / S) and key tile rows.
void tile_rows(xattn_state& st, const operand& q, const operand& k) {
    const geometry& geo = st.geo;
    const int64_t len = geo.S * geo.d, nq = geo.n_qtiles();
    st.q8 = est::temp(st.ctx, geo.H * nq * len, 1);
    st.qs = est::temp(st.ctx, geo.H * nq);
    st.ctx.launch(st.kernel("xattn_tile_q"), range2(size_t(nq), size_t(geo.H)), {}, q.mem, q.shape,
                  st.q8.mem(), st.qs.mem(), int32_t(nq), geo.tq0, geo.n_past, geo.n_keys, int32_t(geo.S),
                  int32_t(geo.d), geo.scale / float(geo.S));
    st.k8 = est::temp(st.ctx, geo.Hkv * geo.n_tiles * len, 1);
    st.ks = est::temp(st.ctx, geo.Hkv * geo.n_tiles);
    st.ctx.launch(st.kernel("xattn_tile_k"), range2(size_t(geo.n_tiles), size_t(geo.Hkv)), {}, k.mem, k.shape,
                  st.k8.mem(), st.ks.mem(), int32_t(geo.n_tiles), geo.n_keys, int32_t(geo.S), int32_t(geo.d));
}

// Query tiles per work-group of xattn_block_stats_tiled, or 0 where its tiles do not fit (rows
// not a multiple of 16 bytes, a block's key tiles over its buffer, too little local memory).
int32_t tiled_query_tiles(const device_context& ctx, const geometry& geo) {
    const int64_t row = geo.S * geo.d + 16, tpb = geo.tiles_per_block();
    const int64_t local_bytes = tiled_key_bytes + tiled_q_bytes + 4 * tiled_pairs;
    if (geo.d % 16 != 0 || tpb * row > tiled_key_bytes || row > tiled_q_bytes || tpb > tiled_pairs ||
        int64_t(ctx.caps().local_mem) < local_bytes)
        return 0;
    return int32_t(std::min({tiled_q_bytes / row, tiled_pairs / tpb, geo.n_qtiles()}));
}

// Step 2: block statistics, softmax and block scores, rows in batches so that the statistics
// stay under est::stats_budget_bytes().
void block_scores(xattn_state& st) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    const int32_t qt = tiled_query_tiles(ctx, geo);
    const int32_t nb = int32_t(geo.n_kblocks), nq = int32_t(geo.n_qtiles()),
                  tpb = int32_t(geo.tiles_per_block());
    st.scores = est::temp(ctx, geo.H * geo.tri_total());
    scratch tM = est::temp(ctx, geo.H * nq), tinv = est::temp(ctx, geo.H * nq);
    const int64_t per_row = geo.H * geo.tiles_per_block() * geo.n_kblocks * 8;
    const int64_t rows_per_batch =
        std::max<int64_t>(1, est::stats_budget_bytes() / std::max<int64_t>(1, per_row));
    const int64_t batch_tiles = std::min<int64_t>(nq, rows_per_batch * geo.tiles_per_block());
    scratch bm = est::temp(ctx, geo.H * batch_tiles * nb), bs = est::temp(ctx, geo.H * batch_tiles * nb);
    for (int64_t m0 = geo.row0; m0 < geo.n_kblocks; m0 += rows_per_batch) {
        const int64_t m1 = std::min(geo.n_kblocks, m0 + rows_per_batch);
        const int32_t t_begin = int32_t(geo.tile_first(m0) - geo.tq0),
                      t_end = int32_t(geo.tile_end(m1 - 1) - geo.tq0);
        const size_t nt = size_t(t_end - t_begin);
        if (qt > 0)
            ctx.launch(st.kernel("xattn_block_stats_tiled"),
                       range3(size_t(nb) * tiled_ls, (nt + size_t(qt) - 1) / size_t(qt), size_t(geo.H)),
                       range3(tiled_ls, 1, 1), st.q8.mem(), st.qs.mem(), st.k8.mem(), st.ks.mem(), bm.mem(),
                       bs.mem(), t_begin, t_end, nq, int32_t(geo.n_tiles), geo.tq0, int32_t(geo.gqa), nb,
                       int32_t(geo.S), int32_t(geo.d), tpb, qt);
        else
            ctx.launch(st.kernel("xattn_block_stats"), range3(size_t(nb), nt, size_t(geo.H)), {}, st.q8.mem(),
                       st.qs.mem(), st.k8.mem(), st.ks.mem(), bm.mem(), bs.mem(), t_begin, t_end, nq,
                       int32_t(geo.n_tiles), geo.tq0, int32_t(geo.gqa), nb, int32_t(geo.S), int32_t(geo.d),
                       tpb);
        ctx.launch(st.kernel("xattn_merge"), range2(nt, size_t(geo.H)), {}, bm.mem(), bs.mem(), tM.mem(),
                   tinv.mem(), t_begin, t_end, nq, geo.tq0, nb, tpb);
        ctx.launch(st.kernel("xattn_scores"), range3(size_t(nb), size_t(m1 - m0), size_t(geo.H)), {},
                   bm.mem(), bs.mem(), tM.mem(), tinv.mem(), st.scores.mem(), t_begin, t_end, int32_t(m0),
                   int32_t(geo.row0), int32_t(geo.n_rows), nq, int32_t(geo.n_tiles), geo.tq0, nb, tpb);
    }
}

} // namespace

bool xattn_on_device(device_context& ctx, const geometry& geo, const operand& q, const operand& k,
                     ocl_debug* dbg, device_mask& out) {
    xattn_state st(ctx, geo, k.type);
    const int64_t tt = geo.tri_total();
    tile_rows(st, q, k);
    if (geo.stop_after == 1) return false;
    block_scores(st);
    if (dbg) dbg->scores = est::read<float>(ctx, st.scores, geo.H * tt);
    if (geo.stop_after == 2) return false;
    st.ranks = est::temp(ctx, geo.H * tt);
    st.budgets = est::temp(ctx, geo.H * geo.n_rows);
    const scratch all = est::upload(ctx, std::vector<int32_t>(size_t(geo.H), 1));
    est::rank_rows(ctx, st.kernel("rank_rows_threshold"), geo, st.scores, st.ranks, st.budgets, all, 1, 0);
    if (dbg) est::read_ranks(ctx, geo, st.ranks, st.budgets, *dbg);
    if (geo.stop_after == 3) return false;
    out = est::mask_buffers(ctx, geo);
    ctx.launch(st.kernel("build_rank_mask"), range2(size_t(geo.n_rows), size_t(geo.H)), {}, st.ranks.mem(),
               st.budgets.mem(), out.counts.mem(), out.blocks.mem(), int32_t(geo.row0), int32_t(geo.n_rows),
               int32_t(geo.force));
    if (dbg) est::read_mask(ctx, geo, out, *dbg);
    return geo.stop_after != 4;
}

std::string estimator_unsupported_reason(const device_context& ctx, const geometry& geo) {
    (void)ctx;
    // the tile logits of one block live in private memory (xattn.cl: float L[TPB_MAX])
    if (geo.estimator == proxy_estimator::xattn && geo.B / geo.S > 1024)
        return fmt::format("xattn needs block / stride <= 1024 (has {})", geo.B / geo.S);
    return "";
}

} // namespace pa::proxy
