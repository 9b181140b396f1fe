// pa run: load a GGUF model, prefill a prompt (proxy attention for long chunks), decode with
// dense attention, stream the text, report prefill and decode speed.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fmt/format.h>

#include "cli.h"
#include "model.h"
#include "pa/error.h"
#include "proxy_options.h"
#include "sampling.h"
#include "session.h"
#include "session_options.h"

namespace {

using clock_type = std::chrono::steady_clock;

const char* usage =
    "usage: pa run -m MODEL.gguf (-p PROMPT | -f FILE) [-n N] [options]\n"
    "Generates text: streams it to stdout, prefill progress and speeds to stderr.\n"
    "  -n N               tokens to generate (default 128; stops early at end of text)\n"
    "  --temp T           temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K          keep the K most likely tokens (default 40; 0 = all)\n"
    "  --top-p P          nucleus sampling mass (default 0.95)\n"
    "  --seed S           sampling seed (default: from the clock)\n"
    "  --ctx C            context size (default: prompt + n, at most the model's)\n"
    "  --raw              do not turn special-token text (e.g. <|im_start|>) into tokens\n"
    "  --json             print one JSON object (text, token counts, speeds) on stdout instead\n"
    "  --profile          time every op (synchronising after each) and print a table to stderr\n";

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

int run_run(int argc, char** argv) {
    pa::cli::args a(argc, argv,
                    std::string(usage) + pa::cli::session_option_help +
                        std::string(pa::cli::proxy_option_help) + pa::cli::device_options);
    if (a.help()) {
        fmt::print("{}", a.usage());
        return 0;
    }
    const std::string path = a.str("-m", "");
    const bool has_prompt = a.has("-p");
    const std::string prompt_arg = has_prompt ? a.str("-p", "") : "";
    const std::string prompt_file = a.str("-f", "");
    const int64_t n_predict = a.i64("-n", 128);
    pa::model::sampler_options so;
    so.temp = float(a.f64("--temp", 0.8));
    so.top_k = int(a.i64("--top-k", 40));
    so.top_p = float(a.f64("--top-p", 0.95));
    so.seed = uint64_t(a.i64("--seed", int64_t(std::time(nullptr))));
    const int64_t ctx_arg = a.i64("--ctx", 0);
    if (ctx_arg < 0 || ctx_arg > pa::model::max_ctx) // checked before it narrows to int
        throw pa::error(
            fmt::format("--ctx {} is outside 0..{} (the context limit)", ctx_arg, pa::model::max_ctx));
    const bool raw = a.flag("--raw");
    const bool json = a.flag("--json");
    const bool profile = a.flag("--profile");
    pa::model::session_options o = pa::cli::session_options_from(a, 512);
    if (path.empty()) throw pa::error("give a model with -m MODEL.gguf");
    if (has_prompt == !prompt_file.empty())
        throw pa::error("give the prompt with -p PROMPT or -f FILE (one of them)");
    if (n_predict < 0) throw pa::error("-n must be >= 0");
    pa::cli::backend_set be = pa::cli::open_backends(a);
    std::shared_ptr<pa::plugin> proxy_plugin = be.plug;
    if (!proxy_plugin && o.attn == pa::model::attn_mode::proxy) { // the proxy op comes with the plugin
        try {
            proxy_plugin = pa::cli::load_plugin(a);
        } catch (const pa::error&) {
        } // long chunks then fail with a clear message; short ones stay dense
    }
    a.finish();

    const pa::model::model m(path);
    const pa::model::tokenizer& tok = m.tok();
    const std::string prompt = has_prompt ? prompt_arg : pa::cli::read_text_file(prompt_file);
    std::vector<int32_t> tokens = tok.encode(prompt, tok.add_bos(), !raw);
    if (tokens.empty())
        throw pa::error("the prompt is empty and the model adds no BOS token: nothing to start from");
    const int64_t want_ctx =
        ctx_arg > 0 ? ctx_arg : std::min<int64_t>(m.hp().n_ctx_train, int64_t(tokens.size()) + n_predict);
    if (int64_t(tokens.size()) > want_ctx)
        throw pa::error(fmt::format("the prompt has {} tokens, more than the context of {} (--ctx)",
                                    tokens.size(), want_ctx));
    o.n_ctx = int(std::max<int64_t>(want_ctx, 1));
    if (!json) {
        const std::string dev = be.main().description();
        std::fprintf(stderr, "model: %s\ndevice: %s\n", m.describe().c_str(),
                     dev.substr(0, dev.find(" | ")).c_str());
    }

    pa::model::session s(m, be.order(), o);
    s.sched().set_abort_flag(pa::cli::interrupt_flag());
    s.set_profile(profile);
    pa::model::sampler smp(so);

    // prefill
    const bool show_progress = !json && int64_t(tokens.size()) > o.n_batch;
    const auto t_prefill = clock_type::now();
    std::vector<float> logits = s.eval(tokens, [&](int64_t done, int64_t total) {
        if (show_progress)
            std::fprintf(stderr, "\rprefill %lld/%lld tokens (%.1f tok/s)", (long long)done, (long long)total,
                         double(done) / seconds_since(t_prefill));
    });
    const double prefill_s = seconds_since(t_prefill);
    if (show_progress) std::fprintf(stderr, "\n");
    const int64_t proxy_nodes = s.stats().proxy_nodes;

    // decode
    std::string text;
    int64_t generated = 0;
    int32_t prev = tokens.back();
    const auto t_decode = clock_type::now();
    while (generated < n_predict) {
        const int32_t t = smp.sample(logits);
        if (tok.is_eog(t)) break;
        std::string piece = tok.piece(t);
        if (prev == tok.bos() && tok.add_space_prefix() && !piece.empty() && piece[0] == ' ')
            piece.erase(0, 1);
        text += piece;
        if (!json) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        }
        prev = t;
        if (++generated == n_predict) break;
        if (s.n_past() >= s.n_ctx()) {
            if (!json) std::fprintf(stderr, "\n(the context of %d tokens is full)", s.n_ctx());
            break;
        }
        logits = s.eval(std::span<const int32_t>(&prev, 1));
    }
    const double decode_s = seconds_since(t_decode);
    const double prefill_tps = double(tokens.size()) / prefill_s;
    const double decode_tps = generated > 0 ? double(generated) / decode_s : 0.0;
    if (json) {
        fmt::print(
            "{{\"model\": {}, \"device\": {}, \"attn\": \"{}\", \"prompt_tokens\": {}, \"generated_tokens\": "
            "{}, "
            "\"proxy_nodes\": {}, \"prefill_s\": {:.6f}, \"prefill_tok_s\": {:.3f}, \"decode_s\": {:.6f}, "
            "\"decode_tok_s\": {:.3f}, \"n_ctx\": {}, \"text\": {}}}\n",
            pa::cli::json_escape(path), pa::cli::json_escape(be.main().description()),
            o.attn == pa::model::attn_mode::proxy ? "proxy" : "dense", tokens.size(), generated, proxy_nodes,
            prefill_s, prefill_tps, decode_s, decode_tps, s.n_ctx(), pa::cli::json_escape(text));
    } else {
        std::fputc('\n', stdout);
        std::fflush(stdout);
        std::fprintf(stderr, "prefill: %zu tokens in %.3f s (%.1f tok/s, %s attention%s)\n", tokens.size(),
                     prefill_s, prefill_tps, proxy_nodes > 0 ? "proxy" : "dense",
                     proxy_nodes > 0 ? fmt::format(" in {} nodes", proxy_nodes).c_str() : "");
        std::fprintf(stderr, "decode: %lld tokens in %.3f s (%.1f tok/s)\n", (long long)generated, decode_s,
                     decode_tps);
    }
    if (profile) std::fprintf(stderr, "%s", s.profile_report().c_str());
    return 0;
}

} // namespace

PA_CLI_COMMAND(run, "generate text with a GGUF model (llama, qwen2)", run_run);
