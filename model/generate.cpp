// generate.cpp - see generate.h.
#include "generate.h"

#include <chrono>

#include "pa/error.h"

namespace pa::model {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

generate_result generate(session& s, sampler& smp, std::vector<float> logits, int32_t prev,
                         const generate_options& o, const std::function<void(const std::string&)>& on_piece,
                         const std::atomic<bool>* stop) {
    const tokenizer& tok = s.mdl().tok();
    generate_result r;
    const auto t0 = std::chrono::steady_clock::now();
    auto stopped = [&] { return stop && stop->load(); };
    while (true) {
        if (o.max_tokens >= 0 && int64_t(r.tokens.size()) >= o.max_tokens) {
            r.why = generate_result::stop::max_tokens;
            break;
        }
        if (stopped()) {
            r.why = generate_result::stop::interrupted;
            break;
        }
        const auto t_sample = std::chrono::steady_clock::now();
        const int32_t t = smp.sample(logits);
        if (tok.is_eog(t) && !o.ignore_eos) {
            r.why = generate_result::stop::end_token;
            break;
        }
        std::string piece = tok.piece(t);
        // SentencePiece's space in front of the first word after BOS is not part of the text
        if (prev == tok.bos() && tok.add_space_prefix() && !piece.empty() && piece[0] == ' ')
            piece.erase(0, 1);
        r.text += piece;
        r.tokens.push_back(t);
        r.sample_seconds += seconds_since(t_sample);
        if (on_piece) on_piece(piece);
        prev = t;
        if (s.n_past() >= s.n_ctx()) {
            r.why = generate_result::stop::context_full;
            break;
        }
        if (!o.feed_last && o.max_tokens >= 0 && int64_t(r.tokens.size()) >= o.max_tokens) {
            r.why = generate_result::stop::max_tokens; // no need to run the last token
            break;
        }
        try {
            const auto t_eval = std::chrono::steady_clock::now();
            logits = s.eval(std::span<const int32_t>(&prev, 1));
            r.token_seconds.push_back(seconds_since(t_eval));
            r.fed++;
        } catch (const error& e) {
            if (e.status() != PA_ERR_INTERRUPTED) throw;
            r.tokens.pop_back(); // not in the cache: neither in the text
            r.text.resize(r.text.size() - piece.size());
            r.why = generate_result::stop::interrupted;
            break;
        }
    }
    r.seconds = seconds_since(t0);
    return r;
}

} // namespace pa::model
