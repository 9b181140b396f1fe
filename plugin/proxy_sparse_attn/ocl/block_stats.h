// block_stats.h - host side of kernels/proxy_block_stats.cl: the per-(query, key block) max
// logit and fixed-point exp sum of the proxy pass (step 2) and of the measured queries (step 4),
// on tiles. Three paths compute the same bits:
//   portable   packed byte dot products from local memory (any OpenCL device)
//   mma        NVIDIA tensor cores, inline PTX mma.sync m16n8k32 s8 (compute capability >= 8.0),
//              the helpers of opencl/kernels/mma_ptx.cl (shared with flash attention and the GEMM)
//   emulated   the mma path with mma_ptx.cl's helpers emulated in OpenCL C ($PA_MMA=emulate;
//              tests, slow)
// $PA_MMA is read as opencl/flash_attn_mma.h reads it: "0" = portable, "emulate" = emulated,
// otherwise mma where the device has it. $PA_PROXY_STATS="W<warps>R<max registers>[A1]" (e.g.
// W4R0, W8R128A1) overrides the work-group size, on NVIDIA the register cap (0 = the compiler's
// choice), and with A1 turns int -> float into a float add (BS_I2F_ADD), for experiments.
#pragma once

#include <cstdint>
#include <string>

#include "../geometry.h"
#include "ocl_api.h"

namespace pa::proxy {

// Bytes of one int8 row of the estimate: the head dim rounded up to 32 (zeros past it).
int64_t int8_row_bytes(int64_t d);

struct block_stats_plan {
    enum class path { portable, mma, emulated };
    path kind = path::portable;
    int warps = 4;    // 16 query rows each
    int kt = 128;     // keys per local-memory tile
    int dp = 128;     // int8_row_bytes(d)
    int max_regs = 0; // NVIDIA: -cl-nv-maxrregcount (0 = none)
    int i2f_add = 0;  // BS_I2F_ADD
    int64_t kpb = 0;  // keys per block (B / key stride for the proxy pass, B for the samples)
    int compute_units = 1;

    // Key blocks per work-group of a launch whose grid has row_groups rows of work-groups (row
    // tiles x heads): 4096 keys' worth, fewer where that leaves the compute units short of
    // work-groups (an 8K SmolLM2 proxy pass has 16 row tiles), never under 256 keys.
    int blocks_per_group(int64_t n_kblocks, int64_t row_groups) const;

    // The plan for this device, head dim and keys per block.
    static block_stats_plan make(const pa::ocl::device_caps& caps, int64_t d, int64_t kpb);
    size_t local_bytes() const;
    std::string options() const;
    // Rows per head of a key matrix read in tiles: every block's keys plus one tile (zero rows
    // past the real keys).
    int64_t key_rows(int64_t n_kblocks) const { return n_kblocks * kpb + kt; }
    const char* name() const;
};

// "" when the device can run the tiled statistics for this head dim and block, else why not.
std::string block_stats_problem(const pa::ocl::device_caps& caps, int64_t d, int64_t kpb);

// Step 2: proxy queries [i_begin, i_end) of every group against the group's proxy keys
// (pk8/pks: key_rows(n_kblocks) rows per group); statistics at [g][i - i_begin][n_kblocks].
void proxy_block_stats(pa::ocl::device_context& ctx, const pa::ocl::program_source& src,
                       const block_stats_plan& plan, const geometry& geo, cl_mem pq8, cl_mem pqs, cl_mem pk8,
                       cl_mem pks, cl_mem bm, cl_mem bs, int64_t i_begin, int64_t i_end);

// Step 4: every measured query of every head (bq8/bqs [H][n_bq]) against its kv head's keys
// (hk8/hks: key_rows(n_kblocks) rows per kv head); statistics at [H][n_bq][n_kblocks].
void sample_block_stats(pa::ocl::device_context& ctx, const pa::ocl::program_source& src,
                        const block_stats_plan& plan, const geometry& geo, cl_mem bq8, cl_mem bqs, cl_mem hk8,
                        cl_mem hks, cl_mem pos, cl_mem bm, cl_mem bs);

} // namespace pa::proxy
