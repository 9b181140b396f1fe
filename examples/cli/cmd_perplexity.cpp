// pa perplexity: perplexity of a text in chunks of CTX tokens (llama.cpp's definition by
// default), with dense attention, proxy attention, or both; with both (or against a saved base
// run) also the KL divergence between them, per chunk and overall.
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <map>
#include <memory>
#include <optional>

#include "cli.h"
#include "model.h"
#include "pa/error.h"
#include "perplexity.h"
#include "proxy_options.h"
#include "session_options.h"

namespace {

namespace pm = pa::model;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

const char* usage =
    "usage: pa perplexity -m MODEL.gguf (-f FILE | -p TEXT) [-c CTX] [--attn dense|proxy|both] [options]\n"
    "Perplexity = exp(mean negative log-likelihood of the scored tokens). Default scoring is llama.cpp's\n"
    "perplexity tool: chunks of CTX tokens, the first replaced by BOS when the model adds one, the second\n"
    "half of each chunk scored, at least two chunks. Same text and -c give llama-perplexity's number.\n"
    "  -c CTX             tokens per chunk (default 512)\n"
    "  --chunks N         evaluate at most N chunks (default all)\n"
    "  --score S          llama.cpp (default) | all: chunks of BOS + CTX-1 text tokens, every token after\n"
    "                     the first scored, a short text gives one short chunk\n"
    "  --attn both        dense, then proxy, on each chunk: both perplexities and KL(dense || proxy) per\n"
    "                     chunk and overall (mean, median, p99, max), top-1 agreement, perplexity ratio\n"
    "                     (with --attn proxy/both, chunks are prefilled whole: --batch defaults to CTX)\n"
    "  --save-logits F    write the (first) run's log-probabilities to F in llama.cpp's format\n"
    "                     (llama-perplexity --kl-divergence-base F reads and writes the same files)\n"
    "  --kl-base F        KL divergence of this run against the base run saved in F (by pa or llama.cpp):\n"
    "                     tokens, CTX and chunks come from F; -f/-p are optional (checked against F)\n"
    "  --kl-divergence-base F [--kl-divergence]   llama.cpp's spelling of --save-logits F / --kl-base F\n"
    "  -t, --threads N    CPU backend threads (default: all cores)\n"
    "  --json             print one JSON object on stdout\n"
    "  --profile          time every op (synchronising after each); adds per-op times (\"op_ms\")\n";

struct mode_run {
    std::string name;
    std::unique_ptr<pm::session> s;
};

std::string json_of(const pm::ppl_result& p, const pm::session& s, bool profile) {
    std::string ops;
    if (profile)
        for (const auto& [op, t] : s.profile())
            ops += fmt::format("{}{}: {:.3f}", ops.empty() ? "" : ", ", pa::cli::json_escape(op), t.ms);
    std::string chunk_ppl;
    for (double c : p.chunk_ppl)
        chunk_ppl += fmt::format("{}{:.6f}", chunk_ppl.empty() ? "" : ", ", c);
    const double evaluated = double(p.chunks) * double(p.n_ctx);
    return fmt::format(
        "{{\"ppl\": {:.6f}, \"ppl_err\": {:.6f}, \"nll\": {:.6f}, \"seconds\": {:.6f}, "
        "\"prefill_s\": {:.6f}, \"logits_s\": {:.6f}, \"score_s\": {:.6f}, \"prefill_tok_s\": {:.3f}, "
        "\"proxy_nodes\": {}, \"chunk_ppl\": [{}], \"op_ms\": {{{}}}}}",
        p.ppl, p.ppl_err, p.nll, p.seconds, p.eval_seconds, p.logits_seconds, p.score_seconds,
        evaluated / p.eval_seconds, s.stats().proxy_nodes, chunk_ppl, ops);
}

std::string json_of(const pm::kl_summary& k) {
    return fmt::format(
        "{{\"tokens\": {}, \"mean\": {:.6g}, \"median\": {:.6g}, \"p99\": {:.6g}, \"max\": {:.6g}, "
        "\"top1_agree\": {:.6f}, \"ppl_ratio\": {:.6f}}}",
        k.count, k.mean, k.median, k.p99, k.max, k.top1, k.ppl_ratio);
}

std::string describe_scoring(const pm::ppl_plan& p) {
    if (p.scoring == pm::ppl_scoring::llama_cpp)
        return fmt::format("llama.cpp: positions {}..{} of each chunk of {} scored{}", p.first, p.n_ctx - 2,
                           p.n_ctx, p.bos >= 0 ? ", first token replaced by BOS" : "");
    return fmt::format("all: every token after the first of each chunk of {}{}", p.n_ctx,
                       p.bos >= 0 ? " (BOS + text)" : "");
}

void print_kl(const char* label, const pm::kl_summary& k) {
    std::fprintf(
        stdout,
        "%s: KL mean %.6f, median %.6f, p99 %.6f, max %.6f nats; top-1 agree %.2f%%; ppl ratio %.5f\n", label,
        k.mean, k.median, k.p99, k.max, 100.0 * k.top1, k.ppl_ratio);
}

int run_perplexity(int argc, char** argv) {
    const auto t_start = clock_type::now();
    pa::cli::args a(argc, argv, pa::cli::session_usage(usage));
    if (a.help()) return a.print_usage();
    const std::string path = a.str("-m", "");
    const pa::cli::text_source text = pa::cli::text_source_from(a);
    const bool has_ctx = a.has("-c");
    const int64_t c_arg = a.i64("-c", 512);
    if (c_arg < 2 || c_arg > pm::max_ctx) // checked before it narrows to int
        throw pa::error(fmt::format("-c {} is outside 2..{} (the context limit)", c_arg, pm::max_ctx));
    const int chunks = int(a.i64("--chunks", 0));
    const pm::ppl_scoring scoring = pm::parse_scoring(a.str("--score", "llama.cpp"));
    const std::string attn = a.str("--attn", "proxy");
    std::string save_path = a.str("--save-logits", "");
    std::string base_path = a.str("--kl-base", "");
    const std::string llama_base = a.str("--kl-divergence-base", "");
    const bool llama_kl = a.flag("--kl-divergence");
    if (!llama_base.empty())
        (llama_kl ? base_path : save_path) = llama_base;
    else if (llama_kl)
        throw pa::error("--kl-divergence needs --kl-divergence-base FILE");
    const int64_t threads = a.has("-t") ? a.i64("-t", 0) : a.i64("--threads", 0);
    const bool json = a.flag("--json");
    const bool profile = a.flag("--profile");
    const bool both = attn == "both";
    if (chunks < 0) throw pa::error("--chunks must be >= 0");
    if (threads < 0) throw pa::error("--threads must be >= 0");
    const bool has_batch = a.has("--batch");
    pm::session_options o = pa::cli::session_options_from(a, int(c_arg), false);
    o.attn = both ? pm::attn_mode::dense : pa::cli::parse_attn_mode(attn);
    if (path.empty()) throw pa::error("give a model with -m MODEL.gguf");
    if (base_path.empty() && text.has_text == !text.file.empty())
        throw pa::error("give the text with -f FILE or -p TEXT (one of them)");
    if (text.has_text && !text.file.empty())
        throw pa::error("give the text with -f FILE or -p TEXT, not both");
    if (!base_path.empty() && both)
        throw pa::error("--kl-base compares one run with the base: use --attn dense or proxy");
    if (!base_path.empty() && !save_path.empty()) throw pa::error("--kl-base and --save-logits: one of them");
    if ((!base_path.empty() || !save_path.empty()) && scoring != pm::ppl_scoring::llama_cpp)
        throw pa::error("logits files hold llama.cpp's scored positions: drop --score all");
    pa::cli::backend_set be = pa::cli::open_backends(a);
    if (threads > 0) be.cpu->set_option("n_threads", std::to_string(threads));
    std::shared_ptr<pa::plugin> proxy_plugin = be.plug;
    if (!proxy_plugin && (both || o.attn == pm::attn_mode::proxy)) proxy_plugin = pa::cli::load_plugin(a);
    a.finish();

    const auto t_load = clock_type::now();
    const pm::model m(path);
    const double load_s = seconds_since(t_load);

    const auto t_tok = clock_type::now();
    std::unique_ptr<pm::logits_reader> base;
    pm::ppl_plan plan;
    size_t text_tokens = 0;
    std::vector<int32_t> tokens;
    if (text.given()) {
        tokens = m.tok().encode(text.read(), false, false);
        text_tokens = tokens.size();
    }
    if (!base_path.empty()) {
        base = std::make_unique<pm::logits_reader>(base_path);
        if (has_ctx && c_arg != base->n_ctx())
            throw pa::error(fmt::format("-c {}: {} was written with -c {}", c_arg, base_path, base->n_ctx()));
        plan = pm::plan_from_logits_file(m.tok(), *base, chunks);
        if (text.given()) { // the text must be the one the base evaluated
            std::vector<int32_t> mine;
            if (plan.bos >= 0) mine.push_back(plan.bos);
            mine.insert(mine.end(), tokens.begin(), tokens.end());
            if (mine.size() < plan.stream.size() ||
                !std::equal(plan.stream.begin(), plan.stream.end(), mine.begin()))
                throw pa::error(fmt::format("the text's tokens differ from those in {}", base_path));
        }
        text_tokens = plan.stream.size();
    } else {
        plan = pm::plan_perplexity(m.tok(), tokens, int(c_arg), chunks, scoring);
    }
    const double tokenize_s = seconds_since(t_tok);
    const int n_ctx = plan.n_ctx;
    if (!has_batch) o.n_batch = n_ctx; // whole chunks: proxy attention sees the whole prefill
    if (n_ctx > m.hp().n_ctx_train)
        std::fprintf(stderr, "warning: -c %d is beyond the model's training context of %d\n", n_ctx,
                     m.hp().n_ctx_train);
    if (!json)
        std::fprintf(stderr,
                     "model: %s\ndevice: %s\ntext: %zu tokens\nscoring: %s; %d chunks, %lld tokens scored\n",
                     m.describe().c_str(), be.main().description().c_str(), text_tokens,
                     describe_scoring(plan).c_str(), plan.n_chunks, (long long)plan.scored_total());

    const auto t_setup = clock_type::now();
    std::vector<mode_run> runs;
    auto add_mode = [&](const char* name, pm::attn_mode mode) {
        pm::session_options mo = o;
        mo.attn = mode;
        mo.n_ctx = n_ctx;
        mode_run r{name, std::make_unique<pm::session>(m, be.order(), mo)};
        r.s->sched().set_abort_flag(pa::cli::interrupt_flag());
        r.s->set_profile(profile);
        runs.push_back(std::move(r));
    };
    if (both) {
        add_mode("dense", pm::attn_mode::dense);
        add_mode("proxy", pm::attn_mode::proxy);
    } else {
        add_mode(attn.c_str(), o.attn);
    }
    std::unique_ptr<pm::logits_writer> save;
    if (!save_path.empty())
        save = std::make_unique<pm::logits_writer>(
            save_path, n_ctx, m.hp().n_vocab, plan.n_chunks,
            std::span<const int32_t>(plan.stream).first(size_t(plan.n_chunks) * size_t(n_ctx)));
    const double setup_s = seconds_since(t_setup);

    pm::ppl_job job;
    for (auto& r : runs)
        job.sessions.push_back(r.s.get());
    job.base = base.get();
    job.save = save.get();
    job.on_chunk = [&](int c, int n, const pm::ppl_report& rep) {
        if (json) return;
        std::string line = fmt::format("\rchunk {}/{}:", c + 1, n);
        for (size_t k = 0; k < runs.size(); ++k)
            line += fmt::format(" {} {:.4f}", runs[k].name, rep.modes[k].ppl);
        if (rep.has_kl) line += fmt::format(", KL {:.6f}", rep.kl.mean);
        std::fprintf(stderr, "%s", line.c_str());
    };
    const pm::ppl_report rep = pm::evaluate_perplexity(plan, job);
    if (!json) std::fprintf(stderr, "\n");
    if (save) save->close();
    const std::string kl_label =
        base ? fmt::format("KL({} || {})", base_path, runs[0].name) : std::string("KL(dense || proxy)");

    if (json) {
        std::string body =
            fmt::format("\"model\": {}, \"device\": {}, \"score\": \"{}\", \"scoring\": {}, \"n_ctx\": {}, "
                        "\"batch\": {}, "
                        "\"chunks\": {}, \"tokens_scored\": {}, \"text_tokens\": {}, \"proxy_min_len\": {}, "
                        "\"gamma\": {}, "
                        "\"block\": {}, \"stride\": {}, \"proxy_heads\": {}, \"min_tokens\": {}, "
                        "\"estimator\": \"{}\", \"flex_tau\": {}, \"max_tokens\": {}",
                        pa::cli::json_escape(path), pa::cli::json_escape(be.main().description()),
                        pm::scoring_name(plan.scoring), pa::cli::json_escape(describe_scoring(plan)), n_ctx,
                        o.n_batch, plan.n_chunks, rep.modes[0].scored, text_tokens, o.proxy_min_len,
                        o.proxy.gamma, o.proxy.block, o.proxy.stride, o.proxy.n_proxy, o.proxy.min_tokens,
                        pa::proxy_estimator_name(o.proxy.estimator), o.proxy.flex_tau, o.proxy.max_tokens);
        for (size_t k = 0; k < runs.size(); ++k)
            body += fmt::format(", \"{}\": {}", runs[k].name, json_of(rep.modes[k], *runs[k].s, profile));
        if (both) {
            const auto &d = rep.modes[0], &p = rep.modes[1];
            body += fmt::format(", \"ppl_rel_diff\": {:.6f}, \"prefill_speedup\": {:.4f}",
                                (p.ppl - d.ppl) / d.ppl, d.eval_seconds / p.eval_seconds);
        }
        if (rep.has_kl) {
            std::string per_chunk;
            for (const auto& k : rep.chunk_kl)
                per_chunk += (per_chunk.empty() ? "" : ", ") + json_of(k);
            body += fmt::format(", \"kl\": {{\"base\": {}, \"of\": \"{}\", \"all\": {}, \"chunks\": [{}]{}}}",
                                pa::cli::json_escape(base ? base_path : "dense"),
                                base ? runs[0].name : "proxy", json_of(rep.kl), per_chunk,
                                base ? fmt::format(", \"base_ppl\": {:.6f}", rep.base_ppl) : "");
        }
        if (save) body += fmt::format(", \"saved_logits\": {}", pa::cli::json_escape(save_path));
        body +=
            fmt::format(", \"phases\": {{\"load_s\": {:.6f}, \"tokenize_s\": {:.6f}, \"setup_s\": {:.6f}, "
                        "\"evaluate_s\": {:.6f}, \"kl_s\": {:.6f}, \"total_s\": {:.6f}}}",
                        load_s, tokenize_s, setup_s, rep.seconds, rep.kl_seconds, seconds_since(t_start));
        fmt::print("{{{}}}\n", body);
        return 0;
    }
    for (size_t k = 0; k < runs.size(); ++k) {
        const pm::ppl_result& p = rep.modes[k];
        const int64_t proxy_nodes = runs[k].s->stats().proxy_nodes;
        std::fprintf(stdout,
                     "%s: PPL = %.4f +/- %.5f over %lld tokens (%s scoring, %d chunks of %d); prefill %.2f s "
                     "(%.1f tok/s), logits %.2f s, scoring %.2f s%s\n",
                     runs[k].name.c_str(), p.ppl, p.ppl_err, (long long)p.scored,
                     pm::scoring_name(plan.scoring), p.chunks, p.n_ctx, p.eval_seconds,
                     double(p.chunks) * double(p.n_ctx) / p.eval_seconds, p.logits_seconds, p.score_seconds,
                     proxy_nodes > 0 ? fmt::format(", {} proxy attention nodes", proxy_nodes).c_str() : "");
        if (profile) std::fprintf(stderr, "%s", runs[k].s->profile_report().c_str());
    }
    if (both) {
        const auto &d = rep.modes[0], &p = rep.modes[1];
        std::fprintf(stdout, "proxy vs dense: ppl %+.3f%%, prefill %.2fx faster\n",
                     100.0 * (p.ppl - d.ppl) / d.ppl, d.eval_seconds / p.eval_seconds);
    }
    if (rep.has_kl) {
        if (base) std::fprintf(stdout, "base (%s): PPL = %.4f\n", base_path.c_str(), rep.base_ppl);
        if (rep.chunk_kl.size() > 1)
            for (size_t c = 0; c < rep.chunk_kl.size(); ++c)
                print_kl(fmt::format("chunk {}", c + 1).c_str(), rep.chunk_kl[c]);
        print_kl(kl_label.c_str(), rep.kl);
    }
    if (save) std::fprintf(stdout, "log-probabilities saved to %s\n", save_path.c_str());
    std::fprintf(
        stderr,
        "phases: load %.2f s, tokenize %.2f s, setup %.2f s, evaluate %.2f s (KL %.2f s), total %.2f s\n",
        load_s, tokenize_s, setup_s, rep.seconds, rep.kl_seconds, seconds_since(t_start));
    return 0;
}

} // namespace

PA_CLI_COMMAND(perplexity,
               "perplexity of a text (llama.cpp's definition), dense vs proxy attention with KL divergence",
               run_perplexity);
