// pa perplexity: perplexity of a text in chunks of CTX tokens, with dense attention, proxy
// attention, or both (then also their relative difference and the prefill speed-up).
#include <cstdio>
#include <fmt/format.h>
#include <map>

#include "cli.h"
#include "model.h"
#include "pa/error.h"
#include "perplexity.h"
#include "proxy_options.h"
#include "session_options.h"

namespace {

const char* usage =
    "usage: pa perplexity -m MODEL.gguf (-f FILE | -p TEXT) [-c CTX] [--attn dense|proxy|both] [options]\n"
    "Perplexity = exp(mean negative log-likelihood of every token after the first of each chunk of\n"
    "CTX tokens; chunks start with BOS when the model adds one), as llama.cpp's perplexity tool.\n"
    "  -c CTX             tokens per chunk (default 512)\n"
    "  --chunks N         evaluate at most N chunks (default all)\n"
    "  --attn both        run dense, then proxy, and report both and their relative difference\n"
    "                     (with --attn proxy/both, chunks are prefilled whole: --batch defaults to CTX)\n"
    "  --json             print one JSON object on stdout\n"
    "  --profile          time every op (synchronising after each); adds per-op times (\"op_ms\")\n";

struct run_result {
    pa::model::ppl_result ppl;
    int64_t proxy_nodes = 0;
    std::map<std::string, pa::model::op_time> profile;
    std::string profile_report;
};

run_result run_ppl(const pa::model::model& m, const pa::cli::backend_set& be, pa::model::session_options o,
                   std::span<const int32_t> tokens, int n_ctx, int chunks, bool json, bool profile) {
    o.n_ctx = n_ctx;
    pa::model::session s(m, be.order(), o);
    s.sched().set_abort_flag(pa::cli::interrupt_flag());
    s.set_profile(profile);
    const char* name = o.attn == pa::model::attn_mode::proxy ? "proxy" : "dense";
    run_result r;
    r.ppl = pa::model::perplexity(s, tokens, n_ctx, chunks, [&](int c, int n, double ppl) {
        if (!json) std::fprintf(stderr, "\r[%s] chunk %d/%d: ppl %.4f", name, c + 1, n, ppl);
    });
    if (!json) std::fprintf(stderr, "\n");
    r.proxy_nodes = s.stats().proxy_nodes;
    r.profile = s.profile();
    if (profile) r.profile_report = s.profile_report();
    return r;
}

std::string json_of(const run_result& r) {
    const pa::model::ppl_result& p = r.ppl;
    std::string ops;
    for (const auto& [op, t] : r.profile)
        ops += fmt::format("{}{}: {:.3f}", ops.empty() ? "" : ", ", pa::cli::json_escape(op), t.ms);
    std::string chunk_ppl;
    for (double c : p.chunk_ppl)
        chunk_ppl += fmt::format("{}{:.6f}", chunk_ppl.empty() ? "" : ", ", c);
    return fmt::format("{{\"ppl\": {:.6f}, \"nll\": {:.6f}, \"seconds\": {:.6f}, \"prefill_s\": {:.6f}, "
                       "\"logits_s\": {:.6f}, \"prefill_tok_s\": {:.3f}, \"proxy_nodes\": {}, "
                       "\"chunk_ppl\": [{}], \"op_ms\": {{{}}}}}",
                       p.ppl, p.nll, p.seconds, p.eval_seconds, p.logits_seconds,
                       double(p.scored + p.chunks) / p.eval_seconds, r.proxy_nodes, chunk_ppl, ops);
}

void print_human(const char* name, const run_result& r) {
    const pa::model::ppl_result& p = r.ppl;
    std::fprintf(
        stdout,
        "%s: ppl %.4f over %lld tokens in %d chunks of %d; prefill %.2f s (%.1f tok/s), total %.2f s%s\n",
        name, p.ppl, (long long)p.scored, p.chunks, p.n_ctx, p.eval_seconds,
        double(p.scored + p.chunks) / p.eval_seconds, p.seconds,
        r.proxy_nodes > 0 ? fmt::format(", {} proxy attention nodes", r.proxy_nodes).c_str() : "");
}

int run_perplexity(int argc, char** argv) {
    pa::cli::args a(argc, argv,
                    std::string(usage) + pa::cli::session_option_help +
                        std::string(pa::cli::proxy_option_help) + pa::cli::device_options);
    if (a.help()) {
        fmt::print("{}", a.usage());
        return 0;
    }
    const std::string path = a.str("-m", "");
    const bool has_text = a.has("-p");
    const std::string text_arg = has_text ? a.str("-p", "") : "";
    const std::string file = a.str("-f", "");
    const int64_t c_arg = a.i64("-c", 512);
    if (c_arg < 2 || c_arg > pa::model::max_ctx) // checked before it narrows to int
        throw pa::error(fmt::format("-c {} is outside 2..{} (the context limit)", c_arg, pa::model::max_ctx));
    const int n_ctx = int(c_arg);
    const int chunks = int(a.i64("--chunks", 0));
    const std::string attn = a.str("--attn", "proxy");
    const bool json = a.flag("--json");
    const bool profile = a.flag("--profile");
    const bool both = attn == "both";
    pa::model::session_options o = pa::cli::session_options_from(a, n_ctx, false);
    o.attn = both ? pa::model::attn_mode::dense : pa::cli::parse_attn_mode(attn);
    if (path.empty()) throw pa::error("give a model with -m MODEL.gguf");
    if (has_text == !file.empty()) throw pa::error("give the text with -f FILE or -p TEXT (one of them)");
    if (n_ctx < 2) throw pa::error("-c must be >= 2");
    pa::cli::backend_set be = pa::cli::open_backends(a);
    std::shared_ptr<pa::plugin> proxy_plugin = be.plug;
    if (!proxy_plugin && (both || o.attn == pa::model::attn_mode::proxy))
        proxy_plugin = pa::cli::load_plugin(a);
    a.finish();

    const pa::model::model m(path);
    if (n_ctx > m.hp().n_ctx_train)
        std::fprintf(stderr, "warning: -c %d is beyond the model's training context of %d\n", n_ctx,
                     m.hp().n_ctx_train);
    const std::string text = has_text ? text_arg : pa::cli::read_text_file(file);
    const std::vector<int32_t> tokens = m.tok().encode(text, false, false);
    if (!json)
        std::fprintf(stderr, "model: %s\ndevice: %s\ntext: %zu tokens\n", m.describe().c_str(),
                     be.main().description().c_str(), tokens.size());

    std::vector<std::pair<const char*, run_result>> runs;
    runs.emplace_back(both ? "dense" : attn.c_str(), run_ppl(m, be, o, tokens, n_ctx, chunks, json, profile));
    if (both) {
        o.attn = pa::model::attn_mode::proxy;
        runs.emplace_back("proxy", run_ppl(m, be, o, tokens, n_ctx, chunks, json, profile));
    }
    const run_result& first = runs.front().second;
    if (json) {
        std::string body =
            fmt::format("\"model\": {}, \"device\": {}, \"n_ctx\": {}, \"batch\": {}, \"chunks\": {}, "
                        "\"tokens_scored\": {}, \"text_tokens\": {}, \"proxy_min_len\": {}, "
                        "\"gamma\": {}, \"block\": {}, \"stride\": {}, \"proxy_heads\": {}, "
                        "\"min_tokens\": {}",
                        pa::cli::json_escape(path), pa::cli::json_escape(be.main().description()), n_ctx,
                        o.n_batch, first.ppl.chunks, first.ppl.scored, tokens.size(), o.proxy_min_len,
                        o.proxy.gamma, o.proxy.block, o.proxy.stride, o.proxy.n_proxy, o.proxy.min_tokens);
        for (const auto& [name, r] : runs)
            body += fmt::format(", \"{}\": {}", name, json_of(r));
        if (both) {
            const auto &d = runs[0].second.ppl, &p = runs[1].second.ppl;
            body += fmt::format(", \"ppl_rel_diff\": {:.6f}, \"prefill_speedup\": {:.4f}",
                                (p.ppl - d.ppl) / d.ppl, d.eval_seconds / p.eval_seconds);
        }
        fmt::print("{{{}}}\n", body);
        return 0;
    }
    for (const auto& [name, r] : runs) {
        print_human(name, r);
        if (profile) std::fprintf(stderr, "%s", r.profile_report.c_str());
    }
    if (both) {
        const auto &d = runs[0].second.ppl, &p = runs[1].second.ppl;
        std::fprintf(stdout, "proxy vs dense: ppl %+.3f%%, prefill %.2fx faster\n",
                     100.0 * (p.ppl - d.ppl) / d.ppl, d.eval_seconds / p.eval_seconds);
    }
    return 0;
}

} // namespace

PA_CLI_COMMAND(perplexity, "perplexity of a text (dense vs proxy attention)", run_perplexity);
