// perplexity.h - perplexity over chunks of a token stream, like llama.cpp's perplexity tool:
// the text is cut into chunks; when the tokenizer adds BOS, each chunk is BOS followed by
// n_ctx - 1 text tokens, else n_ctx text tokens. Every token after the chunk's first is
// predicted from the ones before it; perplexity = exp(mean negative log-likelihood).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "session.h"

namespace pa::model {

struct ppl_result {
    double ppl = 0, nll = 0; // exp(mean NLL), mean NLL
    int64_t scored = 0;      // predicted tokens
    int chunks = 0;
    int n_ctx = 0;
    double seconds = 0;      // wall time of all chunks
    double eval_seconds = 0;   // forward graphs: the prefill of every chunk
    double logits_seconds = 0; // classifier over every position
    std::vector<double> chunk_ppl;
};

// At most max_chunks chunks (0 = all). The session's context must hold n_ctx tokens. A text
// shorter than one chunk gives one shorter chunk.
ppl_result perplexity(session& s, std::span<const int32_t> text_tokens, int n_ctx, int max_chunks,
                      const std::function<void(int chunk, int n_chunks, double ppl_so_far)>& on_chunk = {});

// NLL of target under softmax(logits), in double.
double token_nll(std::span<const float> logits, int32_t target);

} // namespace pa::model
