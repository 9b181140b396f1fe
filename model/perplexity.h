// perplexity.h - perplexity over chunks of a token stream, by one of two definitions, and the
// KL divergence between two attention modes (or against a saved base run).
//
// llama_cpp (the default of `pa perplexity`): llama.cpp's perplexity tool. The text is
//   tokenized with BOS in front when the model adds one; the stream is cut into chunks of n_ctx
//   tokens (at least two chunks, the rest of the text is dropped), the first token of each chunk
//   is replaced by BOS (when the model adds one), and only the second half of each chunk is
//   scored: the predictions at positions n_ctx/2 .. n_ctx-2, n_ctx - 1 - n_ctx/2 tokens a chunk.
// all: each chunk is BOS + n_ctx - 1 text tokens (or n_ctx text tokens without BOS) and every
//   token after the chunk's first is scored; a text shorter than one chunk gives one shorter
//   chunk.
// Perplexity = exp(mean negative log-likelihood of the scored tokens).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "logits_file.h"
#include "logprob.h"
#include "session.h"

namespace pa::model {

enum class ppl_scoring { llama_cpp, all };
const char* scoring_name(ppl_scoring s);         // "llama.cpp" | "all"
ppl_scoring parse_scoring(const std::string& s); // llama.cpp (or llama) | all

// Which tokens each chunk evaluates and which predictions count.
struct ppl_plan {
    ppl_scoring scoring = ppl_scoring::llama_cpp;
    int n_ctx = 0; // tokens a chunk holds
    int n_chunks = 0;
    int first = 0;               // first scored position: logits at position p predict chunk token p + 1
    int32_t bos = -1;            // replaces / precedes a chunk's first token; -1 when the model adds none
    std::vector<int32_t> stream; // llama_cpp: BOS (if any) + text; all: the text
    int64_t text_tokens = 0;

    std::vector<int32_t> chunk(int c) const; // the tokens chunk c evaluates
    int scored(int c) const;                 // predictions scored in chunk c
    int64_t scored_total() const;
};

// max_chunks 0 = all chunks. Throws pa::error when the text is too short for the definition.
ppl_plan plan_perplexity(const tokenizer& tok, std::span<const int32_t> text, int n_ctx, int max_chunks,
                         ppl_scoring scoring);
// The plan of a llama.cpp logits file: its token stream, n_ctx and chunks (llama_cpp scoring).
ppl_plan plan_from_logits_file(const tokenizer& tok, const logits_reader& base, int max_chunks);

struct ppl_result {
    double ppl = 0, nll = 0; // exp(mean NLL), mean NLL
    double ppl_err = 0;      // standard error of ppl (from the NLL variance, as llama.cpp prints it)
    int64_t scored = 0;      // predicted tokens
    int chunks = 0;
    int n_ctx = 0;
    double seconds = 0;        // this mode: eval + logits + score
    double eval_seconds = 0;   // forward graphs: the prefill of every chunk
    double logits_seconds = 0; // classifier over the scored positions
    double score_seconds = 0;  // host: log-softmax and NLL of the scored positions
    std::vector<double> chunk_ppl;
};

// KL divergence of a run Q against a base P, over scored tokens.
struct kl_summary {
    int64_t count = 0;
    double mean = 0, median = 0, p99 = 0, max = 0; // KL(P || Q) per token, nats
    double top1 = 0;                               // share of tokens whose most likely token agrees
    double ppl_ratio = 0;                          // ppl(Q) / ppl(P) over the same tokens
};
kl_summary summarize_kl(std::vector<float> kl_values, int64_t same_top, double nll_q_sum, double nll_p_sum);

struct ppl_report {
    std::vector<ppl_result> modes; // one per session
    bool has_kl = false;
    kl_summary kl; // over all chunks
    std::vector<kl_summary> chunk_kl;
    double base_ppl = 0;   // with a base file: the base's perplexity over the same tokens
    double kl_seconds = 0; // host: KL, base rows, saved rows
    double seconds = 0;    // wall time of the whole evaluation
};

struct ppl_job {
    std::vector<session*> sessions; // one or two; with two, KL(sessions[0] || sessions[1])
    logits_reader* base = nullptr;  // KL(base || sessions[0]); the plan must come from it
    logits_writer* save = nullptr;  // sessions[0]'s log-probabilities (llama_cpp scoring)
    std::function<void(int chunk, int n_chunks, const ppl_report& so_far)> on_chunk;
};

ppl_report evaluate_perplexity(const ppl_plan& plan, const ppl_job& job);

// One session, no KL: the plan of (text, n_ctx, max_chunks, scoring), evaluated.
ppl_result perplexity(session& s, std::span<const int32_t> text, int n_ctx, int max_chunks,
                      ppl_scoring scoring);

} // namespace pa::model
