// cpu_ops_attention.cpp - flash_attn_ext, the reference attention:
//   out[:, h, t] = sum_j softmax_j(scale * q[:, t, h] . k[:, j, hk]) v[:, j, hk]
// with hk = h / (H / Hkv) (GQA) and, when causal, j <= n_past + t.
// Keys (transposed) and values of each KV head are converted to floats once; the query rows of
// all heads sharing a KV head go through the vector kernel (simd.h attn_rows) a few at a time:
// an online softmax over blocks of keys, keys in vector lanes.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_ops.h"
#include "pa/ops.h"
#include "simd.h"

namespace pa::cpu {
namespace {

// Row j of head h of t [d, n, heads] (f32 or f16, any strides) as floats.
void key_row(const tensor* t, int64_t j, int64_t h, float* out, const simd_kernels& kern) {
    if (t->type == PA_TYPE_F16 && t->nb[0] == sizeof(uint16_t))
        kern.f16_to_f32(reinterpret_cast<const uint16_t*>(row_ptr(t, j, h, 0)), out, t->ne[0]);
    else
        load_row(t, j, h, 0, out);
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
    const int64_t block = kern.attn_block, n_pad = (n_kv + block - 1) / block * block;

    // keys transposed per KV head [H_kv][d][n_pad] (zero past n_kv), values as rows [H_kv][n_kv][d]
    // buffers kept across calls: a token's decoding runs this once a layer, with one more key each time
    thread_local std::vector<float> kt_buf, vf_buf;
    kt_buf.resize(size_t(H_kv * d * n_pad));
    vf_buf.resize(size_t(H_kv * n_kv * d));
    std::vector<float>&kt = kt_buf, &vf = vf_buf; // this thread's buffers, also in the workers' lambdas
    for (int64_t r = 0; r < H_kv * d; ++r)
        std::fill(kt.data() + r * n_pad + n_kv, kt.data() + (r + 1) * n_pad, 0.0f);
    constexpr int64_t keys_per_item = 16;
    const int64_t key_items = (n_kv + keys_per_item - 1) / keys_per_item;
    const bool plain_rows = (k->type == PA_TYPE_F16 && k->nb[0] == sizeof(uint16_t)) ||
                            (k->type == PA_TYPE_F32 && k->nb[0] == sizeof(float));
    parallel_for(n_threads, H_kv * key_items, 4.0 * double(keys_per_item * d),
                 [&](int64_t begin, int64_t end) {
                     thread_local std::vector<float> rows;
                     rows.resize(size_t(keys_per_item * d));
                     for (int64_t item = begin; item < end; ++item) {
                         const int64_t hk = item / key_items, j0 = (item % key_items) * keys_per_item;
                         const int64_t nj = std::min(keys_per_item, n_kv - j0);
                         for (int64_t j = 0; j < nj; ++j)
                             key_row(v, j0 + j, hk, &vf[size_t((hk * n_kv + j0 + j) * d)], kern);
                         float* kh = &kt[size_t(hk * d * n_pad)] + j0;
                         if (plain_rows) {
                             kern.transpose_rows(row_ptr(k, j0, hk, 0), k->nb[1], k->type, nj, d, kh, n_pad);
                             continue;
                         }
                         for (int64_t j = 0; j < nj; ++j)
                             load_row(k, j0 + j, hk, 0, &rows[size_t(j * d)]);
                         for (int64_t i = 0; i < d; ++i)
                             for (int64_t j = 0; j < nj; ++j)
                                 kh[i * n_pad + j] = rows[size_t(j * d + i)];
                     }
                 });

    // query rows of one KV head: (token t, head hk * group + g) is row t * group + g; work items
    // of up to attn_max_rows rows
    const int64_t rows = N * group;
    const int64_t per_head = (rows + attn_max_rows - 1) / attn_max_rows;
    const double cost = 4.0 * double(d) * double(n_kv) * attn_max_rows;
    parallel_for(n_threads, H_kv * per_head, cost, [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> qr, out, scratch;
        qr.resize(size_t(attn_max_rows * d));
        out.resize(size_t(attn_max_rows * d));
        scratch.resize(size_t(attn_scratch_floats(d, block)));
        int32_t limit[attn_max_rows];
        for (int64_t item = begin; item < end; ++item) {
            const int64_t hk = item / per_head, r0 = (item % per_head) * attn_max_rows;
            const int nr = int(std::min<int64_t>(attn_max_rows, rows - r0));
            for (int r = 0; r < nr; ++r) {
                const int64_t t = (r0 + r) / group, h = hk * group + (r0 + r) % group;
                float* qrow = &qr[size_t(r * d)];
                load_row(q, t, h, 0, qrow);
                for (int64_t i = 0; i < d; ++i)
                    qrow[i] *= scale;
                limit[r] = int32_t(causal ? std::min(n_kv, n_past + t + 1) : n_kv);
            }
            const attn_kv kv{&kt[size_t(hk * d * n_pad)], n_pad, &vf[size_t(hk * n_kv * d)], d};
            kern.attn_rows(kv, qr.data(), limit, nr, out.data(), scratch.data());
            for (int r = 0; r < nr; ++r) {
                const int64_t t = (r0 + r) / group, h = hk * group + (r0 + r) % group;
                for (int64_t i = 0; i < d; ++i)
                    store_f(PA_TYPE_F32, elem_ptr(dst, i, h, t, 0), out[size_t(r * d + i)]);
            }
        }
    });
}

} // namespace pa::cpu
