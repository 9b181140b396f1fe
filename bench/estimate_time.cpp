// estimate_time.cpp - pa_estimate_time: times the OpenCL ProxyAttn estimate (steps 1-6 of
// proxy_sparse_attn, no attention) on layer shapes, through the lowering itself (as
// tests/test_proxy_ocl.cpp drives it), without the CPU reference pass that `pa bench attn` makes
// for density and recall (minutes at 128K). Per stage: the run stopped after stage k (1 pooling
// and quantization, 2 proxy scores, 3 budgets and exact rows, 4 mask), differences of medians.
// With --check N, sizes up to N are also compared with the CPU reference bit for bit.
//
//   pa_estimate_time [--device SPEC] [--shapes llama3-8b,qwen2.5-7b] [--n-list 32768,131072]
//                    [--reps 5] [--pattern needle] [--check 0] [--json FILE]
//                    [--variants default,W8R128A1,...]
// --variants times each (shape, n) once per $PA_PROXY_STATS value ("default": unset), on the
// same inputs (synthesizing 128K inputs takes ~20 s); PA_MMA picks the path
// (plugin/proxy_sparse_attn/ocl/block_stats.h). PA_OPENCL_PROFILE=1 adds per-kernel totals at
// exit. Exit status 1 when a check fails.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "attn_inputs.h"
#include "ocl/block_stats.h"
#include "ocl/lowering.h"
#include "patterns.h"
#include "ref/reference.h"

namespace {

using pa::ocl::device_context;

struct shape {
    std::string name;
    int64_t H, Hkv, d, g;
};

shape shape_by_name(const std::string& n) {
    if (n == "llama3-8b") return {n, 32, 8, 128, 1};
    if (n == "qwen2.5-7b") return {n, 28, 4, 128, 4};
    if (n == "smollm2-135m") return {n, 9, 3, 64, 1};
    if (n == "tiny") return {n, 4, 2, 64, 1};
    throw std::runtime_error(
        fmt::format("unknown shape '{}' (llama3-8b, qwen2.5-7b, smollm2-135m, tiny)", n));
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t a = 0;
    while (a <= s.size()) {
        const size_t b = std::min(s.find(',', a), s.size());
        if (b > a) out.push_back(s.substr(a, b - a));
        a = b + 1;
    }
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

// Device copies of the inputs and an output buffer.
struct device_inputs {
    pa::ocl::mem_handle q, k, v, dst;
    pa::ocl::operand oq, ok, ov, odst;
};

pa::ocl::mem_handle upload(device_context& ctx, const void* data, size_t bytes) {
    cl_int err = CL_SUCCESS;
    pa::ocl::mem_handle m(clCreateBuffer(ctx.cl_ctx(), CL_MEM_READ_WRITE | (data ? CL_MEM_COPY_HOST_PTR : 0),
                                         bytes, const_cast<void*>(data), &err));
    pa::ocl::check(err, "pa_estimate_time: upload");
    return m;
}

device_inputs to_device(device_context& ctx, const pa::analysis::attn_inputs& in, pa::tensor* dst) {
    device_inputs d;
    d.q = upload(ctx, in.q->data, pa::nbytes(in.q));
    d.k = upload(ctx, in.k->data, pa::nbytes(in.k));
    d.v = upload(ctx, in.v->data, pa::nbytes(in.v));
    d.dst = upload(ctx, nullptr, pa::nbytes(dst));
    const auto as = [](const pa::ocl::mem_handle& m, const pa_tensor* t) {
        return pa::ocl::operand{{m.get(), 0}, pa::ocl::shape_of(t), t->type};
    };
    d.oq = as(d.q, in.q);
    d.ok = as(d.k, in.k);
    d.ov = as(d.v, in.v);
    d.odst = as(d.dst, dst);
    return d;
}

// Median wall time of the estimate stopped after `stage` (queue drained before and after).
double time_stage(device_context& ctx, const pa::analysis::attn_inputs& in, const device_inputs& d,
                  pa::proxy_params p, int stage, int reps) {
    p.stop_after = stage;
    const pa::proxy::geometry geo = pa::proxy::make_geometry(in.q, in.k, in.v, p);
    std::vector<double> t;
    for (int r = 0; r <= reps; ++r) { // the first run builds the kernels
        ctx.finish();
        const auto t0 = std::chrono::steady_clock::now();
        pa::proxy::ocl_run(ctx, geo, d.oq, d.ok, d.ov, d.odst);
        ctx.finish();
        if (r > 0)
            t.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return median(t);
}

// "" when the device estimate equals the CPU reference's (e) in every intermediate, else the
// first field that differs.
std::string check_bits(device_context& ctx, const pa::analysis::attn_inputs& in, const device_inputs& d,
                       pa::proxy_params p, const pa::proxy::estimate& e) {
    p.stop_after = 4;
    const pa::proxy::geometry geo = pa::proxy::make_geometry(in.q, in.k, in.v, p);
    pa::proxy::ocl_debug dbg;
    pa::proxy::ocl_run(ctx, geo, d.oq, d.ok, d.ov, d.odst, &dbg);
    if (dbg.pooled_q != e.pooled_q) return "pooled_q";
    if (dbg.pooled_k != e.pooled_k) return "pooled_k";
    if (dbg.row_max != e.row_max) return "row_max";
    if (dbg.row_inv_sum != e.row_inv_sum) return "row_inv_sum";
    if (dbg.scores != e.scores) return "scores";
    if (dbg.ranks != e.ranks) return "ranks";
    if (dbg.sample_mass != e.sample_mass) return "sample_mass";
    if (dbg.budgets != e.budgets) return "budgets";
    if (dbg.exact != e.exact) return "exact";
    if (dbg.counts != e.mask.counts) return "counts";
    return "";
}

// Sets $PA_PROXY_STATS for the next runs ("default": unset).
void use_variant(const std::string& v) {
    if (v == "default")
        unsetenv("PA_PROXY_STATS");
    else
        setenv("PA_PROXY_STATS", v.c_str(), 1);
}

int run(int argc, char** argv) {
    std::string device, shapes = "llama3-8b,qwen2.5-7b", sizes = "32768,131072", pattern = "needle", json;
    std::string variants = "default";
    int reps = 5;
    int64_t check_max = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(fmt::format("{} needs a value", a));
            return argv[++i];
        };
        if (a == "--device")
            device = next();
        else if (a == "--shapes")
            shapes = next();
        else if (a == "--n-list")
            sizes = next();
        else if (a == "--reps")
            reps = std::max(1, std::atoi(next().c_str()));
        else if (a == "--pattern")
            pattern = next();
        else if (a == "--check")
            check_max = std::atoll(next().c_str());
        else if (a == "--json")
            json = next();
        else if (a == "--variants")
            variants = next();
        else
            throw std::runtime_error(
                fmt::format("unknown option {} (see the top of bench/estimate_time.cpp)", a));
    }
    pa::analysis::pattern pat;
    if (!pa::analysis::pattern_from_name(pattern, pat))
        throw std::runtime_error(fmt::format("--pattern must be {}", pa::analysis::pattern_names));
    device_context ctx(device);
    std::printf("device: %s\n", ctx.caps().summary().c_str());
    std::FILE* jf = json.empty() ? nullptr : std::fopen(json.c_str(), "w");
    bool ok = true;
    std::printf("%-11s %7s %-16s %9s %8s %8s %8s %8s  %s\n", "shape", "n", "stats", "estimate", "pool",
                "scores", "budgets", "mask", "check");
    for (const std::string& sn : split(shapes)) {
        const shape sh = shape_by_name(sn);
        for (const std::string& ns : split(sizes)) {
            const int64_t n = std::atoll(ns.c_str());
            pa::proxy_params p; // the node's defaults (gamma 0.95, budget rows, exact rows, B 128, S 4)
            p.n_proxy = int32_t(sh.g);
            p.scale = 1.0f / std::sqrt(float(sh.d));
            const auto s = pa::analysis::synthesize(pat, n, 0, sh.H, sh.Hkv, sh.d, 1, p.scale, p.block);
            pa::analysis::attn_inputs in;
            pa::analysis::make_attn_inputs(in, s, PA_TYPE_F16);
            pa::tensor* dst = in.ctx.new_tensor(PA_TYPE_F32, {sh.d, sh.H, n});
            const device_inputs d = to_device(ctx, in, dst);
            pa::proxy::estimate ref;
            if (n <= check_max) {
                const pa::proxy::geometry geo = pa::proxy::make_geometry(in.q, in.k, in.v, p);
                ref = pa::proxy::estimate_mask(geo, pa::proxy::load_qkv(geo, in.q, in.k, in.v));
            }
            for (const std::string& v : split(variants)) {
                use_variant(v);
                const auto plan = pa::proxy::block_stats_plan::make(ctx.caps(), sh.d, p.block / p.key_stride);
                double st[5] = {0, 0, 0, 0, 0};
                for (int k = 1; k <= 4; ++k)
                    st[k] = std::max(st[k - 1], time_stage(ctx, in, d, p, k, reps));
                std::string check = "-";
                if (n <= check_max) {
                    const std::string bad = check_bits(ctx, in, d, p, ref);
                    check = bad.empty() ? "bit-identical" : "DIFFERS: " + bad;
                    ok &= bad.empty();
                }
                const std::string stats =
                    fmt::format("{}-W{}R{}A{}", plan.name(), plan.warps, plan.max_regs, plan.i2f_add);
                std::printf("%-11s %7lld %-16s %9.3f %8.3f %8.3f %8.3f %8.3f  %s\n", sh.name.c_str(),
                            (long long)n, stats.c_str(), st[4], st[1], st[2] - st[1], st[3] - st[2],
                            st[4] - st[3], check.c_str());
                std::fflush(stdout);
                if (jf) {
                    std::fprintf(
                        jf,
                        "{\"shape\": \"%s\", \"n\": %lld, \"H\": %lld, \"Hkv\": %lld, \"g\": %lld, "
                        "\"stats\": \"%s\", \"variant\": \"%s\", \"reps\": %d, \"t_estimate_ms\": %.4f, "
                        "\"t_pool_ms\": %.4f, \"t_scores_ms\": %.4f, \"t_budget_ms\": %.4f, "
                        "\"t_mask_ms\": %.4f, \"check\": \"%s\", \"device\": \"%s\"}\n",
                        sh.name.c_str(), (long long)n, (long long)sh.H, (long long)sh.Hkv, (long long)sh.g,
                        stats.c_str(), v.c_str(), reps, st[4], st[1], st[2] - st[1], st[3] - st[2],
                        st[4] - st[3], check.c_str(), ctx.caps().name.c_str());
                    std::fflush(jf);
                }
            }
        }
    }
    if (jf) std::fclose(jf);
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
