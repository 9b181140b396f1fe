// proxy_analysis.cpp - recall, density, oracle overlap and output error of a sparse mask.
#include "proxy_analysis.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "fast_dot.h"
#include "parallel.h"

namespace pa::proxy {
namespace {

// One (head, row): dense probabilities of each query of the row, folded into block masses.
// recall[q] for each query of the row; returns the row's oracle IoU.
PA_FAST_CLONES double measure_row(const geometry& geo, const host_qkv& x, const estimate& e, int64_t h, int64_t m,
                                  double* recall, std::vector<float>& s, std::vector<double>& row_mass,
                                  std::vector<double>& qmass, std::vector<char>& in_kept) {
    const int64_t d = geo.d, B = geo.B, hk = h / geo.gqa;
    const float* K = &x.k[size_t(hk * geo.n_keys * d)];
    const auto kept = e.kept(geo, h, m);
    std::fill(in_kept.begin(), in_kept.begin() + m + 1, 0);
    for (int32_t n : kept) in_kept[size_t(n)] = 1;
    std::fill(row_mass.begin(), row_mass.begin() + m + 1, 0.0);
    for (int64_t p = geo.row_begin(m); p < geo.row_end(m); ++p) {
        const int64_t t = p - geo.n_past;
        const float* qv = &x.q[size_t((h * geo.N + t) * d)];
        float mx = -INFINITY;
        for (int64_t j = 0; j <= p; ++j) {
            s[size_t(j)] = geo.scale * fast_dot(qv, K + j * d, d);
            mx = std::max(mx, s[size_t(j)]);
        }
        double total = 0.0;
        for (int64_t n = 0; n <= m; ++n) {
            float bs = 0.0f; // <= B terms in float, blocks summed in double
            for (int64_t j = n * B; j < std::min((n + 1) * B, p + 1); ++j) bs += std::exp(s[size_t(j)] - mx);
            qmass[size_t(n)] = bs;
            total += bs;
        }
        double in = 0.0;
        for (int64_t n = 0; n <= m; ++n) {
            const double pm = qmass[size_t(n)] / total;
            row_mass[size_t(n)] += pm;
            if (in_kept[size_t(n)]) in += pm;
        }
        recall[t] = in;
    }
    // oracle: the kept count's highest-mass blocks (ties by lower index)
    std::vector<int32_t> order(static_cast<size_t>(m + 1));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return row_mass[size_t(a)] > row_mass[size_t(b)] || (row_mass[size_t(a)] == row_mass[size_t(b)] && a < b);
    });
    int64_t inter = 0;
    for (size_t r = 0; r < kept.size(); ++r) inter += in_kept[size_t(order[r])];
    const int64_t uni = 2 * int64_t(kept.size()) - inter;
    return uni ? double(inter) / double(uni) : 1.0;
}

} // namespace

double mask_density(const geometry& geo, const estimate& e, std::vector<double>* per_head) {
    const double causal = double(geo.tri_total());
    double all = 0;
    if (per_head) per_head->assign(size_t(geo.H), 0.0);
    for (int64_t h = 0; h < geo.H; ++h) {
        double kept = 0;
        for (int64_t r = 0; r < geo.n_rows; ++r) kept += e.counts[size_t(h * geo.n_rows + r)];
        if (per_head) (*per_head)[size_t(h)] = kept / causal;
        all += kept;
    }
    return all / (causal * double(geo.H));
}

mask_quality measure_mask(const geometry& geo, const host_qkv& x, const estimate& e, int n_threads) {
    mask_quality mq;
    mq.density = mask_density(geo, e, &mq.density_per_head);
    std::vector<double> recall(size_t(geo.H * geo.N), 0.0);
    std::vector<double> iou(size_t(geo.H * geo.n_rows), 0.0);
    // later rows cost more: hand them out first for a better balance
    parallel_for(geo.H * geo.n_rows, 1, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> s(static_cast<size_t>(geo.n_keys));
        std::vector<double> row_mass(static_cast<size_t>(geo.n_kblocks)), qmass(size_t(geo.n_kblocks));
        std::vector<char> in_kept(static_cast<size_t>(geo.n_kblocks));
        for (int64_t it = b; it < end; ++it) {
            const int64_t h = it % geo.H, m = geo.n_kblocks - 1 - it / geo.H;
            iou[size_t(h * geo.n_rows + (m - geo.row0))] =
                measure_row(geo, x, e, h, m, &recall[size_t(h * geo.N)], s, row_mass, qmass, in_kept);
        }
    });
    double sum = 0;
    mq.recall_per_head.assign(size_t(geo.H), 0.0);
    for (int64_t h = 0; h < geo.H; ++h) {
        double hs = 0;
        for (int64_t t = 0; t < geo.N; ++t) hs += recall[size_t(h * geo.N + t)];
        mq.recall_per_head[size_t(h)] = hs / double(geo.N);
        sum += hs;
    }
    mq.recall_mean = sum / double(recall.size());
    std::sort(recall.begin(), recall.end());
    mq.recall_min = recall.front();
    mq.recall_p5 = recall[size_t(std::floor(0.05 * double(recall.size() - 1)))];
    mq.oracle_iou = std::accumulate(iou.begin(), iou.end(), 0.0) / double(iou.size());
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

} // namespace pa::proxy
