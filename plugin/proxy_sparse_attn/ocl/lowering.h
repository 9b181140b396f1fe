// lowering.h - the OpenCL lowering of proxy_sparse_attn. Every step runs on the device and
// nothing is read back in between:
//   proxy_pool_quantize                                 step 1 (proxy_estimate.cl)
//   proxy_block_stats -> proxy_merge -> proxy_blockmax  steps 2-3, in batches of rows
//   rank_rows                                           step 3b (proxy_sort.cl)
//   quantize_sample_rows -> sample_block_stats -> sample_merge -> sample_mass     step 4
//   sample_budgets (or tail_budgets, exact_rows) -> exact_tail -> build_mask      steps 5-6
//   flash attention over the mask                       step 7 (opencl/flash_attn.h)
// When every block is kept (gamma = 1, or the min_tokens floor covers every row) the estimate
// is skipped and dense flash attention runs. estimator = xattn | flex replace steps 1-6 with
// their own (ocl/estimators.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../geometry.h"
#include "../ref/estimators.h"
#include "ocl_api.h"

namespace pa::proxy {

using pa::ocl::operand;

// Intermediates copied back after the run, for tests and tools (layouts as in ref/reference.h
// `estimate`; counts/blocks as its mask). Empty when the run was dense or stopped earlier.
struct ocl_debug {
    std::vector<float> pooled_q, pooled_k, row_max, row_inv_sum, scores, sample_mass;
    std::vector<int32_t> ranks, sample_budget, budgets, counts, blocks;
    std::vector<uint8_t> exact;
    flex_state flex; // estimator = flex
};

// "" when the device can run a node of this geometry and these tensors, else why not.
std::string ocl_unsupported_reason(const pa::ocl::device_context& ctx, const geometry& geo, const operand& q,
                                   const operand& k, const operand& v, const operand& dst);
bool ocl_supports(const pa::ocl::device_context& ctx, const pa_tensor* node);
void ocl_compute(pa::ocl::device_context& ctx, pa_tensor* node);

// The lowering itself, on raw device tensors (tests call it directly).
void ocl_run(pa::ocl::device_context& ctx, const geometry& geo, const operand& q, const operand& k,
             const operand& v, const operand& dst, ocl_debug* debug = nullptr);

} // namespace pa::proxy
