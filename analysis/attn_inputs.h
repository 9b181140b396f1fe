// attn_inputs.h - graph tensors for the Q/K/V of an attention problem (pa/block_sparse.h:
// synthetic patterns, dumps, captures), shared by `pa attn`, `pa eval` and `pa bench attn`:
// q F32 [d, N, H], k and v in kv_type [d, n_past + N, Hkv], marked as parameters so that a
// backend uploads them once and keeps them.
#pragma once

#include <cstring>
#include <utility>

#include "pa/block_sparse.h"
#include "pa/context.h"
#include "pa/types.h"

namespace pa::analysis {

struct attn_inputs {
    context ctx;
    tensor *q = nullptr, *k = nullptr, *v = nullptr;
};

// kv_type: PA_TYPE_F32 or PA_TYPE_F16.
inline void make_attn_inputs(attn_inputs& in, const attn_qkv& s, pa_type kv_type) {
    const int64_t nk = s.n_past + s.N;
    in.q = in.ctx.new_tensor(PA_TYPE_F32, {s.d, s.N, s.H});
    in.k = in.ctx.new_tensor(kv_type, {s.d, nk, s.Hkv});
    in.v = in.ctx.new_tensor(kv_type, {s.d, nk, s.Hkv});
    std::memcpy(in.q->data, s.q.data(), s.q.size() * 4);
    for (auto [t, src] : {std::pair{in.k, &s.k}, std::pair{in.v, &s.v}}) {
        if (kv_type == PA_TYPE_F32) {
            std::memcpy(t->data, src->data(), src->size() * 4);
        } else {
            auto* h = static_cast<uint16_t*>(t->data);
            for (size_t i = 0; i < src->size(); ++i)
                h[i] = fp32_to_fp16((*src)[i]);
        }
    }
    for (tensor* t : {in.q, in.k, in.v})
        t->flags |= PA_FLAG_PARAM;
}

} // namespace pa::analysis
