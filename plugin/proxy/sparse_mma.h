// sparse_mma.h - step 7 of proxy_sparse_attn (block-sparse flash attention) on NVIDIA tensor
// cores: opencl/kernels/fa_mma.cl with plugin/kernels/sparse_attn_mma.cl in front, reading the
// mask that build_mask wrote. proxy_ocl.cpp calls it when sparse_mma_problem() is empty and keeps
// its portable kernel (proxy_attn.cl) otherwise.
#pragma once

#include <string>

#include "proxy_ocl.h"

namespace pa::proxy {

// "" when this node's attention can run on the tensor-core kernel, else why not.
std::string sparse_mma_problem(const pa::ocl::device_context& ctx, const geometry& geo, const ocl_tensor& q,
                               const ocl_tensor& k, const ocl_tensor& v, const ocl_tensor& dst);

// dst = attention over the kept blocks (counts [H][n_rows], blocks [H][tri_total]); with
// geo.all_kept (counts/blocks unused) dense causal attention.
void sparse_mma_attend(pa::ocl::device_context& ctx, const geometry& geo, const ocl_tensor& q, const ocl_tensor& k,
                       const ocl_tensor& v, const ocl_tensor& dst, cl_mem counts, cl_mem blocks);

} // namespace pa::proxy
