// generate.h - the decoding loop of `pa run`: sample a token from the logits, stream its text,
// feed it back, until an end-of-generation token, a token budget, a full context, or a stop
// request (Ctrl-C).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sampling.h"
#include "session.h"

namespace pa::model {

struct generate_options {
    int64_t max_tokens = -1; // -1: until an end token or a full context
    bool ignore_eos = false; // keep going past end-of-generation tokens
    bool feed_last = false;  // also run the last token, so the cache holds every token of `text` (chat)
};

struct generate_result {
    std::vector<int32_t> tokens; // generated (an end token that stopped it is not)
    std::string text;            // their text
    int64_t fed = 0;             // of them, in the session's cache
    enum class stop { end_token, max_tokens, context_full, interrupted } why = stop::max_tokens;
    double seconds = 0;
    std::vector<double> token_seconds; // each fed token's eval (the first includes first-use kernel builds)
    double sample_seconds = 0;         // sampling and detokenizing
};

// logits: the distribution after `prev` (the last token in the session). stop: polled between
// tokens; an interrupted graph (the scheduler's abort flag) also ends it as `interrupted`.
generate_result generate(session& s, sampler& smp, std::vector<float> logits, int32_t prev,
                         const generate_options& o, const std::function<void(const std::string&)>& on_piece,
                         const std::atomic<bool>* stop = nullptr);

} // namespace pa::model
