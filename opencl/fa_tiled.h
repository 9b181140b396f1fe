// fa_tiled.h - the portable register-tiled attention kernel (kernels/flash_attn_tiled.cl), for
// flash_attn_ext and, over a block mask, for proxy_sparse_attn's step 7 off NVIDIA.
#pragma once

#include <cstdint>

#include "ocl_api.h"

namespace pa::ocl {

struct fa_operand {
    mem_ref mem;
    shape_ref shape;
    pa_type type = PA_TYPE_F32;
};

// The proxy mask in build_mask's CSR layout: per (head, row) a count and the kept key blocks.
struct fa_block_mask {
    cl_mem counts = nullptr, blocks = nullptr;
    int32_t block = 0, row0 = 0, n_rows = 0; // block must be a multiple of 64
    int64_t tri_total = 0;
};

// Head dims 32..128 in steps of 32 whose tiles fit the device's local memory ($PA_FA_TILED=0: never).
bool fa_tiled_usable(const device_context& ctx, int64_t head_dim);

// o[:, h, t] = softmax(scale * q[:, t, h] . k[:, j, h / gqa]) v over keys j (causal: j <= n_past + t);
// with a mask, only the keys of the listed blocks of query t's row block.
void fa_tiled_attention(device_context& ctx, const fa_operand& q, const fa_operand& k, const fa_operand& v,
                        const fa_operand& o, int32_t n_past, bool causal, float scale,
                        const fa_block_mask* mask = nullptr);

} // namespace pa::ocl
