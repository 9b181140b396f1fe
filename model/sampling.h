// sampling.h - next-token choice from logits: greedy at temperature 0, else temperature,
// top-k and top-p (nucleus) filtering and a draw from a seeded generator.
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace pa::model {

struct sampler_options {
    float temp = 0.8f;  // 0 = greedy (argmax)
    int top_k = 40;     // 0 = all tokens
    float top_p = 0.95f; // 1 = no nucleus cut
    uint64_t seed = 0;
};

class sampler {
public:
    explicit sampler(const sampler_options& o) : opt_(o), rng_(o.seed) {}
    int32_t sample(std::span<const float> logits);

private:
    sampler_options opt_;
    std::mt19937_64 rng_;
};

int32_t argmax(std::span<const float> logits); // first index of the largest value

} // namespace pa::model
