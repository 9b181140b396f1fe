// bench_model.cpp - `pa bench model`: prompt processing and generation speed of a GGUF model, the
// way llama.cpp's llama-bench measures them, so the two read side by side: the model is loaded and
// every kernel built in an untimed warm-up, then ppN is N random tokens evaluated from an empty
// cache (tokens / seconds) and tgN is N tokens decoded one at a time from position 0 (llama-bench's
// tg) and after a prompt of --tg-after tokens (the "tg after a 512-token prompt"), each
// next token drawn at random as llama-bench does (its logits are computed and read back, not
// sampled: a host argmax over the vocabulary is not part of the figure). Each figure is the median of --reps
// runs; a table on stdout and a JSON array of records. A tg row also gives the host's time per token
// in the median run: preparing the nodes (storage, copies in), launching them (in the backend's
// compute: enqueueing, for a device) and waiting for the logits.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <span>

#include <fmt/format.h>

#include "bench.h"
#include "bench_util.h"
#include "cli.h"
#include "model.h"
#include "pa/error.h"
#include "session.h"

namespace pa::bench {
namespace {

constexpr const char* usage =
    "usage: pa bench model -m MODEL.gguf [options]\n"
    "Prompt processing (ppN) and generation (tgN) speed, as llama.cpp's llama-bench measures them:\n"
    "after an untimed warm-up, ppN evaluates N random tokens from an empty cache, tgN decodes N\n"
    "tokens one at a time (random tokens, as llama-bench) from position 0 and after a prompt of\n"
    "--tg-after tokens. Each tg row is followed by the host's time per token: prepare (nodes given\n"
    "storage), launch (the backend enqueueing them), wait (for the logits), other.\n"
    "  -m, --model F     the GGUF model\n"
    "  -p, --n-prompt L  prompt sizes (default 512)\n"
    "  -n, --n-gen N     tokens to generate (default 128; 0: no tg)\n"
    "  --tg-after P      also measure tgN after a prompt of P tokens (default 512; 0: not)\n"
    "  -r, --reps R      runs of each, the median reported (default 3)\n"
    "  --attn MODE       dense | proxy (default proxy: long prefill chunks use proxy_sparse_attn)\n"
    "  --batch B         tokens per prefill graph (default: the largest prompt, as llama-bench -ub)\n"
    "  --out FILE        JSON results (default bench/results/<device>-<date>-model.json)\n";

double seconds(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Host time of a tgN run, per decoded token (from the scheduler's counters).
struct decode_split {
    double total_s = 0, prepare_s = 0, launch_s = 0, wait_s = 0;
};

// Decodes n tokens one at a time from an empty cache, after evaluating prompt (untimed).
// Each token's logits come back to the host (eval returns them); the next token is random.
decode_split time_generation(model::session& s, std::span<const int32_t> prompt, int64_t n, int32_t n_vocab) {
    s.reset();
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
    int32_t next = 1;
    if (!prompt.empty()) s.eval(prompt);
    const compute_stats c0 = s.sched().stats();
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; ++i) {
        s.eval(std::span<const int32_t>(&next, 1));
        next = pick(rng);
    }
    decode_split d;
    d.total_s = seconds(t0);
    const compute_stats c1 = s.sched().stats();
    d.prepare_s = c1.prepare_s - c0.prepare_s;
    d.launch_s = c1.launch_s - c0.launch_s;
    d.wait_s = c1.wait_s - c0.wait_s;
    return d;
}

} // namespace

int run_bench_model(int argc, char** argv) {
    cli::args a(argc, argv, usage);
    if (a.help()) {
        std::printf("%s%s", usage, cli::device_options);
        return 0;
    }
    // -x or --long-name
    const auto str = [&](const char* s, const char* l, const char* def) {
        return a.has(s) ? a.str(s) : a.str(l, def);
    };
    const auto num = [&](const char* s, const char* l, int64_t def) {
        return a.has(s) ? a.i64(s, def) : a.i64(l, def);
    };
    const std::string path = str("-m", "--model", "");
    const std::vector<int64_t> prompts = parse_sizes(str("-p", "--n-prompt", "512"));
    const int64_t n_gen = num("-n", "--n-gen", 128);
    const int64_t tg_after = a.i64("--tg-after", 512);
    const int reps = int(num("-r", "--reps", 3));
    const std::string attn = a.str("--attn", "proxy");
    const int64_t batch = a.i64("--batch", 0);
    std::string out_path = a.str("--out", "");
    cli::backend_set be = cli::open_backends(a);
    a.finish();
    if (path.empty()) throw error("pa bench model: give the model with -m FILE.gguf");
    if (reps < 1) throw error("--reps must be >= 1");
    if (n_gen < 0 || tg_after < 0) throw error("--n-gen and --tg-after must be >= 0");
    if (attn != "dense" && attn != "proxy")
        throw error(fmt::format("--attn must be dense or proxy, not '{}'", attn));
    if (prompts.empty() && n_gen == 0) throw error("nothing to measure: give -p sizes or -n > 0");

    const model::model m(path);
    const int64_t max_prompt = prompts.empty() ? 0 : *std::max_element(prompts.begin(), prompts.end());
    model::session_options so;
    so.n_ctx = int(std::max<int64_t>(std::max(max_prompt, tg_after + n_gen), 1));
    if (so.n_ctx > m.hp().n_ctx_train)
        throw error(fmt::format("the runs need a context of {} tokens, more than the model's {}", so.n_ctx,
                                m.hp().n_ctx_train));
    so.n_batch = int(batch > 0 ? batch : std::max<int64_t>(max_prompt, 1));
    so.attn = attn == "dense" ? model::attn_mode::dense : model::attn_mode::proxy;
    model::session s(m, be.order(), so);
    const std::string dev = device_name(be.main());
    if (out_path.empty()) out_path = fmt::format("bench/results/{}-{}-model.json", file_safe(dev), today());
    std::printf("device: %s\nmodel: %s\n", be.main().description().c_str(), m.describe().c_str());

    std::mt19937 rng(42);
    const int32_t n_vocab = int32_t(m.hp().n_vocab);
    std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
    std::vector<int32_t> tokens(size_t(std::max(max_prompt, tg_after)));
    for (int32_t& t : tokens)
        t = pick(rng);

    // warm-up: builds and caches every kernel, uploads the weights (llama-bench warms up too)
    for (int64_t p : prompts) {
        s.reset();
        s.eval(std::span<const int32_t>(tokens.data(), size_t(p)));
    }
    if (n_gen > 0) (void)time_generation(s, {}, std::min<int64_t>(n_gen, 8), n_vocab);

    std::vector<record> recs;
    std::printf("%-10s %8s %12s %12s\n", "test", "tokens", "ms", "tokens/s");
    const auto report = [&](const std::string& test, int64_t n, std::vector<double> secs, int64_t after) {
        const double t = median(secs);
        std::printf("%-10s %8lld %12.2f %12.1f\n", test.c_str(), (long long)n, 1e3 * t, double(n) / t);
        record r;
        r.set("device", dev).set("model", path).set("test", test).set("tokens", n).set("after", after);
        r.set("reps", reps).set("median_ms", 1e3 * t).set("tok_s", double(n) / t).set("attn", attn);
        recs.push_back(r);
    };
    for (int64_t p : prompts) {
        std::vector<double> secs;
        for (int r = 0; r < reps; ++r) {
            s.reset();
            const auto t0 = std::chrono::steady_clock::now();
            s.eval(std::span<const int32_t>(tokens.data(), size_t(p)));
            secs.push_back(seconds(t0));
        }
        report(fmt::format("pp{}", p), p, secs, 0);
    }
    if (n_gen > 0) {
        std::vector<int64_t> afters{0};
        if (tg_after > 0) afters.push_back(tg_after);
        for (const int64_t after : afters) {
            std::vector<decode_split> runs;
            for (int r = 0; r < reps; ++r)
                runs.push_back(time_generation(s, std::span<const int32_t>(tokens.data(), size_t(after)),
                                               n_gen, n_vocab));
            std::sort(runs.begin(), runs.end(),
                      [](const auto& x, const auto& y) { return x.total_s < y.total_s; });
            std::vector<double> secs;
            for (const decode_split& d : runs)
                secs.push_back(d.total_s);
            report(after ? fmt::format("tg{}@{}", n_gen, after) : fmt::format("tg{}", n_gen), n_gen, secs,
                   after);
            // the median run's host time per token (of an even count, the slower middle one):
            // preparing the nodes, enqueueing them, waiting
            const decode_split& m = runs[runs.size() / 2];
            const double per = 1e3 / double(n_gen);
            recs.back().set("prepare_ms", per * m.prepare_s).set("launch_ms", per * m.launch_s);
            recs.back().set("wait_ms", per * m.wait_s);
            std::printf("%-10s per token: prepare %.3f ms, launch %.3f ms, wait %.3f ms, other %.3f ms\n", "",
                        per * m.prepare_s, per * m.launch_s, per * m.wait_s,
                        per * (m.total_s - m.prepare_s - m.launch_s - m.wait_s));
        }
    }
    std::printf("wrote %s\n", write_records(out_path, recs).c_str());
    return 0;
}

} // namespace pa::bench
