// patterns.h - synthetic Q/K/V with known attention structure, for `pa attn`, benchmarks and tests.
//
//   random      Q, K, V i.i.d. N(0, 1): attention close to uniform (the hard, honest case:
//               no sparsity to find, budgets near gamma * blocks).
//   sink-local  every head puts most mass on a sink (first 4 keys) and a local window that
//               decays with distance (RoPE-like rotation of shared directions), plus noise
//               logits; heads differ in sink strength, locality and noise (so budgets differ).
//   needle      sink-local plus a planted "needle": a span of 16 keys around 30% of the
//               context carries a direction that the last queries (the "question", at least the
//               last two blocks) ask for, strongly.
//   diffuse-focused  early queries spread their mass over the whole context (noise logits of
//               std 1-2, a weak sink); the last block (the "question") is focused: a strong
//               sink and a needle. A budget taken from the last block alone is far too small
//               for the early rows.
// Structure is shared across heads (the ProxyAttn premise); amounts differ per head.
// Layout: q [H][N][d], k and v [Hkv][n_past + N][d] (= contiguous ggml [d, n, heads]).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pa/block_sparse.h"

namespace pa::analysis {

enum class pattern { random, sink_local, needle, diffuse_focused };
// "random", "sink-local", "needle", "diffuse-focused"
bool pattern_from_name(std::string_view name, pattern& out);
const char* pattern_name(pattern p);
inline constexpr const char* pattern_names = "random, sink-local, needle or diffuse-focused";

struct synth_qkv : attn_qkv {
    int64_t needle_pos = -1, needle_len = 0; // absolute key positions of the needle span
    int64_t question_len = 0;                // last queries that look for the needle
};

// Deterministic for a given seed. scale is the attention's logit scale (0 = 1/sqrt(d)); the
// planted logit sizes are set in units of it. block sizes the question span (>= 2 blocks).
synth_qkv synthesize(pattern p, int64_t N, int64_t n_past, int64_t H, int64_t Hkv, int64_t d, uint64_t seed,
                     float scale = 0.0f, int64_t block = 128);

} // namespace pa::analysis
