// perplexity.cpp - see perplexity.h.
#include "perplexity.h"

#include <chrono>
#include <cmath>
#include <fmt/format.h>

#include "pa/error.h"

namespace pa::model {

double token_nll(std::span<const float> logits, int32_t target) {
    double mx = -INFINITY;
    for (float v : logits) mx = std::max(mx, double(v));
    double sum = 0;
    for (float v : logits) sum += std::exp(double(v) - mx);
    return std::log(sum) + mx - double(logits[size_t(target)]);
}

ppl_result perplexity(session& s, std::span<const int32_t> text, int n_ctx, int max_chunks,
                      const std::function<void(int, int, double)>& on_chunk) {
    const tokenizer& tok = s.mdl().tok();
    const bool bos = tok.add_bos() && tok.bos() >= 0;
    if (n_ctx < 2) throw error(fmt::format("perplexity: context {} must be >= 2", n_ctx));
    if (n_ctx > s.n_ctx()) throw error(fmt::format("perplexity: context {} exceeds the session's {}", n_ctx, s.n_ctx()));
    const int64_t per_chunk = bos ? n_ctx - 1 : n_ctx; // text tokens a chunk holds
    int64_t n_chunks = int64_t(text.size()) / per_chunk;
    int64_t chunk_len = per_chunk;
    if (n_chunks == 0) { // short text: one shorter chunk
        n_chunks = 1;
        chunk_len = int64_t(text.size());
    }
    if (max_chunks > 0) n_chunks = std::min<int64_t>(n_chunks, max_chunks);
    if (chunk_len + (bos ? 1 : 0) < 2) throw error("perplexity: the text has too few tokens");

    ppl_result r;
    r.n_ctx = n_ctx;
    const int32_t V = s.mdl().hp().n_vocab;
    const auto t0 = std::chrono::steady_clock::now();
    const double eval0 = s.stats().seconds, logits0 = s.stats().logits_seconds;
    double total = 0;
    for (int64_t c = 0; c < n_chunks; ++c) {
        std::vector<int32_t> chunk;
        if (bos) chunk.push_back(tok.bos());
        chunk.insert(chunk.end(), text.begin() + c * per_chunk, text.begin() + c * per_chunk + chunk_len);
        double nll = 0;
        int64_t scored = 0;
        s.reset();
        s.eval_all(chunk, [&](int64_t first, const float* logits, int64_t n) {
            for (int64_t i = 0; i < n; ++i) {
                const int64_t pos = first + i; // logits at pos predict chunk[pos + 1]
                if (pos + 1 >= int64_t(chunk.size())) continue;
                nll += token_nll(std::span<const float>(logits + i * V, size_t(V)), chunk[size_t(pos + 1)]);
                ++scored;
            }
        });
        total += nll;
        r.scored += scored;
        r.chunk_ppl.push_back(std::exp(nll / double(scored)));
        r.chunks++;
        if (on_chunk) on_chunk(int(c), int(n_chunks), std::exp(total / double(r.scored)));
    }
    r.nll = total / double(r.scored);
    r.ppl = std::exp(r.nll);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.eval_seconds = s.stats().seconds - eval0;
    r.logits_seconds = s.stats().logits_seconds - logits0;
    return r;
}

} // namespace pa::model
