// logprob.cpp - see logprob.h.
#include "logprob.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace pa::model {
namespace {

// Four floats processed together (GCC/Clang vector extensions: one SSE register, which every
// x86-64 has; NEON on ARM).
constexpr int lanes = 4;
using vf = float __attribute__((vector_size(lanes * sizeof(float))));
using vi = int32_t __attribute__((vector_size(lanes * sizeof(int32_t))));

vf splat(float v) {
    return vf{} + v;
}

// exp(x) for x <= 0: x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor polynomial to r^6
// (truncation below 1.2e-7 of the result), 2^n from the exponent bits. Below -87.3 the result
// is the smallest normal float (2^-126), which no sum here can tell from 0.
vf exp_v(vf x) {
    constexpr float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f,
                    ln2_lo = 1.42860682030941723e-6f;
    constexpr float round_magic = 12582912.0f; // 1.5 * 2^23: adding it rounds to an integer
    const vi below = x < splat(-87.3f);
    x = vf((vi(x) & ~below) | (vi(splat(-87.3f)) & below));
    const vf n = (x * log2e + round_magic) - round_magic;
    const vf r = (x - n * ln2_hi) - n * ln2_lo;
    vf p = splat(1.0f / 720);
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const vi bits = (__builtin_convertvector(n, vi) + 127) << 23;
    return p * vf(bits);
}

vf load(const float* p) {
    vf v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

float lane_sum(vf v) {
    float s = 0;
    for (int l = 0; l < lanes; ++l)
        s += v[l];
    return s;
}

// sum_v exp(logit_v - mx), in double across blocks of floats
double sum_exp(const float* x, int64_t n, float mx) {
    double total = 0;
    int64_t i = 0;
    constexpr int64_t block = 1024; // float partial sums stay exact enough over 1024 terms
    while (i + lanes <= n) {
        vf acc = {};
        const int64_t end = std::min(n, i + block);
        for (; i + lanes <= end; i += lanes)
            acc += exp_v(load(x + i) - mx);
        total += double(lane_sum(acc));
    }
    for (; i < n; ++i)
        total += std::exp(double(x[i]) - double(mx));
    return total;
}

} // namespace

void exp_nonpositive(const float* x, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + lanes <= n; i += lanes) {
        const vf e = exp_v(load(x + i));
        std::memcpy(out + i, &e, sizeof e);
    }
    for (; i < n; ++i)
        out[i] = std::exp(x[i]);
}

row_stats logit_stats(std::span<const float> logits) {
    row_stats s;
    if (logits.empty()) return s;
    const auto it = std::max_element(logits.begin(), logits.end());
    s.max = *it;
    s.argmax = int32_t(it - logits.begin());
    s.log_sum_exp = double(s.max) + std::log(sum_exp(logits.data(), int64_t(logits.size()), s.max));
    return s;
}

double token_nll(std::span<const float> logits, const row_stats& s, int32_t target) {
    return s.log_sum_exp - double(logits[size_t(target)]);
}

double token_nll(std::span<const float> logits, int32_t target) {
    return token_nll(logits, logit_stats(logits), target);
}

double kl_divergence(std::span<const float> p_logits, const row_stats& ps, std::span<const float> q_logits,
                     const row_stats& qs) {
    // sum_v p_v (lp_v - lq_v), lp_v - lq_v = (p_v' - q_v') + c with p_v' = p_logit - p_max and
    // c = (q_lse - q_max) - (p_lse - p_max); p_v = exp(p_v') / z_p.
    const int64_t n = int64_t(p_logits.size());
    const float* p = p_logits.data();
    const float* q = q_logits.data();
    const double zp = std::exp(ps.log_sum_exp - double(ps.max));
    const double c = (qs.log_sum_exp - double(qs.max)) - (ps.log_sum_exp - double(ps.max));
    double sum = 0;
    int64_t i = 0;
    constexpr int64_t block = 1024;
    while (i + lanes <= n) {
        vf acc = {};
        const int64_t end = std::min(n, i + block);
        for (; i + lanes <= end; i += lanes) {
            const vf pv = load(p + i) - ps.max;
            acc += exp_v(pv) * (pv - (load(q + i) - qs.max));
        }
        sum += double(lane_sum(acc));
    }
    for (; i < n; ++i) {
        const double pv = double(p[i]) - double(ps.max);
        sum += std::exp(pv) * (pv - (double(q[i]) - double(qs.max)));
    }
    const double kl = sum / zp + c;
    return std::max(0.0, kl);
}

void parallel_rows(int64_t n, int64_t min_rows, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    const int64_t hw = std::max<int64_t>(1, std::thread::hardware_concurrency());
    const int64_t nt = std::clamp<int64_t>(n / std::max<int64_t>(1, min_rows), 1, hw);
    if (nt == 1) {
        fn(0, n);
        return;
    }
    std::exception_ptr first_error;
    std::mutex mu;
    auto run = [&](int64_t begin, int64_t end) {
        try {
            fn(begin, end);
        } catch (...) {
            std::lock_guard lock(mu);
            if (!first_error) first_error = std::current_exception();
        }
    };
    const int64_t chunk = (n + nt - 1) / nt;
    std::vector<std::thread> threads;
    for (int64_t t = 1; t < nt; ++t) {
        const int64_t begin = t * chunk, end = std::min(n, begin + chunk);
        if (begin < end) threads.emplace_back(run, begin, end);
    }
    run(0, std::min(n, chunk));
    for (auto& th : threads)
        th.join();
    if (first_error) std::rethrow_exception(first_error);
}

} // namespace pa::model
