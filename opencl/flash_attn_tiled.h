// flash_attn_tiled.h - the portable register-tiled attention kernels (kernels/flash_attn_tiled.cl,
// kernels/flash_attn_tiled_q.cl): dense, or over a block mask whose block is a multiple of 64.
// Reached through flash_attn.h; the tuning table's fat_variant picks the kernel and its geometry
// (flash_attn_tiled.cpp lists them).
#pragma once

#include <cstdint>

#include "flash_attn.h"
#include "tuning.h"

namespace pa::ocl {

// Variants 0 .. flash_attn_tiled_variants - 1 (fat_variant).
inline constexpr int flash_attn_tiled_variants = fat_variants;

// Head dims 32..128 in steps of 32 whose tiles fit the device's local memory ($PA_FA_TILED=0: never);
// a variant that does not fit gives way to variant 0.
bool flash_attn_tiled_usable(const device_context& ctx, int64_t head_dim);

// A mask block must be a multiple of 64 (every variant's query tile divides it).
inline constexpr int64_t flash_attn_tiled_rows = 64;

// variant: one of the table (tests), -1 = the tuning table's.
void flash_attn_tiled(device_context& ctx, const operand& q, const operand& k, const operand& v,
                      const operand& o, int32_t n_past, bool causal, float scale,
                      const device_block_mask* mask = nullptr, int variant = -1);

} // namespace pa::ocl
