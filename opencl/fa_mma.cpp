// fa_mma.cpp - host side of the tensor-core attention (kernels/fa_mma.cl): capability check,
// configuration, K/V preparation, launch.
#include "fa_mma.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "context_impl.h"
#include "pa/error.h"

namespace pa::ocl {
namespace {

constexpr int64_t key_pad = 128; // K16/V^T16 padding unit: the sparse block size
constexpr float log2e = 1.4426950408889634f;

size_t elem_bytes(pa_type t) { return t == PA_TYPE_F16 ? 2 : 4; }

// $PA_MMA: unset/"" = default, "0" = off, "W<warps>B<bn>A<async>" = that configuration,
// "emulate" = on any device with the PTX emulated (fa_mma.cl FA_MMA_EMULATE; slow, for tests).
const char* mma_env() {
    const char* e = std::getenv("PA_MMA");
    return e ? e : "";
}
bool emulated() { return std::strcmp(mma_env(), "emulate") == 0; }

std::string options(const mma_config& c, int64_t d) {
    return fmt::format("-DMMA_D={} -DMMA_WARPS={} -DMMA_BN={} -DMMA_ASYNC={}{}", d, c.warps, c.bn, c.async,
                       emulated() ? " -DFA_MMA_EMULATE=1" : "");
}
// The prep kernels alone (they do not depend on the tile configuration).
std::string prep_options(int64_t d, pa_type src) {
    return fmt::format("-DMMA_D={} -DMMA_PREP_ONLY=1 -DMMA_KV_F16={}{}", d, src == PA_TYPE_F16 ? 1 : 0,
                       emulated() ? " -DFA_MMA_EMULATE=1" : "");
}

bool plain_float(pa_type t) { return t == PA_TYPE_F32 || t == PA_TYPE_F16; }

} // namespace

bool mma_available(const device_caps& caps) {
    if (emulated()) return true;
    if (!caps.nvidia || caps.nv_cc_major < 8) return false;
    return std::strcmp(mma_env(), "0") != 0;
}

mma_config mma_config_for(const device_caps&) {
    // H100, dense causal 32K, Llama-3-8B shape (bench/NOTES.md): W8B64A0 254 TFLOP/s, W8B64A1
    // (cp.async) 245, W4B64A1 228, W4B32A1 195, W8B32A1 185. sm_80/86/89 are untested: the same.
    mma_config c;
    const char* e = mma_env();
    if (*e && std::strcmp(e, "0") != 0 && std::strcmp(e, "1") != 0 && !emulated()) {
        mma_config o;
        if (std::sscanf(e, "W%dB%dA%d", &o.warps, &o.bn, &o.async) < 2 || (o.warps != 4 && o.warps != 8) ||
            (o.bn != 32 && o.bn != 64) || (o.async != 0 && o.async != 1))
            throw error(fmt::format("PA_MMA='{}': expected 0 or W<4|8>B<32|64>A<0|1>", e));
        c = o;
    }
    return c;
}

mma_tensor mma_tensor_of(const device_context& ctx, const pa_tensor* t) { return {ctx.mem(t), shape_of(t), t->type}; }

std::string mma_layout_problem(const mma_tensor& q, const mma_tensor& k, const mma_tensor& v,
                               const mma_tensor& dst) {
    const int64_t d = q.shape.ne.s[0], n = q.shape.ne.s[1], h = q.shape.ne.s[2], hkv = k.shape.ne.s[2];
    if (d != 64 && d != 128) return fmt::format("head dim {} (64 or 128 only)", d);
    if (q.type != PA_TYPE_F32 || !plain_float(k.type) || !plain_float(v.type) || dst.type != PA_TYPE_F32)
        return "q and the result must be f32, k/v f32 or f16";
    if (k.shape.ne.s[0] != d || v.shape.ne.s[0] != d || v.shape.ne.s[1] < k.shape.ne.s[1] || v.shape.ne.s[2] != hkv)
        return "k/v shapes do not match q";
    if (hkv <= 0 || h % hkv != 0) return "query heads must be a multiple of kv heads";
    if (q.shape.ne.s[3] != 1 || k.shape.ne.s[3] != 1 || v.shape.ne.s[3] != 1) return "batch dimension must be 1";
    if (q.shape.nb.s[0] != 4 || k.shape.nb.s[0] != elem_bytes(k.type) || v.shape.nb.s[0] != elem_bytes(v.type))
        return "rows of q, k and v must be contiguous";
    const uint64_t* nb = dst.shape.nb.s;
    if (dst.shape.ne.s[0] != d || dst.shape.ne.s[1] != h || dst.shape.ne.s[2] != n || nb[0] != 4 ||
        nb[1] != uint64_t(4 * d) || nb[2] != uint64_t(4 * d * h))
        return "the result must be a contiguous f32 [d, H, N]";
    if (n >= (int64_t(1) << 30) || k.shape.ne.s[1] >= (int64_t(1) << 30)) return "too many rows";
    return "";
}

mma_kv mma_prepare_kv(device_context& ctx, const mma_tensor& k, const mma_tensor& v, int64_t n_keys) {
    const int64_t d = k.shape.ne.s[0], hkv = k.shape.ne.s[2];
    mma_kv kv;
    kv.n_keys = n_keys;
    kv.nkp = (n_keys + key_pad - 1) / key_pad * key_pad;
    const size_t bytes = size_t(hkv * kv.nkp * d) * 2;
    kv.k16 = ctx.temp(bytes);
    kv.vt16 = ctx.temp(bytes);
    // the source shapes, cut to the visible keys (the kernels zero-fill up to nkp)
    shape_ref ks = k.shape, vs = v.shape;
    ks.ne.s[1] = n_keys;
    vs.ne.s[1] = n_keys;
    const int32_t nkp = int32_t(kv.nkp);
    cl_kernel pk = ctx.get_kernel("fa_mma.cl", "fa_mma_prep_k", prep_options(d, k.type));
    ctx.launch(pk, range3(size_t(d / 8), size_t(kv.nkp), size_t(hkv)), {}, k.mem, ks, kv.k16.mem(), nkp);
    cl_kernel pv = ctx.get_kernel("fa_mma.cl", "fa_mma_prep_v", prep_options(d, v.type));
    ctx.launch(pv, range3(size_t(d), size_t(kv.nkp / 8), size_t(hkv)), {}, v.mem, vs, kv.vt16.mem(), nkp);
    return kv;
}

void mma_attention(device_context& ctx, const mma_tensor& q, const mma_kv& kv, int64_t n_head_kv,
                   const mma_tensor& dst, int64_t n_past, bool causal, float scale, const mma_sparse_mask* mask) {
    const int64_t d = q.shape.ne.s[0], n = q.shape.ne.s[1], h = q.shape.ne.s[2];
    const mma_config c = mma_config_for(ctx.caps());
    const std::string opts = options(c, d);
    const size_t wg = size_t(32 * c.warps);
    const int32_t nkp = int32_t(kv.nkp), n_kv = int32_t(kv.n_keys), hkv = int32_t(n_head_kv);
    const int32_t past = int32_t(n_past), caus = causal ? 1 : 0;
    const float scale_log2 = scale * log2e;
    if (!mask) {
        cl_kernel kn = ctx.get_kernel("fa_mma.cl", "fa_mma", opts);
        const size_t rows = size_t((n + c.bm() - 1) / c.bm());
        ctx.launch(kn, range1(rows * size_t(h) * wg), range1(wg), q.mem, q.shape, kv.k16.mem(), kv.vt16.mem(), nkp,
                   dst.mem, n_kv, hkv, past, caus, scale_log2);
        return;
    }
    if (mask->block % c.bm() != 0 || mask->block % c.bn != 0)
        throw error(fmt::format("fa_mma: block {} is not a multiple of the tile ({} x {})", mask->block, c.bm(), c.bn),
                    PA_ERR_UNSUPPORTED);
    const program_source src{mask->source_name, mask->source_text + "\n" + builtin_source("fa_mma.cl"), false};
    cl_kernel kn = ctx.get_kernel(src, "fa_mma", opts);
    const size_t rows = size_t(mask->n_rows) * size_t(mask->block / c.bm());
    const int64_t tri_total = mask->tri_total;
    ctx.launch(kn, range1(rows * size_t(h) * wg), range1(wg), q.mem, q.shape, kv.k16.mem(), kv.vt16.mem(), nkp,
               dst.mem, n_kv, hkv, past, caus, scale_log2, mask->counts, mask->blocks, mask->block, mask->row0,
               mask->n_rows, tri_total);
}

bool fa_mma_supports(const device_context& ctx, const pa_tensor* node) {
    if (!mma_available(ctx.caps())) return false;
    const pa_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2];
    if (!q || !k || !v) return false;
    const auto shape = [](const pa_tensor* t) { return mma_tensor{{}, shape_of(t), t->type}; };
    if (!mma_layout_problem(shape(q), shape(k), shape(v), shape(node)).empty()) return false;
    const int64_t n_past = pa_param_i(node, 1);
    const bool causal = pa_param_i(node, 2) != 0;
    return n_past >= 0 && (!causal || n_past + q->ne[1] <= k->ne[1]);
}

void fa_mma_compute(device_context& ctx, pa_tensor* node) {
    const pa_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2];
    const int64_t n_past = pa_param_i(node, 1);
    const bool causal = pa_param_i(node, 2) != 0;
    const int64_t n_keys = causal ? n_past + q->ne[1] : k->ne[1]; // keys anyone can see
    const mma_kv kv = mma_prepare_kv(ctx, mma_tensor_of(ctx, k), mma_tensor_of(ctx, v), n_keys);
    mma_attention(ctx, mma_tensor_of(ctx, q), kv, k->ne[2], mma_tensor_of(ctx, node), n_past, causal,
                  pa_param_f(node, 0));
}

} // namespace pa::ocl
