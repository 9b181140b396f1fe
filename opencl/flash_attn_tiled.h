// flash_attn_tiled.h - the portable register-tiled attention kernel (kernels/flash_attn_tiled.cl):
// dense, or over a block mask whose block is a multiple of 64. Reached through flash_attn.h.
#pragma once

#include <cstdint>

#include "flash_attn.h"

namespace pa::ocl {

// Head dims 32..128 in steps of 32 whose tiles fit the device's local memory ($PA_FA_TILED=0: never).
bool flash_attn_tiled_usable(const device_context& ctx, int64_t head_dim);

// Tiles are 64 queries: a mask block must be a multiple of 64.
inline constexpr int64_t flash_attn_tiled_rows = 64;

void flash_attn_tiled(device_context& ctx, const operand& q, const operand& k, const operand& v,
                      const operand& o, int32_t n_past, bool causal, float scale,
                      const device_block_mask* mask = nullptr);

} // namespace pa::ocl
