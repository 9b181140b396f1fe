// pa attn: dense attention vs proxy_sparse_attn (any estimator: --estimator proxy | xattn | flex)
// on synthetic or dumped Q/K/V.
//
// Both nodes run through pa::scheduler on the chosen backends (flash_attn_ext for dense,
// proxy_sparse_attn for proxy). Quality is measured on the CPU against exact dense
// probabilities: recall, oracle density and overlap use the mask of the CPU reference estimate,
// which the OpenCL lowering reproduces bit for bit (tests/test_proxy_ocl.cpp checks that);
// output error compares the two nodes' outputs as the backend computed them. Dump formats:
// analysis/dump_files.h.
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "attn_inputs.h"
#include "cli.h"
#include "dump_files.h"
#include "mask_quality.h"
#include "pa/error.h"
#include "pa/op_registry.h"
#include "pa/ops.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/scheduler.h"
#include "patterns.h"
#include "proxy_options.h"
#include "ref/reference.h"

namespace {

using pa::analysis::synth_qkv;

const char* usage =
    "usage: pa attn [options]\n"
    "Dense attention vs proxy_sparse_attn (--estimator proxy | xattn | flex): recall, density, oracle\n"
    "density, output error, estimation and attention times.\n"
    "  --n N            queries (default 4096; 16k style sizes accepted)\n"
    "  --heads H        query heads (8)\n"
    "  --kv-heads H     kv heads (2)\n"
    "  --dim D          head dim (64)\n"
    "  --n-past P       keys before the queries (0)\n"
    "  --pattern P      random | needle | sink-local | diffuse-focused (needle)\n"
    "  --seed S         synthetic data seed (1)\n"
    "  --load FILE      Q/K/V dump (PAQKV1, docs/proxy_sparse_attn.md); sizes come from it\n"
    "  --save FILE      write the Q/K/V used to FILE\n"
    "  --save-mask FILE write the kept-block mask (PAMASK1) to FILE\n"
    "  --kv-type T      f32 | f16 storage of K and V (f32)\n"
    "  --no-stages      skip the per-stage timing runs\n"
    "  --no-recall      skip recall / oracle analysis (the O(H N^2 d) CPU pass)\n"
    "  --threads T      CPU threads for the analysis (all)\n"
    "  --json           one JSON object on stdout\n";

struct options {
    bool json = false, stages = true, recall = true;
    int threads = 0;
    std::string kv_name, load, save, save_mask, pattern;
    pa_type kv_type = PA_TYPE_F32;
    pa::proxy_params p;
};

struct timings {
    double dense = 0, proxy = 0;
    bool dense_on_accel = false, proxy_on_accel = false;
    std::vector<double> stages; // the estimator's stages 1-4 (stage_names), then attention
    double estimate() const {
        return stages.size() < 4 ? 0.0 : stages[0] + stages[1] + stages[2] + stages[3];
    }
};

// What stop_after = 1..4 ends with, per estimator (pa/proxy_sparse_attn.h).
std::array<const char*, 4> stage_names(pa::proxy_estimator e) {
    switch (e) {
    case pa::proxy_estimator::xattn:
        return {"tiles", "scores", "ranks", "mask"};
    case pa::proxy_estimator::flex:
        return {"rows", "lines", "counts", "mask"};
    case pa::proxy_estimator::proxy:
        break;
    }
    return {"pool", "scores", "budget", "mask"};
}

// flex: heads that chose the query-aware pattern.
int64_t query_aware_heads(const pa::proxy::estimate& e) {
    int64_t n = 0;
    for (size_t i = 0; i < e.flex.pick.size(); i += 3)
        n += e.flex.pick[i] != 0;
    return n;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The op comes with the plugin; with --device cpu and no plugin, register the reference copy
// linked into this binary.
void ensure_proxy_op(pa::cli::args& a, const pa::cli::backend_set& be) {
    if (pa::op_registry::global().find(pa::proxy_op_name) >= 0) return;
    if (!be.plug) {
        try {
            pa::cli::load_plugin(a);
        } catch (const pa::error&) {
        }
    }
    if (pa::op_registry::global().find(pa::proxy_op_name) < 0)
        pa::op_registry::global().add(
            {pa::proxy_op_name, 3, 3, pa::proxy::op_infer, pa::proxy::op_cpu_compute});
}

// Runs the graph of `out` and returns the node's time (scheduler timing: srcs already resident);
// on_backend receives the index of the backend that ran it.
double run_node(pa::scheduler& sched, pa::tensor* out, int* on_backend = nullptr) {
    pa::graph g = pa::build_forward({out});
    sched.compute(g);
    if (on_backend) *on_backend = sched.assigned_backend(out);
    double ms = 0;
    for (const auto& t : sched.timings())
        if (t.node == out) ms = t.ms;
    return ms;
}

// Builds the kernels of both nodes on a tiny problem so compile time stays out of the timings.
// Its own scheduler, destroyed before the inputs: schedulers keep state keyed by tensor.
void warm_up(const std::vector<pa::backend*>& order, const synth_qkv& s, const options& o) {
    const int64_t n = std::min<int64_t>(s.N, 2 * int64_t(o.p.block) + 3);
    const synth_qkv w = pa::analysis::synthesize(pa::analysis::pattern::random, n, 0, s.H, s.Hkv, s.d, 7,
                                                 o.p.scale, o.p.block);
    pa::analysis::attn_inputs in;
    pa::analysis::make_attn_inputs(in, w, o.kv_type);
    pa::scheduler sched(order);
    pa::proxy_params pw = o.p;
    pw.n_past = 0;
    pw.min_tokens = 0; // exercise the sparse path
    run_node(sched, pa::flash_attn_ext(in.ctx, in.q, in.k, in.v, o.p.scale, 0, true));
    run_node(sched, pa::proxy_sparse_attn(in.ctx, in.q, in.k, in.v, pw));
    pw.gamma = 1.0f; // and the dense fallback
    run_node(sched, pa::proxy_sparse_attn(in.ctx, in.q, in.k, in.v, pw));
}

// Dense and proxy node times, then (unless off) the proxy node stopped after each stage.
timings time_nodes(pa::scheduler& sched, pa::analysis::attn_inputs& in, pa::tensor* dense, pa::tensor* prox,
                   const options& o, bool has_accel, bool all_kept) {
    timings t;
    run_node(sched, prox); // uploads q/k/v (kept: PARAM), not timed
    int dense_be = -1, proxy_be = -1;
    t.dense = run_node(sched, dense, &dense_be);
    t.proxy = run_node(sched, prox, &proxy_be);
    t.dense_on_accel = has_accel && dense_be == 0;
    t.proxy_on_accel = has_accel && proxy_be == 0;
    if (!o.stages || all_kept) return t;
    double prev = 0;
    for (int st = 1; st <= 4; ++st) {
        pa::proxy_params ps = o.p;
        ps.stop_after = st;
        const double ms = run_node(sched, pa::proxy_sparse_attn(in.ctx, in.q, in.k, in.v, ps));
        t.stages.push_back(std::max(0.0, ms - prev));
        prev = ms;
    }
    t.stages.push_back(std::max(0.0, t.proxy - prev));
    return t;
}

pa::analysis::mask_quality measure(const options& o, const pa::attn_qkv& x, const pa::proxy::estimate& e) {
    if (o.recall) return pa::analysis::measure_mask(x, e.mask, o.p.gamma, o.threads);
    pa::analysis::mask_quality mq;
    mq.density = pa::analysis::mask_density(e.mask, &mq.density_per_head);
    return mq;
}

template <class T> std::string json_array(const std::vector<T>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i)
        s += fmt::format("{}{:.4f}", i ? ", " : "", double(v[i]));
    return s + "]";
}
template <size_t K> std::string json_array(const std::array<double, K>& v) {
    return json_array(std::vector<double>(v.begin(), v.end()));
}

// Blocks kept per row beyond the forced ones, averaged over the rows, per head.
std::vector<double> mean_budgets(const pa::proxy::geometry& geo, const pa::proxy::estimate& e) {
    std::vector<double> out(size_t(geo.H), 0.0);
    for (int64_t h = 0; h < geo.H; ++h) {
        for (int64_t r = 0; r < geo.n_rows; ++r)
            out[size_t(h)] += e.budgets[size_t(h * geo.n_rows + r)];
        out[size_t(h)] /= double(geo.n_rows);
    }
    return out;
}

std::string json_escape_quotes(std::string s) {
    for (char& ch : s)
        if (ch == '"' || ch == '\\') ch = '\'';
    return s;
}

void print_json(const options& o, const synth_qkv& s, const pa::cli::backend_set& be,
                const pa::proxy::geometry& geo, const pa::proxy::estimate& e,
                const pa::analysis::mask_quality& mq, const pa::analysis::output_error& err, const timings& t,
                double t_analysis) {
    const pa::proxy_params& p = o.p;
    std::string j = "{";
    j += fmt::format("\"n\": {}, \"n_past\": {}, \"heads\": {}, \"kv_heads\": {}, \"dim\": {}, ", s.N,
                     s.n_past, s.H, s.Hkv, s.d);
    j += fmt::format("\"pattern\": \"{}\", \"kv_type\": \"{}\", \"device\": \"{}\", ", o.pattern, o.kv_name,
                     be.main().name());
    j += fmt::format("\"device_description\": \"{}\", ", json_escape_quotes(be.main().description()));
    j +=
        fmt::format("\"dense_on_device\": {}, \"proxy_on_device\": {}, ", t.dense_on_accel, t.proxy_on_accel);
    j += fmt::format("\"estimator\": \"{}\", \"flex_tau\": {}, \"max_tokens\": {}, ",
                     pa::proxy_estimator_name(p.estimator), p.flex_tau, p.max_tokens);
    if (p.estimator == pa::proxy_estimator::flex && !geo.all_kept)
        j += fmt::format("\"flex_query_aware_heads\": {}, ", query_aware_heads(e));
    j += fmt::format("\"block\": {}, \"stride\": {}, \"key_stride\": {}, \"proxy_heads\": {}, \"gamma\": {}, "
                     "\"budget\": \"{}\", \"samples\": {}, \"exact_rows\": {}, \"min_tokens\": {}, "
                     "\"force_sink_and_local\": {}, \"all_kept\": {}, ",
                     p.block, p.stride, p.key_stride, p.n_proxy, p.gamma, pa::proxy_budget_name(p.budget),
                     p.n_samples, p.exact_rows, p.min_tokens, p.force_sink_and_local, geo.all_kept);
    j += fmt::format("\"density\": {:.6f}, \"density_per_head\": {}, \"mean_budget_per_head\": {}, ",
                     mq.density, json_array(mq.density_per_head), json_array(mean_budgets(geo, e)));
    if (o.recall)
        j += fmt::format(
            "\"recall_mean\": {:.6f}, \"recall_p5\": {:.6f}, \"recall_min\": {:.6f}, "
            "\"recall_quartile_mean\": {}, \"recall_quartile_p5\": {}, \"oracle_density\": {:.6f}, "
            "\"density_over_oracle\": {:.4f}, \"oracle_iou\": {:.6f}, \"recall_per_head\": {}, ",
            mq.recall_mean, mq.recall_p5, mq.recall_min, json_array(mq.recall_quartile_mean),
            json_array(mq.recall_quartile_p5), mq.oracle_density,
            mq.oracle_density > 0 ? mq.density / mq.oracle_density : 0.0, mq.oracle_iou,
            json_array(mq.recall_per_head));
    j += fmt::format("\"rel_l2\": {:.3e}, \"max_abs\": {:.3e}, ", err.rel_l2, err.max_abs);
    j += fmt::format("\"time_dense_ms\": {:.3f}, \"time_proxy_ms\": {:.3f}, \"speedup\": {:.3f}", t.dense,
                     t.proxy, t.proxy > 0 ? t.dense / t.proxy : 0.0);
    if (!t.stages.empty())
        j +=
            fmt::format(", \"time_pool_ms\": {:.3f}, \"time_scores_ms\": {:.3f}, \"time_budget_ms\": {:.3f}, "
                        "\"time_mask_ms\": {:.3f}, \"time_attn_ms\": {:.3f}, \"time_estimate_ms\": {:.3f}, "
                        "\"estimate_share_of_dense\": {:.4f}",
                        t.stages[0], t.stages[1], t.stages[2], t.stages[3], t.stages[4], t.estimate(),
                        t.dense > 0 ? t.estimate() / t.dense : 0.0);
    j += fmt::format(", \"time_analysis_ms\": {:.1f}}}", t_analysis);
    std::printf("%s\n", j.c_str());
}

void print_text(const options& o, const synth_qkv& s, const pa::cli::backend_set& be,
                const pa::proxy::geometry& geo, const pa::proxy::estimate& e,
                const pa::analysis::mask_quality& mq, const pa::analysis::output_error& err, const timings& t,
                double t_analysis) {
    const pa::proxy_params& p = o.p;
    fmt::print("attention  N={} n_past={} H={} Hkv={} d={}  pattern={}  kv={}\n", s.N, s.n_past, s.H, s.Hkv,
               s.d, o.pattern, o.kv_name);
    fmt::print("device     {}: {} (dense on {}, proxy on {})\n", be.main().name(), be.main().description(),
               t.dense_on_accel ? "device" : "cpu", t.proxy_on_accel ? "device" : "cpu");
    fmt::print("params     estimator={} B={} S={} KS={} g={} gamma={:.3f} budget={} samples={} exact_rows={} "
               "min_tokens={} force={}{}\n",
               pa::proxy_estimator_name(p.estimator), p.block, p.stride, p.key_stride, p.n_proxy, p.gamma,
               pa::proxy_budget_name(p.budget), p.n_samples, int(p.exact_rows), p.min_tokens,
               int(p.force_sink_and_local), geo.all_kept ? "  (dense: every block kept)" : "");
    if (p.estimator == pa::proxy_estimator::flex)
        fmt::print(
            "flex       tau={:.3f} max_tokens={}: {} of {} heads query-aware, the others vertical-slash\n",
            p.flex_tau, p.max_tokens, query_aware_heads(e), geo.H);
    fmt::print("budgets    mean blocks a row beyond sink and diagonal, per head:");
    for (double k : mean_budgets(geo, e))
        fmt::print(" {:.1f}", k);
    fmt::print("  ({} rows)\n", geo.n_rows);
    fmt::print("density    {:.4f} (sparsity {:.4f})\n", mq.density, 1.0 - mq.density);
    if (o.recall) {
        fmt::print("recall     mean {:.4f}  p5 {:.4f}  min {:.4f}   oracle IoU {:.4f}\n", mq.recall_mean,
                   mq.recall_p5, mq.recall_min, mq.oracle_iou);
        fmt::print("oracle     density {:.4f} at gamma {:.3f}: density / oracle {:.2f}\n", mq.oracle_density,
                   p.gamma, mq.oracle_density > 0 ? mq.density / mq.oracle_density : 0.0);
        fmt::print("quartiles  recall mean");
        for (double r : mq.recall_quartile_mean)
            fmt::print(" {:.4f}", r);
        fmt::print("   p5");
        for (double r : mq.recall_quartile_p5)
            fmt::print(" {:.4f}", r);
        fmt::print("\nper head  ");
        for (double r : mq.recall_per_head)
            fmt::print(" {:.4f}", r);
        fmt::print("\n");
    }
    fmt::print("error      rel_l2 {:.3e}  max_abs {:.3e}\n", err.rel_l2, err.max_abs);
    fmt::print("time       dense {:.2f} ms  proxy {:.2f} ms  (x{:.2f})\n", t.dense, t.proxy,
               t.proxy > 0 ? t.dense / t.proxy : 0.0);
    if (!t.stages.empty()) {
        const auto names = stage_names(p.estimator);
        fmt::print("stages     {} {:.2f}  {} {:.2f}  {} {:.2f}  {} {:.2f}  attention {:.2f} ms\n", names[0],
                   t.stages[0], names[1], t.stages[1], names[2], t.stages[2], names[3], t.stages[3],
                   t.stages[4]);
        fmt::print("estimate   {:.2f} ms ({:.1f}% of dense)\n", t.estimate(),
                   t.dense > 0 ? 100.0 * t.estimate() / t.dense : 0.0);
    }
    fmt::print("analysis   {:.0f} ms on the CPU\n", t_analysis);
}

options read_options(pa::cli::args& a) {
    options o;
    o.json = a.flag("--json");
    o.p = pa::cli::proxy_params_from(a);
    o.stages = !a.flag("--no-stages");
    o.recall = !a.flag("--no-recall");
    o.threads = int(a.i64("--threads", 0));
    o.kv_name = a.str("--kv-type", "f32");
    if (!pa::type_from_name(o.kv_name, o.kv_type) || (o.kv_type != PA_TYPE_F32 && o.kv_type != PA_TYPE_F16))
        throw pa::error(fmt::format("--kv-type must be f32 or f16, not '{}'", o.kv_name));
    o.load = a.str("--load", "");
    o.save = a.str("--save", "");
    o.save_mask = a.str("--save-mask", "");
    o.pattern = o.load.empty() ? a.str("--pattern", "needle") : "load";
    return o;
}

synth_qkv load_inputs(pa::cli::args& a, const options& o) {
    if (!o.load.empty()) {
        synth_qkv s;
        static_cast<pa::attn_qkv&>(s) = pa::analysis::read_qkv_dump(o.load);
        return s;
    }
    pa::analysis::pattern pat;
    if (!pa::analysis::pattern_from_name(o.pattern, pat))
        throw pa::error(
            fmt::format("--pattern must be {}, not '{}'", pa::analysis::pattern_names, o.pattern));
    return pa::analysis::synthesize(pat, a.i64("--n", 4096), a.i64("--n-past", 0), a.i64("--heads", 8),
                                    a.i64("--kv-heads", 2), a.i64("--dim", 64), uint64_t(a.i64("--seed", 1)),
                                    0.0f, o.p.block);
}

int run_attn(int argc, char** argv) {
    pa::cli::args a(argc, argv, std::string(usage) + pa::cli::proxy_option_help);
    if (a.help()) {
        std::printf("%s%s", a.usage().c_str(), pa::cli::device_options);
        return 0;
    }
    options o = read_options(a);
    const synth_qkv s = load_inputs(a, o);
    pa::cli::backend_set be = pa::cli::open_backends(a);
    a.finish();
    if (!o.save.empty()) pa::analysis::write_qkv_dump(o.save, s);
    ensure_proxy_op(a, be);

    o.p.scale = 1.0f / std::sqrt(float(s.d));
    o.p.n_past = int32_t(s.n_past);
    warm_up(be.order(), s, o);
    pa::analysis::attn_inputs in; // before the scheduler, which must not outlive it
    pa::analysis::make_attn_inputs(in, s, o.kv_type);
    pa::scheduler sched(be.order());
    sched.set_timing(true);
    pa::tensor* prox = pa::proxy_sparse_attn(in.ctx, in.q, in.k, in.v, o.p);
    pa::tensor* dense = pa::flash_attn_ext(in.ctx, in.q, in.k, in.v, o.p.scale, int(s.n_past), true);
    const pa::proxy::geometry geo = pa::proxy::make_geometry(prox);
    const timings t = time_nodes(sched, in, dense, prox, o, be.accel != nullptr, geo.all_kept);

    const auto err =
        pa::analysis::compare_outputs(static_cast<const float*>(prox->data),
                                      static_cast<const float*>(dense->data), size_t(s.N * s.H * s.d));
    // the mask, as the node computed it (CPU reference estimate == OpenCL estimate)
    const auto t_an = std::chrono::steady_clock::now();
    const pa::proxy::host_qkv x = pa::proxy::load_qkv(geo, in.q, in.k, in.v, o.threads);
    const pa::proxy::estimate e = pa::proxy::estimate_mask(geo, x, o.threads);
    if (!o.save_mask.empty()) pa::analysis::write_mask_file(o.save_mask, e.mask);
    const pa::analysis::mask_quality mq = measure(o, x, e);
    const double t_analysis = ms_since(t_an);
    if (o.json)
        print_json(o, s, be, geo, e, mq, err, t, t_analysis);
    else
        print_text(o, s, be, geo, e, mq, err, t, t_analysis);
    return 0;
}

} // namespace

PA_CLI_COMMAND(attn, "dense vs proxy attention on synthetic or dumped Q/K/V: recall, density, error, times",
               run_attn);
