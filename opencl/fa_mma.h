// fa_mma.h - flash attention on NVIDIA tensor cores (kernels/fa_mma.cl: inline PTX mma.sync
// m16n8k16, f16 operands, f32 accumulation). flash_attn_ext takes this path when
// fa_mma_supports() says yes (ops_flash_attn.cpp); proxy_sparse_attn's block-sparse attention
// uses the same kernel with a block mask (plugin/proxy/sparse_mma.cpp). Everything else keeps
// the portable kernels.
//
// Capability: NVIDIA platform (cl_nv_device_attribute_query) with compute capability >= 8.0.
// $PA_MMA: "0" switches the path off (benchmarks compare both), "W8B64A1" picks warps per
// work-group, keys per tile and cp.async for experiments, "emulate" runs the kernels on any
// device with the PTX emulated (slow; tests the host code on PoCL); read at every call.
#pragma once

#include <cstdint>
#include <string>

#include "ocl_api.h"

namespace pa::ocl {

// The tile configuration of fa_mma.cl.
struct mma_config {
    int warps = 8;  // MMA_WARPS: 16 query rows each
    int bn = 64;    // MMA_BN: keys per tile
    int async = 0;  // MMA_ASYNC: cp.async tile loads
    int bm() const { return 16 * warps; }
};

// Whether this device runs mma.sync (and $PA_MMA does not say "0").
bool mma_available(const device_caps& caps);
// The configuration for this device ($PA_MMA may override it).
mma_config mma_config_for(const device_caps& caps);

// A device tensor as the kernels see it.
struct mma_tensor {
    mem_ref mem;
    shape_ref shape;
    pa_type type = PA_TYPE_F32;
};
mma_tensor mma_tensor_of(const device_context& ctx, const pa_tensor* t);

// Layout checks: head dim 64 or 128; q F32 [d, N, H] with contiguous rows; k, v F32|F16 with
// contiguous rows, H % Hkv == 0; dst F32 [d, H, N] contiguous. "" when fine, else why not.
std::string mma_layout_problem(const mma_tensor& q, const mma_tensor& k, const mma_tensor& v, const mma_tensor& dst);

// K and V in the kernel's layout: K16 [Hkv][nkp][d], V^T16 [Hkv][d][nkp] (f16 bits), keys
// n_keys.. nkp-1 zero; nkp = n_keys rounded up to a multiple of 128 (whole sparse blocks).
struct mma_kv {
    scratch k16, vt16;
    int64_t n_keys = 0, nkp = 0;
};
mma_kv mma_prepare_kv(device_context& ctx, const mma_tensor& k, const mma_tensor& v, int64_t n_keys);

// The block mask of a sparse run (proxy_sparse_attn layout, plugin/proxy/ref/proxy_geometry.h)
// and the source text that turns fa_mma.cl into its sparse variant.
struct mma_sparse_mask {
    std::string source_name; // "sparse_attn_mma.cl"
    std::string source_text; // prepended to fa_mma.cl
    cl_mem counts = nullptr, blocks = nullptr;
    int32_t block = 128, row0 = 0, n_rows = 0;
    int64_t tri_total = 0;
};

// dst = attention(q, kv) over keys [0, kv.n_keys): causal (query t sees keys <= n_past + t) or
// not; with mask, only the kept blocks of each (head, row).
void mma_attention(device_context& ctx, const mma_tensor& q, const mma_kv& kv, int64_t n_head_kv, const mma_tensor& dst,
                   int64_t n_past, bool causal, float scale, const mma_sparse_mask* mask = nullptr);

// flash_attn_ext on this path.
bool fa_mma_supports(const device_context& ctx, const pa_tensor* node);
void fa_mma_compute(device_context& ctx, pa_tensor* node);

} // namespace pa::ocl
