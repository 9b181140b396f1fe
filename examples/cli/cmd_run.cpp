// pa run: load a GGUF model, prefill a prompt (proxy attention for long chunks), decode with
// dense attention, stream the text, report prefill and decode speed; or (-cnv) chat with it
// through the chat template in its metadata.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fmt/format.h>
#include <iostream>
#include <sys/resource.h>

#include "chat_template.h"
#include "cli.h"
#include "generate.h"
#include "model.h"
#include "pa/error.h"
#include "proxy_options.h"
#include "sampling.h"
#include "session.h"
#include "session_options.h"

namespace {

namespace pm = pa::model;
using clock_type = std::chrono::steady_clock;

const char* usage =
    "usage: pa run -m MODEL.gguf (-p PROMPT | -f FILE) [-n N] [options]\n"
    "       pa run -m MODEL.gguf -cnv [--system TEXT] [options]\n"
    "Generates text: streams it to stdout, prefill progress and speeds to stderr.\n"
    "  -n N               tokens to generate (default 128; in chat: per reply, default until the end\n"
    "                     of the reply); stops early at an end-of-generation token\n"
    "  -cnv, --chat       chat: each line you type is a user message, formatted with the model's chat\n"
    "                     template (tokenizer.chat_template: ChatML or Llama-3); Ctrl-C stops a reply and\n"
    "                     returns to the prompt, Ctrl-D (or Ctrl-C at the prompt) quits\n"
    "  --system TEXT      chat: the system message (-p PROMPT in chat mode means the same)\n"
    "  --chat-template T  chat: chatml | llama3 instead of the model's template\n"
    "  --temp T           temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K          keep the K most likely tokens (default 40; 0 = all)\n"
    "  --top-p P          nucleus sampling mass (default 0.95)\n"
    "  --seed S           sampling seed (default: from the clock)\n"
    "  -c, --ctx C        context size (default: prompt + n, at most the model's; chat: the model's)\n"
    "  --ignore-eos       do not stop at end-of-generation tokens\n"
    "  -t, --threads N    CPU backend threads (default: all cores)\n"
    "  --raw              do not turn special-token text (e.g. <|im_start|>) into tokens\n"
    "  --json             print one JSON object (text, token counts, speeds, phases) on stdout instead\n"
    "  --profile          time every op (synchronising after each) and print a table to stderr\n";

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// CPU seconds of the whole process (all threads, user + system): on a shared machine, work per
// CPU second is steadier than wall time.
double process_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Where the time of the decoded tokens went, per fed token (averages over the decode).
struct decode_breakdown {
    int64_t tokens = 0;
    double first_ms = 0;  // the first token (includes building the decode shapes' kernels)
    double steady_ms = 0; // median of the others
    double build_ms = 0, plan_ms = 0, dispatch_ms = 0, wait_ms = 0, sample_ms = 0;
    double prepare_ms = 0, launch_ms = 0; // parts of dispatch: nodes given storage, then enqueued
    double nodes = 0, runs = 0;

    decode_breakdown(const pm::generate_result& r, const pm::session_stats& s0, const pm::session_stats& s1,
                     const pa::compute_stats& c0, const pa::compute_stats& c1) {
        tokens = int64_t(r.token_seconds.size());
        if (tokens == 0) return;
        first_ms = 1e3 * r.token_seconds[0];
        std::vector<double> rest(r.token_seconds.begin() + 1, r.token_seconds.end());
        std::sort(rest.begin(), rest.end());
        steady_ms = rest.empty() ? first_ms : 1e3 * rest[rest.size() / 2];
        const double per = 1e3 / double(tokens);
        build_ms = per * (s1.build_seconds - s0.build_seconds);
        plan_ms = per * (c1.plan_s - c0.plan_s);
        dispatch_ms = per * (c1.dispatch_s - c0.dispatch_s);
        wait_ms = per * (c1.wait_s - c0.wait_s);
        prepare_ms = per * (c1.prepare_s - c0.prepare_s);
        launch_ms = per * (c1.launch_s - c0.launch_s);
        sample_ms = 1e3 * r.sample_seconds / double(r.tokens.size());
        nodes = double(c1.nodes - c0.nodes) / double(tokens);
        runs = double(c1.runs - c0.runs) / double(tokens);
    }
    std::string text() const {
        return fmt::format(
            "decode per token: first {:.2f} ms, then {:.3f} ms (median); average build {:.3f} + "
            "plan {:.3f} + dispatch {:.3f} (prepare {:.3f}, launch {:.3f}) + wait {:.3f} ms, sample "
            "{:.3f} ms; {:.0f} nodes in {:.0f} runs\n",
            first_ms, steady_ms, build_ms, plan_ms, dispatch_ms, prepare_ms, launch_ms, wait_ms, sample_ms,
            nodes, runs);
    }
    std::string json() const {
        return fmt::format(
            "{{\"tokens\": {}, \"first_ms\": {:.4f}, \"steady_ms\": {:.4f}, \"build_ms\": {:.4f}, "
            "\"plan_ms\": {:.4f}, \"dispatch_ms\": {:.4f}, \"prepare_ms\": {:.4f}, \"launch_ms\": {:.4f}, "
            "\"wait_ms\": {:.4f}, \"sample_ms\": {:.4f}, \"nodes\": {:.1f}, \"runs\": {:.1f}}}",
            tokens, first_ms, steady_ms, build_ms, plan_ms, dispatch_ms, prepare_ms, launch_ms, wait_ms,
            sample_ms, nodes, runs);
    }
};

struct run_setup {
    pm::session_options session;
    pm::sampler_options sampling;
    int64_t n_predict = -1; // -1: default
    int64_t ctx = 0;
    bool ignore_eos = false, raw = false, json = false, profile = false;
};

// The chat loop: read a line, format the conversation, run the new part, stream the reply.
int run_chat(const pm::model& m, pa::cli::backend_set& be, run_setup& rs, const std::string& system,
             const std::string& template_name) {
    const pm::tokenizer& tok = m.tok();
    const pm::chat_template tmpl =
        template_name.empty() ? pm::chat_template::from_metadata(
                                    m.file().get_string("tokenizer.chat_template", ""), m.file().path())
                              : pm::chat_template::named(template_name);
    rs.session.n_ctx = int(rs.ctx > 0 ? rs.ctx : m.hp().n_ctx_train);
    pm::session s(m, be.order(), rs.session);
    s.sched().set_abort_flag(pa::cli::interrupt_flag());
    pm::sampler smp(rs.sampling);
    const std::atomic<bool>* stop = pa::cli::interrupt_flag();
    std::fprintf(stderr, "chat (%s template, context %d): Enter sends, Ctrl-C stops a reply, Ctrl-D quits\n",
                 tmpl.name(), s.n_ctx());

    std::vector<pm::chat_message> messages;
    if (!system.empty()) messages.push_back({"system", system});
    std::string in_cache; // the conversation text whose tokens the session holds
    int64_t replies = 0, reply_tokens = 0;
    double reply_seconds = 0;
    for (;;) {
        std::fputs("\n> ", stdout);
        std::fflush(stdout);
        std::string line;
        if (!std::getline(std::cin, line)) {
            std::cin.clear();
            break; // Ctrl-D, or Ctrl-C at the prompt
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        messages.push_back({"user", line});
        const std::string prompt = tmpl.render(messages, true);
        std::vector<int32_t> tokens;
        if (prompt.compare(0, in_cache.size(), in_cache) == 0 && s.n_past() > 0) {
            tokens = tok.encode(std::string_view(prompt).substr(in_cache.size()), false, true);
        } else { // the template rewrote earlier text: start over
            s.reset();
            tokens = tok.encode(prompt, tok.add_bos(), true);
        }
        if (s.n_past() + int64_t(tokens.size()) >= s.n_ctx()) {
            std::fprintf(stderr, "\n(the context of %d tokens is full; start pa again or give a larger -c)\n",
                         s.n_ctx());
            break;
        }
        std::vector<float> logits;
        try {
            logits = s.eval(tokens);
        } catch (const pa::error& e) {
            if (e.status() != PA_ERR_INTERRUPTED) throw;
            pa::cli::clear_interrupt();
            messages.pop_back();
            s.reset(); // the partial prompt is in the cache: rebuild from the start next time
            in_cache.clear();
            continue;
        }
        pm::generate_options go;
        go.max_tokens = rs.n_predict;
        go.ignore_eos = rs.ignore_eos;
        go.feed_last = true;
        const pm::generate_result r = pm::generate(
            s, smp, std::move(logits), tokens.back(), go,
            [](const std::string& piece) {
                std::fwrite(piece.data(), 1, piece.size(), stdout);
                std::fflush(stdout);
            },
            stop);
        replies++;
        reply_tokens += int64_t(r.tokens.size());
        reply_seconds += r.seconds;
        in_cache = prompt + r.text;
        messages.push_back({"assistant", r.text});
        if (r.why == pm::generate_result::stop::interrupted) {
            pa::cli::clear_interrupt();
            std::fputs(" [stopped]", stdout);
        }
        if (r.why == pm::generate_result::stop::context_full) {
            std::fprintf(stderr, "\n(the context of %d tokens is full)\n", s.n_ctx());
            break;
        }
    }
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (replies > 0)
        std::fprintf(stderr, "%lld replies, %lld tokens in %.2f s (%.1f tok/s)\n", (long long)replies,
                     (long long)reply_tokens, reply_seconds,
                     reply_seconds > 0 ? double(reply_tokens) / reply_seconds : 0.0);
    return 0;
}

int run_run(int argc, char** argv) {
    const auto t_start = clock_type::now();
    pa::cli::args a(argc, argv, pa::cli::session_usage(usage));
    if (a.help()) return a.print_usage();
    run_setup rs;
    const std::string path = a.str("-m", "");
    const pa::cli::text_source prompt_src = pa::cli::text_source_from(a);
    rs.n_predict = a.i64("-n", -1);
    rs.sampling.temp = float(a.f64("--temp", 0.8));
    rs.sampling.top_k = int(a.i64("--top-k", 40));
    rs.sampling.top_p = float(a.f64("--top-p", 0.95));
    rs.sampling.seed = uint64_t(a.i64("--seed", int64_t(std::time(nullptr))));
    rs.ctx = a.has("-c") ? a.i64("-c", 0) : a.i64("--ctx", 0);
    if (rs.ctx < 0 || rs.ctx > pm::max_ctx) // checked before it narrows to int
        throw pa::error(fmt::format("--ctx {} is outside 0..{} (the context limit)", rs.ctx, pm::max_ctx));
    const bool chat = a.flag("-cnv") || a.flag("--chat");
    const bool has_system = a.has("--system");
    const std::string system = has_system ? a.str("--system", "") : "";
    const std::string chat_template = a.str("--chat-template", "");
    rs.ignore_eos = a.flag("--ignore-eos");
    const int64_t threads = a.has("-t") ? a.i64("-t", 0) : a.i64("--threads", 0);
    rs.raw = a.flag("--raw");
    rs.json = a.flag("--json");
    rs.profile = a.flag("--profile");
    rs.session = pa::cli::session_options_from(a, 512);
    if (path.empty()) throw pa::error("give a model with -m MODEL.gguf");
    if (threads < 0) throw pa::error("--threads must be >= 0");
    if (rs.n_predict < -1) throw pa::error("-n must be >= 0 (or -1: the default)");
    if (chat) {
        if (rs.json) throw pa::error("--json does not go with -cnv (a chat is interactive)");
        if (!prompt_src.file.empty())
            throw pa::error("-f does not go with -cnv: give a system message with --system");
        if (prompt_src.has_text && has_system)
            throw pa::error("-cnv takes the system message from --system or -p, not both");
    } else {
        if (prompt_src.has_text == !prompt_src.file.empty())
            throw pa::error("give the prompt with -p PROMPT or -f FILE (one of them)");
        if (has_system || !chat_template.empty())
            throw pa::error("--system and --chat-template go with -cnv (chat)");
    }
    pa::cli::backend_set be = pa::cli::open_backends(a);
    if (threads > 0) be.cpu->set_option("n_threads", std::to_string(threads));
    std::shared_ptr<pa::plugin> proxy_plugin = be.plug;
    if (!proxy_plugin && rs.session.attn == pm::attn_mode::proxy) { // the proxy op comes with the plugin
        try {
            proxy_plugin = pa::cli::load_plugin(a);
        } catch (const pa::error&) {
        } // long chunks then fail with a clear message; short ones stay dense
    }
    a.finish();

    const auto t_load = clock_type::now();
    const pm::model m(path);
    const double load_s = seconds_since(t_load);
    const pm::tokenizer& tok = m.tok();
    if (!rs.json) {
        const std::string dev = be.main().description();
        std::fprintf(stderr, "model: %s\ndevice: %s\n", m.describe().c_str(),
                     dev.substr(0, dev.find(" | ")).c_str());
    }
    if (chat) return run_chat(m, be, rs, has_system ? system : prompt_src.text, chat_template);

    const int64_t n_predict = rs.n_predict < 0 ? 128 : rs.n_predict;
    const auto t_tok = clock_type::now();
    const std::string prompt = prompt_src.read();
    std::vector<int32_t> tokens = tok.encode(prompt, tok.add_bos(), !rs.raw);
    const double tokenize_s = seconds_since(t_tok);
    if (tokens.empty())
        throw pa::error("the prompt is empty and the model adds no BOS token: nothing to start from");
    const int64_t want_ctx =
        rs.ctx > 0 ? rs.ctx : std::min<int64_t>(m.hp().n_ctx_train, int64_t(tokens.size()) + n_predict);
    if (int64_t(tokens.size()) > want_ctx)
        throw pa::error(fmt::format("the prompt has {} tokens, more than the context of {} (-c)",
                                    tokens.size(), want_ctx));
    rs.session.n_ctx = int(std::max<int64_t>(want_ctx, 1));

    const auto t_setup = clock_type::now();
    pm::session s(m, be.order(), rs.session);
    s.sched().set_abort_flag(pa::cli::interrupt_flag());
    s.set_profile(rs.profile);
    pm::sampler smp(rs.sampling);
    const double setup_s = seconds_since(t_setup);

    // prefill
    const bool show_progress = !rs.json && int64_t(tokens.size()) > rs.session.n_batch;
    const auto t_prefill = clock_type::now();
    const double cpu_prefill = process_cpu_seconds();
    std::vector<float> logits = s.eval(tokens, [&](int64_t done, int64_t total) {
        if (show_progress)
            std::fprintf(stderr, "\rprefill %lld/%lld tokens (%.1f tok/s)", (long long)done, (long long)total,
                         double(done) / seconds_since(t_prefill));
    });
    const double prefill_s = seconds_since(t_prefill);
    const double prefill_cpu_s = process_cpu_seconds() - cpu_prefill;
    if (show_progress) std::fprintf(stderr, "\n");
    const int64_t proxy_nodes = s.stats().proxy_nodes;

    // decode
    pm::generate_options go;
    go.max_tokens = n_predict;
    go.ignore_eos = rs.ignore_eos;
    const bool json = rs.json;
    const double cpu_decode = process_cpu_seconds();
    const pm::session_stats s0 = s.stats();
    const pa::compute_stats c0 = s.sched().stats();
    const pm::generate_result r =
        pm::generate(s, smp, std::move(logits), tokens.back(), go, [&](const std::string& piece) {
            if (json) return;
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        });
    if (r.why == pm::generate_result::stop::context_full && !json)
        std::fprintf(stderr, "\n(the context of %d tokens is full)", s.n_ctx());
    const double decode_cpu_s = process_cpu_seconds() - cpu_decode;
    const decode_breakdown per_token(r, s0, s.stats(), c0, s.sched().stats());
    const int64_t generated = int64_t(r.tokens.size());
    const double decode_s = r.seconds;
    const double prefill_tps = double(tokens.size()) / prefill_s;
    const double decode_tps = generated > 0 ? double(generated) / decode_s : 0.0;
    if (json) {
        fmt::print(
            "{{\"model\": {}, \"device\": {}, \"attn\": \"{}\", \"prompt_tokens\": {}, \"generated_tokens\": "
            "{}, "
            "\"proxy_nodes\": {}, \"prefill_s\": {:.6f}, \"prefill_tok_s\": {:.3f}, \"decode_s\": {:.6f}, "
            "\"decode_tok_s\": {:.3f}, \"n_ctx\": {}, \"phases\": {{\"load_s\": {:.6f}, \"tokenize_s\": "
            "{:.6f}, "
            "\"setup_s\": {:.6f}, \"prefill_s\": {:.6f}, \"decode_s\": {:.6f}, \"total_s\": {:.6f}, "
            "\"prefill_cpu_s\": {:.6f}, \"decode_cpu_s\": {:.6f}}}, \"decode_per_token\": {}, "
            "\"text\": {}}}\n",
            pa::cli::json_escape(path), pa::cli::json_escape(be.main().description()),
            rs.session.attn == pm::attn_mode::proxy ? "proxy" : "dense", tokens.size(), generated,
            proxy_nodes, prefill_s, prefill_tps, decode_s, decode_tps, s.n_ctx(), load_s, tokenize_s, setup_s,
            prefill_s, decode_s, seconds_since(t_start), prefill_cpu_s, decode_cpu_s, per_token.json(),
            pa::cli::json_escape(r.text));
    } else {
        std::fputc('\n', stdout);
        std::fflush(stdout);
        std::fprintf(stderr, "prefill: %zu tokens in %.3f s (%.1f tok/s, %s attention%s)\n", tokens.size(),
                     prefill_s, prefill_tps, proxy_nodes > 0 ? "proxy" : "dense",
                     proxy_nodes > 0 ? fmt::format(" in {} nodes", proxy_nodes).c_str() : "");
        std::fprintf(stderr, "decode: %lld tokens in %.3f s (%.1f tok/s)\n", (long long)generated, decode_s,
                     decode_tps);
        std::fprintf(stderr,
                     "phases: load %.3f s, tokenize %.3f s, setup %.3f s, prefill %.3f s, decode %.3f s\n",
                     load_s, tokenize_s, setup_s, prefill_s, decode_s);
        if (per_token.tokens > 0) std::fprintf(stderr, "%s", per_token.text().c_str());
    }
    if (rs.profile) std::fprintf(stderr, "%s", s.profile_report().c_str());
    return 0;
}

} // namespace

PA_CLI_COMMAND(run, "generate text, or chat (-cnv), with a GGUF model (llama, qwen2)", run_run);
