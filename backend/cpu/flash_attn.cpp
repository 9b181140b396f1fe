// cpu_ops_attention.cpp - flash_attn_ext as dense two-pass attention (the reference):
//   out[:, h, t] = sum_j softmax_j(scale * q[:, t, h] . k[:, j, hk]) v[:, j, hk]
// with hk = h / (H / Hkv) (GQA) and, when causal, j <= n_past + t.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops.h"
#include "pa/ops.h"

namespace pa::cpu {
namespace {

// t [d, n, heads, 1] (any strides, f32/f16) as contiguous float [heads][n][d].
std::vector<float> to_float_heads(const tensor* t, int n_threads) {
    const int64_t d = t->ne[0], n = t->ne[1], heads = t->ne[2];
    std::vector<float> out(size_t(d * n * heads));
    parallel_for(n_threads, n * heads, 2.0 * double(d), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) load_row(t, r % n, r / n, 0, &out[size_t(r * d)]);
    });
    return out;
}

} // namespace

void op_flash_attn_ext(tensor* dst, int n_threads) {
    const tensor* q = dst->src[0];
    const tensor* k = dst->src[1];
    const tensor* v = dst->src[2];
    const float scale = pa_param_f(dst, fa_param_scale);
    const int64_t n_past = pa_param_i(dst, fa_param_n_past);
    const bool causal = pa_param_i(dst, fa_param_causal) != 0;
    const int64_t d = q->ne[0], N = q->ne[1], H = q->ne[2];
    const int64_t n_kv = k->ne[1], H_kv = k->ne[2];
    const int64_t group = H / H_kv;

    const std::vector<float> kf = to_float_heads(k, n_threads);
    const std::vector<float> vf = to_float_heads(v, n_threads);

    // one work item per (query token, head)
    const double cost = 4.0 * double(d) * double(n_kv);
    parallel_for(n_threads, N * H, cost, [&](int64_t begin, int64_t end) {
        std::vector<float> qrow(static_cast<size_t>(d)), acc(static_cast<size_t>(d));
        std::vector<float> scores(static_cast<size_t>(n_kv));
        for (int64_t item = begin; item < end; ++item) {
            const int64_t t = item / H, h = item % H, hk = h / group;
            const int64_t n_keys = causal ? std::min(n_kv, n_past + t + 1) : n_kv;
            load_row(q, t, h, 0, qrow.data());
            const float* kh = &kf[size_t(hk * n_kv * d)];
            const float* vh = &vf[size_t(hk * n_kv * d)];

            // pass 1: scores and their maximum
            float mx = -INFINITY;
            for (int64_t j = 0; j < n_keys; ++j) {
                scores[size_t(j)] = scale * dot(qrow.data(), kh + j * d, d);
                mx = std::max(mx, scores[size_t(j)]);
            }
            // pass 2: exponentials, their sum, and the weighted sum of values
            std::fill(acc.begin(), acc.end(), 0.0f);
            double sum = 0.0;
            for (int64_t j = 0; j < n_keys; ++j) {
                const float p = std::exp(scores[size_t(j)] - mx);
                sum += p;
                const float* vj = vh + j * d;
                for (int64_t i = 0; i < d; ++i) acc[size_t(i)] += p * vj[i];
            }
            const float inv = float(1.0 / sum);
            for (int64_t i = 0; i < d; ++i)
                store_f(PA_TYPE_F32, elem_ptr(dst, i, h, t, 0), acc[size_t(i)] * inv);
        }
    });
}

} // namespace pa::cpu
