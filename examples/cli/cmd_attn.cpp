// pa attn: dense attention vs proxy_sparse_attn on synthetic or dumped Q/K/V.
//
// Both nodes run through pa::scheduler on the chosen backends (flash_attn_ext for dense,
// proxy_sparse_attn for proxy). Quality is measured on the CPU against exact dense
// probabilities: recall and oracle overlap use the mask of the CPU reference estimate, which the
// OpenCL lowering reproduces bit for bit (tests/test_proxy_ocl.cpp checks that); output error
// compares the two nodes' outputs as the backend computed them.
//
// Dump format (--load / --save), little-endian:
//   char magic[8] = "PAQKV1\0\0"; int64 d, N, n_past, H, Hkv;
//   float32 q[H][N][d]; float32 k[Hkv][n_past + N][d]; float32 v[Hkv][n_past + N][d]
// (each array is the contiguous ggml tensor [d, n, heads]; q after RoPE, keys from position 0).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "attn_inputs.h"
#include "cli.h"
#include "pa/error.h"
#include "pa/op_registry.h"
#include "pa/ops.h"
#include "pa/proxy_attn.h"
#include "pa/scheduler.h"
#include "proxy/ref/proxy_analysis.h"
#include "proxy/ref/proxy_patterns.h"

namespace {

using pa::proxy::synth_qkv;

constexpr char dump_magic[8] = {'P', 'A', 'Q', 'K', 'V', '1', 0, 0};

const char* usage =
    "usage: pa attn [options]\n"
    "Dense attention vs proxy_sparse_attn: recall, density, output error, oracle overlap, times.\n"
    "  --n N            queries (default 4096; 16k style sizes accepted)\n"
    "  --heads H        query heads (8)\n"
    "  --kv-heads H     kv heads (2)\n"
    "  --dim D          head dim (64)\n"
    "  --n-past P       keys before the queries (0)\n"
    "  --pattern P      random | needle | sink-local (needle)\n"
    "  --seed S         synthetic data seed (1)\n"
    "  --load FILE      Q/K/V dump (PAQKV1 format, see docs/proxy_sparse_attn.md); sizes come from it\n"
    "  --save FILE      write the Q/K/V used to FILE\n"
    "  --kv-type T      f32 | f16 storage of K and V (f32)\n"
    "  --gamma G        budget threshold (0.95)\n"
    "  --block B        block size (128)\n"
    "  --stride S       proxy stride (4)\n"
    "  --proxy-heads G  proxy heads (1)\n"
    "  --min-tokens T   minimum budget in tokens (2048)\n"
    "  --no-force       do not force the sink and diagonal blocks\n"
    "  --no-stages      skip the per-stage timing runs\n"
    "  --no-recall      skip recall / oracle analysis (the O(H N^2 d) CPU pass)\n"
    "  --threads T      CPU threads for the analysis (all)\n"
    "  --json           one JSON object on stdout\n";

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

synth_qkv load_dump(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw pa::error(fmt::format("cannot open {}", path));
    char magic[8];
    int64_t dims[5];
    f.read(magic, 8);
    f.read(reinterpret_cast<char*>(dims), sizeof dims);
    if (!f || std::memcmp(magic, dump_magic, 8) != 0) throw pa::error(fmt::format("{} is not a PAQKV1 dump", path));
    synth_qkv s;
    s.d = dims[0];
    s.N = dims[1];
    s.n_past = dims[2];
    s.H = dims[3];
    s.Hkv = dims[4];
    if (s.d <= 0 || s.N <= 0 || s.n_past < 0 || s.H <= 0 || s.Hkv <= 0 || s.d > 4096 || s.N + s.n_past > (1 << 26) ||
        s.H > 1024 || s.Hkv > s.H)
        throw pa::error(fmt::format("{}: implausible sizes d={} N={} n_past={} H={} Hkv={}", path, s.d, s.N, s.n_past,
                                    s.H, s.Hkv));
    const int64_t nk = s.n_past + s.N;
    s.q.resize(size_t(s.H * s.N * s.d));
    s.k.resize(size_t(s.Hkv * nk * s.d));
    s.v.resize(s.k.size());
    for (auto* a : {&s.q, &s.k, &s.v}) f.read(reinterpret_cast<char*>(a->data()), std::streamsize(a->size() * 4));
    if (!f) throw pa::error(fmt::format("{}: truncated dump", path));
    return s;
}

void save_dump(const std::string& path, const synth_qkv& s) {
    std::ofstream f(path, std::ios::binary);
    const int64_t dims[5] = {s.d, s.N, s.n_past, s.H, s.Hkv};
    f.write(dump_magic, 8);
    f.write(reinterpret_cast<const char*>(dims), sizeof dims);
    for (const auto* a : {&s.q, &s.k, &s.v}) f.write(reinterpret_cast<const char*>(a->data()), std::streamsize(a->size() * 4));
    if (!f) throw pa::error(fmt::format("cannot write {}", path));
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
        pa::op_registry::global().add({pa::proxy_op_name, 3, 3, pa::proxy::op_infer, pa::proxy::op_cpu_compute});
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
void warm_up(const std::vector<pa::backend*>& order, const synth_qkv& s, pa_type kv_type, const pa::proxy_params& p,
             float scale) {
    const int64_t n = std::min<int64_t>(s.N, 2 * int64_t(p.block) + 3);
    synth_qkv w = pa::proxy::synthesize(pa::proxy::pattern::random, n, 0, s.H, s.Hkv, s.d, 7, scale, p.block);
    pa::cli::attn_inputs in;
    pa::cli::make_attn_inputs(in, w, kv_type);
    pa::scheduler sched(order);
    pa::proxy_params pw = p;
    pw.n_past = 0;
    pw.min_tokens = 0; // exercise the sparse path
    run_node(sched, pa::flash_attn_ext(in.ctx, in.q, in.k, in.v, scale, 0, true));
    run_node(sched, pa::proxy_sparse_attn(in.ctx, in.q, in.k, in.v, pw));
    pw.gamma = 1.0f; // and the dense fallback
    run_node(sched, pa::proxy_sparse_attn(in.ctx, in.q, in.k, in.v, pw));
}

std::string json_array(const std::vector<double>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:.4f}", i ? ", " : "", v[i]);
    return s + "]";
}

std::string json_array(const std::vector<int32_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", v[i]);
    return s + "]";
}

int run_attn(int argc, char** argv) {
    pa::cli::args a(argc, argv, usage);
    if (a.help()) {
        std::printf("%s%s", usage, pa::cli::device_options);
        return 0;
    }
    const bool json = a.flag("--json");
    pa::proxy_params p;
    p.gamma = float(a.f64("--gamma", p.gamma));
    p.block = int32_t(a.i64("--block", p.block));
    p.stride = int32_t(a.i64("--stride", p.stride));
    p.n_proxy = int32_t(a.i64("--proxy-heads", p.n_proxy));
    p.min_tokens = int32_t(a.i64("--min-tokens", p.min_tokens));
    p.force_sink_and_local = !a.flag("--no-force");
    const bool stages = !a.flag("--no-stages"), recall = !a.flag("--no-recall");
    const int threads = int(a.i64("--threads", 0));
    const std::string kv_name = a.str("--kv-type", "f32");
    pa_type kv_type = PA_TYPE_F32;
    if (!pa::type_from_name(kv_name, kv_type) || (kv_type != PA_TYPE_F32 && kv_type != PA_TYPE_F16))
        throw pa::error(fmt::format("--kv-type must be f32 or f16, not '{}'", kv_name));

    synth_qkv s;
    std::string pattern_label;
    const std::string load = a.str("--load", "");
    if (!load.empty()) {
        s = load_dump(load);
        pattern_label = "load";
    } else {
        pa::proxy::pattern pat;
        pattern_label = a.str("--pattern", "needle");
        if (!pa::proxy::pattern_from_name(pattern_label, pat))
            throw pa::error(fmt::format("--pattern must be random, needle or sink-local, not '{}'", pattern_label));
        s = pa::proxy::synthesize(pat, a.i64("--n", 4096), a.i64("--n-past", 0), a.i64("--heads", 8),
                                  a.i64("--kv-heads", 2), a.i64("--dim", 64), uint64_t(a.i64("--seed", 1)), 0.0f,
                                  p.block);
    }
    const std::string save = a.str("--save", "");
    pa::cli::backend_set be = pa::cli::open_backends(a);
    a.finish();
    if (!save.empty()) save_dump(save, s);
    ensure_proxy_op(a, be);

    const float scale = 1.0f / std::sqrt(float(s.d));
    p.scale = scale;
    p.n_past = int32_t(s.n_past);
    warm_up(be.order(), s, kv_type, p, scale);
    pa::cli::attn_inputs in; // before the scheduler, which must not outlive it
    pa::cli::make_attn_inputs(in, s, kv_type);
    pa::scheduler sched(be.order());
    sched.set_timing(true);
    pa::tensor* prox = pa::proxy_sparse_attn(in.ctx, in.q, in.k, in.v, p);
    pa::tensor* dense = pa::flash_attn_ext(in.ctx, in.q, in.k, in.v, scale, int(s.n_past), true);
    run_node(sched, prox); // uploads q/k/v (kept: PARAM), not timed
    int dense_be = -1, proxy_be = -1;
    const double t_dense = run_node(sched, dense, &dense_be);
    const double t_proxy = run_node(sched, prox, &proxy_be);
    const bool dense_on_accel = be.accel && dense_be == 0;
    const bool proxy_on_accel = be.accel && proxy_be == 0;

    std::vector<double> stage_ms;
    const pa::proxy::geometry geo = pa::proxy::make_geometry(prox);
    if (stages && !geo.all_kept) {
        double prev = 0;
        for (int st = 1; st <= 4; ++st) {
            pa::proxy_params ps = p;
            ps.stop_after = st;
            const double t = run_node(sched, pa::proxy_sparse_attn(in.ctx, in.q, in.k, in.v, ps));
            stage_ms.push_back(std::max(0.0, t - prev));
            prev = t;
        }
        stage_ms.push_back(std::max(0.0, t_proxy - prev));
    }

    const size_t n_out = size_t(s.N * s.H * s.d);
    const auto err = pa::proxy::compare_outputs(static_cast<const float*>(prox->data),
                                                static_cast<const float*>(dense->data), n_out);
    // the mask, as the node computed it (CPU reference estimate == OpenCL estimate)
    const auto t_an = std::chrono::steady_clock::now();
    const pa::proxy::host_qkv x = pa::proxy::load_qkv(geo, in.q, in.k, in.v, threads);
    const pa::proxy::estimate e = pa::proxy::estimate_mask(geo, x, threads);
    pa::proxy::mask_quality mq;
    if (recall && geo.all_kept) { // every causal key kept: recall is 1 by construction
        mq.density = pa::proxy::mask_density(geo, e, &mq.density_per_head);
        mq.recall_mean = mq.recall_p5 = mq.recall_min = mq.oracle_iou = 1.0;
        mq.recall_per_head.assign(size_t(geo.H), 1.0);
    } else if (recall) {
        mq = pa::proxy::measure_mask(geo, x, e, threads);
    } else {
        mq.density = pa::proxy::mask_density(geo, e, &mq.density_per_head);
    }
    const double t_analysis = ms_since(t_an);

    const std::string device = be.main().name();
    const std::string device_desc = be.main().description();
    if (json) {
        std::string o = "{";
        o += fmt::format("\"n\": {}, \"n_past\": {}, \"heads\": {}, \"kv_heads\": {}, \"dim\": {}, ", s.N, s.n_past,
                         s.H, s.Hkv, s.d);
        o += fmt::format("\"pattern\": \"{}\", \"kv_type\": \"{}\", \"device\": \"{}\", ", pattern_label, kv_name,
                         device);
        std::string desc = device_desc;
        for (char& ch : desc)
            if (ch == '"' || ch == '\\') ch = '\'';
        o += fmt::format("\"device_description\": \"{}\", ", desc);
        o += fmt::format("\"dense_on_device\": {}, \"proxy_on_device\": {}, ", dense_on_accel, proxy_on_accel);
        o += fmt::format("\"block\": {}, \"stride\": {}, \"proxy_heads\": {}, \"gamma\": {}, \"min_tokens\": {}, "
                         "\"force_sink_and_local\": {}, \"all_kept\": {}, ",
                         p.block, p.stride, p.n_proxy, p.gamma, p.min_tokens, p.force_sink_and_local, geo.all_kept);
        o += fmt::format("\"density\": {:.6f}, \"density_per_head\": {}, \"budgets\": {}, ", mq.density,
                         json_array(mq.density_per_head), json_array(e.budgets));
        if (recall)
            o += fmt::format("\"recall_mean\": {:.6f}, \"recall_p5\": {:.6f}, \"recall_min\": {:.6f}, "
                             "\"oracle_iou\": {:.6f}, \"recall_per_head\": {}, ",
                             mq.recall_mean, mq.recall_p5, mq.recall_min, mq.oracle_iou, json_array(mq.recall_per_head));
        o += fmt::format("\"rel_l2\": {:.3e}, \"max_abs\": {:.3e}, ", err.rel_l2, err.max_abs);
        o += fmt::format("\"time_dense_ms\": {:.3f}, \"time_proxy_ms\": {:.3f}, \"speedup\": {:.3f}", t_dense, t_proxy,
                         t_proxy > 0 ? t_dense / t_proxy : 0.0);
        if (!stage_ms.empty())
            o += fmt::format(", \"time_pool_ms\": {:.3f}, \"time_scores_ms\": {:.3f}, \"time_budget_ms\": {:.3f}, "
                             "\"time_mask_ms\": {:.3f}, \"time_attn_ms\": {:.3f}",
                             stage_ms[0], stage_ms[1], stage_ms[2], stage_ms[3], stage_ms[4]);
        o += fmt::format(", \"time_analysis_ms\": {:.1f}}}", t_analysis);
        std::printf("%s\n", o.c_str());
        return 0;
    }
    std::printf("attention  N=%lld n_past=%lld H=%lld Hkv=%lld d=%lld  pattern=%s  kv=%s\n", (long long)s.N,
                (long long)s.n_past, (long long)s.H, (long long)s.Hkv, (long long)s.d, pattern_label.c_str(),
                kv_name.c_str());
    std::printf("device     %s: %s (dense on %s, proxy on %s)\n", device.c_str(), device_desc.c_str(), dense_on_accel ? "device" : "cpu",
                proxy_on_accel ? "device" : "cpu");
    std::printf("params     B=%d S=%d g=%d gamma=%.3f min_tokens=%d force=%d%s\n", p.block, p.stride, p.n_proxy,
                double(p.gamma), p.min_tokens, int(p.force_sink_and_local), geo.all_kept ? "  (dense: every block kept)" : "");
    std::printf("budgets   ");
    for (int32_t k : e.budgets) std::printf(" %d", k);
    std::printf("  of %lld blocks\n", (long long)geo.n_kblocks);
    std::printf("density    %.4f (sparsity %.4f)\n", mq.density, 1.0 - mq.density);
    if (recall) {
        std::printf("recall     mean %.4f  p5 %.4f  min %.4f   oracle IoU %.4f\n", mq.recall_mean, mq.recall_p5,
                    mq.recall_min, mq.oracle_iou);
        std::printf("per head  ");
        for (double r : mq.recall_per_head) std::printf(" %.4f", r);
        std::printf("\n");
    }
    std::printf("error      rel_l2 %.3e  max_abs %.3e\n", err.rel_l2, err.max_abs);
    std::printf("time       dense %.2f ms  proxy %.2f ms  (x%.2f)\n", t_dense, t_proxy,
                t_proxy > 0 ? t_dense / t_proxy : 0.0);
    if (!stage_ms.empty())
        std::printf("stages     pool %.2f  scores %.2f  budget %.2f  mask %.2f  attention %.2f ms\n", stage_ms[0],
                    stage_ms[1], stage_ms[2], stage_ms[3], stage_ms[4]);
    std::printf("analysis   %.0f ms on the CPU\n", t_analysis);
    return 0;
}

} // namespace

PA_CLI_COMMAND(attn, "dense vs proxy attention on synthetic or dumped Q/K/V: recall, density, error, times", run_attn);
