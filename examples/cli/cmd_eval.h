// cmd_eval.h - `pa eval`: quality of proxy attention on a real model. Subcommands:
//   niah  needle-in-a-haystack retrieval, dense vs proxy settings on the same prompts (cmd_eval_niah.cpp)
//   attn  Q/K/V captured from a prefill, the proxy mask measured per layer and head (cmd_eval_attn.cpp)
// and what they share (cmd_eval.cpp): progress on stderr, JSON output, the proxy op, the prompt
// format and tokenizer of a model, the list of settings to compare.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli.h"
#include "model.h"
#include "niah.h"
#include "prompt_format.h"
#include "session.h"

namespace pa::cli::eval {

int run_niah(int argc, char** argv);
int run_attn(int argc, char** argv);

// "12.3 s", "4m05s", "1h02m"
std::string duration(double seconds);

// Progress on stderr, "<what> i/n, elapsed ..., ETA ...": one line rewritten in place on a
// terminal, a line every 10 s otherwise.
class progress {
  public:
    progress(int64_t total, bool quiet);
    void update(int64_t done, std::string_view what);
    void finish();
    double elapsed() const;

  private:
    int64_t total_;
    bool quiet_;
    std::chrono::steady_clock::time_point t0_;
    bool printed_ = false, tty_ = false;
    double last_ = -1e9;
};

// Writes json (one object) to stdout when to_stdout, and to path when not empty.
void emit_json(const std::string& json, bool to_stdout, const std::string& path);

// The proxy_sparse_attn flags of p as JSON members (no braces).
std::string json_proxy_params(const proxy_params& p);
std::string json_numbers(const std::vector<double>& v, int precision = 4);

// The proxy op comes with the plugin: load it when the backends did not (--device cpu).
std::shared_ptr<plugin> ensure_proxy_plugin(args& a, const backend_set& be);

// The needle-in-a-haystack prompt flags, shared by niah and attn (--needle-depth), so that
// both build the same prompts from the same flags.
inline constexpr const char* niah_prompt_help =
    "  --seed S           numbers and text offsets (default 1)\n"
    "  --format F         auto | chatml | plain (auto: ChatML when the model's chat template uses it)\n"
    "  --system TEXT      ChatML system message (default: the one the model's template writes)\n"
    "  --needle TEXT      the needle sentence, {} for the number (default \"The magic number is {}.\")\n"
    "  --question TEXT    (default \"What is the magic number?\")\n"
    "  --preamble TEXT    before the haystack (default none)\n"
    "  --answer-prefix T  after the prompt, the start of the answer (default \"The magic number is\";\n"
    "                     \"\" for none)\n"
    "  --digits N         digits of the number (default 7)\n";
struct niah_flags {
    analysis::niah_options niah; // n_tokens unset
    std::string format = "auto", system;
    bool has_system = false;
};
niah_flags niah_flags_from(args& a);
// The usage text of niah and attn: usage, the prompt flags, then the session options.
std::string niah_session_usage(std::string_view usage);
// The prompt builder of the flags over a text, for n_tokens prompts; *used gets the format.
analysis::niah_builder make_niah_builder(const model::model& m, std::string_view text, const niah_flags& f,
                                         int64_t n_tokens, analysis::prompt_format* used);

// --format auto|chatml|plain and --system TEXT over the model's chat template.
analysis::prompt_format prompt_format_for(const model::model& m, const std::string& choice,
                                          const std::string* system);
// The model's tokenizer for the prompt builder (special tokens matched, BOS counted apart).
analysis::text_codec codec_for(const model::tokenizer& tok);

// One configuration to evaluate: dense, or proxy attention with its parameters.
struct setting {
    std::string label;
    model::session_options options;
};

// list: ';'-separated items, each "dense", "proxy" (base as given), or comma-separated proxy
// flags without their dashes, over base: "gamma=0.99,proxy-heads=3", "no-force",
// "proxy-min-len=2048". Parsed by the same code as the command-line flags.
std::vector<setting> parse_settings(const std::string& list, const model::session_options& base);

// Comma-separated integers and ranges ("0,3,5-7") or "all", each in [0, n).
std::vector<int> parse_index_list(const std::string& list, int n, const char* what);

} // namespace pa::cli::eval
