// fused.h - runs of two or three consecutive graph nodes the OpenCL backend runs as one kernel
// launch. A decoded token is hundreds of small nodes whose cost is mostly per launch. Each node's
// result is still written, so a later reader of an earlier node (which the backend cannot see)
// finds it, and the values are those of the kernels run apart:
//   rms_norm(x) then mul(that, w), w one F32 row      -> k_rms_norm_mul (kernels/fused.cl)
//   mul_mat through k_mul_mv_q then add(that, r) or swiglu(r, that)
//                                                     -> k_mul_mv_q with MVQ_EPI (mul_mv_q.h)
//   gate and up mul_mats of one b, then swiglu(gate, up) -> k_mul_mv_q with MVQ_EPI 3
//   rope then cpy(a permutation of it, s) (KV cache write) -> k_rope_store (kernels/fused.cl)
//   rms_norm, mul (one F32 row), then up to three quantized products of the mul (a layer's k, v,
//   q), each with its rope and KV cache write            -> k_mul_mv_q_heads (a decoded layer's
//                                                           attention input in one launch)
//   rms_norm, mul, then gate, up and swiglu of the mul   -> k_mul_mv_q with MVQ_NORM, MVQ_EPI 3
// Nodes whose result would overwrite a source of an earlier one of the run (reused storage) run
// apart; the scheduler keeps small dead buffers out of reuse for a few nodes, so at decode sizes
// they rarely do.
// $PA_OPENCL_FUSE=0 turns fusion off.
#pragma once

#include "ocl_api.h"

namespace pa::ocl {

// Runs nodes[0], nodes[1], ... as one launch when they form a run above that the backend
// supports (n: nodes left, >= 1); returns how many nodes it ran (0: none).
int run_fused(device_context& ctx, pa_tensor* const* nodes, int n);

} // namespace pa::ocl
