// bench_attn.cpp - `pa bench attn`: dense attention vs proxy_sparse_attn (any estimator:
// --estimator proxy | xattn | flex) on Llama-3-8B and Qwen2.5-7B layer shapes, N from 4K to 128K. Both nodes
// run through pa::scheduler on the chosen backend (the product path); times are the scheduler's per-node
// times (srcs resident, output copy excluded), median of repeats after a warm-up. Per-stage times use
// proxy_params::stop_after (the node run up to stage k, differences of medians). Recall is measured on a
// subsample of query rows against exact dense probabilities (analysis/recall_sample.h) using the CPU
// reference estimate, which the OpenCL lowering reproduces bit for bit. Also CLBlast's SGEMM rate.
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>

#include <fmt/format.h>

#include "attn_inputs.h"
#include "bench.h"
#include "bench_util.h"
#include "cli.h"
#include "dump_files.h"
#include "mask_quality.h"
#include "pa/error.h"
#include "pa/ops.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/types.h"
#include "patterns.h"
#include "proxy_options.h"
#include "recall_sample.h"
#include "ref/reference.h"

namespace pa::bench {
namespace {

const char* usage =
    "usage: pa bench attn [options]\n"
    "Dense attention vs proxy_sparse_attn over N; prints a table, writes JSON records (mode: dense,\n"
    "and proxy, xattn or flex after --estimator).\n"
    "  --n-list L         sizes (4096,8192,16384,32768,65536,131072; 16k style accepted)\n"
    "  --shapes S         llama3-8b,qwen2.5-7b (H=32/Hkv=8 and H=28/Hkv=4, d=128); also smollm2-135m "
    "(H=9/3,\n"
    "                     d=64) and tiny (H=4/2, d=64)\n"
    "  --pattern P        random | needle | sink-local | diffuse-focused (needle)\n"
    "  --kv-type T        f16 | f32 storage of K and V (f16)\n"
    "  --reps R           timed runs, median reported (5; 3 from 64K on)\n"
    "  --portable-max N   also time the portable kernels (PA_MMA=0) up to this N when the tensor-core\n"
    "                     path is active (16384; 0 = never)\n"
    "  --recall-rows R    query rows per head for the recall subsample (256; 0 = skip)\n"
    "  --no-stages        skip the per-stage runs\n"
    "  --no-quality       times only: no CPU reference mask, density, recall or saved masks (for\n"
    "                     estimators whose CPU reference is slow at 128K)\n"
    "  --sgemm N          time CLBlast SGEMM N^3 through mul_mat (8192; 0 = skip)\n"
    "  --variants LIST    several sparse settings on the same inputs after one dense run,\n"
    "                     ';'-separated, each name=value pairs over the flags below, e.g.\n"
    "                     \"gamma=0.95;estimator=xattn,gamma=0.9;budget=fixed,min-tokens=1664\"\n"
    "  --save-masks DIR   write each sparse mask (PAMASK1) to DIR/<shape>-<n>.mask (with variants:\n"
    "                     DIR/<shape>-<n>-v<index>.mask)\n"
    "  --out FILE         JSON output (bench/results/<device>-<date>.json)\n"
    "  --threads T        CPU threads for estimate and recall (all)\n";

struct shape {
    std::string name;
    int64_t H, Hkv, d, g; // g: proxy heads (shared/docs/proxyattn.md: 1; 4 for Qwen2.5)
};

// One sparse setting: the node's flags, the proxy head count when given (else the shape's g).
struct variant {
    std::string label; // as written in --variants ("" for the command's own flags)
    proxy_params p;
    bool heads_given = false;
};

shape shape_by_name(const std::string& n) {
    if (n == "llama3-8b") return {n, 32, 8, 128, 1};
    if (n == "qwen2.5-7b") return {n, 28, 4, 128, 4};
    if (n == "smollm2-135m") return {n, 9, 3, 64, 1};
    if (n == "tiny") return {n, 4, 2, 64, 1};
    throw error(fmt::format("unknown shape '{}' (llama3-8b, qwen2.5-7b, smollm2-135m, tiny)", n));
}

double rel_l2(const float* a, const float* ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; ++i) {
        const double dd = double(a[i]) - double(ref[i]);
        num += dd * dd;
        den += double(ref[i]) * double(ref[i]);
    }
    return std::sqrt(num / std::max(den, 1e-30));
}

// CLBlast SGEMM through a F32 mul_mat node (the backend sends F32 x F32 to CLBlast).
record bench_sgemm(const cli::backend_set& be, int64_t n, int reps) {
    context ctx;
    tensor* a = ctx.new_tensor(PA_TYPE_F32, {n, n});
    tensor* b = ctx.new_tensor(PA_TYPE_F32, {n, n});
    uint32_t st = 12345;
    for (tensor* t : {a, b}) {
        float* p = static_cast<float*>(t->data);
        for (int64_t i = 0; i < n * n; ++i) {
            st = st * 1664525u + 1013904223u;
            p[i] = float(st >> 8) * (2.0f / 16777216.0f) - 1.0f;
        }
        t->flags |= PA_FLAG_PARAM;
    }
    tensor* c = mul_mat(ctx, a, b);
    scheduler sched(be.order());
    sched.set_timing(true);
    const double ms = median(time_node(sched, c, reps, 1));
    const std::string desc = be.main().description();
    const size_t at = desc.find("CLBlast");
    record r;
    r.set("device", device_name(be.main())).set("shape", "sgemm").set("n", n).set("mode", "sgemm");
    r.set("time_ms", ms).set("tflops", 2.0 * double(n) * double(n) * double(n) / ms * 1e-9);
    r.set("on_device", sched.assigned_backend(c) == 0);
    r.set("blas", at == std::string::npos ? std::string("?") : desc.substr(at));
    r.set("blas_tuned", desc.find("tuned parameters from") != std::string::npos);
    return r;
}

struct options {
    std::vector<int64_t> n_list;
    std::vector<std::string> shapes;
    analysis::pattern pat = analysis::pattern::needle;
    pa_type kv_type = PA_TYPE_F16;
    int reps = 5;
    std::vector<variant> variants; // the sparse settings, each timed against the same dense run
    std::string mask_dir, out_path;
    int64_t portable_max = 16384, recall_rows = 256;
    bool stages = true, quality = true;
    int threads = 0;
};

// Names of stop_after stages 1..4 per estimator (pa/proxy_sparse_attn.h); the record keys stay
// t_pool_ms, t_scores_ms, t_budget_ms, t_mask_ms for all three.
std::array<const char*, 4> stage_names(const std::string& estimator) {
    if (estimator == "xattn") return {"tiles", "scores", "ranks", "mask"};
    if (estimator == "flex") return {"rows", "lines", "counts", "mask"};
    return {"pool", "score", "budget", "mask"};
}

void print_row(const record& r) {
    std::string stages;
    if (r.has("t_pool_ms")) {
        const auto nm = stage_names(r.has("estimator") ? r.str("estimator") : "proxy");
        stages = fmt::format(
            "  {} {:.2f} {} {:.2f} {} {:.2f} {} {:.2f} attn {:.2f} (estimate {:.1f}% of dense)", nm[0],
            r.num("t_pool_ms"), nm[1], r.num("t_scores_ms"), nm[2], r.num("t_budget_ms"), nm[3],
            r.num("t_mask_ms"), r.num("t_attn_ms"), 100.0 * r.num("estimate_share_of_dense"));
    }
    if (r.has("oracle_density_sampled"))
        stages += fmt::format("  oracle(q) {:.3f}", r.num("oracle_density_sampled"));
    if (r.has("variant")) stages += fmt::format("  [{}]", r.str("variant"));
    if (r.has("rel_l2_mma_vs_portable"))
        stages += fmt::format("  rel_l2(mma vs portable) {:.2e}", r.num("rel_l2_mma_vs_portable"));
    std::printf("%-11s %7lld %-15s %10.3f ms %7.1f TF/s  x%-6.2f dens %.3f  recall %.4f%s\n",
                r.str("shape").c_str(), (long long)r.num("n"), r.str("mode").c_str(), r.num("time_ms"),
                r.num("tflops"), r.num("speedup"), r.num("density"), r.num("recall_mean"), stages.c_str());
    std::fflush(stdout);
}

// The sparse node of one variant on the inputs of bench_one: time, stages, mask quality, and the
// portable kernels where asked.
struct sparse_run {
    const cli::backend_set& be;
    const options& o;
    analysis::attn_inputs& in;
    scheduler& sched;
    tensor* dense;
    const std::vector<float>& dense_out;
    int64_t n;
    double t_dense, t_portable, flops; // t_portable: the portable dense kernel's time, 0 = not timed
    int reps;
    bool mma;
    std::function<record(const char*)> base;
    void operator()(proxy_params p, const std::string& label, const std::string& mask_path,
                    std::vector<record>& out) const;
};

void bench_one(const cli::backend_set& be, const options& o, const shape& sh, int64_t n,
               std::vector<record>& out) {
    const float scale = 1.0f / std::sqrt(float(sh.d));
    const analysis::synth_qkv s =
        analysis::synthesize(o.pat, n, 0, sh.H, sh.Hkv, sh.d, 1, scale, o.variants[0].p.block);
    analysis::attn_inputs in;
    analysis::make_attn_inputs(in, s, o.kv_type);
    tensor* dense = flash_attn_ext(in.ctx, in.q, in.k, in.v, scale, 0, true);
    scheduler sched(be.order());
    sched.set_timing(true);
    const int reps = n >= 65536 ? std::min(o.reps, 3) : o.reps;
    const bool mma = be.accel && cli::tensor_core_attention(*be.accel);
    const double flops = 2.0 * double(sh.H) * double(sh.d) * double(n) * double(n); // causal, both products

    const std::string dev = device_name(be.main());
    auto base = [&](const char* mode) {
        record r;
        r.set("device", dev).set("shape", sh.name).set("n", n).set("mode", mode);
        r.set("H", sh.H).set("Hkv", sh.Hkv).set("d", sh.d).set("pattern", analysis::pattern_name(o.pat));
        r.set("kv_type", o.kv_type == PA_TYPE_F16 ? "f16" : "f32").set("reps", reps).set("date", today());
        return r;
    };

    // dense, on the default path (tensor cores where available)
    const double t_dense = median(time_node(sched, dense, reps, 1));
    const bool dense_dev = sched.assigned_backend(dense) == 0 && be.accel;
    record rd = base("dense");
    rd.set("kernel", mma ? "mma" : "portable").set("on_device", dense_dev).set("time_ms", t_dense);
    rd.set("tflops", flops / t_dense * 1e-9).set("density", 1.0).set("recall_mean", 1.0).set("speedup", 1.0);
    out.push_back(rd);
    print_row(rd);
    const std::vector<float> dense_out(static_cast<const float*>(dense->data),
                                       static_cast<const float*>(dense->data) + n * sh.H * sh.d);
    // the portable kernel on the same inputs, for comparison (slow: small N only), with or without
    // the quality figures
    double t_portable = 0.0;
    if (mma && n <= o.portable_max) {
        const scoped_env off("PA_MMA", "0");
        t_portable = median(time_node(sched, dense, std::min(reps, 3), 1));
        record r = base("dense_portable");
        r.set("kernel", "portable").set("time_ms", t_portable).set("tflops", flops / t_portable * 1e-9);
        r.set("density", 1.0).set("recall_mean", 1.0).set("speedup", t_dense / t_portable);
        // the tensor-core output against the portable kernel's (f16 operands: ~1e-3)
        r.set("rel_l2_mma_vs_portable",
              rel_l2(dense_out.data(), static_cast<const float*>(dense->data), dense_out.size()));
        out.push_back(r);
        print_row(r);
    }
    const sparse_run run{be, o, in, sched, dense, dense_out, n, t_dense, t_portable, flops, reps, mma, base};
    for (size_t i = 0; i < o.variants.size(); ++i) {
        const variant& v = o.variants[i];
        proxy_params p = v.p;
        if (!v.heads_given) p.n_proxy = int32_t(sh.g);
        p.scale = scale;
        std::string mask_path;
        if (!o.mask_dir.empty())
            mask_path = o.variants.size() == 1 ? fmt::format("{}/{}-{}.mask", o.mask_dir, sh.name, n)
                                               : fmt::format("{}/{}-{}-v{}.mask", o.mask_dir, sh.name, n, i);
        run(p, v.label, mask_path, out);
        write_records(o.out_path, out); // keep what we have if a later variant fails or is cut off
    }
}

void sparse_run::operator()(proxy_params p, const std::string& label, const std::string& mask_path,
                            std::vector<record>& out) const {
    tensor* prox = proxy_sparse_attn(in.ctx, in.q, in.k, in.v, p);
    // the sparse node (mode: the estimator's name, "proxy" for ProxyAttn): whole node, then its stages
    const double t_proxy = median(time_node(sched, prox, reps, 1));
    const proxy::geometry geo = proxy::make_geometry(prox);
    const std::string sparse_mode = proxy_estimator_name(p.estimator);
    record rp = base(sparse_mode.c_str());
    if (!label.empty()) rp.set("variant", label);
    rp.set("estimator", sparse_mode).set("stride", int64_t(p.stride)).set("block", int64_t(p.block));
    if (p.estimator == proxy_estimator::flex)
        rp.set("flex_tau", double(p.flex_tau)).set("max_tokens", int64_t(p.max_tokens));
    rp.set("kernel", mma ? "mma" : "portable")
        .set("on_device", sched.assigned_backend(prox) == 0 && be.accel);
    rp.set("time_ms", t_proxy).set("speedup", t_dense / t_proxy).set("gamma", double(p.gamma));
    rp.set("min_tokens", int64_t(p.min_tokens)).set("proxy_heads", int64_t(p.n_proxy));
    rp.set("budget", proxy_budget_name(p.budget)).set("all_kept", geo.all_kept);
    rp.set("rel_l2_vs_dense",
           rel_l2(static_cast<const float*>(prox->data), dense_out.data(), dense_out.size()));
    if (o.stages && !geo.all_kept) {
        const char* names[] = {"t_pool_ms", "t_scores_ms", "t_budget_ms", "t_mask_ms"};
        double prev = 0;
        for (int st = 1; st <= 4; ++st) {
            proxy_params ps = p;
            ps.stop_after = st;
            const double t =
                median(time_node(sched, proxy_sparse_attn(in.ctx, in.q, in.k, in.v, ps), reps, 1));
            rp.set(names[st - 1], std::max(0.0, t - prev));
            prev = std::max(prev, t);
        }
        rp.set("t_estimate_ms", prev).set("t_attn_ms", std::max(0.0, t_proxy - prev));
        rp.set("estimate_share_of_dense", prev / t_dense);
    }
    if (!o.quality) {
        rp.set("density", -1.0).set("tflops", 0.0).set("recall_mean", -1.0);
        out.push_back(rp);
        print_row(rp);
        return;
    }
    // quality: the mask as the node computed it (CPU reference estimate == OpenCL estimate)
    const proxy::host_qkv x = proxy::load_qkv(geo, in.q, in.k, in.v, o.threads);
    const proxy::estimate e = proxy::estimate_mask(geo, x, o.threads);
    if (!mask_path.empty()) analysis::write_mask_file(mask_path, e.mask);
    const double dens = analysis::mask_density(e.mask);
    rp.set("density", dens).set("tflops", dens * flops / t_proxy * 1e-9);
    if (rp.has("t_attn_ms") && rp.num("t_attn_ms") > 0)
        rp.set("attn_tflops", dens * flops / rp.num("t_attn_ms") * 1e-9);
    if (o.recall_rows > 0) {
        const analysis::recall_stats rs =
            analysis::sampled_recall(x, e.mask, o.recall_rows, o.threads, p.gamma);
        rp.set("recall_mean", rs.mean)
            .set("recall_p5", rs.p5)
            .set("recall_min", rs.min)
            .set("recall_rows", rs.rows);
        // density and the per-query oracle over the sampled queries' rows (recall_sample.h)
        rp.set("density_sampled", rs.density).set("oracle_density_sampled", rs.oracle_density);
    }
    out.push_back(rp);
    print_row(rp);
    const std::vector<float> proxy_out(static_cast<const float*>(prox->data),
                                       static_cast<const float*>(prox->data) + dense_out.size());

    // the portable sparse kernel on the same inputs (its dense run is bench_one's)
    if (t_portable > 0) {
        const scoped_env off("PA_MMA", "0");
        const double tp = median(time_node(sched, prox, std::min(reps, 3), 1));
        record q = base((sparse_mode + "_portable").c_str());
        if (!label.empty()) q.set("variant", label);
        q.set("kernel", "portable")
            .set("time_ms", tp)
            .set("tflops", dens * flops / tp * 1e-9)
            .set("density", dens);
        q.set("recall_mean", rp.num("recall_mean")).set("speedup", t_portable / tp);
        q.set("rel_l2_mma_vs_portable",
              rel_l2(proxy_out.data(), static_cast<const float*>(prox->data), proxy_out.size()));
        out.push_back(q);
        print_row(q);
    }
}

} // namespace

int run_bench_attn(int argc, char** argv) {
    cli::args a(argc, argv, std::string(usage) + cli::proxy_option_help);
    if (a.help()) {
        std::printf("%s%s", a.usage().c_str(), cli::device_options);
        return 0;
    }
    options o;
    o.n_list = parse_sizes(a.str("--n-list", "4096,8192,16384,32768,65536,131072"));
    o.shapes = split(a.str("--shapes", "llama3-8b,qwen2.5-7b"));
    const std::string pat = a.str("--pattern", "needle");
    if (!analysis::pattern_from_name(pat, o.pat))
        throw error(fmt::format("--pattern must be {}, not '{}'", analysis::pattern_names, pat));
    const std::string kv = a.str("--kv-type", "f16");
    if (kv != "f16" && kv != "f32") throw error(fmt::format("--kv-type must be f16 or f32, not '{}'", kv));
    o.kv_type = kv == "f16" ? PA_TYPE_F16 : PA_TYPE_F32;
    o.reps = int(std::max<int64_t>(1, a.i64("--reps", 5)));
    const bool heads_given = a.has("--proxy-heads");
    const proxy_params common = cli::proxy_params_from(a);
    const std::string variants = a.str("--variants", "");
    for (const std::string& piece : cli::split_list(variants, ';')) {
        const std::string item = cli::trimmed(piece);
        if (item.empty()) continue;
        variant v{item, {}, heads_given};
        try {
            v.p = cli::proxy_params_from_pairs(item, common, [&](cli::args& va) {
                if (va.has("--proxy-heads")) v.heads_given = true;
            });
        } catch (const error& e) {
            throw error(fmt::format("--variants: '{}': {}", item, e.what()));
        }
        o.variants.push_back(std::move(v));
    }
    if (o.variants.empty()) o.variants.push_back({"", common, heads_given});
    o.mask_dir = a.str("--save-masks", "");
    if (!o.mask_dir.empty()) std::filesystem::create_directories(o.mask_dir);
    o.portable_max = a.i64("--portable-max", 16384);
    o.recall_rows = a.i64("--recall-rows", 256);
    o.stages = !a.flag("--no-stages");
    o.quality = !a.flag("--no-quality");
    o.threads = int(a.i64("--threads", 0));
    const int64_t sgemm_n = a.i64("--sgemm", 8192);
    std::string out_path = a.str("--out", "");
    std::vector<shape> shapes;
    for (const auto& s : o.shapes)
        shapes.push_back(shape_by_name(s));
    cli::backend_set be = cli::open_backends(a);
    a.finish();
    if (out_path.empty())
        out_path = fmt::format("bench/results/{}-{}.json", file_safe(device_name(be.main())), today());
    o.out_path = out_path;

    std::printf("device: %s\n", be.main().description().c_str());
    std::vector<record> recs;
    if (sgemm_n > 0 && be.accel) {
        recs.push_back(bench_sgemm(be, sgemm_n, 3));
        std::printf("CLBlast SGEMM %lld^3: %.2f ms, %.1f TFLOP/s (%s)\n", (long long)sgemm_n,
                    recs.back().num("time_ms"), recs.back().num("tflops"), recs.back().str("blas").c_str());
    }
    for (const shape& sh : shapes)
        for (int64_t n : o.n_list) {
            bench_one(be, o, sh, n, recs);
            write_records(out_path, recs); // keep what we have if a later size fails
        }
    std::printf("\n%-11s %7s %-15s %13s %12s %7s %11s %13s\n", "shape", "n", "mode", "time", "rate",
                "speedup", "density", "recall");
    for (const record& r : recs)
        if (r.str("mode") != "sgemm") print_row(r);
    std::printf("wrote %s\n", write_records(out_path, recs).c_str());
    return 0;
}

} // namespace pa::bench
