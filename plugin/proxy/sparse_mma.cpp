// sparse_mma.cpp - proxy_sparse_attn's block-sparse attention on the tensor-core kernel.
#include "sparse_mma.h"

#include <string_view>

#include <fmt/format.h>

#include "fa_mma.h"
#include "pa/error.h"

// The generated table is an inline variable over file-local strings: keep this file's copy in
// a namespace of its own (proxy_ocl.cpp includes it too).
namespace pa::proxy::sparse_embedded {
#include "proxy_kernels.h"
} // namespace pa::proxy::sparse_embedded

namespace pa::proxy {
namespace {

using namespace pa::ocl;

constexpr std::string_view sparse_source_name = "sparse_attn_mma.cl";

const char* sparse_source() {
    for (const auto& s : sparse_embedded::pa_proxy_sources)
        if (sparse_source_name == s.name) return s.text;
    throw error("proxy_sparse_attn: sparse_attn_mma.cl is not embedded", PA_ERR_DEVICE);
}

mma_tensor as_mma(const ocl_tensor& t) { return {t.mem, t.shape, t.type}; }

} // namespace

std::string sparse_mma_problem(const device_context& ctx, const geometry& geo, const ocl_tensor& q,
                               const ocl_tensor& k, const ocl_tensor& v, const ocl_tensor& dst) {
    if (!mma_available(ctx.caps())) return "no tensor-core path on this device";
    const mma_config c = mma_config_for(ctx.caps());
    if (geo.B % c.bm() != 0 || geo.B % c.bn != 0)
        return fmt::format("block {} is not a multiple of the tile ({} x {})", geo.B, c.bm(), c.bn);
    return mma_layout_problem(as_mma(q), as_mma(k), as_mma(v), as_mma(dst));
}

void sparse_mma_attend(device_context& ctx, const geometry& geo, const ocl_tensor& q, const ocl_tensor& k,
                       const ocl_tensor& v, const ocl_tensor& dst, cl_mem counts, cl_mem blocks) {
    const mma_kv kv = mma_prepare_kv(ctx, as_mma(k), as_mma(v), geo.n_keys);
    if (geo.all_kept) {
        mma_attention(ctx, as_mma(q), kv, geo.Hkv, as_mma(dst), geo.n_past, true, geo.scale);
        return;
    }
    mma_sparse_mask m;
    m.source_name = std::string(sparse_source_name);
    m.source_text = sparse_source();
    m.counts = counts;
    m.blocks = blocks;
    m.block = int32_t(geo.B);
    m.row0 = int32_t(geo.row0);
    m.n_rows = int32_t(geo.n_rows);
    m.tri_total = geo.tri_total();
    mma_attention(ctx, as_mma(q), kv, geo.Hkv, as_mma(dst), geo.n_past, true, geo.scale, &m);
}

} // namespace pa::proxy
