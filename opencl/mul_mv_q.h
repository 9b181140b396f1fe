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
// b computed inside the launch as mul(rms_norm(x), w), w one F32 row: the norm and mul nodes (both
// still written), b being mul's result. Columns of x: unit stride, one slice.
struct mv_norm {
    pa_tensor* norm = nullptr;
    pa_tensor* mul = nullptr;
};
void mul_mv_q(device_context& ctx, pa_tensor* d, mv_epilogue epi = mv_epilogue::none, pa_tensor* r = nullptr,
              pa_tensor* e = nullptr, const mv_view& view = {}, const mv_norm* norm = nullptr);

// One product of a k_mul_mv_q_heads launch: product = mul_mat(a, b) with rows a whole number of
// heads, then optionally rope (a rope node of the product reshaped to [d, heads, N], n_dims = d,
// mode 0 or 2) and store (a cpy node of a view of the rope's result, or of the product's without
// rope, whose dims are a permutation of its packed elements: view).
struct mv_head {
    pa_tensor* product = nullptr;
    pa_tensor* rope = nullptr;
    pa_tensor* store = nullptr;
    mv_view view;
};
inline constexpr int mul_mv_q_max_heads = 3;
// One launch for up to mul_mv_q_max_heads products of one b (one slice, unit strides; the
// weights of one quantized type), with norm as mul_mv_q's.
void mul_mv_q_heads(device_context& ctx, const mv_head* heads, int n, const mv_norm* norm);

} // namespace pa::ocl
