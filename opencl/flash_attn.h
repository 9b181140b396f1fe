// flash_attn.h - flash attention on the OpenCL backend, dense or over a block mask, for the
// built-in flash_attn_ext and for plugin ops that compute their own mask (proxy_sparse_attn).
//
// One entry point picks the kernel:
//   flash_attn_decode.cl  dense, a few queries (decoding): keys split over work-groups
//   flash_attn_mma.cl     NVIDIA tensor cores (capability check, flash_attn_mma.h)
//   flash_attn_tiled.cl   portable register-tiled kernel, head dims 32..128 in steps of 32
//   flash_attn_tiled_q.cl the same with the queries resident in local memory (tuning fat_variant
//                         1-4; NVIDIA's default is 4)
//   flash_attn.cl         portable row kernel, dense (any head dim up to 256)
//   flash_attn_sparse.cl  portable row kernel over a block mask (any head dim and block size)
//
// q F32 [d, N, H], k/v F32|F16 [d, Nkv, Hkv] (H % Hkv == 0; query head h reads kv head
// h / (H/Hkv)), o F32 [d, H, N]. Causal: query t sees keys j <= n_past + t. With a mask, query
// t additionally sees only the keys of the blocks its row (block_sparse.h) keeps.
#pragma once

#include <cstdint>
#include <string>

#include "ocl_api.h"

namespace pa::ocl {

// A block mask in device memory: the CSR layout of pa/block_sparse.h (counts [H][n_rows],
// blocks [H][tri_total], int32) over the block grid (block, row0, n_rows).
struct device_block_mask {
    cl_mem counts = nullptr, blocks = nullptr;
    int32_t block = 0, row0 = 0, n_rows = 0;
    int64_t tri_total = 0;
};

// The kernel flash_attn() takes for these operands (and a mask of this block size; 0 = dense).
// The tensor-core kernel rounds q, k, v and the probabilities to f16 (f32 accumulation): its
// results differ from f32 arithmetic by ~1e-3 relative, the others by float rounding.
enum class flash_attn_kernel { tensor_cores, tiled, rows };
flash_attn_kernel flash_attn_choice(const device_context& ctx, const operand& q, const operand& k,
                                    const operand& v, const operand& o, int64_t mask_block = 0);

// "" when these operands can run (dense, or over a mask of this block size), else why not.
std::string flash_attn_problem(const device_context& ctx, const operand& q, const operand& k,
                               const operand& v, const operand& o, int64_t mask_block = 0);

// o = attention(q, k, v); mask: causal attention over the kept blocks only (nullptr: dense).
void flash_attn(device_context& ctx, const operand& q, const operand& k, const operand& v, const operand& o,
                int64_t n_past, bool causal, float scale, const device_block_mask* mask = nullptr);

} // namespace pa::ocl
