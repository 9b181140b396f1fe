// bench_prefill.cpp - `pa bench prefill`: prefill of a random-weight llama with Llama-3-8B layer
// shapes (n_embd 4096, 32 heads, 8 kv heads, head dim 128, FFN 14336, Q4_0 weights) or
// SmolLM2-135M's, a few layers, with dense attention and with proxy_sparse_attn; prints the time
// and the share of attention in it (every node timed on its own), and the time of the same passes
// with the nodes queued back to back as a model runs them (the host's launches then overlap the
// device's work). The layer graph is built here from pa ops (rms_norm, mul_mat, rope,
// flash_attn_ext | proxy_sparse_attn, swiglu, add), as examples/model builds it, without
// embeddings and logits (a prefill's cost is in the layers). Random weights make every head's
// attention nearly uniform (a proxy mask keeps almost every block); --pattern feeds attention
// with the structured Q/K of a synthetic pattern instead (analysis/patterns.h), while the layer
// still computes its own Q/K products (graph outputs, timed), so the attention share is real.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include <fmt/format.h>

#include "attn_inputs.h"
#include "bench.h"
#include "bench_util.h"
#include "cli.h"
#include "pa/error.h"
#include "pa/ops.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/types.h"
#include "patterns.h"
#include "proxy_options.h"

namespace pa::bench {
namespace {

const char* usage =
    "usage: pa bench prefill [options]\n"
    "Prefill of a random-weight llama (Q4_0 weights): dense vs proxy attention. Per pass: the sum of\n"
    "the nodes' times, each node run and waited for on its own (attention's share of it), and the\n"
    "pass with its nodes queued back to back (\"queued\": what a model run sees).\n"
    "  --shape S        llama3-8b (n_embd 4096, 32 heads, 8 kv heads, head dim 128, FFN 14336),\n"
    "                   smollm2-135m (576, 9, 3, 64, 1536) or tiny (256, 4, 2, 64, 512: CI smoke)\n"
    "                   (llama3-8b)\n"
    "  --n-list L       prompt lengths (32768,65536,131072)\n"
    "  --layers L       layers (2)\n"
    "  --reps R         timed passes, median reported (1)\n"
    "  --small          the same as --shape tiny\n"
    "  --pattern P      attention reads the Q/K of a synthetic pattern (random | needle | sink-local |\n"
    "                   diffuse-focused) instead of the layer's own (default: the layer's own; random\n"
    "                   weights make it nearly uniform); the layer's Q/K products still run\n"
    "  --out FILE       JSON output (bench/results/<device>-<date>-prefill.json)\n";

struct dims {
    int64_t embd = 4096, H = 32, Hkv = 8, d = 128, ff = 14336;
    float theta = 500000.0f, eps = 1e-5f;
};

// The layer shapes --shape names.
dims dims_of(const std::string& shape) {
    if (shape == "llama3-8b") return {};
    if (shape == "smollm2-135m") return {576, 9, 3, 64, 1536, 100000.0f, 1e-5f};
    if (shape == "tiny") return {256, 4, 2, 64, 512, 10000.0f, 1e-5f};
    throw error(fmt::format("--shape must be llama3-8b, smollm2-135m or tiny, not '{}'", shape));
}

// A one-element copy of t's first element: keeps the node that makes t in the graph without
// copying all of t back to the host after each pass.
tensor* keep(context& ctx, tensor* t) {
    return cont(ctx, view_1d(ctx, t, 1, 0));
}

struct layer_w {
    tensor *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *gate, *up, *down;
};

// Q4_0 weights [k, m] with random nibbles and scales sized for a unit-variance output
// (std(x) ~ 1 over k inputs: element std ~ 1/sqrt(k)).
tensor* q4_weight(context& ctx, int64_t k, int64_t m, std::mt19937& rng) {
    tensor* t = ctx.new_tensor(PA_TYPE_Q4_0, {k, m});
    auto* b = static_cast<block_q4_0*>(t->data);
    const uint16_t d = fp32_to_fp16(1.0f / (4.6f * std::sqrt(float(k)))); // nibble - 8 has std ~4.6
    std::uniform_int_distribution<int> byte(0, 255);
    for (int64_t i = 0; i < k * m / 32; ++i) {
        b[i].d = d;
        for (auto& q : b[i].qs)
            q = uint8_t(byte(rng));
    }
    t->flags |= PA_FLAG_PARAM;
    return t;
}

tensor* ones(context& ctx, int64_t n) {
    tensor* t = ctx.new_tensor(PA_TYPE_F32, {n});
    for (int64_t i = 0; i < n; ++i)
        static_cast<float*>(t->data)[i] = 1.0f;
    t->flags |= PA_FLAG_PARAM;
    return t;
}

// Structured Q/K for attention in place of the layer's (--pattern), [d, N, heads].
struct replay_qk {
    tensor *q = nullptr, *k = nullptr;
};

// One layer; the layer's own rope'd Q and K go to `extra` (graph outputs, kept by one element each)
// where replay replaces them in attention.
tensor* build_layer(context& ctx, const dims& m, const layer_w& w, tensor* x, int64_t N,
                    const proxy_params* pp, int li, const replay_qk& replay, std::vector<tensor*>& extra) {
    const float scale = 1.0f / std::sqrt(float(m.d));
    tensor* h = mul(ctx, rms_norm(ctx, x, m.eps), w.attn_norm);
    tensor* qr =
        rope(ctx, reshape(ctx, mul_mat(ctx, w.wq, h), {m.d, m.H, N}), int(m.d), rope_mode_normal, m.theta, 0);
    tensor* kr = rope(ctx, reshape(ctx, mul_mat(ctx, w.wk, h), {m.d, m.Hkv, N}), int(m.d), rope_mode_normal,
                      m.theta, 0);
    tensor* v = reshape(ctx, mul_mat(ctx, w.wv, h), {m.d, m.Hkv, N});
    tensor* q = permute(ctx, qr, 0, 2, 1, 3); // [d, N, H]
    tensor* k = permute(ctx, kr, 0, 2, 1, 3);
    v = permute(ctx, v, 0, 2, 1, 3);
    if (replay.q) {
        extra.push_back(keep(ctx, qr));
        extra.push_back(keep(ctx, kr));
        q = replay.q;
        k = replay.k;
    }
    tensor* a = pp ? proxy_sparse_attn(ctx, q, k, v, *pp) : flash_attn_ext(ctx, q, k, v, scale, 0, true);
    std::snprintf(a->name, sizeof a->name, "attn-%d", li);
    x = add(ctx, x, mul_mat(ctx, w.wo, reshape(ctx, a, {m.d * m.H, N})));
    h = mul(ctx, rms_norm(ctx, x, m.eps), w.ffn_norm);
    tensor* f = swiglu(ctx, mul_mat(ctx, w.gate, h), mul_mat(ctx, w.up, h));
    return add(ctx, x, mul_mat(ctx, w.down, f));
}

bool is_attention(const tensor* t) {
    return std::string_view(t->name).substr(0, 5) == "attn-";
}

} // namespace

int run_bench_prefill(int argc, char** argv) {
    cli::args a(argc, argv, usage);
    if (a.help()) {
        std::printf("%s%s%s", usage, cli::proxy_option_help, cli::device_options);
        return 0;
    }
    const std::vector<int64_t> n_list = parse_sizes(a.str("--n-list", "32768,65536,131072"));
    const int layers = int(a.i64("--layers", 2));
    const int reps = int(std::max<int64_t>(1, a.i64("--reps", 1)));
    const proxy_params proxy = cli::proxy_params_from(a, proxy_params{}); // the node's defaults
    std::string shape = a.str("--shape", "llama3-8b");
    if (a.flag("--small")) shape = "tiny";
    const dims m = dims_of(shape);
    const std::string pattern_name = a.str("--pattern", "");
    analysis::pattern pat = analysis::pattern::needle;
    if (!pattern_name.empty() && !analysis::pattern_from_name(pattern_name, pat))
        throw error(fmt::format("--pattern must be {}, not '{}'", analysis::pattern_names, pattern_name));
    std::string out_path = a.str("--out", "");
    cli::backend_set be = cli::open_backends(a);
    a.finish();
    if (layers < 1) throw error("--layers must be >= 1");
    const std::string dev = device_name(be.main());
    if (out_path.empty()) out_path = fmt::format("bench/results/{}-{}-prefill.json", file_safe(dev), today());
    std::printf("device: %s\n", be.main().description().c_str());

    context wctx;
    std::mt19937 rng(7);
    std::vector<layer_w> w(static_cast<size_t>(layers));
    for (auto& l : w) {
        l.attn_norm = ones(wctx, m.embd);
        l.ffn_norm = ones(wctx, m.embd);
        l.wq = q4_weight(wctx, m.embd, m.H * m.d, rng);
        l.wk = q4_weight(wctx, m.embd, m.Hkv * m.d, rng);
        l.wv = q4_weight(wctx, m.embd, m.Hkv * m.d, rng);
        l.wo = q4_weight(wctx, m.H * m.d, m.embd, rng);
        l.gate = q4_weight(wctx, m.embd, m.ff, rng);
        l.up = q4_weight(wctx, m.embd, m.ff, rng);
        l.down = q4_weight(wctx, m.ff, m.embd, rng);
    }
    std::vector<record> recs;
    for (int64_t N : n_list) {
        context ctx;
        tensor* x0 = ctx.new_tensor(PA_TYPE_F32, {m.embd, N});
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (int64_t i = 0; i < m.embd * N; ++i)
            static_cast<float*>(x0->data)[i] = nd(rng);
        x0->flags |= PA_FLAG_PARAM;
        proxy_params pp = proxy;
        pp.scale = 1.0f / std::sqrt(float(m.d));
        analysis::attn_inputs replay_in; // --pattern: one structured Q/K for every layer
        replay_qk replay;
        if (!pattern_name.empty()) {
            analysis::make_attn_inputs(
                replay_in, analysis::synthesize(pat, N, 0, m.H, m.Hkv, m.d, 1, pp.scale, pp.block),
                PA_TYPE_F32);
            replay = {replay_in.q, replay_in.k};
        }
        double t_dense = 0, tq_dense = 0;
        for (const bool use_proxy : {false, true}) {
            tensor* x = x0;
            std::vector<tensor*> outs;
            for (int li = 0; li < layers; ++li)
                x = build_layer(ctx, m, w[size_t(li)], x, N, use_proxy ? &pp : nullptr, li, replay, outs);
            // the last token's hidden state: a prefill hands one row on (to the logits)
            outs.insert(outs.begin(), cont(ctx, view_1d(ctx, x, m.embd, size_t(N - 1) * x->nb[1])));
            const graph g = build_forward(outs);
            scheduler sched(be.order());
            const auto pass_ms = [&] { // one pass, its wall time
                const auto t0 = std::chrono::steady_clock::now();
                sched.compute(g);
                return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
            };
            sched.set_timing(true);
            std::vector<double> total, attn, wall;
            bool attn_dev = true;
            for (int r = 0; r < reps + 1; ++r) { // the first pass compiles and uploads: not timed
                const double w_ms = pass_ms();
                double tot = 0, at = 0;
                for (const auto& nt : sched.timings()) {
                    tot += nt.ms;
                    if (is_attention(nt.node)) {
                        at += nt.ms;
                        attn_dev = attn_dev && nt.backend_index == 0 && be.accel;
                    }
                }
                if (r > 0) total.push_back(tot), attn.push_back(at), wall.push_back(w_ms);
            }
            // the same passes queued back to back (the first after the switch plans again: not timed)
            sched.set_timing(false);
            std::vector<double> queued;
            for (int r = 0; r < reps + 1; ++r) {
                const double q_ms = pass_ms();
                if (r > 0) queued.push_back(q_ms);
            }
            const double t = median(total), ta = median(attn), tq = median(queued);
            if (!use_proxy) t_dense = t, tq_dense = tq;
            record rec;
            rec.set("device", dev).set("shape", shape + "-layer").set("n", N);
            rec.set("mode", use_proxy ? "prefill_proxy" : "prefill_dense")
                .set("layers", layers)
                .set("weights", "q4_0");
            rec.set("time_ms", t).set("attn_ms", ta).set("attn_share", ta / t).set("wall_ms", median(wall));
            rec.set("attn_on_device", attn_dev)
                .set("speedup", t_dense / t)
                .set("tokens_per_s", double(N) / t * 1e3);
            rec.set("queued_ms", tq).set("queued_speedup", tq_dense / tq);
            rec.set("reps", reps)
                .set("date", today())
                .set("attention_inputs", pattern_name.empty() ? "layer" : pattern_name);
            if (use_proxy) rec.set("gamma", double(proxy.gamma));
            recs.push_back(rec);
            std::printf("prefill %-5s N=%-7lld layers=%d  %10.1f ms  attention %9.1f ms (%4.1f%%)  x%.2f  "
                        "%.0f tok/s  queued %9.1f ms  x%.2f\n",
                        use_proxy ? "proxy" : "dense", (long long)N, layers, t, ta, 100.0 * ta / t,
                        t_dense / t, double(N) / t * 1e3, tq, tq_dense / tq);
            std::fflush(stdout);
        }
        write_records(out_path, recs);
    }
    std::printf("wrote %s\n", out_path.c_str());
    return 0;
}

} // namespace pa::bench
