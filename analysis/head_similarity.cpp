// head_similarity.cpp - see head_similarity.h.
#include "head_similarity.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "pa/error.h"
#include "pa/fast_dot.h"
#include "pa/parallel.h"

namespace pa::analysis {
namespace {

// Exact softmax of head h for query t over keys 0..pos, into p.
PA_FAST_CLONES void head_probs(const attn_qkv& x, int64_t h, int64_t t, std::vector<double>& p) {
    const int64_t pos = x.n_past + t, d = x.d;
    const float* q = x.q_row(h, t);
    const float* k = x.k_head(h / x.gqa());
    p.resize(size_t(pos + 1));
    double mx = -INFINITY;
    for (int64_t key = 0; key <= pos; ++key) {
        p[size_t(key)] = double(x.scale * fast_dot(q, k + key * d, d));
        mx = std::max(mx, p[size_t(key)]);
    }
    double sum = 0;
    for (double& v : p)
        sum += v = std::exp(v - mx);
    for (double& v : p)
        v /= sum;
}

// Head i's top keys for one query: the first k entries of order (by mass, ties to the lower key).
int64_t top_keys(const std::vector<double>& p, const head_similarity_options& o,
                 std::vector<int32_t>& order) {
    const int64_t n = int64_t(p.size());
    order.resize(size_t(n));
    std::iota(order.begin(), order.end(), 0);
    const auto by_mass = [&](int32_t a, int32_t b) {
        return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b);
    };
    if (o.top_k > 0) {
        const int64_t k = std::min(o.top_k, n);
        std::nth_element(order.begin(), order.begin() + (k - 1), order.end(), by_mass);
        return k;
    }
    std::sort(order.begin(), order.end(), by_mass);
    double cum = 0;
    for (int64_t i = 0; i < n; ++i) {
        cum += p[size_t(order[size_t(i)])];
        if (cum >= double(o.gamma)) return i + 1;
    }
    return n;
}

} // namespace

head_similarity measure_head_similarity(const attn_qkv& x, const head_similarity_options& o) {
    if (x.N <= 0 || x.H <= 0 || x.Hkv <= 0 || x.H % x.Hkv != 0)
        throw error(fmt::format("head similarity: {} queries, {} heads, {} kv heads", x.N, x.H, x.Hkv));
    if (o.top_k == 0 && !(o.gamma > 0.0f && o.gamma <= 1.0f))
        throw error(fmt::format("head similarity: gamma {} must be in (0, 1]", o.gamma));
    const int64_t H = x.H, R = o.rows > 0 ? std::min(o.rows, x.N) : x.N;
    // per sampled query: share [H][H] and k [H]
    std::vector<double> share(size_t(R * H * H)), ks(size_t(R * H));
    parallel_for(R, 1, o.n_threads, [&](int64_t b, int64_t end) {
        auto p = std::vector<std::vector<double>>(size_t(H));
        std::vector<int32_t> order;
        for (int64_t r = b; r < end; ++r) {
            const int64_t t = R == x.N ? r : (R == 1 ? x.N - 1 : r * (x.N - 1) / (R - 1));
            for (int64_t h = 0; h < H; ++h)
                head_probs(x, h, t, p[size_t(h)]);
            for (int64_t i = 0; i < H; ++i) {
                const int64_t k = top_keys(p[size_t(i)], o, order);
                ks[size_t(r * H + i)] = double(k);
                for (int64_t j = 0; j < H; ++j) {
                    double s = 0;
                    for (int64_t a = 0; a < k; ++a)
                        s += p[size_t(j)][size_t(order[size_t(a)])];
                    share[size_t((r * H + i) * H + j)] = s;
                }
            }
        }
    });
    head_similarity hs;
    hs.H = H;
    hs.rows = R;
    hs.share.assign(size_t(H * H), 0.0);
    hs.top_k_mean.assign(size_t(H), 0.0);
    for (int64_t r = 0; r < R; ++r) {
        for (int64_t ij = 0; ij < H * H; ++ij)
            hs.share[size_t(ij)] += share[size_t(r * H * H + ij)] / double(R);
        for (int64_t i = 0; i < H; ++i)
            hs.top_k_mean[size_t(i)] += ks[size_t(r * H + i)] / double(R);
    }
    return hs;
}

namespace {

// Count, mean and minimum of the similarities added.
class similarity_tally {
  public:
    void add(double v) {
        sum_ += v;
        g_.min = g_.pairs == 0 ? v : std::min(g_.min, v);
        g_.pairs++;
    }
    group_similarity result() const {
        group_similarity g = g_;
        if (g.pairs > 0) g.mean = sum_ / double(g.pairs);
        return g;
    }

  private:
    group_similarity g_;
    double sum_ = 0;
};

} // namespace

group_similarity group_stats(const head_similarity& s, int64_t group_size) {
    if (group_size <= 0 || s.H % group_size != 0)
        throw error(fmt::format("head similarity: groups of {} do not divide {} heads", group_size, s.H));
    similarity_tally t;
    for (int64_t i = 0; i < s.H; ++i)
        for (int64_t j = 0; j < s.H; ++j)
            if (i != j && i / group_size == j / group_size) t.add(s.at(i, j));
    return t.result();
}

group_similarity head_received(const head_similarity& s, int64_t group_size, int64_t j) {
    if (group_size <= 0 || s.H % group_size != 0 || j < 0 || j >= s.H)
        throw error(fmt::format("head similarity: head {} in groups of {} of {} heads", j, group_size, s.H));
    similarity_tally t;
    for (int64_t i = j / group_size * group_size; i < (j / group_size + 1) * group_size; ++i)
        if (i != j) t.add(s.at(i, j));
    return t.result();
}

} // namespace pa::analysis
