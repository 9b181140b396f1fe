// pa demo: the main job in one command. Loads the plugin, builds a small attention graph,
// runs dense attention and proxy_sparse_attn on the default OpenCL device and on the CPU
// reference backend, and prints the relative differences and the times. Each device result
// must match the CPU within what its arithmetic allows: f32 kernels 1e-4 relative L2, the
// NVIDIA tensor-core path (f16 operands, f32 accumulation) 5e-3.
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <random>

#include "cli.h"
#include "mask_quality.h"
#include "pa/ops.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/scheduler.h"
#include "patterns.h"
#include "ref/reference.h"

namespace {

struct demo_run {
    std::vector<float> out;
    double ms = 0.0;
    bool on_accel = false;
    pa::analysis::mask_quality quality; // proxy runs only
};

constexpr double f32_tolerance = 1e-4, f16_operand_tolerance = 5e-3; // relative L2

double rel_diff(const std::vector<float>& a, const std::vector<float>& ref) {
    return pa::analysis::compare_outputs(a.data(), ref.data(), a.size()).rel_l2;
}

// Q/K/V of the "needle" pattern (sink + local window + a planted span the last queries look
// for), K/V stored as f16. One attention node (dense or proxy) runs twice: the first run builds
// kernels and uploads, the second is timed.
demo_run run_once(std::vector<pa::backend*> order, const pa::analysis::synth_qkv& x, bool proxy) {
    pa::context ctx;
    pa::tensor* q = ctx.new_tensor(PA_TYPE_F32, {x.d, x.N, x.H});
    pa::tensor* k = ctx.new_tensor(PA_TYPE_F16, {x.d, x.N, x.Hkv});
    pa::tensor* v = ctx.new_tensor(PA_TYPE_F16, {x.d, x.N, x.Hkv});
    std::copy(x.q.begin(), x.q.end(), static_cast<float*>(q->data));
    for (auto [t, src] : {std::pair{k, &x.k}, std::pair{v, &x.v}}) {
        auto* p = static_cast<uint16_t*>(t->data);
        for (size_t i = 0; i < src->size(); ++i)
            p[i] = pa::fp32_to_fp16((*src)[i]);
    }
    const float scale = 1.0f / std::sqrt(float(x.d));
    pa::tensor* out;
    pa::proxy_params p;
    if (proxy) {
        p.block = 64; // small blocks and budget floor: a 1K demo still shows sparsity
        p.min_tokens = 128;
        p.scale = scale;
        out = pa::proxy_sparse_attn(ctx, q, k, v, p);
    } else {
        out = pa::flash_attn_ext(ctx, q, k, v, scale, 0, true);
    }
    pa::graph g = pa::build_forward({out});
    pa::scheduler sched(order);
    demo_run r;
    for (int rep = 0; rep < 2; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        sched.compute(g);
        r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    r.on_accel = sched.assigned_backend(out) == 0 && order.size() > 1;
    const auto* o = static_cast<const float*>(out->data);
    r.out.assign(o, o + pa::nelements(out));
    if (proxy) { // the kept blocks as the node chose them (CPU estimate == OpenCL estimate)
        const pa::proxy::geometry geo = pa::proxy::make_geometry(q, k, v, p);
        const pa::proxy::host_qkv hx = pa::proxy::load_qkv(geo, q, k, v);
        r.quality = pa::analysis::measure_mask(hx, pa::proxy::estimate_mask(geo, hx).mask, p.gamma);
    }
    return r;
}

int run_demo(int argc, char** argv) {
    pa::cli::args a(argc, argv,
                    std::string("usage: pa demo [--n N] [--heads H] [--kv-heads HKV] [--dim D] [--json]\n"
                                "Runs dense and proxy sparse attention on the OpenCL device and on the CPU\n"
                                "reference, and prints the differences and times.\n") +
                        pa::cli::device_options);
    if (a.help()) return a.print_usage();
    const int64_t n = a.i64("--n", 1024), h = a.i64("--heads", 8), hkv = a.i64("--kv-heads", 2),
                  d = a.i64("--dim", 64);
    const bool json = a.flag("--json");
    pa::cli::backend_set be = pa::cli::open_backends(a);
    a.finish();
    const std::string device = be.main().description();
    if (!json)
        fmt::print("device: {}\nattention: N={} H={} Hkv={} d={} causal, K/V f16, needle pattern\n", device,
                   n, h, hkv, d);
    const std::vector<pa::backend*> cpu_only = {be.cpu.get()};
    const auto x = pa::analysis::synthesize(pa::analysis::pattern::needle, n, 0, h, hkv, d, 1234, 0.0f, 64);
    const demo_run dense_dev = run_once(be.order(), x, false);
    const demo_run dense_cpu = run_once(cpu_only, x, false);
    const demo_run proxy_dev = run_once(be.order(), x, true);
    const demo_run proxy_cpu = run_once(cpu_only, x, true);
    const pa::analysis::mask_quality& mq = proxy_dev.quality;
    const double dense_diff = rel_diff(dense_dev.out, dense_cpu.out);
    const double proxy_diff = rel_diff(proxy_dev.out, proxy_cpu.out);
    const double sparse_vs_dense = rel_diff(proxy_cpu.out, dense_cpu.out);
    const bool f16_operands = be.accel && pa::cli::tensor_core_attention(*be.accel);
    const double tolerance = f16_operands ? f16_operand_tolerance : f32_tolerance;
    if (json) {
        fmt::print(
            "{{\"device\": \"{}\", \"n\": {}, \"heads\": {}, \"kv_heads\": {}, \"dim\": {}, "
            "\"dense_ms\": {:.3f}, \"dense_cpu_ms\": {:.3f}, \"proxy_ms\": {:.3f}, \"proxy_cpu_ms\": {:.3f}, "
            "\"dense_rel_diff\": {:.3g}, \"proxy_rel_diff\": {:.3g}, \"tolerance\": {:.3g}, "
            "\"proxy_vs_dense_rel_diff\": {:.3g}, \"density\": {:.4f}, \"recall_mean\": {:.4f}, "
            "\"recall_min\": {:.4f}}}\n",
            device, n, h, hkv, d, dense_dev.ms, dense_cpu.ms, proxy_dev.ms, proxy_cpu.ms, dense_diff,
            proxy_diff, tolerance, sparse_vs_dense, mq.density, mq.recall_mean, mq.recall_min);
    } else {
        fmt::print("{:<22} {:>12} {:>12} {:>20}\n", "op", "device ms", "cpu ms", "rel diff dev vs cpu");
        fmt::print("{:<22} {:>12.2f} {:>12.2f} {:>20.3g}\n", "flash_attn_ext", dense_dev.ms, dense_cpu.ms,
                   dense_diff);
        fmt::print("{:<22} {:>12.2f} {:>12.2f} {:>20.3g}\n", "proxy_sparse_attn", proxy_dev.ms, proxy_cpu.ms,
                   proxy_diff);
        fmt::print("tolerance {:.0e} ({})\n", tolerance,
                   f16_operands ? "tensor cores: f16 operands, f32 accumulation" : "f32 arithmetic");
        fmt::print("proxy keeps {:.1f}% of the causal key blocks, {:.2f}% of the attention mass on average "
                   "(min {:.2f}%); proxy vs dense rel diff {:.3g}\n",
                   100.0 * mq.density, 100.0 * mq.recall_mean, 100.0 * mq.recall_min, sparse_vs_dense);
        if (!dense_dev.on_accel || !proxy_dev.on_accel)
            fmt::print("note: some nodes ran on the CPU backend\n");
    }
    const bool ok = dense_diff <= tolerance && proxy_diff <= tolerance;
    if (!ok)
        fmt::print(stderr,
                   "error: device and CPU results differ by more than {:.0e} (relative L2: dense {:.3g}, "
                   "proxy {:.3g})\n",
                   tolerance, dense_diff, proxy_diff);
    return ok ? 0 : 1;
}

} // namespace

PA_CLI_COMMAND(demo, "run dense and proxy attention on OpenCL and CPU, compare", run_demo);
