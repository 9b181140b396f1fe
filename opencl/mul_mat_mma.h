// mul_mat_mma.h - mul_mat on NVIDIA tensor cores (kernels/mul_mat_mma.cl: inline PTX mma.sync
// m16n8k16 with f16 operands and f32 accumulation, ldmatrix, cp.async): the prefill GEMMs of
// F16 / Q4_0 / Q4_1 / Q8_0 weights (and F32 weights where the tuning table says so) times F32
// activations. mul_mat.cpp takes this path when mul_mat_mma_problem() is empty.
//
// Capability and switches as for the tensor-core attention (flash_attn_mma.h: NVIDIA platform
// with compute capability >= 8.0; $PA_MMA "0" off, "emulate" on any device with the PTX emulated).
// Tiles and thresholds: tuning.h (mmq_*).
//
// Precision: both operands are rounded to f16 (activations and F32 weights round to nearest
// even; F16 weights are exact; quantized weights dequantize exactly, d * q (+ m), then round once),
// products and sums in f32. Activations beyond the f16 range (|x| > 65504) become infinite.
#pragma once

#include <string>

#include "ocl_api.h"

namespace pa::ocl {

// "" when mul_mat node d (which supports_mul_mat accepted) runs on tensor cores, else why not.
std::string mul_mat_mma_problem(const device_context& ctx, const pa_tensor* d);

// Computes mul_mat node d on tensor cores.
void mul_mat_mma(device_context& ctx, pa_tensor* d);

} // namespace pa::ocl
