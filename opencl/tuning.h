// tuning.h - the per-device parameters of every OpenCL kernel, in one table (tuning.cpp). As in
// CLBlast's database, a device's values are looked up vendor -> device, each level starting from
// the one above: the defaults below, then its vendor's entry, then its device's entry. Kernels
// receive their program's values as -D macros (each .cl file has #ifndef defaults for them);
// the host reads the same values to size its launches. $PA_OPENCL_TUNING ("mm_tm=32,norm_wg=64")
// overrides fields for experiments; an unknown key or a bad value is an error.
//
// A new parameter: a field here, its line in tuning_fields() (key, program and macro), and a
// value in a vendor or device entry of the table wherever the default does not fit.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "device.h"
#include "pa/pa_tensor.h"

namespace pa::ocl {

// How many flash_attn_tiled variants there are (tuning key fat_variant: 0 .. fat_variants - 1).
inline constexpr int fat_variants = 8;

struct tuning {
    // mul_mat.cl k_mul_mat_tiled: TM x TN tile, TK k-step, WM x WN outputs per thread
    int mm_tm = 64, mm_tn = 64, mm_tk = 32, mm_wm = 4, mm_wn = 4;
    int mv_wg = 64;              // mul_mat.cl k_mul_mv threads per row (a power of two)
    int mv_max_n = 8;            // columns of b up to which mul_mat uses k_mul_mv (<= 64)
    int blas_min_n = 16;         // columns of b from which F16/quantized a is dequantized for CLBlast
    int dequant_chunk_mib = 128; // scratch for the rows of a dequantized for CLBlast
    // mul_mat_mma.cl (tensor cores, where mma_available): warps along tokens (1, 2, 4) x along
    // weight rows (2, 4), 64 x 64 outputs each; local-memory stages (2, or 3: loads two k-steps
    // ahead, b always through its f16 copy); (mmq_wn + mmq_wm) x mmq_stages <= 12 (48 KiB)
    int mmq_wn = 2, mmq_wm = 4, mmq_stages = 2;
    // the stages where the weights are F16 or F32 (their tiles loaded by cp.async, no
    // dequantization), 0: mmq_stages. Two stages read b as F32 where they can (no f16 copy)
    int mmq_f16_stages = 0;
    // quantized weights that take mul_mat_mma_rq.cl (dequantized in registers, b through its f16
    // copy): 0 none, 1 Q4_0 and Q4_1, 2 Q8_0 too; with mmq_rq_stages local-memory stages (2 .. 5;
    // fewer where a weight type's stages would not fit the device's local memory), warps along
    // tokens (1, 2, 4) x along weight rows (2, 4) as mmq_wn x mmq_wm for mul_mat_mma.cl; that tile
    // for the weight types of mmq_rq_tile_types (bit t: pa_type t; default Q4_0, Q4_1 and Q8_0)
    // where the rows are whole tiles of it and mmq_rq_stages of them fit, else mmq_wn x mmq_wm
    int mmq_wreg = 0, mmq_rq_stages = 4, mmq_rq_wn = 2, mmq_rq_wm = 4;
    int mmq_rq_tile_types = (1 << PA_TYPE_Q4_0) | (1 << PA_TYPE_Q4_1) | (1 << PA_TYPE_Q8_0);
    // how mul_mat_mma_rq.cl's warps hand its stages over: 0 one barrier a step, 1 mbarriers (each
    // warp waits only for its data and for the stage it refills; NVIDIA sm_90 only, the barrier
    // elsewhere and when emulated)
    int mmq_rq_sync = 0;
    // columns of b from which F16/quantized a runs on tensor cores: just past the decode products
    // (mv_max_n); the path below dequantizes every weight to F32 for CLBlast on each call (H200,
    // Llama-3-8B shape, 16 columns: 3x slower)
    int mmq_min_n = 9;
    int mmq_f32_min_n = 1 << 30; // the same for F32 a (rounded to f16 on the way; default never)
    int mmq_x16_min_m = 1 << 30; // rows of a from which b is copied to f16 first (else read as F32)
    int mmq_chunk_mib = 512;     // scratch for the f16 copy of b: columns per launch
    int mmq_keep_x16 = 1;        // 1: products of the same b in one compute() share its f16 copy
    // repacked PARAM weights kept between calls, at most this and an eighth of the device's memory
    int mmq_cache_mib = 4096;
    int ew_wg = 256;      // elementwise.cl work-group size
    int norm_wg = 128;    // norm.cl threads per row (a power of two)
    int softmax_wg = 128; // softmax.cl threads per row (a power of two)
    int rope_wg = 32;     // rope.cl rotation pairs per work-group
    int get_rows_wg = 64; // get_rows.cl elements of a row per work-group
    int cpy_wg = 256;     // cpy.cl k_cpy_elem, k_cpy_blocks work-group size
    int quantize_wg = 64; // cpy.cl k_cpy_quant blocks per work-group
    int fa_threads = 128; // flash_attn.cl work-group size (FA_BM * FA_TPQ)
    // flash_attn_tiled: which kernel and geometry (0: flash_attn_tiled.cl; 1 .. fat_variants - 1:
    // the Q-resident flash_attn_tiled_q.cl, geometries in flash_attn_tiled.cpp). GPUs take 7 (H200,
    // with none of NVIDIA's own settings, Llama-3-8B layer 16K / 32K: 29.6 / 29.7 TFLOP/s against
    // variant 0's 23.9 / 24.5 in one call); a device whose local memory it does not fit (45.9 KB at
    // d = 128) runs 0; CPU devices 0 (compile time), Intel's entry 0 (registers: tuning.cpp)
    int fat_variant = 7;
    // flash_attn_tiled_q.cl on GPUs: S's loop over dims unrolled so often (0: the variant's own)
    // and O += P V's loop over keys (0: the compiler's choice)
    int fat_unroll_s = 0, fat_unroll_pv = 0;
    // registers a work-item of the programs below may use, 0: the compiler's choice. Where the
    // device takes NVIDIA's compiler options the cap reaches the program's build options as
    // -cl-nv-maxrregcount, which the program cache writes into the PTX (ptx_register_cap.h; the
    // driver ignores the option itself). fat: flash_attn_tiled*.cl (portable attention), mvq:
    // mul_mv_q.cl (decode products), mmq: mul_mat_mma.cl (tensor-core GEMM), mma:
    // flash_attn_mma.cl and its block-sparse form. Every cap tried on the H200 lost to the
    // uncapped build (spills; e.g. variant 4 of flash_attn_tiled at 152 or 128 against its 168:
    // bench/results/h200-2026-12-01-f/call1)
    int fat_maxrreg = 0, mvq_maxrreg = 0, mmq_maxrreg = 0, mma_maxrreg = 0;
    // mul_mv_q.cl (quantized products of a few columns: decoding): threads per weight row and
    // per work-group (powers of two, at least two rows a work-group), and blocks a row stages
    // into local memory at a time (even, 2..64: a chunk costs a memory latency)
    int mvq_lanes = 16, mvq_wg = 64, mvq_chunk = 16;
    // mul_mv_q.cl: Q4 nibbles made floats from their bits (1) or by integer-to-float conversions (0)
    int mvq_nib = 1;
    // mul_mv_q.cl: staged blocks read from local memory as aligned words and float4s (1) or by
    // vload at their own alignment (0)
    int mvq_aligned = 1;
    std::string source;      // the entries that gave the values, e.g. "cpu + PA_OPENCL_TUNING"
    bool nv_options = false; // the device takes NVIDIA's compiler options (cl_nv_compiler_options)

    // -D flags of one program ("mul_mat.cl", ...); empty for programs without tuning macros.
    std::string defines(std::string_view program) const;
};

// One parameter: its name in the table, in $PA_OPENCL_TUNING and in reports, and the macro of
// the program that receives it ("" when only the host reads it).
struct tuning_field {
    std::string_view key;
    int tuning::*member;
    std::string_view program;
    std::string_view macro; // or a build option ("-cl-nv-..."), given as option=value when set
    int min = 1;            // the smallest value $PA_OPENCL_TUNING may set (0 where 0 turns something off)
};
std::span<const tuning_field> tuning_fields();

// The table's values for this device, with $PA_OPENCL_TUNING applied (throws pa::error on a bad
// override string or on values the kernels cannot run with).
tuning tuning_for(const device_caps& dev);

} // namespace pa::ocl
