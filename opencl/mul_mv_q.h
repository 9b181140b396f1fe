// mul_mv_q.h - mul_mat for decode shapes with quantized weights (kernels/mul_mv_q.cl): a few
// columns of F32 b against Q8_0 / Q4_0 / Q4_1 rows read block by block. $PA_MUL_MV_Q=0 turns it
// off (mul_mat's k_mul_mv then takes these shapes).
#pragma once

#include "ocl_api.h"

namespace pa::ocl {

// Columns of b up to which mul_mat takes this kernel (decode: one token; short chunks).
inline constexpr int64_t mul_mv_q_max_n = 8;

// Whether mul_mv_q runs the node d (mul_mat): a quantized with packed blocks, b with unit stride
// along k and 4-byte aligned strides and offset, N <= mul_mv_q_max_n. Needs d's storage.
bool mul_mv_q_usable(const device_context& ctx, const pa_tensor* d);
// Nodes after the product run in the same launch, d still written: e = r + d (an add node of d
// and r), e = silu(r) * d (a swiglu node of r and d), or gate_swiglu: r is itself a mul_mat node
// of the same b (weights shaped and typed as d's), computed too, then e = silu(r) * d. r, d and
// e shaped alike. store: e is a cpy node (F32 or F16) of a view of d whose dimensions are a
// permutation of d's packed elements (a reshape and permute, as the model's V cache write):
// element f of d (flat index) is element ((f / st_k) % ne_k)_k of the view; d one slice, packed.
enum class mv_epilogue { none, add, swiglu, gate_swiglu, store };
struct mv_view {
    cl_long4 ne{{1, 1, 1, 1}}, st{{1, 1, 1, 1}}; // the view's sizes and strides in elements of d
};
void mul_mv_q(device_context& ctx, pa_tensor* d, mv_epilogue epi = mv_epilogue::none, pa_tensor* r = nullptr,
              pa_tensor* e = nullptr, const mv_view& view = {});

} // namespace pa::ocl
