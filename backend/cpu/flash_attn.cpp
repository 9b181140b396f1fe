// flash_attn.cpp - flash_attn_ext, the reference attention:
//   out[:, h, t] = sum_j softmax_j(scale * q[:, t, h] . k[:, j, hk]) v[:, j, hk]
// with hk = h / (H / Hkv) (GQA) and, when causal, j <= n_past + t.
// The query rows of all heads sharing a KV head go through the vector kernel (simd.h attn_rows)
// a few at a time: an online softmax over blocks of keys. A decoding step reads the F16 cache in
// place; a prefill first converts K and V to float rows once.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops.h"
#include "pa/ops.h"
#include "simd.h"

namespace pa::cpu {
namespace {

// Rows of t [d, n, heads] that attn_rows reads in place: F16 or F32 with packed elements.
bool rows_in_place(const tensor* t) {
    return (t->type == PA_TYPE_F16 && t->nb[0] == sizeof(uint16_t)) ||
           (t->type == PA_TYPE_F32 && t->nb[0] == sizeof(float));
}

// Row j of head h of t [d, n, heads] (f32 or f16, any strides) as floats.
void key_row(const tensor* t, int64_t j, int64_t h, float* out, const simd_kernels& kern) {
    if (t->type == PA_TYPE_F16 && t->nb[0] == sizeof(uint16_t))
        kern.f16_to_f32(reinterpret_cast<const uint16_t*>(row_ptr(t, j, h, 0)), out, t->ne[0]);
    else
        load_row(t, j, h, 0, out);
}

// Query rows per work item above which K and V are first converted to float rows (one pass,
// reused by every item): a decoding step reads the F16 cache in place instead.
constexpr int64_t convert_above_rows = 16;

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
    const int64_t rows = N * group; // query rows of one KV head

    // K and V as attn_rows reads them: in place, or converted to float rows [H_kv][n_kv][d]
    const bool convert =
        rows > convert_above_rows || !kern.f16_vectors || !rows_in_place(k) || !rows_in_place(v);
    thread_local std::vector<float> kf_buf, vf_buf; // kept across calls
    std::vector<float>&kf = kf_buf, &vf = vf_buf;   // this thread's buffers, also in the workers' lambdas
    if (convert) {
        kf.resize(size_t(H_kv * n_kv * d));
        vf.resize(size_t(H_kv * n_kv * d));
        parallel_for(n_threads, H_kv * n_kv, 4.0 * double(d), [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
                key_row(k, r % n_kv, r / n_kv, &kf[size_t(r * d)], kern);
                key_row(v, r % n_kv, r / n_kv, &vf[size_t(r * d)], kern);
            }
        });
    }
    auto kv_of = [&](int64_t hk) {
        attn_kv kv;
        kv.d = d;
        if (convert) {
            kv.k = reinterpret_cast<const char*>(&kf[size_t(hk * n_kv * d)]);
            kv.v = reinterpret_cast<const char*>(&vf[size_t(hk * n_kv * d)]);
            kv.k_row = kv.v_row = size_t(d) * sizeof(float);
            kv.k_type = kv.v_type = PA_TYPE_F32;
        } else {
            kv.k = row_ptr(k, 0, hk, 0);
            kv.v = row_ptr(v, 0, hk, 0);
            kv.k_row = k->nb[1];
            kv.v_row = v->nb[1];
            kv.k_type = k->type;
            kv.v_type = v->type;
        }
        return kv;
    };

    // query rows of one KV head: (token t, head hk * group + g) is row t * group + g; work items
    // of up to attn_max_rows rows
    const int64_t per_head = (rows + attn_max_rows - 1) / attn_max_rows;
    const double cost = 4.0 * double(d) * double(n_kv) * attn_max_rows;
    parallel_for(n_threads, H_kv * per_head, cost, [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> qr, out, scratch;
        qr.resize(size_t(attn_max_rows * d));
        out.resize(size_t(attn_max_rows * d));
        scratch.resize(size_t(attn_scratch_floats(d, kern.attn_block)));
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
            kern.attn_rows(kv_of(hk), qr.data(), limit, nr, out.data(), scratch.data());
            for (int r = 0; r < nr; ++r) {
                const int64_t t = (r0 + r) / group, h = hk * group + (r0 + r) % group;
                for (int64_t i = 0; i < d; ++i)
                    store_f(PA_TYPE_F32, elem_ptr(dst, i, h, t, 0), out[size_t(r * d + i)]);
            }
        }
    });
}

} // namespace pa::cpu
