// flash_attn_mma.cl - flash attention on NVIDIA tensor cores: inline PTX mma.sync.m16n8k16 (f16
// in, f32 accumulate), shfl.sync for row reductions, cvt.rn.f16x2 for packing, from mma_ptx.cl
// (which the host puts in front of this file). sm_80 or newer only: the host builds this program
// after its capability check (NVIDIA platform, compute capability >= 8.0). With -DMMA_EMULATE=1
// every PTX helper is portable OpenCL C (mma_ptx.cl), so the same kernel (slowly) runs on PoCL:
// that is how the fragment layouts are tested without an NVIDIA GPU.
//
// Data (prepared by fa_mma_prep_k / fa_mma_prep_v; halves travel as ushort bit patterns, NVIDIA
// OpenCL has no cl_khr_fp16):
//   K16 [Hkv][NKP][D]   keys, rows >= Nkv are zero
//   VT16 [Hkv][D][NKP]  values transposed (keys contiguous), columns >= Nkv are zero
//   Q  F32 [D, N, H] (ggml strides, nb0 = 4), converted to f16 in registers
//   O  F32 [D, H, N] contiguous
// NKP is Nkv rounded up to a multiple of 128 (whole sparse blocks stay in bounds).
//
// One work-group = WARPS warps; warp w owns 16 MT query rows of one head (MT m-tiles; BM =
// 16 MT WARPS rows). Key tiles of BN keys stream through local memory: K as [BN][D], V^T as
// [D][BN], with a 16-byte-chunk XOR swizzle so the 128-bit fragment loads of a quarter warp hit
// distinct banks. Schedule per tile (FlashAttention-2's split): V loads are in flight while
// S = Q K^T runs, the next K tile's loads while O += P V runs; two barriers per tile. Loads go by
// cp.async (ASYNC=1) or through staging registers (ASYNC=0).
// Two m-tiles a warp (MT=2) use every K and V fragment loaded from local memory twice (half the
// local-memory reads per MMA); the warp's Q fragments (64 registers) then live in local memory
// (each lane reads back only what it wrote: no barrier), and where Q, K and V tiles exceed 48
// KiB (BN=64) K and V take turns in one buffer: S; barrier; V loads during the softmax; barrier;
// O += P V; barrier; the next K; barrier.
//
// Fragment mapping. mma m16n8k16 (row.col): lane = 4g + t holds
//   A (16x16): a.x = (row g, k 2t..2t+1), a.y = (g+8, 2t..), a.z = (g, 2t+8..), a.w = (g+8, 2t+8..)
//   B (16x8):  b0 = (k 2t..2t+1, n g), b1 = (k 2t+8..2t+9, n g)
//   C (16x8):  c.x,c.y = (row g, n 2t, 2t+1), c.z,c.w = (row g+8, n 2t, 2t+1)
// The sum over k is order-free, so each MMA's k index is mapped to dims (for S) and keys (for
// O) such that a lane's operands are 8 consecutive halves = one 16-byte load:
//   S = Q K^T, dims 32q..32q+31 form the k-chunks 2q, 2q+1:
//     chunk 2q:   k 2t+e -> dim 32q+8t+e,   k 8+2t+e -> dim 32q+8t+2+e
//     chunk 2q+1: k 2t+e -> dim 32q+8t+4+e, k 8+2t+e -> dim 32q+8t+6+e
//   S column (n-tile j, col c) holds key  32(j>>2) + 8(c>>1) + 4((j>>1)&1) + 2(j&1) + (c&1),
//   so that P's A fragment for key chunk kk (n-tiles 2kk, 2kk+1) meets V^T rows whose keys
//   32Q+8t .. 32Q+8t+7 (kk = 2Q+s) are one 16-byte chunk.

// Tuning macros (-D): MMA_D head dim (64 | 128), MMA_WARPS warps per work-group, MMA_BN keys per
// tile (32 | 64), MMA_ASYNC 1 = tiles go global -> local by cp.async (no staging registers),
// 0 = through registers; MMA_MT m-tiles (16 query rows) a warp (1 | 2; 2 needs MMA_ASYNC 1);
// MMA_KV_F16 source type of the prep kernels (0 = F32, 1 = F16); MMA_FOLD_SCALE 1: the host
// promises scale > 0, and the scale moves into the exponent's fma (below).
#ifndef MMA_D
#define MMA_D 128
#endif
#ifndef MMA_WARPS
#define MMA_WARPS 8
#endif
#ifndef MMA_BN
#define MMA_BN 64
#endif
#ifndef MMA_ASYNC
#define MMA_ASYNC 0
#endif
#ifndef MMA_KV_F16
#define MMA_KV_F16 0
#endif
#ifndef MMA_MT
#define MMA_MT 1
#endif
#ifndef MMA_FOLD_SCALE
#define MMA_FOLD_SCALE 0
#endif
#define D MMA_D
#define WARPS MMA_WARPS
#define MMA_EMU_WARPS WARPS // emulation area (mma_ptx.cl)
#define BN MMA_BN
#define ASYNC MMA_ASYNC
#define KV_F16 MMA_KV_F16

#define MT MMA_MT
#define BM (16 * MT * WARPS)
#define NT (32 * WARPS)
#define Q_LOCAL (MT == 2) // the warp's Q fragments in local memory
// K and V tiles share one buffer where Q's fragments and both tiles would exceed 48 KiB
#define KV_SHARED (Q_LOCAL && BM * D * 2 + 2 * BN * D * 2 > 49152)
#define KCH (D / 8)  // 16-byte chunks in a K row
#define VCH (BN / 8) // 16-byte chunks in a V^T row
#define NEG_BIG (-1e30f) // initial running max: finite, so rows with no visible key stay NaN-free

#if D % 32 != 0 || BN % 32 != 0 || (BN * KCH) % NT != 0 || (D * VCH) % NT != 0
#error "fa_mma.cl: D and BN must be multiples of 32 and the tiles a multiple of the work-group"
#endif
#if (MT != 1 && MT != 2) || (MT == 2 && !ASYNC)
#error "fa_mma.cl: MMA_MT is 1 or 2, and 2 loads tiles by cp.async (MMA_ASYNC 1)"
#endif

// XOR swizzle of 16-byte chunks: odd rows swap chunk halves (rows of 128 or 256 bytes would
// otherwise put a quarter warp's two rows in the same banks).
#define K_SWZ(row) (((row) & 1) << 2)
#if VCH >= 8
#define V_SWZ(row) (((row) & 1) << 2)
#else
#define V_SWZ(row) 0
#endif

// ---- preparation: K -> K16, V -> V^T16 ----------------------------------------------------

inline float kv_load(global const char* base, ulong offs, ulong4 nb, long i0, long i1, long i2) {
    global const char* p = base + offs + (ulong)i0 * nb.s0 + (ulong)i1 * nb.s1 + (ulong)i2 * nb.s2;
#if KV_F16
    return vload_half(0, (global const half*)p);
#else
    return *(global const float*)p;
#endif
}

// global (KCH, NKP, Hkv): one 16-byte chunk (8 dims of one key) each.
kernel void fa_mma_prep_k(global const char* kb, ulong k_offs, long4 k_ne, ulong4 k_nb, global uint4* k16,
                          int nkp) {
    const int ch = get_global_id(0), key = get_global_id(1), h = get_global_id(2);
    if (ch >= KCH || key >= nkp || h >= k_ne.s2) return;
    float v[8];
    for (int e = 0; e < 8; ++e) v[e] = key < k_ne.s1 ? kv_load(kb, k_offs, k_nb, ch * 8 + e, key, h) : 0.0f;
    k16[((ulong)h * nkp + key) * KCH + ch] =
        (uint4)(pack_f16x2(v[0], v[1]), pack_f16x2(v[2], v[3]), pack_f16x2(v[4], v[5]), pack_f16x2(v[6], v[7]));
}

// global (D, NKP/8, Hkv): one 16-byte chunk (8 keys of one dim) each; dims vary fastest so a
// warp reads whole rows of V.
kernel void fa_mma_prep_v(global const char* vb, ulong v_offs, long4 v_ne, ulong4 v_nb, global uint4* vt16,
                          int nkp) {
    const int dim = get_global_id(0), kc = get_global_id(1), h = get_global_id(2);
    if (dim >= D || kc >= nkp / 8 || h >= v_ne.s2) return;
    float v[8];
    for (int e = 0; e < 8; ++e) {
        const int key = kc * 8 + e;
        v[e] = key < v_ne.s1 ? kv_load(vb, v_offs, v_nb, dim, key, h) : 0.0f;
    }
    vt16[((ulong)h * D + dim) * (nkp / 8) + kc] =
        (uint4)(pack_f16x2(v[0], v[1]), pack_f16x2(v[2], v[3]), pack_f16x2(v[4], v[5]), pack_f16x2(v[6], v[7]));
}

// ---- attention ----------------------------------------------------------------------------
// (left out of the prep-only builds, -DMMA_PREP_ONLY=1: the prep kernels of other K/V types then
// do not compile the attention kernel again)
#if !defined(MMA_PREP_ONLY) || !MMA_PREP_ONLY

// Key offset inside a tile of S accumulator element (n-tile j, element i) of lane t.
inline int s_key(int j, int i, int t) {
    return 32 * (j >> 2) + 8 * t + 4 * ((j >> 1) & 1) + 2 * (j & 1) + (i & 1);
}
// Row of the K tile that lane group g loads for n-tile j.
inline int k_row(int j, int g) {
    return 32 * (j >> 2) + 8 * (g >> 1) + 4 * ((j >> 1) & 1) + 2 * (j & 1) + (g & 1);
}

inline void load_k_tile(uint4* r, global const uint4* k16, int tid) {
    MMA_UNROLL
    for (int i = 0; i < BN * KCH / NT; ++i) r[i] = k16[tid + i * NT];
}
inline void store_k_tile(local uint4* kl, const uint4* r, int tid) {
    MMA_UNROLL
    for (int i = 0; i < BN * KCH / NT; ++i) {
        const int c = tid + i * NT, row = c / KCH, ch = c % KCH;
        kl[row * KCH + (ch ^ K_SWZ(row))] = r[i];
    }
}
// vt: the head's V^T at this tile's first key; row stride nkp/8 chunks.
inline void load_v_tile(uint4* r, global const uint4* vt, int row_chunks, int tid) {
    MMA_UNROLL
    for (int i = 0; i < D * VCH / NT; ++i) {
        const int c = tid + i * NT;
        r[i] = vt[(c / VCH) * row_chunks + c % VCH];
    }
}
inline void store_v_tile(local uint4* vl, const uint4* r, int tid) {
    MMA_UNROLL
    for (int i = 0; i < D * VCH / NT; ++i) {
        const int c = tid + i * NT, row = c / VCH, ch = c % VCH;
        vl[row * VCH + (ch ^ V_SWZ(row))] = r[i];
    }
}

#ifdef FA_MMA_SPARSE
// Rows and key tiles come from the block mask (plugin/kernels/sparse_attn_mma.cl defines
// SPARSE_ARGS, SPARSE_M0, SPARSE_TILES and SPARSE_TILE_KEY).
#define TILE_ARGS SPARSE_ARGS
#else
#define TILE_ARGS
#endif

inline void async_k_tile(local uint4* kl, global const uint4* k16, int tid) {
    MMA_UNROLL
    for (int i = 0; i < BN * KCH / NT; ++i) {
        const int c = tid + i * NT, row = c / KCH, ch = c % KCH;
        cp_async16(kl + row * KCH + (ch ^ K_SWZ(row)), k16 + c);
    }
}
inline void async_v_tile(local uint4* vl, global const uint4* vt, int row_chunks, int tid) {
    MMA_UNROLL
    for (int i = 0; i < D * VCH / NT; ++i) {
        const int c = tid + i * NT, row = c / VCH, ch = c % VCH;
        cp_async16(vl + row * VCH + (ch ^ V_SWZ(row)), vt + row * row_chunks + ch);
    }
}

// global (NT * n_q_blocks * H): work-group id -> (query block, head), the heaviest (last) query
// blocks first for causal balance and all heads of a query block together so that the query
// heads of a KV group share K/V tiles in L2. Sparse: (mask row, part of it, head), same order.
kernel void fa_mma(global const char* qb, ulong q_offs, long4 q_ne, ulong4 q_nb, global const uint4* k16,
                   global const uint4* vt16, int nkp, global char* ob, ulong o_offs, int n_kv, int n_head_kv,
                   int n_past, int causal, float scale TILE_ARGS) {
#if KV_SHARED
    local uint4 kvl[BN * KCH]; // == D * VCH: a K tile, then a V^T tile
    local uint4* const kl = kvl;
    local uint4* const vl = kvl;
#else
    local uint4 kl[BN * KCH];
    local uint4 vl[D * VCH];
#endif
#if Q_LOCAL
    local uint4 ql[WARPS * MT * (D / 16) * 32];
#endif
    EMU_DECL
    const int n_q = q_ne.s1, n_head = q_ne.s2;
    const int wg = get_group_id(0);
    const int h = wg % n_head;
#ifdef FA_MMA_SPARSE
    const int m0 = SPARSE_M0(wg / n_head); // may be negative: a first row that starts mid-block
#else
    const int m0 = ((n_q + BM - 1) / BM - 1 - wg / n_head) * BM;
#endif
    const int kvh = h / (n_head / n_head_kv);
    const int tid = get_local_id(0), warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int r0 = m0 + 16 * MT * warp; // first query row of the warp (rows outside [0, n_q) are padding)

    // Q fragments (see the mapping above) of m-tile i, k-chunk c, converted from F32.
#if Q_LOCAL
#define QA(i, c) ql[((warp * MT + (i)) * (D / 16) + (c)) * 32 + lane]
#else
    uint4 qa[MT][D / 16];
#define QA(i, c) qa[i][c]
#endif
    MMA_UNROLL
    for (int i = 0; i < MT; ++i) {
        const int ra = r0 + 16 * i + g, rb = ra + 8;
        global const char* pa = qb + q_offs + (ulong)clamp(ra, 0, n_q - 1) * q_nb.s1 + (ulong)h * q_nb.s2;
        global const char* pb = qb + q_offs + (ulong)clamp(rb, 0, n_q - 1) * q_nb.s1 + (ulong)h * q_nb.s2;
        MMA_UNROLL
        for (int q = 0; q < D / 32; ++q) {
            float4 a0 = vload4(0, (global const float*)(pa) + 32 * q + 8 * t);
            float4 a1 = vload4(1, (global const float*)(pa) + 32 * q + 8 * t);
            float4 b0 = vload4(0, (global const float*)(pb) + 32 * q + 8 * t);
            float4 b1 = vload4(1, (global const float*)(pb) + 32 * q + 8 * t);
            if (ra < 0 || ra >= n_q) a0 = a1 = (float4)(0.0f);
            if (rb < 0 || rb >= n_q) b0 = b1 = (float4)(0.0f);
            QA(i, 2 * q) = (uint4)(pack_f16x2(a0.x, a0.y), pack_f16x2(b0.x, b0.y), pack_f16x2(a0.z, a0.w),
                                   pack_f16x2(b0.z, b0.w));
            QA(i, 2 * q + 1) = (uint4)(pack_f16x2(a1.x, a1.y), pack_f16x2(b1.x, b1.y), pack_f16x2(a1.z, a1.w),
                                       pack_f16x2(b1.z, b1.w));
        }
    }

    float4 o[MT][D / 8];
    float mrow[MT][2], lrow[MT][2]; // running max (scaled logits) of rows g, g+8; this lane's part of the sums
    int lim[MT][2];                 // the last key rows g, g+8 of each m-tile see
    MMA_UNROLL
    for (int i = 0; i < MT; ++i) {
        MMA_UNROLL
        for (int j = 0; j < D / 8; ++j) o[i][j] = (float4)(0.0f);
        MMA_UNROLL
        for (int e = 0; e < 2; ++e) {
            mrow[i][e] = NEG_BIG;
            lrow[i][e] = 0.0f;
            lim[i][e] = causal ? min(n_past + r0 + 16 * i + g + 8 * e, n_kv - 1) : n_kv - 1;
        }
    }

#ifdef FA_MMA_SPARSE
    const int n_tiles = SPARSE_TILES(h, wg / n_head);
#define TILE_KEY(it) SPARSE_TILE_KEY(h, wg / n_head, it)
    // The next tile's first key is a load from the mask's block list: read at the top of each tile,
    // a whole product ahead of the copy that needs it (3% faster on the H200; the dense kernel,
    // which computes its keys, lost 3% with the same change).
#define KEY_AHEAD 1
#define NEXT_KEY kb_next
#else
    // keys this work-group can see: causal -> up to its last row's position
    const int key_end = causal ? min(n_kv, n_past + min(m0 + BM, n_q)) : n_kv;
    const int n_tiles = (key_end + BN - 1) / BN;
#define TILE_KEY(it) ((it) * BN)
#define KEY_AHEAD 0
#define NEXT_KEY TILE_KEY(it + 1)
#endif
#if !MMA_EMULATE
    const int warp_last = causal ? min(n_past + r0 + 16 * MT - 1, n_kv - 1) : n_kv - 1; // last key of the warp
#endif
    const int warp_first = causal ? min(n_past + r0, n_kv - 1) : n_kv - 1;

    global const uint4* kh = k16 + (ulong)kvh * nkp * KCH;
    global const uint4* vh = vt16 + (ulong)kvh * D * (nkp / 8);
    const int v_row_chunks = nkp / 8;

#if ASYNC
    if (n_tiles > 0) async_k_tile(kl, kh + (ulong)TILE_KEY(0) * KCH, tid);
    cp_async_wait_all();
#else
    uint4 kr[BN * KCH / NT], vr[D * VCH / NT];
    if (n_tiles > 0) {
        load_k_tile(kr, kh + (ulong)TILE_KEY(0) * KCH, tid);
        store_k_tile(kl, kr, tid);
    }
#endif
    barrier(CLK_LOCAL_MEM_FENCE);

#if KEY_AHEAD // (above the pragma: NVIDIA's compiler wants the loop right after it; PoCL does not care)
    int kb_next = n_tiles > 0 ? TILE_KEY(0) : 0;
#endif
    MMA_UNROLL
    for (int it = 0; it < n_tiles; ++it) {
#if KEY_AHEAD
        const int kb = kb_next;
        kb_next = it + 1 < n_tiles ? TILE_KEY(it + 1) : 0;
#else
        const int kb = TILE_KEY(it);
#endif
#if !KV_SHARED
#if ASYNC
        async_v_tile(vl, vh + kb / 8, v_row_chunks, tid);
#else
        load_v_tile(vr, vh + kb / 8, v_row_chunks, tid);
#endif
#endif
#if MMA_EMULATE
        const bool active = true; // emulation needs uniform control flow (barriers inside)
#else
        const bool active = kb <= warp_last; // warp-uniform: skip tiles entirely above the diagonal
#endif
        float4 s[MT][BN / 8];
        uint4 pa[MT][BN / 16];
        if (active) {
            // S = Q K^T: each K fragment serves the warp's MT m-tiles
            MMA_UNROLL
            for (int i = 0; i < MT; ++i) {
                MMA_UNROLL
                for (int j = 0; j < BN / 8; ++j) s[i][j] = (float4)(0.0f);
            }
            MMA_UNROLL
            for (int q = 0; q < D / 32; ++q) {
                uint4 a[MT][2];
                MMA_UNROLL
                for (int i = 0; i < MT; ++i) {
                    a[i][0] = QA(i, 2 * q);
                    a[i][1] = QA(i, 2 * q + 1);
                }
                MMA_UNROLL
                for (int j = 0; j < BN / 8; ++j) {
                    const int row = k_row(j, g);
                    const uint4 kv = kl[row * KCH + ((4 * q + t) ^ K_SWZ(row))];
                    MMA_UNROLL
                    for (int i = 0; i < MT; ++i) {
                        mma16816(&s[i][j], a[i][0], kv.x, kv.y);
                        mma16816(&s[i][j], a[i][1], kv.z, kv.w);
                    }
                }
            }
        }
#if KV_SHARED
        barrier(CLK_LOCAL_MEM_FENCE); // every warp is done with the K tile: V^T takes its place
        async_v_tile(vl, vh + kb / 8, v_row_chunks, tid);
#endif
        if (active) {
            MMA_UNROLL
            for (int i = 0; i < MT; ++i) {
                // Scaled before the max, as the CPU reference does: the max of the raw products is
                // not the max of the scores for a negative scale, and raw * scale * log2(e) may
                // overflow. With MMA_FOLD_SCALE (scale > 0, a separate program) the max of the raw
                // products times the scale is the max of the scaled scores (rounding is monotone),
                // so the scale moves into the exponent's fma instead of a multiply a score.
#if MMA_FOLD_SCALE
                const float ms = scale; // turns the max of s into the scaled max
#else
                MMA_UNROLL
                for (int j = 0; j < BN / 8; ++j) s[i][j] *= scale;
                const float ms = 1.0f;
#endif
                // mask (only tiles that cross the diagonal or the end of the keys)
                if (kb + BN - 1 > warp_first) {
                    MMA_UNROLL
                    for (int j = 0; j < BN / 8; ++j) {
                        const int k0 = kb + s_key(j, 0, t), k1 = kb + s_key(j, 1, t);
                        if (k0 > lim[i][0]) s[i][j].x = -INFINITY;
                        if (k1 > lim[i][0]) s[i][j].y = -INFINITY;
                        if (k0 > lim[i][1]) s[i][j].z = -INFINITY;
                        if (k1 > lim[i][1]) s[i][j].w = -INFINITY;
                    }
                }
                // online softmax: a row lives in the 4 lanes of one group
                float mx0 = NEG_BIG, mx1 = NEG_BIG;
                MMA_UNROLL
                for (int j = 0; j < BN / 8; ++j) {
                    mx0 = fmax(mx0, fmax(s[i][j].x, s[i][j].y));
                    mx1 = fmax(mx1, fmax(s[i][j].z, s[i][j].w));
                }
                mx0 = fmax(mx0, shfl_xor(mx0, 1));
                mx0 = fmax(mx0, shfl_xor(mx0, 2));
                mx1 = fmax(mx1, shfl_xor(mx1, 1));
                mx1 = fmax(mx1, shfl_xor(mx1, 2));
                const float mn0 = fmax(mrow[i][0], mx0 * ms), mn1 = fmax(mrow[i][1], mx1 * ms);
                const float al0 = native_exp2((mrow[i][0] - mn0) * M_LOG2E_F);
                const float al1 = native_exp2((mrow[i][1] - mn1) * M_LOG2E_F);
                mrow[i][0] = mn0;
                mrow[i][1] = mn1;
                const float c0 = mn0 * M_LOG2E_F, c1 = mn1 * M_LOG2E_F, sl = ms * M_LOG2E_F;
                float sum0 = 0.0f, sum1 = 0.0f;
                MMA_UNROLL
                for (int j = 0; j < BN / 8; ++j) {
                    s[i][j].x = native_exp2(fma(s[i][j].x, sl, -c0));
                    s[i][j].y = native_exp2(fma(s[i][j].y, sl, -c0));
                    s[i][j].z = native_exp2(fma(s[i][j].z, sl, -c1));
                    s[i][j].w = native_exp2(fma(s[i][j].w, sl, -c1));
                    sum0 += s[i][j].x + s[i][j].y;
                    sum1 += s[i][j].z + s[i][j].w;
                }
                lrow[i][0] = lrow[i][0] * al0 + sum0;
                lrow[i][1] = lrow[i][1] * al1 + sum1;
                MMA_UNROLL
                for (int j = 0; j < D / 8; ++j) {
                    o[i][j].x *= al0;
                    o[i][j].y *= al0;
                    o[i][j].z *= al1;
                    o[i][j].w *= al1;
                }
                MMA_UNROLL
                for (int kk = 0; kk < BN / 16; ++kk)
                    pa[i][kk] = (uint4)(pack_f16x2(s[i][2 * kk].x, s[i][2 * kk].y),
                                        pack_f16x2(s[i][2 * kk].z, s[i][2 * kk].w),
                                        pack_f16x2(s[i][2 * kk + 1].x, s[i][2 * kk + 1].y),
                                        pack_f16x2(s[i][2 * kk + 1].z, s[i][2 * kk + 1].w));
            }
        }
#if ASYNC
        cp_async_wait_all();
#else
        store_v_tile(vl, vr, tid);
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
        const bool more = it + 1 < n_tiles;
#if !KV_SHARED
#if ASYNC
        if (more) async_k_tile(kl, kh + (ulong)NEXT_KEY * KCH, tid);
#else
        if (more) load_k_tile(kr, kh + (ulong)NEXT_KEY * KCH, tid);
#endif
#endif
        if (active) {
            // O += P V: each V fragment serves the warp's MT m-tiles
            MMA_UNROLL
            for (int qq = 0; qq < BN / 32; ++qq) {
                MMA_UNROLL
                for (int j = 0; j < D / 8; ++j) {
                    const int row = 8 * j + g;
                    const uint4 vv = vl[row * VCH + ((4 * qq + t) ^ V_SWZ(row))];
                    MMA_UNROLL
                    for (int i = 0; i < MT; ++i) {
                        mma16816(&o[i][j], pa[i][2 * qq], vv.x, vv.y);
                        mma16816(&o[i][j], pa[i][2 * qq + 1], vv.z, vv.w);
                    }
                }
            }
        }
#if KV_SHARED
        barrier(CLK_LOCAL_MEM_FENCE); // every warp is done with the V^T tile: the next K takes its place
        if (more) async_k_tile(kl, kh + (ulong)NEXT_KEY * KCH, tid);
#endif
#if ASYNC
        cp_async_wait_all();
#else
        if (more) store_k_tile(kl, kr, tid);
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    // O / l (the row sum is spread over the 4 lanes of a group)
    MMA_UNROLL
    for (int i = 0; i < MT; ++i) {
        float l0 = lrow[i][0], l1 = lrow[i][1];
        l0 += shfl_xor(l0, 1);
        l0 += shfl_xor(l0, 2);
        l1 += shfl_xor(l1, 1);
        l1 += shfl_xor(l1, 2);
        const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
        const int ra = r0 + 16 * i + g, rb = ra + 8;
        global float* oa = (global float*)(ob + o_offs) + ((ulong)ra * n_head + h) * D + 2 * t;
        global float* obb = (global float*)(ob + o_offs) + ((ulong)rb * n_head + h) * D + 2 * t;
        const bool wa = ra >= 0 && ra < n_q, wb = rb >= 0 && rb < n_q;
        MMA_UNROLL
        for (int j = 0; j < D / 8; ++j) {
            if (wa) vstore2((float2)(o[i][j].x * inv0, o[i][j].y * inv0), 0, oa + 8 * j);
            if (wb) vstore2((float2)(o[i][j].z * inv1, o[i][j].w * inv1), 0, obb + 8 * j);
        }
    }
}
#endif // !MMA_PREP_ONLY
