// recall_sample.cpp - see recall_sample.h.
#include "recall_sample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "proxy/ref/fast_dot.h"
#include "proxy/ref/parallel.h"

namespace pa::bench {

recall_stats sampled_recall(const proxy::geometry& geo, const proxy::host_qkv& x, const proxy::estimate& e,
                            int64_t rows_per_head, int n_threads) {
    recall_stats r;
    if (geo.all_kept || rows_per_head <= 0) return r;
    const int64_t R = std::min(rows_per_head, geo.N), d = geo.d;
    std::vector<double> rec(size_t(geo.H * R));
    proxy::parallel_for(geo.H * R, 1, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> s;
        std::vector<char> keep;
        for (int64_t i = b; i < end; ++i) {
            const int64_t h = i / R, j = i % R;
            const int64_t t = R == 1 ? geo.N - 1 : j * (geo.N - 1) / (R - 1);
            const int64_t pos = geo.n_past + t, m = pos / geo.B, hk = h / geo.gqa;
            keep.assign(size_t(m + 1), 0);
            for (int32_t blk : e.kept(geo, h, m)) keep[size_t(blk)] = 1;
            const float* q = &x.q[size_t((h * geo.N + t) * d)];
            const float* k = &x.k[size_t(hk * geo.n_keys * d)];
            s.resize(size_t(pos + 1));
            float mx = -INFINITY;
            for (int64_t key = 0; key <= pos; ++key) {
                s[size_t(key)] = geo.scale * proxy::fast_dot(q, k + key * d, d);
                mx = std::max(mx, s[size_t(key)]);
            }
            double all = 0, kept = 0;
            for (int64_t key = 0; key <= pos; ++key) {
                const double w = std::exp(double(s[size_t(key)] - mx));
                all += w;
                if (keep[size_t(key / geo.B)]) kept += w;
            }
            rec[size_t(i)] = kept / all;
        }
    });
    double sum = 0;
    for (double v : rec) sum += v;
    std::sort(rec.begin(), rec.end());
    r.rows = int64_t(rec.size());
    r.mean = sum / double(rec.size());
    r.p5 = rec[size_t(double(rec.size() - 1) * 0.05)];
    r.min = rec.front();
    return r;
}

} // namespace pa::bench
