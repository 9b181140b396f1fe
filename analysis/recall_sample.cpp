// recall_sample.cpp - see recall_sample.h.
#include "recall_sample.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "pa/fast_dot.h"
#include "pa/parallel.h"

namespace pa::analysis {

recall_stats sampled_recall(const attn_qkv& x, const block_mask& mask, int64_t rows_per_head, int n_threads,
                            float gamma) {
    recall_stats r;
    if (rows_per_head <= 0) return r;
    const block_grid& gr = mask.grid;
    const int64_t R = std::min(rows_per_head, x.N), d = x.d;
    std::vector<double> rec(size_t(x.H * R));
    std::vector<int64_t> causal(rec.size()), kept_blocks(rec.size()), oracle(rec.size());
    parallel_for(x.H * R, 1, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> s;
        std::vector<char> keep;
        std::vector<double> mass;
        for (int64_t i = b; i < end; ++i) {
            const int64_t h = i / R, j = i % R;
            const int64_t t = R == 1 ? x.N - 1 : j * (x.N - 1) / (R - 1);
            const int64_t pos = x.n_past + t, m = pos / gr.B;
            keep.assign(size_t(m + 1), 0);
            for (int32_t blk : mask.kept(h, m))
                keep[size_t(blk)] = 1;
            const float* q = x.q_row(h, t);
            const float* k = x.k_head(h / x.gqa());
            s.resize(size_t(pos + 1));
            float mx = -INFINITY;
            for (int64_t key = 0; key <= pos; ++key) {
                s[size_t(key)] = x.scale * fast_dot(q, k + key * d, d);
                mx = std::max(mx, s[size_t(key)]);
            }
            double all = 0, kept = 0;
            mass.assign(size_t(m + 1), 0.0);
            for (int64_t key = 0; key <= pos; ++key) {
                const double w = std::exp(double(s[size_t(key)] - mx));
                all += w;
                mass[size_t(key / gr.B)] += w;
                if (keep[size_t(key / gr.B)]) kept += w;
            }
            rec[size_t(i)] = kept / all;
            causal[size_t(i)] = m + 1;
            kept_blocks[size_t(i)] = int64_t(mask.kept(h, m).size());
            if (gamma > 0.0f) { // fewest blocks reaching gamma: the largest first
                std::sort(mass.begin(), mass.end(), std::greater<>());
                double cum = 0;
                oracle[size_t(i)] = m + 1;
                for (int64_t n = 0; n <= m; ++n)
                    if ((cum += mass[size_t(n)]) >= double(gamma) * all) {
                        oracle[size_t(i)] = n + 1;
                        break;
                    }
            }
        }
    });
    double n_causal = 0, n_kept = 0, n_oracle = 0;
    for (size_t i = 0; i < rec.size(); ++i) {
        n_causal += double(causal[i]);
        n_kept += double(kept_blocks[i]);
        n_oracle += double(oracle[i]);
    }
    r.density = n_kept / n_causal;
    r.oracle_density = gamma > 0.0f ? n_oracle / n_causal : 0.0;
    double sum = 0;
    for (double v : rec)
        sum += v;
    std::sort(rec.begin(), rec.end());
    r.rows = int64_t(rec.size());
    r.mean = sum / double(rec.size());
    r.p5 = rec[size_t(double(rec.size() - 1) * 0.05)];
    r.min = rec.front();
    return r;
}

} // namespace pa::analysis
