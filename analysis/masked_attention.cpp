// masked_attention.cpp - see masked_attention.h.
#include "masked_attention.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "pa/error.h"
#include "pa/fast_dot.h"
#include "pa/parallel.h"

namespace pa::analysis {
namespace {

// Attention of (h, t) over keys [begin, end) of each listed span; s and acc are scratch.
PA_FAST_CLONES void attend_one(const attn_qkv& x, int64_t h, int64_t t, const block_mask* mask, float* out,
                               std::vector<float>& s, std::vector<double>& acc) {
    const int64_t d = x.d, pos = x.n_past + t;
    const float* q = x.q_row(h, t);
    const float* K = x.k_head(h / x.gqa());
    const float* V = x.v_head(h / x.gqa());
    std::vector<std::pair<int64_t, int64_t>> spans;
    if (mask) {
        const int64_t B = mask->grid.B;
        for (int32_t n : mask->kept(h, pos / B))
            spans.emplace_back(n * B, std::min<int64_t>((n + 1) * B, pos + 1));
    } else {
        spans.emplace_back(0, pos + 1);
    }
    float mx = -INFINITY;
    size_t c = 0;
    for (auto [b, e] : spans)
        for (int64_t j = b; j < e; ++j) {
            s[c] = x.scale * fast_dot(q, K + j * d, d);
            mx = std::max(mx, s[c++]);
        }
    std::fill(acc.begin(), acc.end(), 0.0);
    double sum = 0;
    c = 0;
    for (auto [b, e] : spans)
        for (int64_t j = b; j < e; ++j) {
            const double w = std::exp(double(s[c++] - mx));
            sum += w;
            for (int64_t i = 0; i < d; ++i)
                acc[size_t(i)] += w * double(V[j * d + i]);
        }
    for (int64_t i = 0; i < d; ++i)
        out[i] = sum > 0 ? float(acc[size_t(i)] / sum) : 0.0f;
}

} // namespace

std::vector<float> masked_attention(const attn_qkv& x, const block_mask* mask, int n_threads) {
    if (mask && (mask->n_heads != x.H || mask->grid.n_keys != x.n_keys() || mask->grid.n_past != x.n_past))
        throw error(
            fmt::format("masked attention: the mask ({} heads, {} keys) does not fit the problem ({} heads, "
                        "{} keys)",
                        mask->n_heads, mask->grid.n_keys, x.H, x.n_keys()));
    std::vector<float> out(size_t(x.N * x.H * x.d));
    parallel_for(x.N * x.H, 16, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> s(size_t(x.n_keys()));
        std::vector<double> acc(size_t(x.d));
        for (int64_t it = b; it < end; ++it) {
            const int64_t t = it / x.H, h = it % x.H;
            attend_one(x, h, t, mask, &out[size_t(it * x.d)], s, acc);
        }
    });
    return out;
}

} // namespace pa::analysis
