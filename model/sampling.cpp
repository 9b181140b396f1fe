// sampling.cpp - see sampling.h.
#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "pa/error.h"

namespace pa::model {

int32_t argmax(std::span<const float> logits) {
    if (logits.empty()) throw error("sample: no logits");
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

int32_t sampler::sample(std::span<const float> logits) {
    if (opt_.temp <= 0.0f) return argmax(logits);
    const size_t n = logits.size();
    std::vector<int32_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    size_t k = opt_.top_k > 0 ? std::min(n, size_t(opt_.top_k)) : n;
    auto by_logit = [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)]; };
    std::partial_sort(idx.begin(), idx.begin() + long(k), idx.end(), by_logit);
    // softmax over the k best at temperature temp
    std::vector<double> p(k);
    const double mx = logits[size_t(idx[0])];
    double sum = 0;
    for (size_t i = 0; i < k; ++i) sum += p[i] = std::exp((double(logits[size_t(idx[i])]) - mx) / opt_.temp);
    // nucleus: the smallest prefix whose mass reaches top_p
    double mass = 0;
    size_t keep = k;
    for (size_t i = 0; i < k; ++i) {
        mass += p[i] / sum;
        if (mass >= opt_.top_p) {
            keep = i + 1;
            break;
        }
    }
    std::discrete_distribution<size_t> dist(p.begin(), p.begin() + long(keep));
    return idx[dist(rng_)];
}

} // namespace pa::model
