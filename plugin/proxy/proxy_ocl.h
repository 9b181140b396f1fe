// proxy_ocl.h - the OpenCL lowering of proxy_sparse_attn. Every step runs on the device and
// nothing is read back in between:
//   proxy_pool_q/k -> proxy_lse -> proxy_blockmax            (steps 1-4, proxy_estimate.cl)
//   budget_lse -> budget_blocksum -> budget_reduce -> budget_select   (step 5)
//   rank_rows -> build_mask                                   (step 6, proxy_sort.cl)
//   proxy_sparse_attn                                         (step 7, proxy_attn.cl)
// When every block is kept (gamma = 1, or the min_tokens floor covers every row) the estimate
// is skipped and the attention kernel walks every causal block: dense attention.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ocl_api.h"
#include "ref/proxy_geometry.h"

namespace pa::proxy {

struct ocl_tensor {
    pa::ocl::mem_ref mem;
    pa::ocl::shape_ref shape;
    pa_type type = PA_TYPE_F32;
};
ocl_tensor ocl_tensor_of(const pa::ocl::device_context& ctx, const pa_tensor* t);

// Intermediates copied back after the run, for tests and tools (layouts as in ref/proxy_ref.h
// `estimate`). Empty when the run was dense or stopped earlier.
struct ocl_debug {
    std::vector<float> pooled_q, pooled_k, row_max, row_inv_sum, scores, head_mass;
    std::vector<int32_t> budgets, ranks, counts, blocks;
};

// "" when the device can run a node of this geometry and these tensors, else why not.
std::string ocl_unsupported_reason(const pa::ocl::device_caps& caps, const geometry& geo, const pa_tensor* q,
                                   const pa_tensor* k, const pa_tensor* v, const pa_tensor* dst);
bool ocl_supports(const pa::ocl::device_context& ctx, const pa_tensor* node);
void ocl_compute(pa::ocl::device_context& ctx, pa_tensor* node);

// The lowering itself, on raw device tensors (tests call it directly).
void ocl_run(pa::ocl::device_context& ctx, const geometry& geo, const ocl_tensor& q, const ocl_tensor& k,
             const ocl_tensor& v, const ocl_tensor& dst, ocl_debug* debug = nullptr);

} // namespace pa::proxy
