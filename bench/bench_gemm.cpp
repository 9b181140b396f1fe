// bench_gemm.cpp - `pa bench gemm`: the weight products of a prefill, one mul_mat node at a
// time (random weights of each type x F32 activations), on the tensor-core path
// (opencl/mul_mat_mma.*) and on the path without it ($PA_MMA=0: CLBlast SGEMM, on weights
// dequantized to F32 for the other types). TFLOP/s = 2 M N K / time; the time is the scheduler's
// for the node, waited for on its own (inputs resident; the f16 conversion of the activations and
// each launch's host enqueue included; the weights are PARAM, so their repack happens once, in the
// untimed first run). Where both paths ran, the tensor-core record carries the NMSE of its result against
// the CLBlast one (a check at sizes the op tests do not reach). GB/s = the bytes a product must
// move at least once (weights, activations, result) over its time, beside the device's copy rate
// in the same run (a contiguous copy of --copy-mib MiB: bytes read + written over its time): for
// the decode-shaped products (N <= 8, k_mul_mv_q / k_mul_mv on either path) the figure that says
// whether they read weights at memory speed. --queue Q adds a second figure on the tensor-core
// path: Q products of the shape (each its own weights and activations) queued back to back in one
// graph as a model's layers run them, the wall time of the pass over Q (the host's launches and
// the wait then overlap the device's work; each product still converts its own activations, and
// adds a one-float copy of its result, the graph's output).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "bench.h"
#include "bench_util.h"
#include "cli.h"
#include "pa/error.h"
#include "pa/ops.h"
#include "pa/types.h"

namespace pa::bench {
namespace {

const char* usage =
    "usage: pa bench gemm [options]\n"
    "Weight products (mul_mat, F32 activations) per shape and weight type: tensor cores vs CLBlast.\n"
    "  --shapes S       llama3-8b (q/o 4096x4096, k/v 1024x4096, gate/up 14336x4096, down 4096x14336:\n"
    "                   M x K, weights [K, M]), tiny (CI smoke), or MxK,MxK,... (llama3-8b)\n"
    "  --types T        weight types, of q4_0,q4_1,q8_0,f16,f32 (q4_0,q8_0,q4_1,f16,f32)\n"
    "  --n-list L       tokens N (8192,32768)\n"
    "  --reps R         timed runs per point, median reported (3)\n"
    "  --blas-max-n N   largest N also timed with $PA_MMA=0 (CLBlast) (32768)\n"
    "  --copy-mib M     size of the copy that gives the device's copy rate (256; 0 = skip)\n"
    "  --queue Q        also time Q products queued back to back in one graph, each its own weights\n"
    "                   and activations (tensor-core path; 0 = skip) (0)\n"
    "  --layer          instead: the seven products of one Llama-3-8B layer (q, k, v on one input, o,\n"
    "                   gate and up on one input, down) in one graph as a model runs them, each --types\n"
    "                   type and --n-list size: the pass's time queued, and each product's waited for\n"
    "  --out FILE       JSON output (bench/results/<device>-<date>-gemm.json)\n"
    "F32 weights take the tensor cores here (the tuning table's mmq_f32_min_n is set to 1 for this\n"
    "command); PA_OPENCL_TUNING=mmq_wn=..,mmq_wm=..,mmq_stages=.. picks other tiles.\n";

struct shape {
    std::string name;
    int64_t m, k;
};

std::vector<shape> parse_shapes(const std::string& s) {
    if (s == "llama3-8b")
        return {{"q/o", 4096, 4096}, {"k/v", 1024, 4096}, {"gate/up", 14336, 4096}, {"down", 4096, 14336}};
    if (s == "tiny") return {{"tiny", 200, 256}, {"tiny-down", 96, 512}};
    std::vector<shape> out;
    for (const std::string& item : split(s)) {
        long long m = 0, k = 0;
        if (std::sscanf(item.c_str(), "%lldx%lld", &m, &k) != 2 || m <= 0 || k <= 0)
            throw error(fmt::format("--shapes: '{}' is not llama3-8b, tiny or MxK", item));
        out.push_back({item, m, k});
    }
    return out;
}

pa_type parse_type(const std::string& s) {
    for (pa_type t : {PA_TYPE_Q4_0, PA_TYPE_Q4_1, PA_TYPE_Q8_0, PA_TYPE_F16, PA_TYPE_F32})
        if (s == std::string_view(type_name(t))) return t;
    throw error(fmt::format("--types: unknown type '{}' (q4_0, q4_1, q8_0, f16, f32)", s));
}

// xorshift64*: fast enough for gigabytes of inputs
struct fast_rng {
    uint64_t s;
    uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 2685821657736338717ull;
    }
    float uniform() { return float(next() >> 40) * (2.0f / 16777216.0f) - 1.0f; } // [-1, 1)
};

// Weights [k, m] of type t with values of std ~1/sqrt(k) (unit-variance outputs).
tensor* random_weights(context& ctx, pa_type t, int64_t k, int64_t m, fast_rng& r) {
    tensor* w = ctx.new_tensor(t, {k, m});
    const float amp = std::sqrt(3.0f / float(k)); // uniform [-amp, amp]: std 1/sqrt(k)
    const int64_t n = k * m;
    if (t == PA_TYPE_F32) {
        auto* p = static_cast<float*>(w->data);
        for (int64_t i = 0; i < n; ++i)
            p[i] = amp * r.uniform();
    } else if (t == PA_TYPE_F16) {
        auto* p = static_cast<uint16_t*>(w->data);
        for (int64_t i = 0; i < n; ++i)
            p[i] = fp32_to_fp16(amp * r.uniform());
    } else { // random quants, one scale (quantization does not change the speed)
        const size_t bb = traits(t).block_bytes;
        auto* p = static_cast<uint8_t*>(w->data);
        const uint16_t d = fp32_to_fp16(t == PA_TYPE_Q8_0 ? amp / 127.0f : amp / 8.0f);
        const uint16_t mn = fp32_to_fp16(-amp);
        for (int64_t b = 0; b < n / 32; ++b) {
            uint8_t* blk = p + size_t(b) * bb;
            std::memcpy(blk, &d, 2);
            size_t q0 = 2;
            if (t == PA_TYPE_Q4_1) std::memcpy(blk + 2, &mn, 2), q0 = 4;
            for (size_t i = q0; i < bb; i += 8) {
                const uint64_t v = r.next();
                std::memcpy(blk + i, &v, std::min<size_t>(8, bb - i));
            }
        }
    }
    w->flags |= PA_FLAG_PARAM;
    return w;
}

// Activations [k, n] of unit variance, uploaded once (PARAM).
tensor* random_activations(context& ctx, int64_t k, int64_t n, fast_rng& r) {
    tensor* x = ctx.new_tensor(PA_TYPE_F32, {k, n});
    auto* p = static_cast<float*>(x->data);
    for (int64_t i = 0; i < k * n; ++i)
        p[i] = r.uniform() * 1.7320508f;
    x->flags |= PA_FLAG_PARAM;
    return x;
}

// One pass of g, its wall time in ms.
double pass_ms(scheduler& sched, const graph& g) {
    const auto t0 = std::chrono::steady_clock::now();
    sched.compute(g);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct timed {
    double ms = 0;
    std::vector<float> out;
};

timed run_point(const cli::backend_set& be, tensor* a, tensor* b, int reps, bool keep) {
    context ctx;
    tensor* y = mul_mat(ctx, a, b);
    scheduler sched(be.order());
    sched.set_timing(true);
    timed t;
    t.ms = median(time_node(sched, y, reps, 1)); // the first run builds kernels and uploads
    if (keep) {
        const auto* p = static_cast<const float*>(y->data);
        t.out.assign(p, p + nelements(y));
    }
    return t;
}

// Q products of a's shape and type, each its own random weights and activations like b, in one
// graph with the nodes queued back to back: the median wall time of a pass over Q (with a one-float
// copy of each result, the outputs).
double run_queued(const cli::backend_set& be, const tensor* a, const tensor* b, int q, int reps,
                  fast_rng& r) {
    context ctx;
    std::vector<tensor*> outs;
    for (int i = 0; i < q; ++i) {
        tensor* w = random_weights(ctx, a->type, a->ne[0], a->ne[1], r);
        tensor* x = ctx.new_tensor(PA_TYPE_F32, {b->ne[0], b->ne[1]});
        std::memcpy(x->data, b->data, nbytes(b)); // the same values, another buffer
        x->flags |= PA_FLAG_PARAM;
        // one float of each result goes back to the host (a whole one would be timed as a read)
        outs.push_back(cont(ctx, view_1d(ctx, mul_mat(ctx, w, x), 1, 0)));
    }
    const graph g = build_forward(outs);
    scheduler sched(be.order());
    std::vector<double> t;
    for (int i = 0; i < reps + 1; ++i) { // the first pass builds kernels, uploads, repacks
        const double ms = pass_ms(sched, g);
        if (i > 0) t.push_back(ms / q);
    }
    return median(t);
}

// One Llama-3-8B layer's seven weight products as a model runs them (--layer): q, k and v read
// one input (one f16 copy of it serves the three, opencl/x16_copy.h), o its own, gate and up one,
// down its own of width ffn; one graph, queued back to back.
struct layer_times {
    double queued_ms = 0;                              // a pass's wall time, median
    std::vector<std::pair<std::string, double>> nodes; // each product waited for on its own, median
    double flop = 0;
};

layer_times run_layer(const cli::backend_set& be, pa_type t, int64_t n, int reps, fast_rng& r) {
    constexpr int64_t embd = 4096, kv = 1024, ffn = 14336;
    context ctx;
    tensor* x_attn = random_activations(ctx, embd, n, r);
    tensor* x_o = random_activations(ctx, embd, n, r);
    tensor* x_ffn = random_activations(ctx, embd, n, r);
    tensor* x_down = random_activations(ctx, ffn, n, r);
    const struct {
        const char* name;
        tensor* x;
        int64_t m;
    } prods[] = {{"q", x_attn, embd},  {"k", x_attn, kv},  {"v", x_attn, kv},     {"o", x_o, embd},
                 {"gate", x_ffn, ffn}, {"up", x_ffn, ffn}, {"down", x_down, embd}};
    layer_times lt;
    std::vector<tensor*> outs, prod_nodes;
    for (const auto& p : prods) {
        tensor* y = mul_mat(ctx, random_weights(ctx, t, p.x->ne[0], p.m, r), p.x);
        prod_nodes.push_back(y);
        outs.push_back(cont(ctx, view_1d(ctx, y, 1, 0))); // one float of each goes back to the host
        lt.flop += 2.0 * double(p.x->ne[0]) * double(p.m) * double(n);
    }
    const graph g = build_forward(outs);
    scheduler sched(be.order());
    std::vector<double> wall;
    std::vector<std::vector<double>> node_ms(prod_nodes.size());
    for (int i = 0; i < 2 * reps + 1; ++i) { // the first pass builds kernels, uploads, repacks
        sched.set_timing(i > reps);
        const double ms = pass_ms(sched, g);
        if (i > 0 && i <= reps) wall.push_back(ms);
        if (i > reps)
            for (const auto& nt : sched.timings())
                for (size_t j = 0; j < prod_nodes.size(); ++j)
                    if (nt.node == prod_nodes[j]) node_ms[j].push_back(nt.ms);
    }
    lt.queued_ms = median(wall);
    for (size_t j = 0; j < prod_nodes.size(); ++j)
        lt.nodes.emplace_back(prods[j].name, node_ms[j].empty() ? 0.0 : median(node_ms[j]));
    return lt;
}

// The device's copy rate: a contiguous F32 copy of mib MiB as one node, (read + written) / time.
double copy_gbps(const cli::backend_set& be, int64_t mib, int reps) {
    context ctx;
    const int64_t n = mib * (int64_t(1) << 20) / 4;
    tensor* x = ctx.new_tensor(PA_TYPE_F32, {n});
    std::fill_n(static_cast<float*>(x->data), n, 1.0f);
    x->flags |= PA_FLAG_PARAM;
    tensor* y = cont(ctx, x);
    scheduler sched(be.order());
    sched.set_timing(true);
    const double ms = median(time_node(sched, y, reps, 1));
    return 2.0 * double(n) * 4.0 / (ms * 1e-3) / 1e9;
}

double nmse(const std::vector<float>& x, const std::vector<float>& ref) {
    double e = 0, n = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        const double d = double(x[i]) - double(ref[i]);
        e += d * d;
        n += double(ref[i]) * double(ref[i]);
    }
    return n > 0 ? e / n : e;
}

} // namespace

int run_bench_gemm(int argc, char** argv) {
    cli::args a(argc, argv, usage);
    if (a.help()) {
        std::printf("%s%s", usage, cli::device_options);
        return 0;
    }
    const bool layer = a.flag("--layer");
    if (layer && (a.has("--shapes") || a.has("--queue") || a.has("--blas-max-n")))
        throw error("--layer times one Llama-3-8B layer's seven products: no --shapes, --queue "
                    "or --blas-max-n with it",
                    PA_ERR_INVALID);
    const std::vector<shape> shapes = parse_shapes(a.str("--shapes", "llama3-8b"));
    std::vector<pa_type> types;
    for (const std::string& t : split(a.str("--types", "q4_0,q8_0,q4_1,f16,f32")))
        types.push_back(parse_type(t));
    const std::vector<int64_t> n_list = parse_sizes(a.str("--n-list", "8192,32768"));
    const int reps = int(std::max<int64_t>(1, a.i64("--reps", 3)));
    const int64_t blas_max_n = a.i64("--blas-max-n", 32768);
    const int64_t copy_mib = a.i64("--copy-mib", 256);
    if (copy_mib < 0 || copy_mib > 65536) throw error("--copy-mib: 0 to 65536", PA_ERR_INVALID);
    const int queue = int(a.i64("--queue", 0));
    if (queue < 0 || queue > 64) throw error("--queue: 0 to 64", PA_ERR_INVALID);
    std::string out_path = a.str("--out", "");
    // F32 weights on the tensor cores too (read when the device context opens)
    const char* user_tuning = std::getenv("PA_OPENCL_TUNING");
    const std::string tuning = std::string(user_tuning && *user_tuning ? user_tuning : "");
    const std::string with_f32 = (tuning.empty() ? "" : tuning + ",") + "mmq_f32_min_n=1";
    const scoped_env f32_on("PA_OPENCL_TUNING", with_f32.c_str());
    cli::backend_set be = cli::open_backends(a);
    a.finish();
    const std::string dev = device_name(be.main());
    if (out_path.empty()) out_path = fmt::format("bench/results/{}-{}-gemm.json", file_safe(dev), today());
    std::printf("device: %s\n", be.main().description().c_str());
    const char* mma_env = std::getenv("PA_MMA");
    const bool emulated = mma_env && std::string_view(mma_env) == "emulate";
    const bool tc = be.accel && (emulated || cli::tensor_core_attention(be.main()));
    const double copy_rate = copy_mib > 0 ? copy_gbps(be, copy_mib, reps) : 0.0;
    if (copy_mib > 0)
        std::printf("device copy (%lld MiB, read + written): %.1f GB/s\n", (long long)copy_mib, copy_rate);

    std::vector<record> recs;
    fast_rng r{0x9e3779b97f4a7c15ull};
    if (layer) {
        for (int64_t N : n_list)
            for (pa_type t : types) {
                const layer_times lt = run_layer(be, t, N, reps, r);
                const double tf = lt.flop / (lt.queued_ms * 1e-3) / 1e12;
                std::string line;
                for (const auto& [name, ms] : lt.nodes)
                    line += fmt::format(" {} {:.3f}", name, ms);
                std::printf("layer %7lld %6s: queued %.3f ms, %.1f TFLOP/s | each waited for (ms):%s\n",
                            (long long)N, std::string(type_name(t)).c_str(), lt.queued_ms, tf, line.c_str());
                std::fflush(stdout);
                record rec;
                rec.set("device", dev)
                    .set("shape", "llama3-8b-layer")
                    .set("n", N)
                    .set("type", std::string(type_name(t)));
                rec.set("path", tc ? (emulated ? "tensor_cores_emulated" : "tensor_cores")
                                   : (be.accel ? "clblast" : "cpu"));
                rec.set("time_ms", lt.queued_ms).set("tflops", tf).set("reps", reps);
                rec.set("flop", lt.flop).set("date", today());
                for (const auto& [name, ms] : lt.nodes)
                    rec.set(name + "_ms", ms);
                recs.push_back(rec);
                write_records(out_path, recs);
            }
        std::printf("wrote %s\n", out_path.c_str());
        return 0;
    }
    std::printf("%-8s %-7s %7s %6s %-13s %10s %9s %8s %s\n", "shape", "M x K", "N", "type", "path", "ms",
                "TFLOP/s", "GB/s", "nmse vs CLBlast");
    for (int64_t N : n_list) {
        for (const shape& s : shapes) {
            context ctx;
            tensor* b = random_activations(ctx, s.k, N, r);
            for (pa_type t : types) {
                tensor* w = random_weights(ctx, t, s.k, s.m, r);
                const bool both = tc && N <= blas_max_n;
                timed t_tc, t_blas;
                if (tc) t_tc = run_point(be, w, b, reps, both);
                const double q_ms = tc && queue > 0 ? run_queued(be, w, b, queue, reps, r) : 0.0;
                if (!tc || N <= blas_max_n) {
                    const scoped_env off("PA_MMA", "0");
                    t_blas = run_point(be, w, b, reps, both);
                }
                const double flop = 2.0 * double(s.m) * double(N) * double(s.k);
                const double bytes =
                    double(row_size(t, s.k)) * double(s.m) + 4.0 * double(N) * double(s.k + s.m);
                for (int p = 0; p < 2; ++p) {
                    const timed& x = p == 0 ? t_tc : t_blas;
                    if ((p == 0 && !tc) || (p == 1 && tc && N > blas_max_n)) continue;
                    const char* path = p == 0 ? (emulated ? "tensor_cores_emulated" : "tensor_cores")
                                              : (be.accel ? "clblast" : "cpu");
                    record rec;
                    rec.set("device", dev).set("shape", s.name).set("m", s.m).set("k", s.k).set("n", N);
                    rec.set("type", std::string(type_name(t))).set("path", path).set("time_ms", x.ms);
                    const double gbps = bytes / (x.ms * 1e-3) / 1e9;
                    rec.set("tflops", flop / (x.ms * 1e-3) / 1e12).set("reps", reps).set("date", today());
                    rec.set("gbps", gbps);
                    if (copy_rate > 0) rec.set("copy_gbps", copy_rate).set("of_copy", gbps / copy_rate);
                    if (p == 0 && q_ms > 0)
                        rec.set("queue", queue)
                            .set("queued_ms", q_ms)
                            .set("queued_tflops", flop / (q_ms * 1e-3) / 1e12);
                    std::string check;
                    if (p == 0 && both) {
                        const double e = nmse(t_tc.out, t_blas.out);
                        rec.set("nmse_vs_clblast", e);
                        check = fmt::format("{:.2e}", e);
                    }
                    recs.push_back(rec);
                    if (p == 0 && q_ms > 0)
                        check +=
                            fmt::format("{}queued x{}: {:.3f} ms, {:.1f} TFLOP/s", check.empty() ? "" : "  ",
                                        queue, q_ms, flop / (q_ms * 1e-3) / 1e12);
                    std::printf("%-8s %-7s %7lld %6s %-13s %10.3f %9.1f %8.1f %s\n", s.name.c_str(),
                                fmt::format("{}x{}", s.m, s.k).c_str(), (long long)N,
                                std::string(type_name(t)).c_str(), path, x.ms, flop / (x.ms * 1e-3) / 1e12,
                                gbps, check.c_str());
                    std::fflush(stdout);
                }
                write_records(out_path, recs);
            }
        }
    }
    std::printf("wrote %s\n", out_path.c_str());
    return 0;
}

} // namespace pa::bench
