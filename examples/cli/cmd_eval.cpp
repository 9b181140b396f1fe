// pa eval: the subcommand dispatcher and the helpers its subcommands share (cmd_eval.h).
#include "cmd_eval.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unistd.h>

#include <fmt/format.h>

#include "pa/error.h"
#include "proxy_options.h"
#include "session_options.h"

namespace pa::cli::eval {

std::string duration(double s) {
    if (s < 60) return fmt::format("{:.1f} s", s);
    const auto t = int64_t(s + 0.5);
    if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
    return fmt::format("{}h{:02}m", t / 3600, t / 60 % 60);
}

progress::progress(int64_t total, bool quiet)
    : total_(total), quiet_(quiet), t0_(std::chrono::steady_clock::now()), tty_(isatty(fileno(stderr)) != 0) {
}

double progress::elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void progress::update(int64_t done, std::string_view what) {
    if (quiet_) return;
    const double el = elapsed();
    // a terminal gets one line rewritten in place; a log a line at most every 10 s, and the last
    if (!tty_ && done < total_ && el - last_ < 10.0) return;
    last_ = el;
    const std::string eta =
        done > 0 && done < total_ ? ", ETA " + duration(el / double(done) * double(total_ - done)) : "";
    std::fprintf(stderr, "%s%.*s %lld/%lld, elapsed %s%s%s", tty_ ? "\r" : "", int(what.size()), what.data(),
                 (long long)done, (long long)total_, duration(el).c_str(), eta.c_str(),
                 tty_ ? "\x1b[K" : "\n");
    printed_ = tty_;
}

void progress::finish() {
    if (printed_) std::fprintf(stderr, "\n");
    printed_ = false;
}

void emit_json(const std::string& json, bool to_stdout, const std::string& path) {
    if (to_stdout) std::printf("%s\n", json.c_str());
    if (path.empty()) return;
    struct closer {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, closer> f(std::fopen(path.c_str(), "wb"));
    if (!f) throw error(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
    if (std::fprintf(f.get(), "%s\n", json.c_str()) < 0) throw error(fmt::format("{}: write failed", path));
    if (!to_stdout) std::fprintf(stderr, "wrote %s\n", path.c_str());
}

std::string json_proxy_params(const proxy_params& p) {
    return fmt::format(
        "\"gamma\": {}, \"block\": {}, \"stride\": {}, \"key_stride\": {}, \"proxy_heads\": {}, "
        "\"budget\": \"{}\", \"samples\": {}, \"exact_rows\": {}, \"min_tokens\": {}, "
        "\"force_sink_and_local\": {}",
        p.gamma, p.block, p.stride, p.key_stride, p.n_proxy, proxy_budget_name(p.budget), p.n_samples,
        p.exact_rows, p.min_tokens, p.force_sink_and_local);
}

std::string json_numbers(const std::vector<double>& v, int precision) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i)
        s += fmt::format("{}{:.{}f}", i ? ", " : "", v[i], precision);
    return s + "]";
}

std::shared_ptr<plugin> ensure_proxy_plugin(args& a, const backend_set& be) {
    return be.plug ? be.plug : load_plugin(a);
}

analysis::prompt_format prompt_format_for(const model::model& m, const std::string& choice,
                                          const std::string* system) {
    analysis::prompt_format f =
        analysis::prompt_format_from_template(m.file().get_string("tokenizer.chat_template", ""));
    if (choice == "plain") {
        f.style = analysis::prompt_format::kind::plain;
    } else if (choice == "chatml") {
        f.style = analysis::prompt_format::kind::chatml;
    } else if (choice != "auto") {
        throw error(fmt::format("--format: '{}' is not auto, chatml or plain", choice));
    }
    if (system) f.system = *system;
    return f;
}

std::string niah_session_usage(std::string_view usage) {
    return session_usage(std::string(usage) + niah_prompt_help +
                         "Model session (prefill in one chunk by default: --batch defaults to -c):\n");
}

niah_flags niah_flags_from(args& a) {
    niah_flags f;
    analysis::niah_options& n = f.niah;
    n.seed = uint64_t(a.i64("--seed", 1));
    f.format = a.str("--format", f.format);
    f.has_system = a.has("--system");
    if (f.has_system) f.system = a.str("--system", "");
    n.needle = a.str("--needle", n.needle);
    n.question = a.str("--question", n.question);
    n.preamble = a.str("--preamble", n.preamble);
    n.answer_prefix = a.str("--answer-prefix", n.answer_prefix);
    n.digits = int(a.i64("--digits", n.digits));
    return f;
}

analysis::niah_builder make_niah_builder(const model::model& m, std::string_view text, const niah_flags& f,
                                         int64_t n_tokens, analysis::prompt_format* used) {
    const analysis::prompt_format pf = prompt_format_for(m, f.format, f.has_system ? &f.system : nullptr);
    if (used) *used = pf;
    analysis::niah_options o = f.niah;
    o.n_tokens = n_tokens;
    return analysis::niah_builder(
        text, codec_for(m.tok()), [pf](std::string_view user) { return pf.apply(user); }, o);
}

analysis::text_codec codec_for(const model::tokenizer& tok) {
    analysis::text_codec c;
    c.encode = [&tok](std::string_view s) { return tok.encode(s, false, true); };
    c.decode = [&tok](std::span<const int32_t> ids) { return tok.decode(ids); };
    c.prefix_tokens = tok.add_bos() ? 1 : 0;
    return c;
}

std::vector<setting> parse_settings(const std::string& list, const model::session_options& base) {
    std::vector<setting> out;
    for (const std::string& piece : split_list(list, ';')) {
        const std::string item = trimmed(piece);
        if (item.empty()) continue;
        setting s{item, base};
        if (item == "dense") {
            s.options.attn = model::attn_mode::dense;
        } else {
            s.options.attn = model::attn_mode::proxy;
            if (item != "proxy") {
                try {
                    s.options.proxy = proxy_params_from_pairs(item, base.proxy, [&](args& a) {
                        s.options.proxy_min_len = a.i64("--proxy-min-len", base.proxy_min_len);
                    });
                } catch (const error& e) {
                    throw error(fmt::format("--settings: '{}': {}", item, e.what()));
                }
            }
        }
        out.push_back(std::move(s));
    }
    if (out.empty()) throw error("--settings: nothing to evaluate");
    return out;
}

std::vector<int> parse_index_list(const std::string& list, int n, const char* what) {
    std::vector<int> out;
    if (list == "all") {
        for (int i = 0; i < n; ++i)
            out.push_back(i);
        return out;
    }
    size_t from = 0;
    while (from <= list.size()) {
        size_t end = list.find(',', from);
        if (end == std::string::npos) end = list.size();
        const std::string item = list.substr(from, end - from);
        from = end + 1;
        int a = 0, b = 0;
        char extra = 0;
        const int got = std::sscanf(item.c_str(), "%d-%d%c", &a, &b, &extra);
        if (got == 1) b = a;
        if ((got != 1 && got != 2) || a > b || a < 0 || b >= n)
            throw error(
                fmt::format("{}: '{}' is not an index or range in 0..{} (or 'all')", what, item, n - 1));
        for (int i = a; i <= b; ++i)
            if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
    }
    return out;
}

namespace {

const char* usage =
    "usage: pa eval <niah|attn> [options]   (pa eval <niah|attn> --help for their options)\n"
    "  niah  needle-in-a-haystack accuracy of a model, dense vs proxy settings, same prompts\n"
    "  attn  capture a layer's Q/K/V while prefilling a text: proxy mask recall, density, oracle\n"
    "        density, output error and head similarity per layer and head\n";

int run_eval(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "niah") == 0) return run_niah(argc - 1, argv + 1);
    if (argc >= 2 && std::strcmp(argv[1], "attn") == 0) return run_attn(argc - 1, argv + 1);
    if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::printf("%s", usage);
        return 0;
    }
    throw error(argc < 2 ? "pa eval needs a subcommand: niah or attn"
                         : fmt::format("pa eval: unknown subcommand '{}' (niah or attn)", argv[1]));
}

} // namespace

} // namespace pa::cli::eval

PA_CLI_COMMAND(eval, "quality on a real model: needle in a haystack (niah), captured attention (attn)",
               pa::cli::eval::run_eval);
