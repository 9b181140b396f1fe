// flex.cpp - estimator = flex on the device: the steps of ref/flex.cpp with the kernels of
// kernels/flex.cl (behind estimator_common.cl), in order on the in-order queue.
#include <fmt/format.h>

#include "estimator_util.h"
#include "estimators.h"
#include "lowering.h"
#include "program_text.h"

namespace pa::proxy {
namespace {

using namespace pa::ocl;

struct flex_device {
    device_context& ctx;
    const geometry& geo;
    const program_source& src;
    std::string opts;
    int32_t n_ranges = 0;                         // pooled query ranges: the tail, then every row
    scratch tq8, tqs, k8, ks, pq8, pqs, pk8, pks; // step 1
    scratch lines, js, pick;                      // step 2
    scratch keep, scores, ranks, budgets;         // step 3
    flex_device(device_context& c, const geometry& g, pa_type k_type)
        : ctx(c), geo(g), src(estimator_program("flex.cl")) {
        opts =
            fmt::format("-DHEAD_DIM={} -DK_F16={} -DLS={}", g.d, k_type == PA_TYPE_F16 ? 1 : 0, est::wg_sort);
    }
    cl_kernel kernel(const char* name) { return ctx.get_kernel(src, name, opts); }
};

// Step 1: int8 tail queries and keys; pooled tail query, row queries and block keys.
void make_rows(flex_device& st, const operand& q, const operand& k) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    const int64_t d = geo.d, nt = geo.tail_count(), nb = geo.n_kblocks;
    st.tq8 = est::temp(ctx, geo.H * nt * d, 1);
    st.tqs = est::temp(ctx, geo.H * nt);
    ctx.launch(st.kernel("flex_quantize_q"), range2(size_t(nt), size_t(geo.H)), {}, q.mem, q.shape,
               st.tq8.mem(), st.tqs.mem(), int64_t(geo.tail_first() - geo.n_past), int32_t(nt), geo.scale);
    st.k8 = est::temp(ctx, geo.Hkv * geo.n_keys * d, 1);
    st.ks = est::temp(ctx, geo.Hkv * geo.n_keys);
    ctx.launch(st.kernel("flex_quantize_k"), range2(size_t(geo.n_keys), size_t(geo.Hkv)), {}, k.mem, k.shape,
               st.k8.mem(), st.ks.mem(), geo.n_keys);
    std::vector<int64_t> first{geo.tail_first() - geo.n_past};
    std::vector<int32_t> count{int32_t(nt)};
    for (int64_t m = geo.row0; m < geo.n_kblocks; ++m) {
        first.push_back(geo.row_begin(m) - geo.n_past);
        count.push_back(int32_t(geo.row_end(m) - geo.row_begin(m)));
    }
    st.n_ranges = int32_t(first.size());
    est::packed_upload ranges(ctx); // both arrays in one write
    const int first_part = ranges.add(first), count_part = ranges.add(count);
    ranges.send(ctx);
    st.pq8 = est::temp(ctx, geo.H * st.n_ranges * d, 1);
    st.pqs = est::temp(ctx, geo.H * st.n_ranges);
    ctx.launch(st.kernel("flex_pool_q"), range2(size_t(st.n_ranges), size_t(geo.H)), {}, q.mem, q.shape,
               ranges.mem(first_part), ranges.mem(count_part), st.pq8.mem(), st.pqs.mem(), st.n_ranges,
               geo.scale);
    st.pk8 = est::temp(ctx, geo.Hkv * nb * d, 1);
    st.pks = est::temp(ctx, geo.Hkv * nb);
    ctx.launch(st.kernel("flex_pool_k"), range2(size_t(nb), size_t(geo.Hkv)), {}, k.mem, k.shape,
               st.pk8.mem(), st.pks.mem(), int32_t(nb), geo.n_keys, int32_t(geo.B));
}

// Step 2: the tail's statistics, lines, pooled estimate, divergence and pattern.
void lines_and_pattern(flex_device& st) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    const int32_t nt = int32_t(geo.tail_count()), nb = int32_t(geo.n_kblocks);
    const int64_t t_abs = geo.tail_first();
    scratch bm = est::temp(ctx, geo.H * nt * nb), bs = est::temp(ctx, geo.H * nt * nb);
    scratch tM = est::temp(ctx, geo.H * nt), tinv = est::temp(ctx, geo.H * nt);
    ctx.launch(st.kernel("flex_tail_stats"), range3(size_t(nb), size_t(nt), size_t(geo.H)), {}, st.tq8.mem(),
               st.tqs.mem(), st.k8.mem(), st.ks.mem(), bm.mem(), bs.mem(), t_abs, nt, geo.n_keys,
               int32_t(geo.gqa), int32_t(geo.B), nb);
    ctx.launch(st.kernel("flex_tail_merge"), range2(size_t(nt), size_t(geo.H)), {}, bm.mem(), bs.mem(),
               tM.mem(), tinv.mem(), t_abs, nt, int32_t(geo.B), nb);
    st.lines = est::temp(ctx, geo.H * 3 * nb);
    ctx.launch(st.kernel("flex_lines"), range2(size_t(nb), size_t(geo.H)), {}, bm.mem(), bs.mem(), tM.mem(),
               tinv.mem(), st.lines.mem(), t_abs, nt, int32_t(geo.B), nb);
    st.js = est::temp(ctx, geo.H);
    st.pick = est::zeros(ctx, geo.H * 3);
    ctx.launch(st.kernel("flex_pattern"), range1(size_t(geo.H)), {}, st.pq8.mem(), st.pqs.mem(), st.pk8.mem(),
               st.pks.mem(), st.lines.mem(), st.js.mem(), st.pick.mem(), st.n_ranges, nb, int32_t(geo.gqa),
               geo.flex_tau, int32_t(geo.H));
}

// Step 3: kept lines (vertical-slash heads), pooled scores and ranks (query-aware heads), and
// every head's per-row counts.
void counts(flex_device& st) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    const int32_t nb = int32_t(geo.n_kblocks), sn = est::sort_n(geo);
    st.keep = est::zeros(ctx, geo.H * 2 * nb, 1);
    ctx.launch(st.kernel("flex_pick_lines"), range1(size_t(est::wg_sort) * size_t(geo.H)),
               range1(est::wg_sort), st.lines.mem(), st.pick.mem(), st.keep.mem(), nb, int32_t(geo.force),
               geo.gamma, int32_t(geo.k_min), int32_t(geo.k_max), sn, local_mem{size_t(sn) * 4},
               local_mem{size_t(sn) * 4}, local_mem{4});
    st.scores = est::zeros(ctx, geo.H * geo.tri_total());
    st.ranks = est::zeros(ctx, geo.H * geo.tri_total());
    st.budgets = est::zeros(ctx, geo.H * geo.n_rows);
    ctx.launch(st.kernel("flex_qa_scores"), range2(size_t(geo.n_rows), size_t(geo.H)), {}, st.pq8.mem(),
               st.pqs.mem(), st.pk8.mem(), st.pks.mem(), st.pick.mem(), st.scores.mem(), st.n_ranges,
               int32_t(geo.row0), int32_t(geo.n_rows), nb, int32_t(geo.gqa));
    est::rank_rows(ctx, st.kernel("rank_rows_threshold"), geo, st.scores, st.ranks, st.budgets, st.pick, 3,
                   geo.k_max);
    ctx.launch(st.kernel("flex_vs_budgets"), range2(size_t(geo.n_rows), size_t(geo.H)), {}, st.pick.mem(),
               st.keep.mem(), st.budgets.mem(), int32_t(geo.row0), int32_t(geo.n_rows), nb,
               int32_t(geo.force));
}

} // namespace

bool flex_on_device(device_context& ctx, const geometry& geo, const operand& q, const operand& k,
                    ocl_debug* dbg, device_mask& out) {
    flex_device st(ctx, geo, k.type);
    const int64_t tt = geo.tri_total(), nb = geo.n_kblocks;
    make_rows(st, q, k);
    if (geo.stop_after == 1) return false;
    lines_and_pattern(st);
    if (dbg) {
        dbg->flex.lines = est::read<float>(ctx, st.lines, geo.H * 3 * nb);
        dbg->flex.js = est::read<float>(ctx, st.js, geo.H);
        dbg->flex.pick = est::read<int32_t>(ctx, st.pick, geo.H * 3);
    }
    if (geo.stop_after == 2) return false;
    counts(st);
    if (dbg) {
        dbg->flex.pick = est::read<int32_t>(ctx, st.pick, geo.H * 3);
        dbg->flex.keep = est::read<uint8_t>(ctx, st.keep, geo.H * 2 * nb);
        dbg->scores = est::read<float>(ctx, st.scores, geo.H * tt);
        est::read_ranks(ctx, geo, st.ranks, st.budgets, *dbg);
    }
    if (geo.stop_after == 3) return false;
    out = est::mask_buffers(ctx, geo);
    ctx.launch(st.kernel("flex_build_mask"), range2(size_t(geo.n_rows), size_t(geo.H)), {}, st.pick.mem(),
               st.keep.mem(), st.ranks.mem(), st.budgets.mem(), out.counts.mem(), out.blocks.mem(),
               int32_t(geo.row0), int32_t(geo.n_rows), int32_t(nb), int32_t(geo.force));
    if (dbg) est::read_mask(ctx, geo, out, *dbg);
    return geo.stop_after != 4;
}

} // namespace pa::proxy
