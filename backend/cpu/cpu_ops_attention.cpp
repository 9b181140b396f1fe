// cpu_ops_attention.cpp - flash_attn_ext, the reference attention:
//   out[:, h, t] = sum_j softmax_j(scale * q[:, t, h] . k[:, j, hk]) v[:, j, hk]
// with hk = h / (H / Hkv) (GQA) and, when causal, j <= n_past + t.
// Keys and values of each KV head are converted to float rows once; the query rows of all heads
// sharing a KV head are cut into tiles that the vector kernel (simd.h attn_tile) runs with an
// online softmax over blocks of keys, queries in vector lanes.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_ops.h"
#include "pa/ops.h"
#include "simd.h"

namespace pa::cpu {
namespace {

// t [d, n, heads, 1] (any strides, f32/f16) as contiguous float [heads][n][d].
std::vector<float> to_float_heads(const tensor* t, int n_threads, const simd_kernels& kern) {
    const int64_t d = t->ne[0], n = t->ne[1], heads = t->ne[2];
    std::vector<float> out(size_t(d * n * heads));
    const bool f16_rows = t->type == PA_TYPE_F16 && t->nb[0] == sizeof(uint16_t);
    parallel_for(n_threads, n * heads, 2.0 * double(d), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            float* dst = &out[size_t(r * d)];
            if (f16_rows)
                kern.f16_to_f32(reinterpret_cast<const uint16_t*>(row_ptr(t, r % n, r / n, 0)), dst, d);
            else
                load_row(t, r % n, r / n, 0, dst);
        }
    });
    return out;
}

} // namespace

void op_flash_attn_ext(tensor* dst, int n_threads, const simd_kernels& kern) {
    const tensor* q = dst->src[0];
    const tensor* k = dst->src[1];
    const tensor* v = dst->src[2];
    const float scale = pa_param_f(dst, fa_param_scale);
    const int64_t n_past = pa_param_i(dst, fa_param_n_past);
    const bool causal = pa_param_i(dst, fa_param_causal) != 0;
    const int64_t d = q->ne[0], N = q->ne[1], H = q->ne[2];
    const int64_t n_kv = k->ne[1], H_kv = k->ne[2];
    const int64_t group = H / H_kv;

    const std::vector<float> kf = to_float_heads(k, n_threads, kern);
    const std::vector<float> vf = to_float_heads(v, n_threads, kern);

    // query rows of one KV head: (token t, head hk * group + g), row index t * group + g
    const int64_t rows = N * group;
    const int64_t width = rows <= kern.attn_width / 2 ? kern.attn_width / 2 : kern.attn_width;
    const int64_t tiles = (rows + width - 1) / width;
    const double cost = 4.0 * double(d) * double(n_kv) * double(width);
    parallel_for(n_threads, H_kv * tiles, cost, [&](int64_t begin, int64_t end) {
        const int64_t stride = kern.attn_width;
        std::vector<float> qt(size_t(d * stride)), out(size_t(stride * d)), qrow(static_cast<size_t>(d));
        std::vector<float> scratch(size_t(attn_scratch_floats(d, stride)));
        std::vector<int32_t> limit(static_cast<size_t>(stride));
        for (int64_t item = begin; item < end; ++item) {
            const int64_t hk = item / tiles, r0 = (item % tiles) * width;
            std::fill(limit.begin(), limit.end(), 0);
            std::fill(qt.begin(), qt.end(), 0.0f);
            for (int64_t l = 0; l < width && r0 + l < rows; ++l) {
                const int64_t t = (r0 + l) / group, h = hk * group + (r0 + l) % group;
                load_row(q, t, h, 0, qrow.data());
                for (int64_t i = 0; i < d; ++i)
                    qt[size_t(i * stride + l)] = scale * qrow[size_t(i)];
                limit[size_t(l)] = int32_t(causal ? std::min(n_kv, n_past + t + 1) : n_kv);
            }
            attn_tile_args args;
            args.qt = qt.data();
            args.k = &kf[size_t(hk * n_kv * d)];
            args.v = &vf[size_t(hk * n_kv * d)];
            args.limit = limit.data();
            args.d = d;
            args.out = out.data();
            args.scratch = scratch.data();
            kern.attn_tile(args, width);
            for (int64_t l = 0; l < width && r0 + l < rows; ++l) {
                const int64_t t = (r0 + l) / group, h = hk * group + (r0 + l) % group;
                for (int64_t i = 0; i < d; ++i)
                    store_f(PA_TYPE_F32, elem_ptr(dst, i, h, t, 0), out[size_t(l * d + i)]);
            }
        }
    });
}

} // namespace pa::cpu
