// logprob.h - host-side work on rows of logits (one row = n_vocab floats): log-softmax
// statistics with a vectorised exp, the negative log-likelihood of a target, the KL divergence
// between two rows, and a parallel loop over rows. Scoring a long perplexity run touches every
// logit once or twice, so this is written to keep up with a GPU's classifier.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

namespace pa::model {

struct row_stats {
    float max = 0;          // largest logit
    int32_t argmax = 0;     // its first index
    double log_sum_exp = 0; // log sum_v exp(logit_v): log p_v = logit_v - log_sum_exp
};

row_stats logit_stats(std::span<const float> logits);

// -log p(target) under softmax(logits), in double.
double token_nll(std::span<const float> logits, int32_t target);
double token_nll(std::span<const float> logits, const row_stats& s, int32_t target);

// KL(P || Q) = sum_v p_v (log p_v - log q_v) for P = softmax(p_logits), Q = softmax(q_logits),
// summed over the whole vocabulary. Never negative beyond rounding (clamped at 0).
double kl_divergence(std::span<const float> p_logits, const row_stats& ps, std::span<const float> q_logits,
                     const row_stats& qs);

// exp(x) for x <= 0 (a row of logits minus its maximum), relative error below 2e-7; used by
// the functions above, exposed for tests.
void exp_nonpositive(const float* x, float* out, int64_t n);

// fn(begin, end) over [0, n) on up to the machine's hardware threads (work of ~min_rows rows a
// thread at least). Exceptions from fn are rethrown after all threads joined.
void parallel_rows(int64_t n, int64_t min_rows, const std::function<void(int64_t, int64_t)>& fn);

} // namespace pa::model
