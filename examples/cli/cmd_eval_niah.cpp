// pa eval niah: needle-in-a-haystack retrieval on a real model. A number hidden at several
// depths of a real text (analysis/niah.h), a question at the end, the model's greedy answer;
// correct when the answer contains the number. Every setting (dense, proxy with any flags)
// answers the same prompts; accuracy per depth and overall.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>

#include "cmd_eval.h"
#include "pa/error.h"
#include "proxy_options.h"
#include "sampling.h"
#include "session_options.h"

namespace pa::cli::eval {
namespace {

const char* usage =
    "usage: pa eval niah -m MODEL.gguf -f HAYSTACK.txt [options]\n"
    "Needle in a haystack: \"The magic number is <N>.\" hidden at several depths of a real text cut\n"
    "to -c tokens, the question \"What is the magic number?\" at the end, the model's greedy answer\n"
    "(correct when it contains the number). Every setting answers the same prompts. A table on\n"
    "stdout (or --json), progress on stderr.\n"
    "  -c TOKENS          prompt length in tokens, chat format included (default 4096)\n"
    "  --depths D         needle depths: a count spread evenly over 0..100% (default 10), or\n"
    "                     percentages: 0,50,100 or one depth 50%\n"
    "  --trials T         prompts per depth, each with its own number and text offset (default 2)\n"
    "  --settings LIST    what to compare, ';'-separated (default \"dense;proxy\"): dense, proxy (the\n"
    "                     proxy flags given below), or proxy flags as name=value pairs separated by\n"
    "                     ',' over them, e.g. \"dense;proxy;gamma=0.99,proxy-heads=3;min-tokens=512\"\n"
    "                     (also proxy-min-len=L, no-force)\n"
    "  --answer-tokens N  greedy tokens generated per prompt (default 16)\n"
    "  --prompts-only     build the prompts, print them as a table (or --json) and stop\n"
    "  --json             one JSON object on stdout instead of the table\n"
    "  --out FILE         also write the JSON object to FILE\n"
    "  --quiet            no progress on stderr\n"
    "The prompt (pa eval attn --needle-depth takes the same flags):\n";

struct answer {
    bool correct = false;
    std::string text;
};

struct setting_result {
    const setting* s = nullptr;
    std::vector<answer> answers; // per prompt
    int64_t proxy_nodes = 0;
    double seconds = 0;
};

// Correct answers of r at depth di over the trials (prompts are trial-major).
int correct_at_depth(const setting_result& r, size_t di, size_t n_depths, int trials) {
    int ok = 0;
    for (int t = 0; t < trials; ++t)
        ok += r.answers[size_t(t) * n_depths + di].correct;
    return ok;
}

struct options {
    std::string model_path, haystack_path, out_path, settings = "dense;proxy";
    bool json = false, quiet = false, prompts_only = false;
    int64_t n_tokens = 4096, answer_tokens = 16;
    int trials = 2;
    std::vector<double> depths;
    niah_flags prompt;
};

std::vector<double> parse_depths(const std::string& s) {
    if (s.find_first_of(",.%") == std::string::npos) {
        char* end = nullptr;
        const long n = std::strtol(s.c_str(), &end, 10);
        if (end && !*end && n >= 1 && n <= 1000) return analysis::even_depths(int(n));
        if (!end || *end)
            throw error(fmt::format("--depths: '{}' is not a count or a list of percentages", s));
        throw error(fmt::format("--depths: {} depths (1 to 1000)", n));
    }
    std::vector<double> d;
    for (std::string item : split_list(s, ',')) {
        if (!item.empty() && item.back() == '%') item.pop_back();
        char* e = nullptr;
        const double v = std::strtod(item.c_str(), &e);
        if (item.empty() || !e || *e || !(v >= 0 && v <= 100))
            throw error(fmt::format("--depths: '{}' is not a percentage in 0..100", item));
        d.push_back(v / 100.0);
    }
    return d;
}

// The model's greedy continuation of the prompt, up to n tokens or an end-of-generation token.
answer ask(model::session& s, const model::tokenizer& tok, const std::vector<int32_t>& prompt, int64_t n,
           const std::string& number) {
    s.reset();
    std::vector<float> logits = s.eval(prompt);
    std::vector<int32_t> out;
    while (int64_t(out.size()) < n && s.n_past() < s.n_ctx()) {
        const int32_t t = model::argmax(logits);
        if (tok.is_eog(t)) break;
        out.push_back(t);
        if (int64_t(out.size()) == n) break;
        logits = s.eval(std::span<const int32_t>(&t, 1));
    }
    answer a;
    a.text = tok.decode(out);
    a.correct = a.text.find(number) != std::string::npos;
    return a;
}

std::string percent_label(double depth) {
    return fmt::format("{:g}%", std::round(depth * 1000.0) / 10.0);
}

void print_table(const options& o, const std::vector<analysis::niah_prompt>& prompts,
                 const std::vector<setting_result>& results, const std::string& model_desc,
                 const analysis::prompt_format& fmt_used) {
    int64_t lo = prompts.front().n_tokens, hi = lo;
    for (const auto& p : prompts) {
        lo = std::min(lo, p.n_tokens);
        hi = std::max(hi, p.n_tokens);
    }
    fmt::print("needle in a haystack: {}\n", model_desc);
    fmt::print("prompts: {} depths x {} trials, {}-{} tokens (target {}), format {}, seed {}\n",
               o.depths.size(), o.trials, lo, hi, o.n_tokens, fmt_used.name(), o.prompt.niah.seed);
    size_t w = 7;
    for (const auto& r : results)
        w = std::max(w, r.s->label.size());
    fmt::print("{:<{}}", "setting", w);
    for (double d : o.depths)
        fmt::print(" {:>6}", percent_label(d));
    fmt::print("  {:>14}  {:>8}\n", "overall", "time");
    for (const auto& r : results) {
        fmt::print("{:<{}}", r.s->label, w);
        int64_t all = 0;
        for (size_t di = 0; di < o.depths.size(); ++di) {
            const int ok = correct_at_depth(r, di, o.depths.size(), o.trials);
            all += ok;
            fmt::print(" {:>6}", fmt::format("{}/{}", ok, o.trials));
        }
        fmt::print("  {:>14}  {:>8}\n",
                   fmt::format("{}/{} {:.1f}%", all, r.answers.size(),
                               100.0 * double(all) / double(r.answers.size())),
                   duration(r.seconds));
    }
}

// One line per prompt: where the needle went, the prompt's length, and its last words.
void print_prompts(const std::vector<analysis::niah_prompt>& prompts,
                   const std::vector<std::vector<int32_t>>& tokens, const model::tokenizer& tok) {
    fmt::print("{:>6} {:>6} {:>6} {:>8} {:>7} {:>7} {:>8}  ending\n", "trial", "depth", "actual", "number",
               "tokens", "needle", "offset");
    for (size_t i = 0; i < prompts.size(); ++i) {
        const analysis::niah_prompt& p = prompts[i];
        const std::vector<int32_t>& t = tokens[i];
        std::string end = tok.decode(std::span<const int32_t>(t).last(std::min<size_t>(t.size(), 12)));
        std::replace(end.begin(), end.end(), '\n', ' ');
        fmt::print("{:>6} {:>6} {:>6.3f} {:>8} {:>7} {:>7} {:>8}  ...{}\n", p.trial, percent_label(p.depth),
                   p.depth_actual, p.number, p.n_tokens, p.needle_token, p.haystack_offset, end);
    }
}

std::string json_of(const options& o, const std::vector<analysis::niah_prompt>& prompts,
                    const std::vector<setting_result>& results, const std::string& device,
                    const analysis::prompt_format& fmt_used) {
    std::string j = fmt::format(
        "{{\"model\": {}, \"device\": {}, \"haystack\": {}, \"n_tokens\": {}, \"trials\": {}, \"seed\": {}, "
        "\"format\": \"{}\", \"system\": {}, \"needle\": {}, \"question\": {}, \"preamble\": {}, "
        "\"answer_prefix\": {}, \"answer_tokens\": {}, \"depths\": {}",
        json_escape(o.model_path), json_escape(device), json_escape(o.haystack_path), o.n_tokens, o.trials,
        o.prompt.niah.seed, fmt_used.name(), json_escape(fmt_used.system), json_escape(o.prompt.niah.needle),
        json_escape(o.prompt.niah.question), json_escape(o.prompt.niah.preamble),
        json_escape(o.prompt.niah.answer_prefix), o.answer_tokens, json_numbers(o.depths));
    j += ", \"prompts\": [";
    for (size_t i = 0; i < prompts.size(); ++i) {
        const auto& p = prompts[i];
        j +=
            fmt::format("{}{{\"depth\": {:.4f}, \"depth_actual\": {:.4f}, \"trial\": {}, \"number\": \"{}\", "
                        "\"tokens\": {}, \"needle_token\": {}, \"haystack_offset\": {}}}",
                        i ? ", " : "", p.depth, p.depth_actual, p.trial, p.number, p.n_tokens, p.needle_token,
                        p.haystack_offset);
    }
    j += "], \"settings\": [";
    for (size_t si = 0; si < results.size(); ++si) {
        const setting_result& r = results[si];
        const model::session_options& so = r.s->options;
        const bool proxy = so.attn == model::attn_mode::proxy;
        std::vector<double> per_depth;
        int64_t all = 0;
        for (size_t di = 0; di < o.depths.size(); ++di) {
            const int ok = correct_at_depth(r, di, o.depths.size(), o.trials);
            all += ok;
            per_depth.push_back(double(ok) / double(o.trials));
        }
        j += fmt::format("{}{{\"label\": {}, \"attn\": \"{}\"", si ? ", " : "", json_escape(r.s->label),
                         proxy ? "proxy" : "dense");
        if (proxy)
            j += fmt::format(", \"proxy_min_len\": {}, {}", so.proxy_min_len, json_proxy_params(so.proxy));
        j += fmt::format(", \"proxy_nodes\": {}, \"seconds\": {:.3f}, \"correct\": {}, \"total\": {}, "
                         "\"accuracy\": {:.4f}, \"accuracy_per_depth\": {}, \"answers\": [",
                         r.proxy_nodes, r.seconds, all, r.answers.size(),
                         double(all) / double(r.answers.size()), json_numbers(per_depth));
        for (size_t i = 0; i < r.answers.size(); ++i)
            j += fmt::format("{}{{\"correct\": {}, \"text\": {}}}", i ? ", " : "", r.answers[i].correct,
                             json_escape(r.answers[i].text));
        j += "]}";
    }
    return j + "]}";
}

} // namespace

int run_niah(int argc, char** argv) {
    args a(argc, argv, niah_session_usage(usage));
    if (a.help()) return a.print_usage();
    options o;
    o.model_path = a.str("-m", "");
    o.haystack_path = a.str("-f", "");
    o.n_tokens = a.i64("-c", 4096);
    o.depths = parse_depths(a.str("--depths", "10"));
    o.trials = int(a.i64("--trials", 2));
    o.prompt = niah_flags_from(a);
    o.settings = a.str("--settings", o.settings);
    o.answer_tokens = a.i64("--answer-tokens", 16);
    o.json = a.flag("--json");
    o.out_path = a.str("--out", "");
    o.quiet = a.flag("--quiet");
    o.prompts_only = a.flag("--prompts-only");
    if (o.model_path.empty()) throw error("give a model with -m MODEL.gguf");
    if (o.haystack_path.empty()) throw error("give a haystack text with -f FILE");
    if (o.n_tokens < 16 || o.n_tokens > model::max_ctx)
        throw error(fmt::format("-c {} is outside 16..{}", o.n_tokens, model::max_ctx));
    if (o.trials < 1 || o.trials > 100000)
        throw error(fmt::format("--trials {} must be 1 to 100000", o.trials));
    if (o.answer_tokens < 1 || o.answer_tokens > 4096)
        throw error(fmt::format("--answer-tokens {} must be 1 to 4096", o.answer_tokens));
    const model::session_options base = session_options_from(a, int(o.n_tokens), false);
    const std::vector<setting> settings = parse_settings(o.settings, base);
    const backend_set be = open_backends(a);
    const bool any_proxy = std::any_of(settings.begin(), settings.end(), [](const setting& s) {
        return s.options.attn == model::attn_mode::proxy;
    });
    std::shared_ptr<plugin> proxy_plugin = any_proxy ? ensure_proxy_plugin(a, be) : nullptr;
    a.finish();

    const model::model m(o.model_path);
    const model::tokenizer& tok = m.tok();
    analysis::prompt_format pf;
    const analysis::niah_builder builder =
        make_niah_builder(m, read_text_file(o.haystack_path), o.prompt, o.n_tokens, &pf);
    if (!o.quiet)
        std::fprintf(stderr, "model: %s\ndevice: %s\nhaystack: %lld tokens\n", m.describe().c_str(),
                     be.main().description().c_str(), (long long)builder.haystack_tokens());

    // prompts: trial-major, so prompts[t * depths + d]
    std::vector<analysis::niah_prompt> prompts;
    std::vector<std::vector<int32_t>> tokens;
    progress build_progress(int64_t(o.depths.size()) * o.trials, o.quiet);
    for (int t = 0; t < o.trials; ++t)
        for (double d : o.depths) {
            prompts.push_back(builder.build(d, t));
            tokens.push_back(tok.encode(prompts.back().text, tok.add_bos(), true));
            build_progress.update(int64_t(prompts.size()), "building prompt");
        }
    build_progress.finish();
    int64_t longest = 0;
    for (const auto& t : tokens)
        longest = std::max(longest, int64_t(t.size()));
    if (o.prompts_only) {
        if (o.json || !o.out_path.empty())
            emit_json(json_of(o, prompts, {}, be.main().description(), pf), o.json, o.out_path);
        if (!o.json) print_prompts(prompts, tokens, tok);
        return 0;
    }

    std::vector<setting_result> results;
    progress prog(int64_t(settings.size() * prompts.size()), o.quiet);
    int64_t done = 0;
    for (size_t si = 0; si < settings.size(); ++si) {
        setting_result r;
        r.s = &settings[si];
        model::session_options so = settings[si].options;
        so.n_ctx = int(longest + o.answer_tokens);
        model::session s(m, be.order(), so);
        s.sched().set_abort_flag(interrupt_flag());
        for (size_t i = 0; i < prompts.size(); ++i) {
            const double t0 = prog.elapsed();
            r.answers.push_back(ask(s, tok, tokens[i], o.answer_tokens, prompts[i].number));
            r.seconds += prog.elapsed() - t0;
            prog.update(++done, fmt::format("[{}] prompt", settings[si].label));
        }
        r.proxy_nodes = s.stats().proxy_nodes;
        if (so.attn == model::attn_mode::proxy && r.proxy_nodes == 0 && !o.quiet) {
            prog.finish();
            std::fprintf(
                stderr,
                "warning: setting '%s': no prefill reached --proxy-min-len %lld keys, so it ran dense\n",
                settings[si].label.c_str(), (long long)so.proxy_min_len);
        }
        results.push_back(std::move(r));
    }
    prog.finish();

    const std::string json = o.json || !o.out_path.empty()
                                 ? json_of(o, prompts, results, be.main().description(), pf)
                                 : std::string();
    if (!o.json) print_table(o, prompts, results, m.describe(), pf);
    emit_json(json, o.json, o.out_path);
    return 0;
}

} // namespace pa::cli::eval
