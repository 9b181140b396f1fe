// util.cpp - helpers shared by the CPU kernels: row loading and storing, threading, dot product.
#include <algorithm>
#include <vector>

#include "ops.h"
#include "thread_pool.h"

namespace pa::cpu {

void load_row(const tensor* t, int64_t i1, int64_t i2, int64_t i3, float* out) {
    const char* row = row_ptr(t, i1, i2, i3);
    const int64_t n = t->ne[0];
    if (traits(t->type).quantized) { // blocks of a row are always packed (nb[0] = block bytes)
        dequantize_row(t->type, row, out, n);
        return;
    }
    if (t->type == PA_TYPE_F32 && t->nb[0] == sizeof(float)) {
        std::memcpy(out, row, size_t(n) * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; ++i)
        out[i] = load_f(t->type, row + size_t(i) * t->nb[0]);
}

void store_row(tensor* dst, int64_t i1, int64_t i2, int64_t i3, const float* v) {
    char* dr = row_ptr(dst, i1, i2, i3);
    for (int64_t i0 = 0; i0 < dst->ne[0]; ++i0)
        store_f(PA_TYPE_F32, dr + size_t(i0) * dst->nb[0], v[i0]);
}

void parallel_for(int n_threads, int64_t n, double cost_per_item,
                  const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    // Handing work to another thread costs microseconds: only split work worth ~1e5 flops a thread.
    constexpr double min_cost_per_thread = 1e5;
    const int64_t by_cost = static_cast<int64_t>(double(n) * cost_per_item / min_cost_per_thread);
    const int64_t nt = std::clamp<int64_t>(std::min<int64_t>(by_cost, n), 1, std::max(1, n_threads));
    if (nt == 1) {
        fn(0, n);
        return;
    }
    const int64_t chunk = (n + nt - 1) / nt;
    run_on_pool(int(nt), [&](int t) { // pool workers live across loops (thread_pool.h)
        const int64_t begin = t * chunk, end = std::min(n, begin + chunk);
        if (begin < end) fn(begin, end);
    });
}

float dot(const float* a, const float* b, int64_t n) {
    constexpr int lanes = 8;
    float acc[lanes] = {};
    int64_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (int l = 0; l < lanes; ++l)
            acc[l] += a[i + l] * b[i + l];
    float tail = 0.0f;
    for (; i < n; ++i)
        tail += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

} // namespace pa::cpu
