// flash_attn_mma.h - flash attention on NVIDIA tensor cores (kernels/flash_attn_mma.cl: inline
// PTX mma.sync m16n8k16, f16 operands, f32 accumulation), dense or over a block mask
// (kernels/flash_attn_mma_sparse.cl in front). flash_attn.h takes this path when
// flash_attn_mma_problem() is empty and keeps the portable kernels otherwise.
//
// Capability: NVIDIA platform (cl_nv_device_attribute_query) with compute capability >= 8.0.
// $PA_MMA: "0" switches the path off (benchmarks compare both), "W8B64A1" picks warps per
// work-group, keys per tile and cp.async for experiments ("W4B64A1M2": two m-tiles a warp; a
// trailing "F0": the block-sparse kernel multiplies every score by the scale, as the dense one
// does, instead of MMA_FOLD_SCALE),
// "emulate" runs the kernels on any device with the PTX emulated (slow; tests the host code on
// PoCL); read at every call.
#pragma once

#include <cstdint>
#include <string>

#include "flash_attn.h"

namespace pa::ocl {

// The tile configuration of fa_mma.cl.
struct mma_config { // the defaults: mma_config_for()
    int warps = 8;  // MMA_WARPS
    int bn = 64;    // MMA_BN: keys per tile
    int async = 0;  // MMA_ASYNC: cp.async tile loads
    int mt = 1;     // MMA_MT: 16-row m-tiles a warp (2: Q in local memory, cp.async only)
    int fold = 1;   // MMA_FOLD_SCALE in the block-sparse kernel where scale > 0 (0: A/B runs)
    int bm() const { return 16 * mt * warps; }
};

// Whether this device runs mma.sync (and $PA_MMA does not say "0").
bool mma_available(const device_caps& caps);
// Whether $PA_MMA says "emulate" (the tensor-core programs then build with -DMMA_EMULATE=1).
bool mma_emulated();
// Local memory the emulated helpers take in a work-group of this many work-items (mma_ptx.cl's
// EMU_DECL: 6 words a work-item), for kernels that budget their local memory.
inline size_t mma_emulation_bytes(size_t work_items) {
    return work_items * 6 * 4;
}
// The configuration for this device and head dim ($PA_MMA may override it).
mma_config mma_config_for(const device_caps& caps, int64_t head_dim);

// Layout checks: head dim 64 or 128; q F32 [d, N, H] with contiguous rows; k, v F32|F16 with
// contiguous rows, H % Hkv == 0; dst F32 [d, H, N] contiguous. "" when fine, else why not.
std::string mma_layout_problem(const operand& q, const operand& k, const operand& v, const operand& dst);

// "" when flash_attn() can take this path for these operands (and a mask of this block size;
// 0 = dense), else why not.
std::string flash_attn_mma_problem(const device_context& ctx, const operand& q, const operand& k,
                                   const operand& v, const operand& o, int64_t mask_block);

// K and V in the kernel's layout: K16 [Hkv][nkp][d], V^T16 [Hkv][d][nkp] (f16 bits), keys
// n_keys.. nkp-1 zero; nkp = n_keys rounded up to a multiple of key_pad (a key tile, or the
// mask's block so that a partial last block stays in bounds).
struct mma_kv {
    scratch k16, vt16;
    int64_t n_keys = 0, nkp = 0;
};
mma_kv mma_prepare_kv(device_context& ctx, const operand& k, const operand& v, int64_t n_keys,
                      int64_t key_pad);

// dst = attention(q, kv) over keys [0, kv.n_keys): causal (query t sees keys <= n_past + t) or
// not; with mask, only the kept blocks of each (head, row).
void mma_attention(device_context& ctx, const operand& q, const mma_kv& kv, int64_t n_head_kv,
                   const operand& dst, int64_t n_past, bool causal, float scale,
                   const device_block_mask* mask = nullptr);

// K/V preparation and the attention (flash_attn.h's tensor-core path).
void flash_attn_mma(device_context& ctx, const operand& q, const operand& k, const operand& v,
                    const operand& o, int64_t n_past, bool causal, float scale,
                    const device_block_mask* mask);

} // namespace pa::ocl
