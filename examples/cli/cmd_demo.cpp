// pa demo: the main job in one command. Loads the plugin, builds a small attention graph,
// runs dense attention and proxy_sparse_attn on the default OpenCL device and on the CPU
// reference backend, and prints the largest differences and the times.
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <random>

#include "cli.h"
#include "pa/ops.h"
#include "pa/proxy_attn.h"
#include "pa/scheduler.h"

namespace {

struct demo_run {
    std::vector<float> out;
    double ms = 0.0;
    bool on_accel = false;
};

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

// Builds q/k/v with the given seed and one attention node (dense or proxy), runs it twice
// (the first run builds kernels and uploads), and returns the second run.
demo_run run_once(std::vector<pa::backend*> order, int64_t n, int64_t h, int64_t hkv, int64_t d, bool proxy) {
    pa::context ctx;
    pa::tensor* q = ctx.new_tensor(PA_TYPE_F32, {d, n, h});
    pa::tensor* k = ctx.new_tensor(PA_TYPE_F16, {d, n, hkv});
    pa::tensor* v = ctx.new_tensor(PA_TYPE_F16, {d, n, hkv});
    std::mt19937 rng(1234);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    auto* qp = static_cast<float*>(q->data);
    for (int64_t i = 0; i < pa::nelements(q); ++i) qp[i] = dist(rng);
    for (pa::tensor* t : {k, v}) {
        auto* p = static_cast<uint16_t*>(t->data);
        for (int64_t i = 0; i < pa::nelements(t); ++i) p[i] = pa::fp32_to_fp16(dist(rng));
    }
    const float scale = 1.0f / std::sqrt(float(d));
    pa::tensor* out;
    if (proxy) {
        pa::proxy_params p;
        p.block = 64;
        p.min_tokens = 256;
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
    return r;
}

int run_demo(int argc, char** argv) {
    pa::cli::args a(argc, argv,
                    std::string("usage: pa demo [--n N] [--heads H] [--kv-heads HKV] [--dim D] [--json]\n"
                                "Runs dense and proxy sparse attention on the OpenCL device and on the CPU\n"
                                "reference, and prints the differences and times.\n") +
                        pa::cli::device_options);
    if (a.help()) {
        fmt::print("{}", a.usage());
        return 0;
    }
    const int64_t n = a.i64("--n", 1024), h = a.i64("--heads", 8), hkv = a.i64("--kv-heads", 2),
                  d = a.i64("--dim", 64);
    const bool json = a.flag("--json");
    pa::cli::backend_set be = pa::cli::open_backends(a);
    a.finish();
    const std::string device = be.main().description();
    if (!json) fmt::print("device: {}\nattention: N={} H={} Hkv={} d={} causal, K/V f16\n", device, n, h, hkv, d);
    const std::vector<pa::backend*> cpu_only = {be.cpu.get()};
    const demo_run dense_dev = run_once(be.order(), n, h, hkv, d, false);
    const demo_run dense_cpu = run_once(cpu_only, n, h, hkv, d, false);
    const demo_run proxy_dev = run_once(be.order(), n, h, hkv, d, true);
    const demo_run proxy_cpu = run_once(cpu_only, n, h, hkv, d, true);
    const float dense_diff = max_abs_diff(dense_dev.out, dense_cpu.out);
    const float proxy_diff = max_abs_diff(proxy_dev.out, proxy_cpu.out);
    const float sparse_vs_dense = max_abs_diff(proxy_cpu.out, dense_cpu.out);
    if (json) {
        fmt::print("{{\"device\": \"{}\", \"n\": {}, \"heads\": {}, \"kv_heads\": {}, \"dim\": {}, "
                   "\"dense_ms\": {:.3f}, \"dense_cpu_ms\": {:.3f}, \"proxy_ms\": {:.3f}, \"proxy_cpu_ms\": {:.3f}, "
                   "\"dense_max_diff\": {:.3g}, \"proxy_max_diff\": {:.3g}, \"proxy_vs_dense_max_diff\": {:.3g}}}\n",
                   device, n, h, hkv, d, dense_dev.ms, dense_cpu.ms, proxy_dev.ms, proxy_cpu.ms, dense_diff,
                   proxy_diff, sparse_vs_dense);
    } else {
        fmt::print("{:<22} {:>12} {:>12} {:>16}\n", "op", "device ms", "cpu ms", "max |dev - cpu|");
        fmt::print("{:<22} {:>12.2f} {:>12.2f} {:>16.3g}\n", "flash_attn_ext", dense_dev.ms, dense_cpu.ms, dense_diff);
        fmt::print("{:<22} {:>12.2f} {:>12.2f} {:>16.3g}\n", "proxy_sparse_attn", proxy_dev.ms, proxy_cpu.ms,
                   proxy_diff);
        fmt::print("proxy vs dense (cpu): max |diff| {:.3g} (sparse attention keeps most, not all, mass)\n",
                   sparse_vs_dense);
        if (!dense_dev.on_accel || !proxy_dev.on_accel) fmt::print("note: some nodes ran on the CPU backend\n");
    }
    const bool ok = dense_diff < 1e-3f && proxy_diff < 1e-3f;
    if (!ok) fmt::print(stderr, "error: device and CPU results differ more than 1e-3\n");
    return ok ? 0 : 1;
}

} // namespace

PA_CLI_COMMAND(demo, "run dense and proxy attention on OpenCL and CPU, compare", run_demo);
