// proxy_block_stats.cl - per (query, key block): the max logit and the block's sum of
// exp(logit - max) in 2^-32 fixed point (ref/estimate.cpp block_stats), on tiles:
//   proxy_stats   strided proxy queries of a batch of rows against their group's proxy keys
//   sample_stats  measured queries of every head against every key of its kv head
// Needs proxy_det.cl in front, and for BS_MODE 1 and 2 opencl/kernels/mma_ptx.cl (the shared
// tensor-core helpers: mma16832_s8, shfl_xor_bits, cp.async) before it (ocl/block_stats.cpp).
//
// Work-group = WARPS groups of 32 items ("warps"); warp w owns 16 query rows, the work-group
// 16 * WARPS consecutive rows of one head (rows are ordered by position) and a range of key
// blocks. Key tiles of KT keys (int8 rows + scales) are staged in local memory and shared by the
// warps; every warp computes a 16 x KT tile of integer dot products, turns it into logits, takes
// each row's max over the block (a block of more than KT keys is covered in a first pass for the
// max and a second pass, recomputing the products, for the exp sum) and sums exp_fixed.
//
// Bit-exactness: dot products are exact integers (any order, any unit), the logit is the
// reference's float(dot) * (qs * ks), the max is order-free, the fixed-point sum is exact in any
// order (64-bit integers), so the results equal ref/estimate.cpp's bit for bit on every path.
//
// Three ways to compute the integer tile (BS_MODE):
//   0  portable: each item computes its accumulator elements with packed byte dot products
//      from the query and key rows in local memory; row reductions go through local memory
//   1  NVIDIA tensor cores (sm_80+): mma.sync.m16n8k32 s8 x s8 -> s32 (mma_ptx.cl mma16832_s8),
//      A fragments in registers, B fragments by 16-byte loads from a padded (bank-conflict free)
//      key tile, cp.async double-buffered key tiles, shfl.sync row reductions
//   2  mode 1 with mma_ptx.cl built with MMA_EMULATE=1: every PTX helper emulated in OpenCL C
//      through local memory (slow); tests the fragment layouts on any device (PoCL)
// Every item of a work-group runs the same control flow in modes 0 and 2 (barriers inside the
// helpers); in mode 1 a warp whose rows have no visible key in a block skips its compute.
//
// Fragments (mma_ptx.cl's m16n8k32 layout, lane = 4g + t, 32-bit registers of 4 int8): the sum
// over k is order-free, so k maps to the row's bytes such that lane t holds one contiguous
// segment of every row: bytes [t * DP/4, (t+1) * DP/4), SEG = DP/16 words; chunk q (k-step of
// 32) takes the segment's words 2q (A registers x/y of rows g/g+8, b0) and 2q + 1 (z/w, b1).
#pragma OPENCL FP_CONTRACT OFF

#ifndef BS_MODE
#define BS_MODE 0
#endif
#ifndef BS_DP
#define BS_DP 128 // bytes per int8 row: head dim rounded up to 32, zeros past it
#endif
#ifndef BS_KT
#define BS_KT 128 // keys per tile, a multiple of 8
#endif
#ifndef BS_WARPS
#define BS_WARPS 4
#endif
#ifndef BS_I2F_ADD
#define BS_I2F_ADD 0 // 1: int -> float by a float add (ALU) instead of a conversion (XU)
#endif

#define DP BS_DP
#define KT BS_KT
#define WARPS BS_WARPS
#define RW (16 * WARPS) // query rows per work-group
#define NTH (32 * WARPS)
#define NT (KT / 8)       // n-tiles of 8 keys
#define KCH (DP / 32)     // k-steps of 32 bytes
#define SEG (DP / 16)     // words of a row segment (one lane's share)
#define ROWW (DP / 4 + 4) // local row stride in words: 16 bytes of padding
// Key tiles are double-buffered on the tensor-core path (the next tile's cp.async copies fly
// while this one is used) and in its emulation (plain copies, same indexing); single elsewhere.
#if BS_MODE == 1 || BS_MODE == 2
#define NBUF 2
#else
#define NBUF 1
#endif
#if BS_MODE == 1
#define BS_UNROLL _Pragma("unroll")
#else
#define BS_UNROLL
#endif

#if DP % 32 != 0 || KT % 8 != 0 || DP > 256
#error "proxy_block_stats.cl: BS_DP must be a multiple of 32 (at most 256), BS_KT a multiple of 8"
#endif

// SEG words from p (8-byte aligned; 16-byte aligned when SEG is a multiple of 4)
#define LOAD_SEG(dst, p)                                                                                       \
    do {                                                                                                       \
        BS_UNROLL for (int s_ = 0; s_ < SEG; s_ += 2) {                                                        \
            const uint2 v_ = vload2(0, (p) + s_);                                                             \
            (dst)[s_] = v_.x;                                                                                  \
            (dst)[s_ + 1] = v_.y;                                                                              \
        }                                                                                                      \
    } while (0)

// ---- exchanges between the lanes of a quad, key tile copies --------------------------------

#if BS_MODE == 1 || BS_MODE == 2
#ifndef MMA_UNROLL
#error "proxy_block_stats.cl: BS_MODE 1 and 2 need opencl/kernels/mma_ptx.cl in front"
#endif
#if (BS_MODE == 2) != MMA_EMULATE
#error "proxy_block_stats.cl: BS_MODE 2 is BS_MODE 1 with mma_ptx.cl built with MMA_EMULATE=1"
#endif
#define MMA_EMU_WARPS WARPS // emulation area (mma_ptx.cl)

inline uint2 exch2(uint2 v, int mask, local uint4* ex EMU_PARAM) {
    return (uint2)(shfl_xor_bits(v.x, mask), shfl_xor_bits(v.y, mask));
}
inline uint4 exch4(uint4 v, int mask, local uint4* ex EMU_PARAM) {
    return (uint4)(shfl_xor_bits(v.x, mask), shfl_xor_bits(v.y, mask), shfl_xor_bits(v.z, mask),
                   shfl_xor_bits(v.w, mask));
}
inline void copy16(local uint* dst, global const uint4* src) { cp_async16((local uint4*)dst, src); }

#else // mode 0: exchanges through local memory (every item calls them)

#define EMU_DECL
#define EMU_PARAM
#define EMU_ARG

inline uint4 exch4(uint4 v, int mask, local uint4* ex) {
    const int lid = get_local_id(0);
    ex[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint4 r = ex[lid ^ mask];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
inline uint2 exch2(uint2 v, int mask, local uint4* ex) { return exch4((uint4)(v, 0u, 0u), mask, ex).xy; }

inline void copy16(local uint* dst, global const uint4* src) { vstore4(*src, 0, dst); }

#endif

#if BS_MODE == 0
inline int dot4(uint a, uint b) {
    const int4 p = convert_int4(as_char4(a)) * convert_int4(as_char4(b));
    return p.x + p.y + p.z + p.w;
}
// This lane's C elements of n-tile j straight from the rows: query rows g, g+8 of the warp's
// tile (qt), keys 8j + 2t, 8j + 2t + 1 of the key tile (kt).
inline int4 portable_ntile(int4 c, local const uint* qt, local const uint* kt, int j, int g, int t) {
    local const uint* q0 = qt + g * ROWW;
    local const uint* q1 = qt + (g + 8) * ROWW;
    local const uint* k0 = kt + (8 * j + 2 * t) * ROWW;
    local const uint* k1 = k0 + ROWW;
    for (int w = 0; w < DP / 4; ++w) {
        const uint a0 = q0[w], a1 = q1[w], b0 = k0[w], b1 = k1[w];
        c += (int4)(dot4(a0, b0), dot4(a0, b1), dot4(a1, b0), dot4(a1, b1));
    }
    return c;
}
#endif

// ---- the tile loop ------------------------------------------------------------------------------

// float(dot), exact either way: |dot| < 2^22 for rows of at most 256 bytes, and 1.5 * 2^23 + dot
// holds dot in its mantissa. Two conversions per logit (this one and exp_fixed's float -> u64)
// share the conversion unit (16 a clock per NVIDIA multiprocessor); the add form trades one for
// an integer and a float add.
inline float4 dot_to_float(int4 a) {
#if BS_I2F_ADD
    return as_float4(a + 0x4B400000) - 12582912.0f;
#else
    return convert_float4(a);
#endif
}

// One query row of a lane: its int8 row (-1: none), where its block-0 statistics go (block n:
// n * n_stride further), how many keys it sees (indices 0 .. vis - 1) and in how many blocks
// ((vis - 1) / kpb + 1; 0 for none).
typedef struct {
    long q_row;
    long out;
    int vis;
    int nb;
} stat_row;

inline stat_row make_row(long q_row, long out, long pos, int KS, int kpb) {
    stat_row r;
    r.q_row = q_row;
    r.out = out;
    r.vis = q_row < 0 ? 0 : (int)(pos / KS + 1);
    r.nb = q_row < 0 ? 0 : (r.vis - 1) / kpb + 1;
    return r;
}

// Keys key0 .. key0 + KT - 1 of the head (rows and scales) into one tile buffer.
inline void load_tile(local uint* kt, local float* kst, global const uint4* k8, global const float* ks, int key0) {
    const int lid = get_local_id(0);
    for (int i = lid; i < KT * (DP / 16); i += NTH) {
        const int row = i / (DP / 16), ch = i % (DP / 16);
        copy16(kt + row * ROWW + ch * 4, k8 + (long)(key0 + row) * (DP / 16) + ch);
    }
    for (int i = lid; i < KT; i += NTH) kst[i] = ks[key0 + i];
}

// The statistics of this work-group's rows (lo = row g, hi = row g + 8 of the lane's warp) over
// key blocks [n0, n1) of one head; warp_nb: blocks of the warp's last row, warp_vis0: visible
// keys of its first row (rows ascend).
// Results for (row, block n < row's nb) go to bm/bs[out + n * n_stride].
inline void block_stats_tile(stat_row lo, stat_row hi, int warp_nb, int warp_vis0, int n0, int n1, int kpb,
                             global const uint* q8, global const float* qs, global const uint4* k8,
                             global const float* ks, global float* bm, global float* bs, long n_stride,
                             local uint* ktile, local float* kst, local uint* qtile, local uint4* ex EMU_PARAM) {
    const int lid = get_local_id(0), lane = lid & 31, g = lane >> 2, t = lane & 3;
    const int nch = (kpb + KT - 1) / KT; // tiles per block
    const int npass = nch > 1 ? 2 : 1;   // a block over several tiles: max first, then the sums
    const int per_block = npass * nch;
    const int steps = (n1 - n0) * per_block;

    // the query rows: A fragments in registers (modes 1 and 2) or the rows in local memory (mode
    // 0); each lane holds segment t of rows g and g + 8
    uint a_lo[SEG], a_hi[SEG];
    for (int s = 0; s < SEG; ++s) a_lo[s] = a_hi[s] = 0;
    if (lo.q_row >= 0) LOAD_SEG(a_lo, q8 + lo.q_row * (DP / 4) + t * SEG);
    if (hi.q_row >= 0) LOAD_SEG(a_hi, q8 + hi.q_row * (DP / 4) + t * SEG);
#if BS_MODE == 0
    local uint* qt = qtile + (lid >> 5) * 16 * ROWW;
    for (int s = 0; s < SEG; ++s) {
        qt[g * ROWW + t * SEG + s] = a_lo[s];
        qt[(g + 8) * ROWW + t * SEG + s] = a_hi[s];
    }
#endif
    const float qs_lo = lo.q_row >= 0 ? qs[lo.q_row] : 0.0f, qs_hi = hi.q_row >= 0 ? qs[hi.q_row] : 0.0f;

    float2 mx = (float2)(-INFINITY, -INFINITY); // the rows' max over the block
    ulong sum_lo = 0, sum_hi = 0;
#if NBUF == 2
    if (steps > 0) {
        load_tile(ktile, kst, k8, ks, n0 * kpb);
        cp_async_commit();
    }
#endif
    for (int s = 0; s < steps; ++s) {
        const int n = n0 + s / per_block, r = s % per_block, pass = r / nch, c = r % nch;
        const int buf = s & (NBUF - 1);
        local const uint* kt = ktile + buf * KT * ROWW;
        local const float* kss = kst + buf * KT;
#if NBUF == 2
        if (s + 1 < steps) { // the next tile's copies fly while this one is used
            const int n2 = n0 + (s + 1) / per_block, c2 = ((s + 1) % per_block) % nch;
            load_tile(ktile + (buf ^ 1) * KT * ROWW, kst + (buf ^ 1) * KT, k8, ks, n2 * kpb + c2 * KT);
            cp_async_commit();
            cp_async_wait_one();
        } else {
            cp_async_wait_all();
        }
#else
        load_tile(ktile, kst, k8, ks, n * kpb + c * KT);
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
#if BS_MODE == 1
        const bool active = n < warp_nb; // uniform over the warp
#else
        const bool active = true; // every item takes part in the exchanges
#endif
        if (active) {
            int4 acc[NT];
            BS_UNROLL for (int j = 0; j < NT; ++j) {
                acc[j] = (int4)(0);
#if BS_MODE == 0
                acc[j] = portable_ntile(acc[j], qt, kt, j, g, t);
#else
                uint b[SEG];
                LOAD_SEG(b, kt + (8 * j + g) * ROWW + t * SEG);
                BS_UNROLL for (int q = 0; q < KCH; ++q) acc[j] =
                    mma16832_s8(acc[j], (uint4)(a_lo[2 * q], a_hi[2 * q], a_lo[2 * q + 1], a_hi[2 * q + 1]),
                                b[2 * q], b[2 * q + 1]);
#endif
            }
            // logits = float(dot) * (qs * ks); keys past the block or past a row's last visible key
            // are -inf (they add nothing: exp_fixed(-inf) = 0, and the max ignores them). Tiles
            // inside every row's visible keys (all but the diagonal blocks) skip the masking.
            const int kk0 = c * KT, key0 = n * kpb + kk0;
            const bool full = kk0 + KT <= kpb && key0 + KT <= warp_vis0; // uniform over the warp
            float4 L[NT];
            BS_UNROLL for (int j = 0; j < NT; ++j) {
                const float2 ksv = vload2(0, kss + 8 * j + 2 * t);
                L[j] = dot_to_float(acc[j]) * (float4)(qs_lo * ksv.x, qs_lo * ksv.y, qs_hi * ksv.x, qs_hi * ksv.y);
            }
            if (!full) {
                BS_UNROLL for (int j = 0; j < NT; ++j) {
                    const int kk = kk0 + 8 * j + 2 * t, k_0 = key0 + 8 * j + 2 * t;
                    const bool in0 = kk < kpb, in1 = kk + 1 < kpb;
                    L[j] = select((float4)(-INFINITY), L[j],
                                  (int4)(in0 && k_0 < lo.vis, in1 && k_0 + 1 < lo.vis, in0 && k_0 < hi.vis,
                                         in1 && k_0 + 1 < hi.vis) * -1);
                }
            }
            float2 tmax = (float2)(-INFINITY, -INFINITY);
            BS_UNROLL for (int j = 0; j < NT; ++j) tmax = fmax(tmax, fmax(L[j].xz, L[j].yw));
            if (pass == 0) { // the rows' max: this lane's columns, then the quad's
                for (int m = 1; m <= 2; m <<= 1) tmax = fmax(tmax, as_float2(exch2(as_uint2(tmax), m, ex EMU_ARG)));
                mx = fmax(mx, tmax);
            }
            if (pass == npass - 1) {
                BS_UNROLL for (int j = 0; j < NT; ++j) {
                    sum_lo += exp_fixed_fast(L[j].x - mx.x) + exp_fixed_fast(L[j].y - mx.x);
                    sum_hi += exp_fixed_fast(L[j].z - mx.y) + exp_fixed_fast(L[j].w - mx.y);
                }
            }
            if (r == per_block - 1) { // block done: the quad's sums, then write
                for (int m = 1; m <= 2; m <<= 1) {
                    const uint4 o = exch4(as_uint4((ulong2)(sum_lo, sum_hi)), m, ex EMU_ARG);
                    const ulong2 ov = as_ulong2(o);
                    sum_lo += ov.x;
                    sum_hi += ov.y;
                }
                if (t == 0 && n < lo.nb) {
                    bm[lo.out + n * n_stride] = mx.x;
                    bs[lo.out + n * n_stride] = from_fixed(sum_lo);
                }
                if (t == 0 && n < hi.nb) {
                    bm[hi.out + n * n_stride] = mx.y;
                    bs[hi.out + n * n_stride] = from_fixed(sum_hi);
                }
                mx = (float2)(-INFINITY, -INFINITY);
                sum_lo = sum_hi = 0;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

// Local memory of a work-group (declared in each kernel: OpenCL C 1.2 has no local variables in
// functions): key tiles and scales, and per mode the query rows and the row-reduction exchange
// (0) or mma_ptx.cl's emulation area (2: EMU_DECL, 24 bytes a work-item).
#if BS_MODE == 0
#define QTILE_WORDS (RW * ROWW)
#define EX_VEC NTH
#else
#define QTILE_WORDS 4
#define EX_VEC 1 // shfl.sync
#endif
#define BS_LOCALS                                                                                              \
    local uint ktile[NBUF * KT * ROWW] __attribute__((aligned(16)));                                          \
    local float kst[NBUF * KT] __attribute__((aligned(16)));                                                  \
    local uint qtile[QTILE_WORDS] __attribute__((aligned(16)));                                               \
    local uint4 ex[EX_VEC];                                                                                    \
    EMU_DECL

// Strided proxy queries i_begin .. i_begin + n_rows - 1 of group j = get_group_id(2) against the
// group's proxy keys (k_rows padded rows per group, kpb = B / KS per block); statistics at
// [j][n][i - i_begin] ([g][n_kblocks][n_rows]). Global (block chunks * NTH, ceil(n_rows / RW), g),
// local (NTH).
kernel void proxy_stats(global const uint* q8, global const float* qs, global const uint4* k8,
                        global const float* ks, global float* bm, global float* bs, int i_begin, int n_rows,
                        int n_sq, int sq_first, long n_past, long first_full, int S, int KS, int kpb, long k_rows,
                        int n_kblocks, int blocks_per_group) {
    BS_LOCALS
    const int lid = get_local_id(0), w = lid >> 5, g = (lid & 31) >> 2, j = get_group_id(2);
    const int e0 = (get_num_groups(1) - 1 - get_group_id(1)) * RW; // later rows (more blocks) first
    const int e_lo = e0 + 16 * w + g, e_hi = e_lo + 8;
#define PROXY_ROW(e)                                                                                           \
    make_row((e) < n_rows ? (long)j * n_sq + i_begin + (e) : -1, (long)j * n_kblocks * n_rows + (e),         \
             i_begin + (e) < sq_first ? n_past + (long)(i_begin + (e)) * S                                     \
                                      : first_full + (long)(i_begin + (e) - sq_first) * S,                     \
             KS, kpb)
    const stat_row lo = PROXY_ROW(e_lo), hi = PROXY_ROW(e_hi);
    const stat_row wf = PROXY_ROW(e0 + 16 * w), wl = PROXY_ROW(min(e0 + 16 * w + 15, n_rows - 1));
    const stat_row gl = PROXY_ROW(min(e0 + RW - 1, n_rows - 1));
#undef PROXY_ROW
    const int warp_nb = e0 + 16 * w < n_rows ? wl.nb : 0;
    // a group past the rows' blocks runs no tile step (no barrier) rather than returning early
    const int n0 = get_group_id(0) * blocks_per_group, n1 = max(n0, min(n0 + blocks_per_group, gl.nb));
    block_stats_tile(lo, hi, warp_nb, wf.vis, n0, n1, kpb, q8, qs, k8 + (long)j * k_rows * (DP / 16), ks + (long)j * k_rows,
                     bm, bs, n_rows, ktile, kst, qtile, ex EMU_ARG);
}

// Measured queries of the heads of kv head hk = get_group_id(2) against its keys (k_rows padded
// rows per kv head, blocks of B): row e = qi * gqa + (h - hk * gqa) is query qi of head h, its
// statistics at [h][n][qi] ([H][n_kblocks][n_bq]). Global (block chunks * NTH,
// ceil(n_bq * gqa / RW), Hkv).
kernel void sample_stats(global const uint* q8, global const float* qs, global const uint4* k8,
                         global const float* ks, global float* bm, global float* bs, global const long* pos,
                         int n_bq, int gqa, int B, long k_rows, int n_kblocks, int blocks_per_group) {
    BS_LOCALS
    const int lid = get_local_id(0), w = lid >> 5, g = (lid & 31) >> 2, hk = get_group_id(2);
    const int n_rows = n_bq * gqa;
    const int e0 = (get_num_groups(1) - 1 - get_group_id(1)) * RW;
    const int e_lo = e0 + 16 * w + g, e_hi = e_lo + 8;
#define SAMPLE_ROW(e)                                                                                          \
    make_row((e) < n_rows ? ((long)hk * gqa + (e) % gqa) * n_bq + (e) / gqa : -1,                             \
             ((long)hk * gqa + (e) % gqa) * n_kblocks * n_bq + (e) / gqa, (e) < n_rows ? pos[(e) / gqa] : 0, 1, B)
    const stat_row lo = SAMPLE_ROW(e_lo), hi = SAMPLE_ROW(e_hi);
    const stat_row wf = SAMPLE_ROW(e0 + 16 * w), wl = SAMPLE_ROW(min(e0 + 16 * w + 15, n_rows - 1));
    const stat_row gl = SAMPLE_ROW(min(e0 + RW - 1, n_rows - 1));
#undef SAMPLE_ROW
    const int warp_nb = e0 + 16 * w < n_rows ? wl.nb : 0;
    // a group past the rows' blocks runs no tile step (no barrier) rather than returning early
    const int n0 = get_group_id(0) * blocks_per_group, n1 = max(n0, min(n0 + blocks_per_group, gl.nb));
    block_stats_tile(lo, hi, warp_nb, wf.vis, n0, n1, B, q8, qs, k8 + (long)hk * k_rows * (DP / 16), ks + (long)hk * k_rows,
                     bm, bs, n_bq, ktile, kst, qtile, ex EMU_ARG);
}
