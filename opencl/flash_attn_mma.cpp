// flash_attn_mma.cpp - host side of the tensor-core attention (kernels/flash_attn_mma.cl):
// capability check, configuration, K/V preparation, launch.
#include "flash_attn_mma.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "context_impl.h"
#include "pa/error.h"

namespace pa::ocl {
namespace {

size_t elem_bytes(pa_type t) {
    return t == PA_TYPE_F16 ? 2 : 4;
}

// $PA_MMA: unset/"" = default, "0" = off, "W<warps>B<bn>A<async>" = that configuration,
// "emulate" = on any device with the PTX emulated (MMA_EMULATE; slow, for tests).
const char* mma_env() {
    const char* e = std::getenv("PA_MMA");
    return e ? e : "";
}

// fold: the scale is positive and may move into the exponent (MMA_FOLD_SCALE; a program of its own)
std::string options(const mma_config& c, int64_t d, bool fold) {
    return fmt::format(
        "-DMMA_D={} -DMMA_WARPS={} -DMMA_BN={} -DMMA_ASYNC={} -DMMA_MT={} -DMMA_FOLD_SCALE={}{}", d, c.warps,
        c.bn, c.async, c.mt, int(fold && c.fold), mma_emulated() ? " -DMMA_EMULATE=1" : "");
}
// The prep kernels alone (they do not depend on the tile configuration).
std::string prep_options(int64_t d, pa_type src) {
    return fmt::format("-DMMA_D={} -DMMA_PREP_ONLY=1 -DMMA_KV_F16={}{}", d, src == PA_TYPE_F16 ? 1 : 0,
                       mma_emulated() ? " -DMMA_EMULATE=1" : "");
}

bool plain_float(pa_type t) {
    return t == PA_TYPE_F32 || t == PA_TYPE_F16;
}

constexpr const char* mma_program = "flash_attn_mma.cl";
constexpr const char* mma_sparse_prefix = "flash_attn_mma_sparse.cl";

} // namespace

bool mma_emulated() {
    return std::strcmp(mma_env(), "emulate") == 0;
}

bool mma_available(const device_caps& caps) {
    if (mma_emulated()) return true;
    if (!caps.nvidia || caps.nv_cc_major < 8) return false;
    return std::strcmp(mma_env(), "0") != 0;
}

mma_config mma_config_for(const device_caps&, int64_t head_dim) {
    // H100, dense causal 32K, Llama-3-8B shape (bench/NOTES.md): W8B64A0 254 TFLOP/s, W8B64A1
    // (cp.async) 245, W4B64A1 228, W4B32A1 195, W8B32A1 185. H200, same shape, one call: W8B64A0
    // 237, W4B32A1M2 (two m-tiles a warp) 281, W4B64A1M2 (K and V in one buffer) 215. H200, d = 64
    // (SmolLM2: H 9, Hkv 3), 32K, one call: W8B64A0 192, W4B32A1M2 207, W4B64A1M2 266 (at d = 64
    // K and V keep their own buffers). sm_80/86/89 are untested: the same.
    mma_config c{.warps = 4, .bn = head_dim == 128 ? 32 : 64, .async = 1, .mt = 2};
    const char* e = mma_env();
    if (*e && std::strcmp(e, "0") != 0 && std::strcmp(e, "1") != 0 && !mma_emulated()) {
        mma_config o;
        const int n = std::sscanf(e, "W%dB%dA%dM%dF%d", &o.warps, &o.bn, &o.async, &o.mt, &o.fold);
        if (n < 2 || (o.warps != 4 && o.warps != 8) || (o.bn != 32 && o.bn != 64) ||
            (o.async != 0 && o.async != 1) || (o.mt != 1 && o.mt != 2) ||
            (o.mt == 2 && (o.async != 1 || o.warps != 4)) || (o.fold != 0 && o.fold != 1))
            throw error(fmt::format(
                "PA_MMA='{}': expected 0, W<4|8>B<32|64>A<0|1> or W4B<32|64>A1M2, optionally F<0|1>", e));
        c = o;
    }
    return c;
}

std::string mma_layout_problem(const operand& q, const operand& k, const operand& v, const operand& dst) {
    const int64_t d = q.shape.ne.s[0], n = q.shape.ne.s[1], h = q.shape.ne.s[2], hkv = k.shape.ne.s[2];
    if (d != 64 && d != 128) return fmt::format("head dim {} (64 or 128 only)", d);
    if (q.type != PA_TYPE_F32 || !plain_float(k.type) || !plain_float(v.type) || dst.type != PA_TYPE_F32)
        return "q and the result must be f32, k/v f32 or f16";
    if (k.shape.ne.s[0] != d || v.shape.ne.s[0] != d || v.shape.ne.s[1] < k.shape.ne.s[1] ||
        v.shape.ne.s[2] != hkv)
        return "k/v shapes do not match q";
    if (hkv <= 0 || h % hkv != 0) return "query heads must be a multiple of kv heads";
    if (q.shape.ne.s[3] != 1 || k.shape.ne.s[3] != 1 || v.shape.ne.s[3] != 1)
        return "batch dimension must be 1";
    if (q.shape.nb.s[0] != 4 || k.shape.nb.s[0] != elem_bytes(k.type) ||
        v.shape.nb.s[0] != elem_bytes(v.type))
        return "rows of q, k and v must be contiguous";
    const uint64_t* nb = dst.shape.nb.s;
    if (dst.shape.ne.s[0] != d || dst.shape.ne.s[1] != h || dst.shape.ne.s[2] != n || nb[0] != 4 ||
        nb[1] != uint64_t(4 * d) || nb[2] != uint64_t(4 * d * h))
        return "the result must be a contiguous f32 [d, H, N]";
    if (n >= (int64_t(1) << 30) || k.shape.ne.s[1] >= (int64_t(1) << 30)) return "too many rows";
    return "";
}

std::string flash_attn_mma_problem(const device_context& ctx, const operand& q, const operand& k,
                                   const operand& v, const operand& o, int64_t mask_block) {
    if (!mma_available(ctx.caps())) return "no tensor-core path on this device";
    const mma_config c = mma_config_for(ctx.caps(), q.shape.ne.s[0]);
    if (mask_block > 0 && (mask_block % c.bm() != 0 || mask_block % c.bn != 0))
        return fmt::format("block {} is not a multiple of the tile ({} x {})", mask_block, c.bm(), c.bn);
    return mma_layout_problem(q, k, v, o);
}

// The prep kernels' work-groups: all of dimension 0 (one row of chunks or dims), then as much of
// dimension 1 as makes up to 256 items and divides its global size. Left to NVIDIA's driver (no
// local size), K's conversion at the SmolLM2 shape (3 kv heads x 8K keys x 64 dims, 3 MB) took
// 22.5 us on the H200, V's 8 us (device profile, bench/results/h200-2026-12-01-f).
static nd_range prep_local(const device_context& ctx, size_t dim0, size_t global1) {
    const size_t most = std::min<size_t>(256, ctx.caps().max_work_group);
    if (dim0 == 0 || dim0 > most) return {};
    size_t dim1 = 1;
    while (dim0 * dim1 * 2 <= most && global1 % (dim1 * 2) == 0)
        dim1 *= 2;
    return range3(dim0, dim1, 1);
}

mma_kv mma_prepare_kv(device_context& ctx, const operand& k, const operand& v, int64_t n_keys,
                      int64_t key_pad) {
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
    cl_kernel pk = ctx.get_kernel(mma_program, "fa_mma_prep_k", prep_options(d, k.type));
    ctx.launch(pk, range3(size_t(d / 8), size_t(kv.nkp), size_t(hkv)),
               prep_local(ctx, size_t(d / 8), size_t(kv.nkp)), k.mem, ks, kv.k16.mem(), nkp);
    cl_kernel pv = ctx.get_kernel(mma_program, "fa_mma_prep_v", prep_options(d, v.type));
    ctx.launch(pv, range3(size_t(d), size_t(kv.nkp / 8), size_t(hkv)),
               prep_local(ctx, size_t(d), size_t(kv.nkp / 8)), v.mem, vs, kv.vt16.mem(), nkp);
    return kv;
}

void mma_attention(device_context& ctx, const operand& q, const mma_kv& kv, int64_t n_head_kv,
                   const operand& dst, int64_t n_past, bool causal, float scale,
                   const device_block_mask* mask) {
    const int64_t d = q.shape.ne.s[0], n = q.shape.ne.s[1], h = q.shape.ne.s[2];
    const mma_config c = mma_config_for(ctx.caps(), d);
    // The scale folded into the exponent (MMA_FOLD_SCALE) only in the block-sparse kernel: H200,
    // Llama-3-8B layer, one call (bench/results/h200-2026-12-01-e/call2): proxy 32K 17.2 against
    // 17.8 ms, 128K 402.5 against 413.6; dense 284-287 against 291 TFLOP/s (NVIDIA's compiler
    // schedules the two programs differently).
    const std::string opts = options(c, d, mask != nullptr && scale > 0.0f);
    const size_t wg = size_t(32 * c.warps);
    const int32_t nkp = int32_t(kv.nkp), n_kv = int32_t(kv.n_keys), hkv = int32_t(n_head_kv);
    const int32_t past = int32_t(n_past), caus = causal ? 1 : 0;
    if (!mask) {
        cl_kernel kn = ctx.get_kernel(mma_program, "fa_mma", opts);
        const size_t rows = size_t((n + c.bm() - 1) / c.bm());
        ctx.launch(kn, range1(rows * size_t(h) * wg), range1(wg), q.mem, q.shape, kv.k16.mem(), kv.vt16.mem(),
                   nkp, dst.mem, n_kv, hkv, past, caus, scale);
        return;
    }
    if (mask->block % c.bm() != 0 || mask->block % c.bn != 0)
        throw error(fmt::format("fa_mma: block {} is not a multiple of the tile ({} x {})", mask->block,
                                c.bm(), c.bn),
                    PA_ERR_UNSUPPORTED);
    // built and hashed once: the text is the same for every device and launch
    static const program_source src =
        hashed({mma_sparse_prefix, builtin_source(mma_program, mma_sparse_prefix), false});
    cl_kernel kn = ctx.get_kernel(src, "fa_mma", opts);
    const size_t rows = size_t(mask->n_rows) * size_t(mask->block / c.bm());
    const int64_t tri_total = mask->tri_total;
    ctx.launch(kn, range1(rows * size_t(h) * wg), range1(wg), q.mem, q.shape, kv.k16.mem(), kv.vt16.mem(),
               nkp, dst.mem, n_kv, hkv, past, caus, scale, mask->counts, mask->blocks, mask->block,
               mask->row0, mask->n_rows, tri_total);
}

void flash_attn_mma(device_context& ctx, const operand& q, const operand& k, const operand& v,
                    const operand& o, int64_t n_past, bool causal, float scale,
                    const device_block_mask* mask) {
    const int64_t n_keys = causal ? n_past + q.shape.ne.s[1] : k.shape.ne.s[1]; // keys anyone can see
    const int64_t key_pad =
        std::max<int64_t>(mma_config_for(ctx.caps(), q.shape.ne.s[0]).bn, mask ? mask->block : 0);
    const mma_kv kv = mma_prepare_kv(ctx, k, v, n_keys, key_pad);
    mma_attention(ctx, q, kv, k.shape.ne.s[2], o, n_past, causal, scale, mask);
}

} // namespace pa::ocl
