// block_select.cpp - the per-row threshold selection shared by the xattn and flex estimators
// (estimators.h; mirrored by rank_threshold in kernels/estimator_common.cl).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "det_math.h"
#include "estimators.h"

namespace pa::proxy {

int64_t rank_threshold(const float* v, int64_t n, int64_t f0, int64_t f1, float gamma, int64_t k_min,
                       int64_t k_max, int32_t* rank) {
    std::vector<float> key(v, v + n);
    if (f0 >= 0) key[size_t(f0)] = INFINITY;
    if (f1 >= 0) key[size_t(f1)] = INFINITY;
    const int64_t forced = (f0 >= 0 ? 1 : 0) + (f1 >= 0 && f1 != f0 ? 1 : 0);
    std::vector<int32_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return key[a] > key[b] || (key[a] == key[b] && a < b); });
    float total = 0.0f;
    for (int64_t i = 0; i < n; ++i)
        total = total + v[i];
    const float thr = gamma * total;
    float cum = 0.0f;
    int64_t cnt = n;
    for (int64_t r = 0; r < n; ++r) {
        cum = cum + v[order[size_t(r)]];
        if (cum >= thr) {
            cnt = r + 1;
            break;
        }
    }
    int64_t k = std::max(std::max<int64_t>(0, cnt - forced), k_min);
    if (k_max > 0) k = std::min(k, k_max);
    k = std::min(k, n - forced);
    for (int64_t r = 0; r < n; ++r)
        rank[order[size_t(r)]] = int32_t(r);
    return k;
}

} // namespace pa::proxy
