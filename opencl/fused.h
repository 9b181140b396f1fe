// fused.h - pairs of consecutive graph nodes the OpenCL backend runs as one kernel launch. A
// decoded token is hundreds of small nodes whose cost is mostly per launch; fusing a pair saves
// one. Each node's result is still written, so a later reader of the first node (which the
// backend cannot see) finds it, and the values are those of the two kernels run apart:
//   rms_norm(x) then mul(that, w), w one F32 row      -> k_rms_norm_mul (kernels/fused.cl)
//   mul_mat through k_mul_mv_q then add(that, r) or swiglu(r, that)
//                                                     -> k_mul_mv_q with MVQ_EPI (mul_mv_q.h)
// A pair whose second result would overwrite a source of the first (reused storage) runs apart.
// $PA_OPENCL_FUSE=0 turns fusion off.
#pragma once

#include "ocl_api.h"

namespace pa::ocl {

// Runs nodes[0] and nodes[1] as one launch when they form a pair above that the backend
// supports (n: nodes left, >= 1); returns how many nodes it ran: 2, or 0 (nothing ran).
int run_fused_pair(device_context& ctx, pa_tensor* const* nodes, int n);

} // namespace pa::ocl
