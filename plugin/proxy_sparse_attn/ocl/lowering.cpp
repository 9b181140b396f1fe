// lowering.cpp - host side of the OpenCL lowering: validate, allocate scratch, launch the
// kernels of kernels/proxy_*.cl in order on the in-order queue, one function per step (the
// same steps as ref/estimate.cpp), then flash attention over the mask.
#include "lowering.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "block_stats.h"
#include "estimator_util.h"
#include "estimators.h"
#include "flash_attn.h"
#include "pa/error.h"
#include "pa/types.h"
#include "program_text.h"

namespace pa::proxy {
namespace {

using namespace pa::ocl;

constexpr int64_t max_head_dim = 256;
constexpr int wg_sort = 128; // LS of proxy_sort.cl

int64_t next_pow2(int64_t x) {
    int64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

// The block statistics (steps 2 and 4): proxy_det.cl, on the tensor-core paths the PTX helpers
// shared with the backend's tensor-core kernels (opencl/kernels/mma_ptx.cl, emulated under
// PA_MMA=emulate through the plan's options), then proxy_block_stats.cl.
const program_source& block_stats_source(const block_stats_plan& plan) {
    if (plan.kind == block_stats_plan::path::portable)
        return shared_program_text({"proxy_det.cl"}, "proxy_block_stats.cl");
    return shared_program_text({"proxy_det.cl", "mma_ptx.cl"}, "proxy_block_stats.cl");
}

// Device memory for the per-(proxy query, key block) statistics of step 2, per batch of rows:
// 256 MiB, or $PA_PROXY_BM_BYTES (tests lower it to run many batches on small problems).
int64_t bm_budget_bytes() {
    static const int64_t v = [] {
        const char* e = std::getenv("PA_PROXY_BM_BYTES");
        return e && *e ? std::max<int64_t>(1, std::atoll(e)) : int64_t(256) << 20;
    }();
    return v;
}

// Local memory of the sorting kernels (the largest, exact_tail: keys, indices and keep flags of
// one row, and a flag).
size_t sort_local(const geometry& geo) {
    return size_t(next_pow2(geo.n_kblocks)) * 9 + 4;
}

// The launch geometry of proxy_estimate.cl's kernels (passed to it as -D options, est_options).
// The quantize kernels: QL items per row, QR rows per work-group.
constexpr size_t quantize_lanes = 16, quantize_rows_per_group = 8;
int64_t quantize_rows_padded(int64_t rows) {
    const int64_t per = int64_t(quantize_rows_per_group);
    return (rows + per - 1) / per * per;
}
nd_range quantize_local() {
    return range3(quantize_lanes, quantize_rows_per_group, 1);
}

// The merges: MQ queries per work-group, MW items a query.
constexpr size_t merge_queries = 32, merge_items = 4;
nd_range merge_range(size_t queries, int64_t heads) {
    return range3((queries + merge_queries - 1) / merge_queries * merge_queries, merge_items, size_t(heads));
}
nd_range merge_local() {
    return range3(merge_queries, merge_items, 1);
}

// sample_mass: SM_BLOCKS blocks per work-group.
constexpr size_t mass_blocks = 128;

// The pooling loads: POOL_DIMS dims at a time, where they fit the quantize items' elements.
size_t pool_dims(int64_t d) {
    return d % 4 == 0 && (int8_row_bytes(d) / int64_t(quantize_lanes)) % 4 == 0 ? 4 : 1;
}

std::string est_options(int64_t d, pa_type k_type) {
    return fmt::format(
        "-DHEAD_DIM={} -DK_F16={} -DROW_BYTES={} -DPOOL_DIMS={} -DQL={} -DQR={} -DMQ={} -DMW={} "
        "-DSM_BLOCKS={}",
        d, k_type == PA_TYPE_F16 ? 1 : 0, int8_row_bytes(d), pool_dims(d), quantize_lanes,
        quantize_rows_per_group, merge_queries, merge_items, mass_blocks);
}

// The sample rows' tables: parts of one upload, in this order. Per sample row: its row, first
// measured query, count, first block mass, whether it is a tail row, whether it makes an exact
// set, its first exact tail query; per exact tail query: its sample and measured-query index;
// per measured query: its position and visible blocks.
enum sample_part : int { s_m, s_q, s_count, s_mass, s_tail, s_exact, s_t0, t_s, t_q, bq_pos, bq_nblk };

// The device buffers of one run, step by step.
struct run_state {
    device_context& ctx;
    const geometry& geo;
    const program_source &est, &srt;
    std::string est_opts, srt_opts;
    block_stats_plan proxy_plan, sample_plan;              // steps 2 and 4 (the same path)
    const program_source& bst;                             // for that path
    scratch pooled_q, pooled_k, pq8, pqs, pk8, pks;        // step 1
    scratch row_max, row_inv, scores, ranks;               // steps 2-3
    est::packed_upload samples;                            // the sample rows (parts: sample_part)
    int32_t n_tail = 0;                                    // queries of exact tail rows
    scratch bq8, bqs, hk8, hks;                            // measured queries, head keys
    scratch qbm, qbs, qM, qinv, qtot, mass;                // step 4
    scratch sample_budget, budgets, exact, counts, blocks; // steps 5-6

    run_state(device_context& c, const geometry& g, pa_type k_type)
        : ctx(c), geo(g), est(proxy_program("proxy_estimate.cl")), srt(proxy_program("proxy_sort.cl")),
          proxy_plan(block_stats_plan::make(c.caps(), g.d, g.sk_per_block())),
          sample_plan(block_stats_plan::make(c.caps(), g.d, g.B)), bst(block_stats_source(proxy_plan)),
          samples(c) {
        est_opts = est_options(g.d, k_type);
        srt_opts = fmt::format("-DLS={}", wg_sort);
    }
    cl_kernel est_kernel(const char* name) { return ctx.get_kernel(est, name, est_opts); }
    cl_kernel srt_kernel(const char* name) { return ctx.get_kernel(srt, name, srt_opts); }
    int32_t sort_n() const { return int32_t(next_pow2(geo.n_kblocks)); }
    int64_t tt() const { return geo.tri_total(); }
};

// Step 1: proxy pooling and int8 proxy rows of queries and keys in one launch (queries carry the
// attention scale); the proxy keys get the padding rows the tiled statistics read. The pooled
// floats themselves are kept only for a debug read-back.
void pool_and_quantize(run_state& st, const operand& q, const operand& k, bool keep_pooled) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    const int64_t dp = int8_row_bytes(geo.d), k_rows = st.proxy_plan.key_rows(geo.n_kblocks);
    st.pq8 = est::temp(ctx, geo.g * geo.n_sq * dp, 1);
    st.pqs = est::temp(ctx, geo.g * geo.n_sq);
    st.pk8 = est::temp(ctx, geo.g * k_rows * dp, 1);
    st.pks = est::temp(ctx, geo.g * k_rows);
    if (keep_pooled) {
        st.pooled_q = est::temp(ctx, geo.g * geo.n_sq * geo.d);
        st.pooled_k = est::temp(ctx, geo.g * geo.n_sk * geo.d);
    }
    // without keep_pooled the kernel never touches its pooled_q / pooled_k arguments: any float
    // buffer stands in for them
    const cl_mem pooled_q = keep_pooled ? st.pooled_q.mem() : st.pqs.mem();
    const cl_mem pooled_k = keep_pooled ? st.pooled_k.mem() : st.pks.mem();
    const int64_t rq = quantize_rows_padded(geo.n_sq);
    ctx.launch(st.est_kernel("proxy_pool_quantize"),
               range3(quantize_lanes, size_t(rq + quantize_rows_padded(k_rows)), size_t(geo.g)),
               quantize_local(), q.mem, q.shape, k.mem, k.shape, st.pq8.mem(), st.pqs.mem(), st.pk8.mem(),
               st.pks.mem(), pooled_q, pooled_k, int32_t(keep_pooled), int32_t(geo.n_sq),
               int32_t(geo.sq_first), geo.n_past, (geo.row0 + 1) * geo.B, int32_t(geo.S),
               int32_t(geo.heads_per_group), 1.0f / float(geo.heads_per_group), geo.scale, int32_t(geo.n_sk),
               int32_t(geo.KS), int32_t(geo.kv_per_group), 1.0f / float(geo.kv_per_group), k_rows, rq);
}

// Steps 2-3: block statistics of every proxy query, its softmax, block max pooling; rows in
// batches so that the statistics stay under bm_budget_bytes().
void proxy_scores(run_state& st) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    const int32_t nb = int32_t(geo.n_kblocks), n_sq = int32_t(geo.n_sq), sq_first = int32_t(geo.sq_first);
    const int64_t first_full = (geo.row0 + 1) * geo.B;
    st.row_max = est::temp(ctx, geo.g * geo.n_sq);
    st.row_inv = est::temp(ctx, geo.g * geo.n_sq);
    st.scores = est::temp(ctx, geo.g * st.tt());
    const int64_t per_row = geo.g * geo.sq_per_block() * geo.n_kblocks * 8;
    const int64_t rows_per_batch = std::max<int64_t>(1, bm_budget_bytes() / std::max<int64_t>(1, per_row));
    const int64_t batch_q =
        std::min<int64_t>(geo.n_sq, rows_per_batch * geo.sq_per_block() + geo.sq_per_block());
    scratch bm = est::temp(ctx, geo.g * batch_q * geo.n_kblocks),
            bs = est::temp(ctx, geo.g * batch_q * geo.n_kblocks);
    for (int64_t m0 = geo.row0; m0 < geo.n_kblocks; m0 += rows_per_batch) {
        const int64_t m1 = std::min(geo.n_kblocks, m0 + rows_per_batch);
        const int32_t i_begin = int32_t(geo.sq_row_first(m0));
        const int32_t i_end = int32_t(m1 == geo.n_kblocks ? geo.n_sq : geo.sq_row_first(m1));
        const size_t nqb = size_t(i_end - i_begin);
        proxy_block_stats(ctx, st.bst, st.proxy_plan, geo, st.pq8.mem(), st.pqs.mem(), st.pk8.mem(),
                          st.pks.mem(), bm.mem(), bs.mem(), i_begin, i_end);
        ctx.launch(st.est_kernel("proxy_merge"), merge_range(nqb, geo.g), merge_local(), bm.mem(), bs.mem(),
                   st.row_max.mem(), st.row_inv.mem(), i_begin, i_end, n_sq, sq_first, geo.n_past, first_full,
                   int32_t(geo.S), int32_t(geo.B), nb);
        ctx.launch(st.est_kernel("proxy_blockmax"), range3(size_t(nb), size_t(m1 - m0), size_t(geo.g)), {},
                   bm.mem(), st.row_max.mem(), st.row_inv.mem(), st.scores.mem(), i_begin, i_end, n_sq,
                   sq_first, int32_t(geo.S), int32_t(geo.B), int32_t(geo.row0), int32_t(m0), geo.n_past,
                   geo.n_keys, nb);
    }
}

// Step 3b: one order per (group, row), forced blocks first, as ranks; the exact flags of step 5b
// cleared on the way.
void rank_rows(run_state& st) {
    const geometry& geo = st.geo;
    st.ranks = est::temp(st.ctx, geo.g * st.tt());
    st.exact = est::temp(st.ctx, geo.H * st.tt(), 1);
    st.ctx.launch(st.srt_kernel("rank_rows"), range2(size_t(wg_sort) * size_t(geo.n_rows), size_t(geo.g)),
                  range2(wg_sort, 1), st.scores.mem(), st.ranks.mem(), st.exact.mem(), int32_t(geo.row0),
                  int32_t(geo.n_rows), int32_t(geo.force), int32_t(geo.heads_per_group), st.sort_n(),
                  local_mem{size_t(st.sort_n()) * 4}, local_mem{size_t(st.sort_n()) * 4});
}

// The sample rows and measured queries (geometry.h) as device arrays, kept by the sample rows'
// fields (every layer of a model at one prompt length has the same): a node whose rows an earlier
// node had builds no table.
void upload_samples(run_state& st) {
    const geometry& geo = st.geo;
    std::vector<int64_t> key;
    key.reserve(geo.samples.size() * 8);
    st.n_tail = 0;
    for (const sample_row& s : geo.samples) {
        const bool exact = geo.exact_sample(s);
        key.insert(key.end(),
                   {s.m, s.first, s.count, s.step, s.q_index, s.mass_index, int64_t(s.tail), int64_t(exact)});
        if (s.tail && exact) st.n_tail += int32_t(s.count);
    }
    st.samples.send_keyed(
        st.ctx, "proxy_sparse_attn sample rows", std::as_bytes(std::span(key)), [&](est::packed_upload& up) {
            std::vector<int32_t> m, q, count, mass, tail, exact, t0, nblk, ts, tq;
            std::vector<int64_t> pos;
            for (const sample_row& s : geo.samples) {
                const bool exact_set = geo.exact_sample(s);
                m.push_back(int32_t(s.m));
                q.push_back(int32_t(s.q_index));
                count.push_back(int32_t(s.count));
                mass.push_back(int32_t(s.mass_index));
                tail.push_back(s.tail ? 1 : 0);
                exact.push_back(exact_set ? 1 : 0);
                t0.push_back(int32_t(ts.size()));
                for (int64_t i = 0; i < s.count; ++i) {
                    pos.push_back(s.pos(i));
                    nblk.push_back(int32_t(s.m + 1));
                    if (s.tail && exact_set) {
                        ts.push_back(int32_t(&s - geo.samples.data()));
                        tq.push_back(int32_t(s.q_index + i));
                    }
                }
            }
            const auto put = [&](sample_part part, const auto& v) { // add() numbers the parts in order
                if (up.add(v) != part)
                    throw error("proxy_sparse_attn: sample tables out of order", PA_ERR_DEVICE);
            };
            put(s_m, m);
            put(s_q, q);
            put(s_count, count);
            put(s_mass, mass);
            put(s_tail, tail);
            put(s_exact, exact);
            put(s_t0, t0);
            put(t_s, ts);
            put(t_q, tq);
            put(bq_pos, pos);
            put(bq_nblk, nblk);
        });
}

// Step 4: every measured query of every head against its kv head's keys, its softmax, and the
// sample rows' block masses.
void measure_samples(run_state& st, const operand& q, const operand& k) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    const int64_t dp = int8_row_bytes(geo.d), nbq = geo.n_bq, nb = geo.n_kblocks;
    const int64_t k_rows = st.sample_plan.key_rows(nb);
    upload_samples(st);
    st.bq8 = est::temp(ctx, geo.H * nbq * dp, 1);
    st.bqs = est::temp(ctx, geo.H * nbq);
    st.hk8 = est::temp(ctx, geo.Hkv * k_rows * dp, 1);
    st.hks = est::temp(ctx, geo.Hkv * k_rows);
    const int64_t bq_rows = quantize_rows_padded(nbq), q_launch_rows = geo.H * bq_rows;
    ctx.launch(st.est_kernel("quantize_sample_rows"),
               range3(quantize_lanes, size_t(q_launch_rows + geo.Hkv * quantize_rows_padded(k_rows)), 1),
               quantize_local(), q.mem, q.shape, k.mem, k.shape, st.samples.mem(bq_pos), st.bq8.mem(),
               st.bqs.mem(), st.hk8.mem(), st.hks.mem(), int32_t(nbq), bq_rows, geo.n_past, geo.scale,
               geo.n_keys, k_rows, quantize_rows_padded(k_rows), q_launch_rows);
    st.qbm = est::temp(ctx, geo.H * nbq * nb);
    st.qbs = est::temp(ctx, geo.H * nbq * nb);
    st.qM = est::temp(ctx, geo.H * nbq);
    st.qinv = est::temp(ctx, geo.H * nbq);
    st.qtot = est::temp(ctx, geo.H * nbq);
    st.mass = est::temp(ctx, geo.H * geo.n_mass);
    sample_block_stats(ctx, st.bst, st.sample_plan, geo, st.bq8.mem(), st.bqs.mem(), st.hk8.mem(),
                       st.hks.mem(), st.samples.mem(bq_pos), st.qbm.mem(), st.qbs.mem());
    ctx.launch(st.est_kernel("sample_merge"), merge_range(size_t(nbq), geo.H), merge_local(), st.qbm.mem(),
               st.qbs.mem(), st.samples.mem(bq_nblk), st.qM.mem(), st.qinv.mem(), st.qtot.mem(), int32_t(nbq),
               int32_t(nb));
    ctx.launch(
        st.est_kernel("sample_mass"),
        range3((size_t(nb) + mass_blocks - 1) / mass_blocks * mass_blocks, geo.samples.size(), size_t(geo.H)),
        range3(mass_blocks, 1, 1), st.qbm.mem(), st.qbs.mem(), st.qM.mem(), st.qinv.mem(),
        st.samples.mem(s_m), st.samples.mem(s_q), st.samples.mem(s_count), st.samples.mem(s_mass),
        st.mass.mem(), int32_t(nbq), int32_t(geo.n_mass), int32_t(nb));
}

// The context's zeroed counters for the kernels that count finished work-groups (sample_budgets:
// one a head; exact_tail: one a (head, sample)), asked for at the larger size by both, so that
// both count in the same buffer.
cl_mem counters_of(run_state& st) {
    return st.ctx.counters(size_t(st.geo.H) * std::max<size_t>(st.geo.samples.size(), 1));
}

// Step 5: blocks per (head, row) beyond the forced ones (ref/estimate.cpp budgets()).
void budgets(run_state& st) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    const int32_t ns = int32_t(geo.samples.size()), n_rows = int32_t(geo.n_rows);
    st.sample_budget = est::temp(ctx, geo.H * ns);
    st.budgets = est::temp(ctx, geo.H * geo.n_rows);
    if (geo.budget == proxy_budget::fixed) {
        const std::vector<int32_t> k(size_t(geo.H * geo.n_rows), int32_t(geo.k_min));
        ctx.write(st.budgets, k.data(), k.size() * 4);
        const std::vector<int32_t> zero(size_t(geo.H * ns), 0);
        ctx.write(st.sample_budget, zero.data(), zero.size() * 4);
        return;
    }
    if (geo.budget == proxy_budget::last) {
        const std::vector<int32_t> zero(size_t(geo.H * ns), 0);
        ctx.write(st.sample_budget, zero.data(), zero.size() * 4);
        scratch tail = est::temp(ctx, geo.H * geo.n_kblocks);
        ctx.launch(st.srt_kernel("tail_budgets"), range1(size_t(wg_sort) * size_t(geo.H)), range1(wg_sort),
                   st.mass.mem(), st.samples.mem(s_m), st.samples.mem(s_mass), st.samples.mem(s_tail),
                   tail.mem(), st.budgets.mem(), ns, int32_t(geo.n_mass), int32_t(geo.n_kblocks), n_rows,
                   geo.gamma, int32_t(geo.k_min), st.sort_n(), local_mem{size_t(st.sort_n()) * 4},
                   local_mem{size_t(st.sort_n()) * 4});
        return;
    }
    // the sample rows' budgets and exact sets, then (the last work-group of each head) every row's
    // budget
    const size_t n = size_t(st.sort_n());
    ctx.launch(st.srt_kernel("sample_budgets"), range2(size_t(wg_sort) * size_t(ns), size_t(geo.H)),
               range2(wg_sort, 1), st.ranks.mem(), st.mass.mem(), st.samples.mem(s_m), st.samples.mem(s_mass),
               st.samples.mem(s_exact), st.sample_budget.mem(), st.budgets.mem(), st.exact.mem(),
               counters_of(st), ns, int32_t(geo.n_mass), int32_t(geo.row0), n_rows,
               int32_t(geo.heads_per_group), int32_t(geo.force), geo.gamma, int32_t(geo.k_min),
               local_mem{n * 4}, local_mem{n * 4}, local_mem{n});
}

// Step 5b: the exact sets of the measured rows (rank_rows cleared every row's; with budget = rows
// sample_budgets made the sample rows' sets).
void exact_rows(run_state& st) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    const bool any = std::any_of(geo.samples.begin(), geo.samples.end(),
                                 [&](const sample_row& s) { return geo.exact_sample(s); });
    if (!any) return;
    const size_t ns = geo.samples.size(), n = size_t(st.sort_n());
    const int32_t row0 = int32_t(geo.row0), n_rows = int32_t(geo.n_rows), nb = int32_t(geo.n_kblocks);
    if (geo.budget != proxy_budget::rows)
        ctx.launch(st.srt_kernel("exact_rows"), range2(size_t(wg_sort) * ns, size_t(geo.H)),
                   range2(wg_sort, 1), st.mass.mem(), st.samples.mem(s_m), st.samples.mem(s_mass),
                   st.samples.mem(s_exact), st.exact.mem(), int32_t(geo.n_mass), row0, n_rows,
                   int32_t(geo.force), geo.gamma, local_mem{n * 4}, local_mem{n * 4}, local_mem{n});
    if (st.n_tail == 0) return;
    // the tail rows' queries, each from its row's set alone (in parallel), then (the last
    // work-group of each row and head) or-ed into it
    const scratch added = est::temp(ctx, geo.H * int64_t(st.n_tail) * geo.n_kblocks, 1);
    ctx.launch(st.srt_kernel("exact_tail"), range2(size_t(wg_sort) * size_t(st.n_tail), size_t(geo.H)),
               range2(wg_sort, 1), st.qbm.mem(), st.qbs.mem(), st.qM.mem(), st.qinv.mem(), st.qtot.mem(),
               st.samples.mem(s_m), st.samples.mem(s_count), st.samples.mem(s_t0), st.samples.mem(t_s),
               st.samples.mem(t_q), st.exact.mem(), added.mem(), counters_of(st), int32_t(ns),
               int32_t(geo.n_bq), st.n_tail, nb, row0, n_rows, geo.gamma, st.sort_n(), local_mem{n * 4},
               local_mem{n * 4}, local_mem{n}, local_mem{4});
}

// Step 6: the kept lists.
void build_mask(run_state& st) {
    const geometry& geo = st.geo;
    st.counts = est::temp(st.ctx, geo.H * geo.n_rows);
    st.blocks = est::temp(st.ctx, geo.H * st.tt());
    st.ctx.launch(st.srt_kernel("build_mask"), range2(size_t(wg_sort) * size_t(geo.n_rows), size_t(geo.H)),
                  range2(wg_sort, 1), st.ranks.mem(), st.budgets.mem(), st.exact.mem(), st.counts.mem(),
                  st.blocks.mem(), int32_t(geo.row0), int32_t(geo.n_rows), int32_t(geo.heads_per_group),
                  int32_t(geo.force));
}

bool needs_samples(const geometry& geo) {
    return geo.budget != proxy_budget::fixed || geo.exact_rows;
}

// Steps 1-6; returns false when stopped early (stop_after).
bool estimate_on_device(run_state& st, const operand& q, const operand& k, ocl_debug* dbg) {
    const geometry& geo = st.geo;
    device_context& ctx = st.ctx;
    pool_and_quantize(st, q, k, dbg != nullptr);
    if (dbg) {
        dbg->pooled_q = est::read<float>(ctx, st.pooled_q, geo.g * geo.n_sq * geo.d);
        dbg->pooled_k = est::read<float>(ctx, st.pooled_k, geo.g * geo.n_sk * geo.d);
    }
    st.pooled_q = scratch{};
    st.pooled_k = scratch{};
    if (geo.stop_after == 1) return false;
    proxy_scores(st);
    rank_rows(st);
    if (dbg) {
        dbg->row_max = est::read<float>(ctx, st.row_max, geo.g * geo.n_sq);
        dbg->row_inv_sum = est::read<float>(ctx, st.row_inv, geo.g * geo.n_sq);
        dbg->scores = est::read<float>(ctx, st.scores, geo.g * st.tt());
        dbg->ranks = est::read<int32_t>(ctx, st.ranks, geo.g * st.tt());
    }
    if (geo.stop_after == 2) return false;
    if (needs_samples(geo)) measure_samples(st, q, k);
    budgets(st);
    exact_rows(st);
    if (dbg) {
        if (needs_samples(geo)) dbg->sample_mass = est::read<float>(ctx, st.mass, geo.H * geo.n_mass);
        dbg->sample_budget = est::read<int32_t>(ctx, st.sample_budget, geo.H * int64_t(geo.samples.size()));
        dbg->budgets = est::read<int32_t>(ctx, st.budgets, geo.H * geo.n_rows);
        dbg->exact = est::read<uint8_t>(ctx, st.exact, geo.H * st.tt());
    }
    if (geo.stop_after == 3) return false;
    build_mask(st);
    if (dbg) {
        dbg->counts = est::read<int32_t>(ctx, st.counts, geo.H * geo.n_rows);
        dbg->blocks = est::read<int32_t>(ctx, st.blocks, geo.H * st.tt());
    }
    return geo.stop_after != 4;
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
    const device_caps& caps = ctx.caps();
    if (caps.max_work_group < size_t(wg_sort)) return "work-groups of 128 items are needed";
    if (sort_local(geo) > caps.local_mem)
        return fmt::format("needs {} bytes of local memory, the device has {}", sort_local(geo),
                           caps.local_mem);
    if (std::string why = estimator_unsupported_reason(ctx, geo); !why.empty()) return why;
    if (geo.estimator == proxy_estimator::proxy)
        for (int64_t kpb : {geo.sk_per_block(), geo.B}) {
            const std::string why = block_stats_problem(caps, geo.d, kpb);
            if (!why.empty()) return why;
        }
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
    if (geo.all_kept) {
        pa::ocl::flash_attn(ctx, q, k, v, dst, geo.n_past, true, geo.scale); // step 8: dense
        return;
    }
    if (geo.estimator != proxy_estimator::proxy) {
        device_mask m;
        const bool full = geo.estimator == proxy_estimator::xattn ? xattn_on_device(ctx, geo, q, k, dbg, m)
                                                                  : flex_on_device(ctx, geo, q, k, dbg, m);
        if (!full) return;
        const pa::ocl::device_block_mask mask{m.counts.mem(),    m.blocks.mem(),      int32_t(geo.B),
                                              int32_t(geo.row0), int32_t(geo.n_rows), geo.tri_total()};
        pa::ocl::flash_attn(ctx, q, k, v, dst, geo.n_past, true, geo.scale, &mask);
        return;
    }
    run_state st(ctx, geo, k.type);
    if (!estimate_on_device(st, q, k, dbg)) return;
    // step 7: flash attention over the kept blocks
    const pa::ocl::device_block_mask mask{st.counts.mem(),   st.blocks.mem(),     int32_t(geo.B),
                                          int32_t(geo.row0), int32_t(geo.n_rows), st.tt()};
    pa::ocl::flash_attn(ctx, q, k, v, dst, geo.n_past, true, geo.scale, &mask);
}

} // namespace pa::proxy
