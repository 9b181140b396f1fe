// mask_quality.cpp - recall, density, oracle density and overlap, output error of a block mask.
#include "mask_quality.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "pa/fast_dot.h"
#include "pa/parallel.h"

namespace pa::analysis {
namespace {

struct row_scratch {
    std::vector<float> s;
    std::vector<double> row_mass, qmass;
    std::vector<char> in_kept;
    std::vector<int32_t> order;
    row_scratch(int64_t n_keys, int64_t n_kblocks)
        : s(size_t(n_keys)), row_mass(size_t(n_kblocks)), qmass(size_t(n_kblocks)),
          in_kept(size_t(n_kblocks)) {}
};

struct row_result {
    double iou = 1.0;
    int64_t oracle_count = 0, oracle_forced_count = 0;
};

// Blocks needed to reach gamma of `total` when the blocks flagged in `first` are kept before the
// rest, which follow in `order` (descending mass): the forced ones, then the order.
int64_t count_to_gamma(const std::vector<double>& mass, const std::vector<int32_t>& order, int64_t m,
                       double total, float gamma, const std::vector<char>& first) {
    double cum = 0.0;
    int64_t c = 0;
    for (int64_t n = 0; n <= m; ++n)
        if (first[size_t(n)]) {
            cum += mass[size_t(n)];
            ++c;
        }
    for (int64_t i = 0; i <= m && cum < double(gamma) * total; ++i)
        if (!first[size_t(order[size_t(i)])]) {
            cum += mass[size_t(order[size_t(i)])];
            ++c;
        }
    return c;
}

// One (head, row): dense probabilities of each query of the row, folded into block masses.
// recall[t] for each query t of the row; the row's oracle count and overlap.
PA_NO_COVERAGE PA_FAST_CLONES row_result measure_row(const attn_qkv& x, const block_mask& mask, float gamma,
                                                     int64_t h, int64_t m, double* recall, row_scratch& w) {
    const block_grid& gr = mask.grid;
    const int64_t d = x.d, B = gr.B;
    const float* K = x.k_head(h / x.gqa());
    const auto kept = mask.kept(h, m);
    std::fill(w.in_kept.begin(), w.in_kept.begin() + m + 1, 0);
    for (int32_t n : kept)
        w.in_kept[size_t(n)] = 1;
    std::fill(w.row_mass.begin(), w.row_mass.begin() + m + 1, 0.0);
    for (int64_t p = gr.row_begin(m); p < gr.row_end(m); ++p) {
        const int64_t t = p - gr.n_past;
        const float* qv = x.q_row(h, t);
        float mx = -INFINITY;
        for (int64_t j = 0; j <= p; ++j) {
            w.s[size_t(j)] = x.scale * fast_dot(qv, K + j * d, d);
            mx = std::max(mx, w.s[size_t(j)]);
        }
        double total = 0.0;
        for (int64_t n = 0; n <= m; ++n) {
            float bs = 0.0f; // <= B terms in float, blocks summed in double
            for (int64_t j = n * B; j < std::min((n + 1) * B, p + 1); ++j)
                bs += std::exp(w.s[size_t(j)] - mx);
            w.qmass[size_t(n)] = bs;
            total += bs;
        }
        double in = 0.0;
        for (int64_t n = 0; n <= m; ++n) {
            const double pm = w.qmass[size_t(n)] / total;
            w.row_mass[size_t(n)] += pm;
            if (w.in_kept[size_t(n)]) in += pm;
        }
        recall[t] = in;
    }
    // blocks by true mass (ties by lower index)
    w.order.resize(size_t(m + 1));
    std::iota(w.order.begin(), w.order.end(), 0);
    std::sort(w.order.begin(), w.order.end(), [&](int32_t a, int32_t b) {
        return w.row_mass[size_t(a)] > w.row_mass[size_t(b)] ||
               (w.row_mass[size_t(a)] == w.row_mass[size_t(b)] && a < b);
    });
    row_result r;
    const double total = std::accumulate(w.row_mass.begin(), w.row_mass.begin() + m + 1, 0.0);
    double cum = 0.0;
    r.oracle_count = m + 1;
    for (int64_t i = 0; i <= m; ++i) {
        cum += w.row_mass[size_t(w.order[size_t(i)])];
        if (cum >= double(gamma) * total) {
            r.oracle_count = i + 1;
            break;
        }
    }
    std::vector<char> forced(size_t(m + 1), 0);
    forced[0] = forced[size_t(m)] = 1;
    r.oracle_forced_count = count_to_gamma(w.row_mass, w.order, m, total, gamma, forced);
    int64_t inter = 0;
    for (size_t i = 0; i < kept.size(); ++i)
        inter += w.in_kept[size_t(w.order[i])];
    const int64_t uni = 2 * int64_t(kept.size()) - inter;
    r.iou = uni ? double(inter) / double(uni) : 1.0;
    return r;
}

double percentile(std::vector<double>& v, double q) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[size_t(std::floor(q * double(v.size() - 1)))];
}

} // namespace

double mask_density(const block_mask& mask, std::vector<double>* per_head) {
    const double causal = double(mask.grid.tri_total());
    double all = 0;
    if (per_head) per_head->assign(size_t(mask.n_heads), 0.0);
    for (int64_t h = 0; h < mask.n_heads; ++h) {
        double kept = 0;
        for (int64_t r = 0; r < mask.grid.n_rows; ++r)
            kept += mask.counts[size_t(h * mask.grid.n_rows + r)];
        if (per_head) (*per_head)[size_t(h)] = kept / causal;
        all += kept;
    }
    return all / (causal * double(mask.n_heads));
}

mask_quality measure_mask(const attn_qkv& x, const block_mask& mask, float gamma, int n_threads) {
    const block_grid& gr = mask.grid;
    mask_quality mq;
    mq.density = mask_density(mask, &mq.density_per_head);
    std::vector<double> recall(size_t(x.H * x.N), 0.0);
    std::vector<row_result> rows(size_t(x.H * gr.n_rows));
    // later rows cost more: hand them out first for a better balance
    parallel_for(x.H * gr.n_rows, 1, n_threads, [&](int64_t b, int64_t end) {
        row_scratch w(gr.n_keys, gr.n_kblocks);
        for (int64_t it = b; it < end; ++it) {
            const int64_t h = it % x.H, m = gr.n_kblocks - 1 - it / x.H;
            rows[size_t(h * gr.n_rows + (m - gr.row0))] =
                measure_row(x, mask, gamma, h, m, &recall[size_t(h * x.N)], w);
        }
    });
    double sum = 0;
    mq.recall_per_head.assign(size_t(x.H), 0.0);
    mq.recall_p5_per_head.assign(size_t(x.H), 0.0);
    mq.recall_min_per_head.assign(size_t(x.H), 0.0);
    std::array<std::vector<double>, 4> quart;
    std::vector<double> head_recall;
    for (int64_t h = 0; h < x.H; ++h) {
        double hs = 0;
        for (int64_t t = 0; t < x.N; ++t) {
            hs += recall[size_t(h * x.N + t)];
            quart[size_t(std::min<int64_t>(3, 4 * t / x.N))].push_back(recall[size_t(h * x.N + t)]);
        }
        mq.recall_per_head[size_t(h)] = hs / double(x.N);
        head_recall.assign(recall.begin() + h * x.N, recall.begin() + (h + 1) * x.N);
        mq.recall_p5_per_head[size_t(h)] = percentile(head_recall, 0.05);
        mq.recall_min_per_head[size_t(h)] = head_recall.front(); // sorted by percentile()
        sum += hs;
    }
    for (size_t i = 0; i < 4; ++i) {
        const auto& qv = quart[i];
        mq.recall_quartile_mean[i] =
            qv.empty() ? 1.0 : std::accumulate(qv.begin(), qv.end(), 0.0) / double(qv.size());
        mq.recall_quartile_p5[i] = qv.empty() ? 1.0 : percentile(quart[i], 0.05);
    }
    mq.recall_mean = sum / double(recall.size());
    mq.recall_p5 = percentile(recall, 0.05);
    mq.recall_min = recall.front(); // sorted by percentile()
    double iou = 0, oracle = 0, oracle_forced = 0;
    mq.oracle_density_per_head.assign(size_t(x.H), 0.0);
    for (size_t i = 0; i < rows.size(); ++i) {
        iou += rows[i].iou;
        oracle += double(rows[i].oracle_count);
        oracle_forced += double(rows[i].oracle_forced_count);
        mq.oracle_density_per_head[i / size_t(gr.n_rows)] +=
            double(rows[i].oracle_count) / double(gr.tri_total());
    }
    mq.oracle_iou = iou / double(rows.size());
    mq.oracle_density = oracle / (double(gr.tri_total()) * double(x.H));
    mq.oracle_forced_density = oracle_forced / (double(gr.tri_total()) * double(x.H));
    return mq;
}

output_error compare_outputs(const float* a, const float* ref, size_t n) {
    double num = 0, den = 0, mx = 0;
    for (size_t i = 0; i < n; ++i) {
        const double diff = double(a[i]) - double(ref[i]);
        num += diff * diff;
        den += double(ref[i]) * double(ref[i]);
        mx = std::max(mx, std::abs(diff));
    }
    output_error r;
    r.rel_l2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    r.max_abs = mx;
    return r;
}

} // namespace pa::analysis
