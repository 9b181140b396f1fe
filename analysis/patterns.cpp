// patterns.cpp - synthetic attention inputs (see patterns.h).
//
// Structured patterns split the head dimension into orthogonal channels so each effect has a
// known logit size (scale * q.k):
//   dims 0-1  sink:   keys 0..3 carry amplitude 4; every query asks with logit L_sink(h)
//   dims 2-3  needle: the needle span carries amplitude 4; question queries ask with L_needle(h)
//   next 2P   local:  pairs rotated by position * theta_i (theta from 0.5 down to 0.5/128), so
//                     q.k = a * sum_i cos((p_q - p_k) theta_i): peak L_local(h) at distance 0,
//                     decaying over ~100 positions, small oscillations far away
//   the rest  noise:  N(0,1) keys, queries sized for a logit std of noise(h)
// Per-head amounts vary with a golden-ratio sequence: heads agree on where, not how much.
#include "patterns.h"

#include <cmath>

#include <fmt/format.h>

#include "pa/context.h"
#include "pa/error.h"

namespace pa::analysis {
namespace {

// splitmix64 + Box-Muller: portable, deterministic normals.
struct rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (double(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
    float normal() {
        const double u1 = uniform(), u2 = uniform();
        return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    }
};

double golden(int64_t i, double offset) {
    const double x = offset + 0.6180339887498949 * double(i);
    return x - std::floor(x);
}

void fill_normal(std::vector<float>& a, uint64_t seed) {
    rng r{seed};
    for (float& x : a)
        x = r.normal();
}

constexpr float sink_amp = 4.0f, needle_amp = 4.0f;
constexpr int64_t n_sink = 4, needle_len = 16;

// Keys: dims 0 (sink, keys 0..3) and 2 (needle span) as in the other patterns, N(0,1) noise in
// dims 4..d-1. Queries before the last block: a weak sink (logit 2) and noise logits of std
// 1 to 2 (per head): diffuse. The last block: sink logit 12-15 and a needle logit 2 above it,
// little noise: focused.
void diffuse_focused(synth_qkv& s, uint64_t seed, int64_t block) {
    const int64_t nk = s.n_past + s.N, d = s.d, n_noise = d - 4;
    s.needle_len = std::min<int64_t>(needle_len, std::max<int64_t>(1, nk / 8));
    s.needle_pos = std::min<int64_t>(nk / 2, nk - s.needle_len);
    s.question_len = std::min<int64_t>(s.N, block);
    rng kr{seed * 3 + 1};
    for (int64_t hk = 0; hk < s.Hkv; ++hk)
        for (int64_t j = 0; j < nk; ++j) {
            float* k = &s.k[size_t((hk * nk + j) * d)];
            for (int64_t c = 0; c < 4; ++c)
                k[c] = 0.0f;
            if (j < n_sink) k[0] = sink_amp;
            if (j >= s.needle_pos && j < s.needle_pos + s.needle_len) k[2] = needle_amp;
            for (int64_t c = 4; c < d; ++c)
                k[c] = kr.normal();
        }
    rng qr{seed * 3 + 0};
    const double scale = s.scale;
    for (int64_t h = 0; h < s.H; ++h) {
        const double noise_early = 1.0 + golden(h, 0.3), noise_late = 0.3;
        const double l_sink = 12.0 + 3.0 * golden(h, 0.7);
        for (int64_t t = 0; t < s.N; ++t) {
            float* q = &s.q[size_t((h * s.N + t) * d)];
            const bool question = t >= s.N - s.question_len;
            for (int64_t c = 0; c < 4; ++c)
                q[c] = 0.0f;
            q[0] = float((question ? l_sink : 2.0) / (scale * sink_amp));
            if (question) q[2] = float((l_sink + 2.0) / (scale * needle_amp));
            const double a = (question ? noise_late : noise_early) / (scale * std::sqrt(double(n_noise)));
            for (int64_t c = 4; c < d; ++c)
                q[c] = float(a) * qr.normal();
        }
    }
}

} // namespace

bool pattern_from_name(std::string_view name, pattern& out) {
    if (name == "random")
        out = pattern::random;
    else if (name == "sink-local")
        out = pattern::sink_local;
    else if (name == "needle")
        out = pattern::needle;
    else if (name == "diffuse-focused")
        out = pattern::diffuse_focused;
    else
        return false;
    return true;
}

const char* pattern_name(pattern p) {
    switch (p) {
    case pattern::random:
        return "random";
    case pattern::sink_local:
        return "sink-local";
    case pattern::needle:
        return "needle";
    case pattern::diffuse_focused:
        return "diffuse-focused";
    }
    return "?";
}

synth_qkv synthesize(pattern p, int64_t N, int64_t n_past, int64_t H, int64_t Hkv, int64_t d, uint64_t seed,
                     float scale, int64_t block) {
    if (N <= 0 || n_past < 0 || H <= 0 || Hkv <= 0 || d <= 0 || H % Hkv != 0)
        throw error(
            fmt::format("synthesize: bad sizes N={} n_past={} H={} Hkv={} d={}", N, n_past, H, Hkv, d));
    if (p != pattern::random && d < 8)
        throw error(fmt::format("synthesize: pattern {} needs d >= 8", pattern_name(p)));
    // limits before any allocation: the op's 2^31 keys, and each array within the per-tensor
    // element limit (the products below cannot overflow once these hold)
    constexpr int64_t max_keys = int64_t(1) << 31;
    if (N >= max_keys || n_past >= max_keys - N)
        throw error(
            fmt::format("synthesize: N + n_past = {} + {} keys exceeds the limit of 2^31 keys", N, n_past));
    if (d > max_tensor_elements / (n_past + N) || std::max(H, Hkv) > max_tensor_elements / ((n_past + N) * d))
        throw error(
            fmt::format("synthesize: q/k/v of {} heads x {} keys x {} dims exceed the per-tensor limit of "
                        "2^40 elements",
                        std::max(H, Hkv), n_past + N, d));
    synth_qkv s;
    s.d = d;
    s.N = N;
    s.n_past = n_past;
    s.H = H;
    s.Hkv = Hkv;
    s.scale = scale == 0.0f ? 1.0f / std::sqrt(float(d)) : scale;
    const int64_t nk = n_past + N;
    s.q.resize(size_t(H * N * d));
    s.k.resize(size_t(Hkv * nk * d));
    s.v.resize(size_t(Hkv * nk * d));
    fill_normal(s.v, seed * 3 + 2);
    if (p == pattern::random) {
        fill_normal(s.q, seed * 3 + 0);
        fill_normal(s.k, seed * 3 + 1);
        return s;
    }
    scale = s.scale;
    if (p == pattern::diffuse_focused) {
        diffuse_focused(s, seed, block);
        return s;
    }

    // channels
    const int64_t rest = d - 4;
    const int64_t pairs = std::max<int64_t>(1, rest / 4); // half of the rest rotates, half is noise
    const int64_t noise0 = 4 + 2 * pairs, n_noise = d - noise0;
    std::vector<double> theta(static_cast<size_t>(pairs));
    for (int64_t i = 0; i < pairs; ++i)
        theta[size_t(i)] = 0.5 * std::pow(1.0 / 128.0, pairs > 1 ? double(i) / double(pairs - 1) : 0.0);

    if (p == pattern::needle) {
        s.needle_len = std::min<int64_t>(needle_len, std::max<int64_t>(1, nk / 8));
        s.needle_pos = std::min<int64_t>(nk * 3 / 10, nk - s.needle_len);
        s.question_len = std::min<int64_t>(N, std::max<int64_t>(2 * block, N / 16));
    }

    // keys: the same structure for every kv head, independent noise
    rng kr{seed * 3 + 1};
    for (int64_t hk = 0; hk < Hkv; ++hk)
        for (int64_t j = 0; j < nk; ++j) {
            float* k = &s.k[size_t((hk * nk + j) * d)];
            for (int64_t c = 0; c < d; ++c)
                k[c] = 0.0f;
            if (j < n_sink) k[0] = sink_amp;
            if (s.needle_pos >= 0 && j >= s.needle_pos && j < s.needle_pos + s.needle_len) k[2] = needle_amp;
            for (int64_t i = 0; i < pairs; ++i) {
                k[4 + 2 * i] = float(std::cos(double(j) * theta[size_t(i)]));
                k[5 + 2 * i] = float(std::sin(double(j) * theta[size_t(i)]));
            }
            for (int64_t c = noise0; c < d; ++c)
                k[c] = kr.normal();
        }

    // queries: per-head amounts
    rng qr{seed * 3 + 0};
    for (int64_t h = 0; h < H; ++h) {
        const double l_sink = 10.0 + 5.0 * golden(h, 0.35);
        const double l_local = 3.0 + 3.0 * golden(h, 0.8);
        const double l_needle = l_sink + 1.0 + 2.0 * golden(h, 0.1);
        const double noise = 0.3 + 0.5 * golden(h, 0.55);
        const double a_local = l_local / (double(scale) * double(pairs));
        const double a_noise = n_noise > 0 ? noise / (double(scale) * std::sqrt(double(n_noise))) : 0.0;
        for (int64_t t = 0; t < N; ++t) {
            const int64_t pos = n_past + t;
            float* q = &s.q[size_t((h * N + t) * d)];
            for (int64_t c = 0; c < d; ++c)
                q[c] = 0.0f;
            q[0] = float(l_sink / (double(scale) * sink_amp));
            if (s.needle_pos >= 0 && t >= N - s.question_len)
                q[2] = float(l_needle / (double(scale) * needle_amp));
            for (int64_t i = 0; i < pairs; ++i) {
                q[4 + 2 * i] = float(a_local * std::cos(double(pos) * theta[size_t(i)]));
                q[5 + 2 * i] = float(a_local * std::sin(double(pos) * theta[size_t(i)]));
            }
            for (int64_t c = noise0; c < d; ++c)
                q[c] = float(a_noise) * qr.normal();
        }
    }
    return s;
}

} // namespace pa::analysis
