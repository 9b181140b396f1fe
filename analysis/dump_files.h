// dump_files.h - the binary files that carry attention problems and masks between tools
// (pa attn --load/--save, pa eval attn --save, pa bench attn --save-mask,
// bench/anchors/torch_attn.py). Little-endian; readers validate every size before allocating
// and throw pa::error naming the file and the problem.
//
// Q/K/V dump (PAQKV1):
//   char magic[8] = "PAQKV1\0\0"; int64 d, N, n_past, H, Hkv;
//   float32 q[H][N][d]; float32 k[Hkv][n_past + N][d]; float32 v[Hkv][n_past + N][d]
//   (each array the contiguous ggml tensor [d, n, heads]; q after RoPE, keys from position 0)
// Block mask (PAMASK1), the CSR layout of pa/block_sparse.h:
//   char magic[8] = "PAMASK1\0"; int64 block, n_past, N, H;
//   int32 counts[H][n_rows]; int32 blocks[H][tri_total]
#pragma once

#include <string>

#include "pa/block_sparse.h"

namespace pa::analysis {

attn_qkv read_qkv_dump(const std::string& path);
void write_qkv_dump(const std::string& path, const attn_qkv& x);

block_mask read_mask_file(const std::string& path);
void write_mask_file(const std::string& path, const block_mask& mask);

// Limits of the readers (plausible attention problems, well below the element limits).
inline constexpr int64_t dump_max_dim = 4096, dump_max_heads = 1024, dump_max_keys = int64_t(1) << 26;

} // namespace pa::analysis
