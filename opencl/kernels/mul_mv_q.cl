// mul_mv_q.cl - decode-shaped mul_mat with quantized a: dst[m, n, i2, i3] = sum_k a[k, m] * b[k, n]
// for a few columns n (N <= MVQ_N per work-group column), a Q8_0 / Q4_0 / Q4_1 (A_TYPE) with
// packed blocks along k, b and dst F32 with unit stride along k / m.
// MVQ_LANES lanes share a row: each lane takes whole 32-element blocks (block kb for lanes
// kb % MVQ_LANES), reads the block's scale once and its quants as one vector, and dots them
// with 32 floats of b; the lanes of a row then add up through local memory. A work-group holds
// MVQ_WG / MVQ_LANES rows. So one row's bytes are read once, in block-sized pieces, with no
// per-element block arithmetic. With MVQ_EPI, the lane that writes dst also writes e = r + dst
// or silu(r) * dst (r and e shaped as dst), r itself a second product of the same b (SwiGLU's
// gate beside its up product) with MVQ_EPI 3.
// With MVQ_NORM, b is mul(rms_norm(x), w) computed on the fly: each work-group finds the rms
// factor of its columns of x, dots the weights with x * w and scales the sums by the factor;
// the work-groups of the first row block also write the norm's and the mul's results.
// k_mul_mv_q_heads runs up to three such products of one b (a layer's q, k and v) in one launch,
// each optionally followed by RoPE (a work-group holds both rows of a rotated pair) and a copy
// into a permuted view (the KV cache write).

#ifndef A_TYPE
#define A_TYPE PA_Q8_0
#endif
#ifndef MVQ_WG
#define MVQ_WG 64 // threads per work-group (a multiple of MVQ_LANES)
#endif
#ifndef MVQ_LANES
#define MVQ_LANES 16 // threads per row (a power of two)
#endif
#ifndef MVQ_N
#define MVQ_N 4 // columns of b per work-group
#endif

#ifndef MVQ_EPI
// nodes after the product in the same launch (fused.h): 1 e = r + dst, 2 e = silu(r) * dst,
// 3 r = the product of weights g (shaped as a) with b, then e = silu(r) * dst, 4 e = a copy of
// dst through a permuted view of its packed elements (sizes v_ne, strides v_st in elements; F32
// or, with e_f16, F16 at e's strides)
#define MVQ_EPI 0
#endif

#ifndef MVQ_NORM
#define MVQ_NORM 0
#endif

#define MVQ_ROWS (MVQ_WG / MVQ_LANES)

#ifndef MVQ_ALIGNED
#define MVQ_ALIGNED 1 // staged blocks read from local memory as aligned words and float4s (0: vload at their own alignment)
#endif

#ifndef MVQ_STAGE
// 1: a row's blocks reach local memory as aligned 4-byte words, read by all lanes of the row
// together, and each lane takes its block from there (blocks are 18, 20 or 34 bytes: read
// straight from global memory a lane's block is 16-32 byte loads at 2-byte alignment, which
// the L1 serves a sector at a time). Needs rows at 4-byte alignment and, for Q4_0 and Q8_0, an
// even number of blocks a row (the host checks).
#define MVQ_STAGE 0
#endif

#if A_TYPE == PA_Q8_0
#define MVQ_BLK 34
#elif A_TYPE == PA_Q4_0
#define MVQ_BLK 18
#else
#define MVQ_BLK 20
#endif

#ifndef MVQ_CHUNK
#define MVQ_CHUNK 16 // blocks a row stages at a time (MVQ_STAGE; even: Q4_0 and Q8_0 blocks pair into words)
#endif
#define MVQ_XS_STRIDE (QK + 4) // floats between staged activation blocks (against bank conflicts)
#define MVQ_XS_FLOATS (MVQ_STAGE ? MVQ_CHUNK * MVQ_XS_STRIDE : 1)

// One block's scale d, offset m (Q4_1; else 0) and quants (q1: Q8_0's second sixteen).
typedef struct {
    float d, m;
    uchar16 q0, q1;
} qblock;

#if A_TYPE == PA_Q8_0
#define QBLOCK_BODY(AS) b.m = 0.0f; b.q0 = vload16(0, (AS const uchar*)(blk + 2)); b.q1 = vload16(1, (AS const uchar*)(blk + 2));
#elif A_TYPE == PA_Q4_0
#define QBLOCK_BODY(AS) b.m = 0.0f; b.q0 = vload16(0, (AS const uchar*)(blk + 2)); b.q1 = (uchar16)0;
#else
#define QBLOCK_BODY(AS) b.m = vload_half(1, (AS const half*)blk); b.q0 = vload16(0, (AS const uchar*)(blk + 4)); b.q1 = (uchar16)0;
#endif
#define QBLOCK_LOADER(NAME, AS)                                                                                        \
    inline qblock NAME(AS const char* blk) {                                                                           \
        qblock b;                                                                                                      \
        b.d = vload_half(0, (AS const half*)blk);                                                                      \
        QBLOCK_BODY(AS)                                                                                                \
        return b;                                                                                                      \
    }
QBLOCK_LOADER(qblock_global, global)
QBLOCK_LOADER(qblock_local, local)

// The 32 activations a block multiplies (with MVQ_NORM times the norm weights nw), from global
// memory or from the staged copy in local memory.
typedef struct {
    float16 lo, hi;
} xblock;
inline xblock xblock_global(global const float* x, global const float* nw) {
    xblock v;
    v.lo = vload16(0, x);
    v.hi = vload16(1, x);
#if MVQ_NORM
    v.lo *= vload16(0, nw);
    v.hi *= vload16(1, nw);
#endif
    return v;
}
inline xblock xblock_local(local const float* x) {
    xblock v;
#if MVQ_ALIGNED
    // a staged block starts at a multiple of 16 bytes (xs is aligned, rows of MVQ_XS_STRIDE
    // floats): eight 16-byte loads, where vload16 may only assume a float's alignment
    local const float4* p = (local const float4*)x;
    v.lo = (float16)(p[0], p[1], p[2], p[3]);
    v.hi = (float16)(p[4], p[5], p[6], p[7]);
#else
    v.lo = vload16(0, x);
    v.hi = vload16(1, x);
#endif
    return v;
}

#if MVQ_ALIGNED
// Block kb of a staged row (4-byte words): the words that cover it, and each quant word funnelled
// out of two neighbours (a block of 18 or 34 bytes starts at 2 bytes into a word for odd kb), so
// the loads are whole aligned words instead of bytes (qblock_local's vload16 at 2-byte alignment).
inline qblock qblock_words(local const uint* row, int kb) {
    const int byte0 = kb * MVQ_BLK, sh = (byte0 & 2) * 8; // 0 or 16
    local const uint* u = row + (byte0 >> 2);
    qblock b;
    const uint u0 = u[0];
#if A_TYPE == PA_Q4_1 // 20-byte blocks: always aligned
    b.d = vload_half(0, (const private half*)&u0);
    b.m = vload_half(1, (const private half*)&u0);
    b.q0 = as_uchar16((uint4)(u[1], u[2], u[3], u[4]));
    b.q1 = (uchar16)0;
#else
    const uint dbits = (u0 >> sh) & 0xFFFFu;
    b.d = vload_half(0, (const private half*)&dbits);
    b.m = 0.0f;
    uint q[MVQ_BLK / 4];
    uint prev = u0;
#pragma unroll
    for (int i = 0; i < MVQ_BLK / 4; ++i) { // quant word i: block bytes 2 + 4i .. 5 + 4i
        const uint next = u[i + 1];
        q[i] = (uint)((((ulong)next << 32) | prev) >> (16 + sh));
        prev = next;
    }
    b.q0 = as_uchar16((uint4)(q[0], q[1], q[2], q[3]));
#if A_TYPE == PA_Q8_0
    b.q1 = as_uchar16((uint4)(q[4], q[5], q[6], q[7]));
#else
    b.q1 = (uchar16)0;
#endif
#endif
    return b;
}
#endif

#ifndef MVQ_NIB
#define MVQ_NIB 1 // Q4 nibbles made floats from their bits (0: integer-to-float conversions)
#endif

#if A_TYPE == PA_Q4_0 || A_TYPE == PA_Q4_1
// The 8 nibbles of word w (bytes 4i..4i+3 of a block's quants: low nibbles are elements 4i..4i+3,
// high nibbles 16+4i..) as floats 1 + n/16, each built from its bits (mantissa bits 19..22 under
// the exponent of 1.0), dotted with their activations lo, hi: sum (1 + n_j / 16) x_j. An
// integer-to-float conversion a weight would run at a quarter of the FMA rate on NVIDIA GPUs
// (the conversion unit), which bounded this kernel's bandwidth.
#define NIB_ONE 0x3F800000u
#define NIB_BITS 0x00780000u
inline float nib_word_dot(uint w, float4 lo, float4 hi) {
    float a = as_float(((w << 19) & NIB_BITS) | NIB_ONE) * lo.x;
    float b = as_float(((w << 15) & NIB_BITS) | NIB_ONE) * hi.x;
    a = fma(as_float(((w << 11) & NIB_BITS) | NIB_ONE), lo.y, a);
    b = fma(as_float(((w << 7) & NIB_BITS) | NIB_ONE), hi.y, b);
    a = fma(as_float(((w << 3) & NIB_BITS) | NIB_ONE), lo.z, a);
    b = fma(as_float(((w >> 1) & NIB_BITS) | NIB_ONE), hi.z, b);
    a = fma(as_float(((w >> 5) & NIB_BITS) | NIB_ONE), lo.w, a);
    b = fma(as_float(((w >> 9) & NIB_BITS) | NIB_ONE), hi.w, b);
    return a + b;
}
#endif

// sum_{j < 32} w_j * x[j] of one block, w its dequantized weights.
inline float block_dot(qblock b, xblock x) {
#if A_TYPE == PA_Q8_0
    const float16 s = convert_float16(as_char16(b.q0)) * x.lo + convert_float16(as_char16(b.q1)) * x.hi;
    const float8 s8 = s.lo + s.hi;
    const float4 s4 = s8.lo + s8.hi;
    return b.d * (s4.x + s4.y + s4.z + s4.w);
#elif A_TYPE == PA_Q4_0 || A_TYPE == PA_Q4_1
    // elements 0..15: low nibbles, 16..31: high nibbles
    const float16 t = x.lo + x.hi; // sum of x, for the offset
    const float8 t8 = t.lo + t.hi;
    const float4 t4 = t8.lo + t8.hi;
    const float sum_x = t4.x + t4.y + t4.z + t4.w;
#if MVQ_NIB
    const uint4 w = as_uint4(b.q0); // s = sum (1 + n_j / 16) x_j
    const float s = (nib_word_dot(w.x, x.lo.lo.lo, x.hi.lo.lo) + nib_word_dot(w.y, x.lo.lo.hi, x.hi.lo.hi)) +
                    (nib_word_dot(w.z, x.lo.hi.lo, x.hi.hi.lo) + nib_word_dot(w.w, x.lo.hi.hi, x.hi.hi.hi));
    const float dot = 16.0f * (s - sum_x); // sum n_j x_j
#else
    const float16 c = convert_float16(b.q0 & (uchar16)15) * x.lo + convert_float16(b.q0 >> (uchar16)4) * x.hi;
    const float8 c8 = c.lo + c.hi;
    const float4 c4 = c8.lo + c8.hi;
    const float dot = c4.x + c4.y + c4.z + c4.w;
#endif
#if A_TYPE == PA_Q4_0
    return b.d * (dot - 8.0f * sum_x); // x = d * (nibble - 8)
#else
    return b.d * dot + b.m * sum_x; // x = d * nibble + m
#endif
#else
#error "mul_mv_q.cl: A_TYPE must be Q8_0, Q4_0 or Q4_1"
#endif
}

#if MVQ_EPI == 3
#define MVQ_NR 2 // weight rows a lane dots at once: the up product's and the gate's (SwiGLU)
#else
#define MVQ_NR 1
#endif
#define MVQ_WORDS (MVQ_CHUNK * MVQ_BLK / 4)                    // words of one row's chunk
#define MVQ_WPL ((MVQ_WORDS + MVQ_LANES - 1) / MVQ_LANES)      // of them, per lane
#define MVQ_XPT ((MVQ_CHUNK * QK + MVQ_WG - 1) / MVQ_WG)       // activations per work-item and column

// MVQ_STAGE: a work-item's share of one chunk in registers, between its loads and local memory.
typedef struct {
    uint w[MVQ_NR][MVQ_WPL];  // words of its rows (lanes interleaved)
    float x[MVQ_N][MVQ_XPT];  // activations of the columns (work-group interleaved)
} mvq_regs;

// This work-item's share of the chunk of blocks [c, c + MVQ_CHUNK) into registers: words of rows
// row0 (and row1 with MVQ_NR 2), activations of the nc columns (with MVQ_NORM times the norm
// weights). All loads are independent, so they are in flight together.
inline void mvq_fetch(global const char* row0, global const char* row1, global const char* bb, ulong b_nb1, int nc,
                      int lane, int lid, int c, int blocks, global const float* nw, mvq_regs* r) {
    const int nblk = min(MVQ_CHUNK, blocks - c), words = nblk * MVQ_BLK / 4, xn = nblk * QK;
#pragma unroll
    for (int rr = 0; rr < MVQ_NR; ++rr) {
        global const uint* src = (global const uint*)((rr ? row1 : row0) + (ulong)c * MVQ_BLK);
#pragma unroll
        for (int t = 0; t < MVQ_WPL; ++t) {
            const int w = lane + t * MVQ_LANES;
            r->w[rr][t] = w < words ? src[w] : 0u;
        }
    }
#pragma unroll
    for (int j = 0; j < MVQ_N; ++j) {
        global const float* x = (global const float*)(bb + (ulong)min(j, nc - 1) * b_nb1) + c * QK;
#pragma unroll
        for (int t = 0; t < MVQ_XPT; ++t) {
            const int i = lid + t * MVQ_WG;
            r->x[j][t] = j < nc && i < xn ? (MVQ_NORM ? x[i] * nw[c * QK + i] : x[i]) : 0.0f;
        }
    }
}
// ... and from registers into local memory (mine[rr]: row rr's words; xs: activations by block).
inline void mvq_put(int nblk, int nc, int lane, int lid, local uint* mine, local float (*xs)[MVQ_XS_FLOATS],
                    const mvq_regs* r) {
    const int words = nblk * MVQ_BLK / 4, xn = nblk * QK;
#pragma unroll
    for (int rr = 0; rr < MVQ_NR; ++rr)
#pragma unroll
        for (int t = 0; t < MVQ_WPL; ++t) {
            const int w = lane + t * MVQ_LANES;
            if (w < words) mine[rr * MVQ_ROWS * MVQ_WORDS + w] = r->w[rr][t];
        }
#pragma unroll
    for (int j = 0; j < MVQ_N; ++j)
#pragma unroll
        for (int t = 0; t < MVQ_XPT; ++t) {
            const int i = lid + t * MVQ_WG;
            if (j < nc && i < xn) xs[j][(i / QK) * MVQ_XS_STRIDE + i % QK] = r->x[j][t];
        }
}

// This lane's share (blocks lane, lane + MVQ_LANES, ...) of the dot products of weight row row0
// (and row1 with MVQ_NR 2; blocks blk_bytes apart) with the nc columns of b at bb, into
// part[j][lid] (and part1[j][lid]); with MVQ_NORM, of b = x * nw scaled by the column's factor.
// With MVQ_STAGE every work-item of the work-group must call it (it has barriers), with the first
// chunk already in regs (mvq_fetch at c = 0, issued before the norm prologue so that both wait on
// memory together): each chunk's rows go to stage and the columns' activations to xs (shared by
// the rows of the work-group, read once from global memory), and the next chunk is loaded into
// registers while this one is dotted from local memory.
inline void lane_dots(global const char* row0, global const char* row1, ulong blk_bytes, global const char* bb,
                      ulong b_nb1, int nc, int lane, int blocks, int lid, local float (*part)[MVQ_WG],
                      local float (*part1)[MVQ_WG], global const float* nw, const float* factor, local uint* stage,
                      local float (*xs)[MVQ_XS_FLOATS], mvq_regs* regs) {
    float acc[MVQ_NR][MVQ_N];
    for (int rr = 0; rr < MVQ_NR; ++rr)
        for (int j = 0; j < MVQ_N; ++j) acc[rr][j] = 0.0f;
#if MVQ_STAGE
    local uint* mine = stage + (lid / MVQ_LANES) * MVQ_WORDS;
    for (int c = 0; c < blocks; c += MVQ_CHUNK) {
        const int nblk = min(MVQ_CHUNK, blocks - c);
        mvq_put(nblk, nc, lane, lid, mine, xs, regs);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (c + MVQ_CHUNK < blocks) mvq_fetch(row0, row1, bb, b_nb1, nc, lane, lid, c + MVQ_CHUNK, blocks, nw, regs);
        for (int kb = lane; kb < nblk; kb += MVQ_LANES)
            for (int rr = 0; rr < MVQ_NR; ++rr) {
#if MVQ_ALIGNED
                const qblock q = qblock_words(mine + rr * MVQ_ROWS * MVQ_WORDS, kb);
#else
                const qblock q = qblock_local((local const char*)(mine + rr * MVQ_ROWS * MVQ_WORDS) + kb * MVQ_BLK);
#endif
                for (int j = 0; j < MVQ_N; ++j)
                    if (j < nc) acc[rr][j] += block_dot(q, xblock_local(xs[j] + kb * MVQ_XS_STRIDE));
            }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#else
    for (int kb = lane; kb < blocks; kb += MVQ_LANES)
        for (int rr = 0; rr < MVQ_NR; ++rr) {
            const qblock q = qblock_global((rr ? row1 : row0) + (ulong)kb * blk_bytes);
            for (int j = 0; j < MVQ_N; ++j)
                if (j < nc)
                    acc[rr][j] +=
                        block_dot(q, xblock_global((global const float*)(bb + (ulong)j * b_nb1) + kb * QK, nw + kb * QK));
        }
#endif
    for (int j = 0; j < MVQ_N; ++j) {
        part[j][lid] = MVQ_NORM ? acc[0][j] * factor[j] : acc[0][j];
#if MVQ_NR == 2
        part1[j][lid] = MVQ_NORM ? acc[1][j] * factor[j] : acc[1][j];
#endif
    }
}

// The sum of a row's MVQ_LANES partial dots, p its lane 0's entry (after a barrier).
inline float lanes_sum(local const float* p) {
    float s = 0.0f;
    for (int l = 0; l < MVQ_LANES; ++l) s += p[l];
    return s;
}

// MVQ_NORM: the rms factors of the nc columns of x at xb (K floats each, columns x_nb1 apart) into
// factor; the work-groups with write_results also write rms_norm(x) and its product with nw.
inline void norm_prologue(global const char* xb, ulong x_nb1, int K, int nc, float eps, global const float* nw,
                          global char* norm_out, ulong norm_nb1, global char* mul_out, ulong mul_nb1,
                          bool write_results, local float* scratch, float* factor) {
    for (int j = 0; j < MVQ_N; ++j) factor[j] = 1.0f;
#if MVQ_NORM
    for (int j = 0; j < MVQ_N; ++j)
        if (j < nc) factor[j] = rms_factor(xb + (ulong)j * x_nb1, 4, K, eps, MVQ_WG, scratch);
    if (!write_results) return;
    for (int j = 0; j < nc; ++j)
        for (int k = get_local_id(0); k < K; k += MVQ_WG) {
            const float y = *(global const float*)(xb + (ulong)j * x_nb1 + (ulong)k * 4) * factor[j];
            *(global float*)(norm_out + (ulong)j * norm_nb1 + (ulong)k * 4) = y;
            *(global float*)(mul_out + (ulong)j * mul_nb1 + (ulong)k * 4) = y * nw[k];
        }
#endif
}

// k_mul_mv_q's scalars, one struct argument (launch.h arg_pack; mul_mv_q.cpp fills it in this order)
typedef struct {
    ulong a_offs;
    long4 a_ne;
    ulong4 a_nb;
    ulong b_offs;
    long4 b_ne;
    ulong4 b_nb;
    ulong d_offs;
    long4 d_ne;
    ulong4 d_nb;
    ulong r_offs;
    ulong4 r_nb;
    ulong e_offs;
    ulong4 e_nb;
    ulong g_offs;
    ulong4 g_nb;
    long4 v_ne, v_st;
    int e_f16;
    ulong nw_offs;
    float eps;
    ulong norm_offs, norm_nb1, mul_offs, mul_nb1;
} mvq_args;

// grid: (ceil(M / MVQ_ROWS) * MVQ_WG, ceil(N / MVQ_N), b2 * b3), local (MVQ_WG, 1, 1)
// The buffers are those of the variant (mul_mv_q.cpp passes the same list): r with the epilogues 1
// to 3, e with any, g with 3, the norm's weights and results with MVQ_NORM.
#define MVQ_HAS_R (MVQ_EPI >= 1 && MVQ_EPI <= 3)
kernel __attribute__((reqd_work_group_size(MVQ_WG, 1, 1)))
void k_mul_mv_q(global const char* a, global const char* b, global char* d,
#if MVQ_HAS_R
                global char* r,
#endif
#if MVQ_EPI
                global char* e,
#endif
#if MVQ_EPI == 3
                global const char* g,
#endif
#if MVQ_NORM
                global const char* nw, global char* norm_out, global char* mul_out,
#endif
                mvq_args P) {
#if !MVQ_HAS_R
    global char* r = d; // placeholders of the buffers this variant has not (never read or written)
#endif
#if !MVQ_EPI
    global char* e = d;
#endif
#if MVQ_EPI != 3
    global const char* g = a;
#endif
#if !MVQ_NORM
    global const char* nw = b;
    global char *norm_out = d, *mul_out = d;
#endif
    const ulong a_offs = P.a_offs, b_offs = P.b_offs, d_offs = P.d_offs, r_offs = P.r_offs, e_offs = P.e_offs,
                g_offs = P.g_offs, nw_offs = P.nw_offs, norm_offs = P.norm_offs, norm_nb1 = P.norm_nb1,
                mul_offs = P.mul_offs, mul_nb1 = P.mul_nb1;
    const long4 a_ne = P.a_ne, b_ne = P.b_ne, d_ne = P.d_ne, v_ne = P.v_ne, v_st = P.v_st;
    const ulong4 a_nb = P.a_nb, b_nb = P.b_nb, d_nb = P.d_nb, r_nb = P.r_nb, e_nb = P.e_nb, g_nb = P.g_nb;
    const int e_f16 = P.e_f16;
    const float eps = P.eps;
    local float partial[MVQ_N][MVQ_WG];
    local uint stage[MVQ_STAGE ? MVQ_NR * MVQ_ROWS * MVQ_WORDS : 1];
    local float xs[MVQ_N][MVQ_XS_FLOATS] __attribute__((aligned(16)));
#if MVQ_EPI == 3
    local float partial_g[MVQ_N][MVQ_WG];
#else
    local float (*partial_g)[MVQ_WG] = partial; // unused
#endif
    const int lid = get_local_id(0), lane = lid % MVQ_LANES;
    const int m = get_group_id(0) * MVQ_ROWS + lid / MVQ_LANES;
    const int M = (int)a_ne.s1, N = (int)b_ne.s1, blocks = (int)(a_ne.s0 / QK);
    const int n0 = get_group_id(1) * MVQ_N, nc = min(MVQ_N, N - n0);
    const int z = get_group_id(2);
    const int i2 = z % (int)b_ne.s2, i3 = z / (int)b_ne.s2;
    const int a2 = i2 / (int)(b_ne.s2 / a_ne.s2), a3 = i3 / (int)(b_ne.s3 / a_ne.s3);
    global const char* arow = a + a_offs + (ulong)min(m, M - 1) * a_nb.s1 + (ulong)a2 * a_nb.s2 + (ulong)a3 * a_nb.s3;
#if MVQ_EPI == 3 // the gate's row beside the up product's
    global const char* grow = g + g_offs + (ulong)min(m, M - 1) * g_nb.s1 + (ulong)a2 * g_nb.s2 + (ulong)a3 * g_nb.s3;
#else
    global const char* grow = arow;
#endif
    global const char* bb = b + b_offs + (ulong)n0 * b_nb.s1 + (ulong)i2 * b_nb.s2 + (ulong)i3 * b_nb.s3;
    global const float* nwp = (global const float*)(nw + nw_offs);
    mvq_regs regs;
#if MVQ_STAGE
    mvq_fetch(arow, grow, bb, b_nb.s1, nc, lane, lid, 0, blocks, nwp, &regs);
#endif
#if MVQ_EPI == 1 // the residual, loaded now so that its latency overlaps the product's
    float res[MVQ_N];
    global const char* rb0 = r + r_offs + (ulong)m * r_nb.s0 + (ulong)i2 * r_nb.s2 + (ulong)i3 * r_nb.s3;
    for (int j = 0; j < MVQ_N; ++j)
        res[j] = lane == 0 && m < M && j < nc ? *(global const float*)(rb0 + (ulong)(n0 + j) * r_nb.s1) : 0.0f;
#endif
    float factor[MVQ_N];
    norm_prologue(bb, b_nb.s1, (int)a_ne.s0, nc, eps, nwp, norm_out + norm_offs + (ulong)n0 * norm_nb1, norm_nb1,
                  mul_out + mul_offs + (ulong)n0 * mul_nb1, mul_nb1, get_group_id(0) == 0, partial[0], factor);

    lane_dots(arow, grow, a_nb.s0, bb, b_nb.s1, nc, lane, blocks, lid, partial, partial_g, nwp, factor, stage, xs,
              &regs);
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lane == 0 && m < M) {
        global char* db = d + d_offs + (ulong)m * d_nb.s0 + (ulong)i2 * d_nb.s2 + (ulong)i3 * d_nb.s3;
        float y_d[MVQ_N];
        for (int j = 0; j < nc; ++j) {
            y_d[j] = lanes_sum(&partial[j][lid]);
            *(global float*)(db + (ulong)(n0 + j) * d_nb.s1) = y_d[j];
        }
#if MVQ_EPI == 4
        for (int j = 0; j < nc; ++j) {
            const long f = m + (long)(n0 + j) * M; // flat index in the packed product
            const ulong off = (ulong)((f / v_st.s0) % v_ne.s0) * e_nb.s0 + (ulong)((f / v_st.s1) % v_ne.s1) * e_nb.s1 +
                              (ulong)((f / v_st.s2) % v_ne.s2) * e_nb.s2 + (ulong)((f / v_st.s3) % v_ne.s3) * e_nb.s3;
            if (e_f16)
                vstore_half(y_d[j], 0, (global half*)(e + e_offs + off));
            else
                *(global float*)(e + e_offs + off) = y_d[j];
        }
#elif MVQ_EPI
#if MVQ_EPI != 1
        global char* rb = r + r_offs + (ulong)m * r_nb.s0 + (ulong)i2 * r_nb.s2 + (ulong)i3 * r_nb.s3;
#endif
        global char* eb = e + e_offs + (ulong)m * e_nb.s0 + (ulong)i2 * e_nb.s2 + (ulong)i3 * e_nb.s3;
        for (int j = 0; j < nc; ++j) {
#if MVQ_EPI == 3
            const float x = lanes_sum(&partial_g[j][lid]);
            *(global float*)(rb + (ulong)(n0 + j) * r_nb.s1) = x;
#elif MVQ_EPI == 1
            const float x = res[j];
#else
            const float x = *(global const float*)(rb + (ulong)(n0 + j) * r_nb.s1);
#endif
#if MVQ_EPI == 1
            const float y = x + y_d[j];
#else
            const float y = x / (1.0f + exp(-x)) * y_d[j]; // as elementwise.cl's k_swiglu
#endif
            *(global float*)(eb + (ulong)(n0 + j) * e_nb.s1) = y;
        }
#endif
    }
}

// k_mul_mv_q_heads' scalars, one struct argument (launch.h arg_pack; mul_mv_q.cpp fills it in this
// order): the shared ones, then segment 0's, 1's and 2's (offsets and strides of a_S, d_S, r_S, e_S
// and the view of the store)
#define MVQ_SEG_ARGS(S)                                                                                       \
    ulong a##S##_offs, a##S##_nb1, d##S##_offs, d##S##_nb1, r##S##_offs;                                      \
    ulong4 r##S##_nb;                                                                                         \
    ulong e##S##_offs;                                                                                        \
    ulong4 e##S##_nb;                                                                                         \
    long4 v##S##_ne, v##S##_st;
typedef struct {
    ulong b_offs, b_nb1;
    int K, N;
    ulong blk_bytes, nw_offs;
    float eps;
    ulong norm_offs, norm_nb1, mul_offs, mul_nb1;
    int4 rows, first, flags;
    int rope_d, rope_mode;
    float theta;
    int n_past;
    MVQ_SEG_ARGS(0)
    MVQ_SEG_ARGS(1)
    MVQ_SEG_ARGS(2)
} mvq_heads_args;

// Up to three products of one b (MVQ_N columns a work-group, b's slices 1) in one launch: the
// work-groups [first.sS, first.sS+1) compute segment S, a_S [K, rows.sS] times b into d_S
// [rows.sS, N] (columns d_nb1 apart). flags.sS: bit 0 RoPE (the product viewed as [rope_d, heads,
// N], every pair rotated as rope.cl does with n_dims = rope_d, into r_S at strides r_nb), bit 1
// store (the rotated values, or the product's without bit 0, copied into e_S through a view of the
// packed [rope_d, heads, N] elements as MVQ_EPI 4), bit 2 the store is F16. With RoPE the four
// rows of a work-group are rotated pairs, so each row finds its partner in local memory.
// grid: (sum of the segments' ceil(rows / MVQ_ROWS) * MVQ_WG, ceil(N / MVQ_N), 1), local (MVQ_WG, 1, 1)
kernel __attribute__((reqd_work_group_size(MVQ_WG, 1, 1)))
void k_mul_mv_q_heads(global const char* b, global const char* nw, global char* norm_out, global char* mul_out,
                      global const char* a0, global char* d0, global char* r0, global char* e0,
                      global const char* a1, global char* d1, global char* r1, global char* e1,
                      global const char* a2, global char* d2, global char* r2, global char* e2, mvq_heads_args P) {
    const ulong b_offs = P.b_offs, b_nb1 = P.b_nb1, blk_bytes = P.blk_bytes, nw_offs = P.nw_offs,
                norm_offs = P.norm_offs, norm_nb1 = P.norm_nb1, mul_offs = P.mul_offs, mul_nb1 = P.mul_nb1;
    const int K = P.K, N = P.N, rope_d = P.rope_d, rope_mode = P.rope_mode, n_past = P.n_past;
    const float eps = P.eps, theta = P.theta;
    const int4 rows = P.rows, first = P.first, flags = P.flags;
    local float partial[MVQ_N][MVQ_WG];
    local uint stage[MVQ_STAGE ? MVQ_ROWS * MVQ_WORDS : 1];
    local float xs[MVQ_N][MVQ_XS_FLOATS] __attribute__((aligned(16)));
    const int lid = get_local_id(0), lane = lid % MVQ_LANES, slot = lid / MVQ_LANES;
    const int g0 = get_group_id(0);
    const int seg = g0 >= first.s2 ? 2 : g0 >= first.s1 ? 1 : 0;
    const int M = seg == 0 ? rows.s0 : seg == 1 ? rows.s1 : rows.s2;
    const int fl = seg == 0 ? flags.s0 : seg == 1 ? flags.s1 : flags.s2;
    const int w = g0 - (seg == 0 ? first.s0 : seg == 1 ? first.s1 : first.s2);
    global const char* a = seg == 0 ? a0 + P.a0_offs : seg == 1 ? a1 + P.a1_offs : a2 + P.a2_offs;
    const ulong a_nb1 = seg == 0 ? P.a0_nb1 : seg == 1 ? P.a1_nb1 : P.a2_nb1;

    // this row: with RoPE, member (slot & 1) of pair p = (MVQ_ROWS / 2) w + slot / 2 of the segment's pairs
    const int half_d = rope_d / 2;
    const int p = (MVQ_ROWS / 2) * w + slot / 2, member = slot & 1, pi = p % max(half_d, 1);
    int m = MVQ_ROWS * w + slot;
    if (fl & 1) m = (p / half_d) * rope_d + (rope_mode == 2 ? pi + member * half_d : 2 * pi + member);
    if (fl & 1 && p >= M / 2) m = M; // past the last pair

    const int n0 = get_group_id(1) * MVQ_N, nc = min(MVQ_N, N - n0);
    global const char* bb = b + b_offs + (ulong)n0 * b_nb1;
    global const float* nwp = (global const float*)(nw + nw_offs);
    global const char* arow = a + (ulong)min(m, M - 1) * a_nb1;
    mvq_regs regs;
#if MVQ_STAGE
    mvq_fetch(arow, arow, bb, b_nb1, nc, lane, lid, 0, K / QK, nwp, &regs);
#endif
    float factor[MVQ_N];
    norm_prologue(bb, b_nb1, K, nc, eps, nwp, norm_out + norm_offs + (ulong)n0 * norm_nb1, norm_nb1,
                  mul_out + mul_offs + (ulong)n0 * mul_nb1, mul_nb1, g0 == 0, partial[0], factor);
    lane_dots(arow, arow, blk_bytes, bb, b_nb1, nc, lane, K / QK, lid, partial, partial, nwp, factor, stage, xs,
              &regs);
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lane != 0 || m >= M) return;

    global char* d = seg == 0 ? d0 + P.d0_offs : seg == 1 ? d1 + P.d1_offs : d2 + P.d2_offs;
    const ulong d_nb1 = seg == 0 ? P.d0_nb1 : seg == 1 ? P.d1_nb1 : P.d2_nb1;
    global char* r = seg == 0 ? r0 + P.r0_offs : seg == 1 ? r1 + P.r1_offs : r2 + P.r2_offs;
    const ulong4 r_nb = seg == 0 ? P.r0_nb : seg == 1 ? P.r1_nb : P.r2_nb;
    global char* e = seg == 0 ? e0 + P.e0_offs : seg == 1 ? e1 + P.e1_offs : e2 + P.e2_offs;
    const ulong4 e_nb = seg == 0 ? P.e0_nb : seg == 1 ? P.e1_nb : P.e2_nb;
    const long4 v_ne = seg == 0 ? P.v0_ne : seg == 1 ? P.v1_ne : P.v2_ne;
    const long4 v_st = seg == 0 ? P.v0_st : seg == 1 ? P.v1_st : P.v2_st;
    for (int j = 0; j < nc; ++j) {
        const int n = n0 + j;
        float y = lanes_sum(&partial[j][lid]);
        *(global float*)(d + (ulong)m * 4 + (ulong)n * d_nb1) = y;
        if (fl & 1) {
            const float other = lanes_sum(&partial[j][lid ^ MVQ_LANES]); // the pair's other row (slot ^ 1)
            const float2 rot = member == 0 ? rope_rotate(y, other, pi, n_past + n, theta, rope_d)
                                           : rope_rotate(other, y, pi, n_past + n, theta, rope_d);
            y = member == 0 ? rot.x : rot.y;
            *(global float*)(r + (ulong)(m % rope_d) * r_nb.s0 + (ulong)(m / rope_d) * r_nb.s1 + (ulong)n * r_nb.s2) = y;
        }
        if (fl & 2) {
            const long f = m + (long)n * M; // flat index in the packed [rope_d, heads, N] values
            const ulong off = (ulong)((f / v_st.s0) % v_ne.s0) * e_nb.s0 + (ulong)((f / v_st.s1) % v_ne.s1) * e_nb.s1 +
                              (ulong)((f / v_st.s2) % v_ne.s2) * e_nb.s2 + (ulong)((f / v_st.s3) % v_ne.s3) * e_nb.s3;
            if (fl & 4)
                vstore_half(y, 0, (global half*)(e + off));
            else
                *(global float*)(e + off) = y;
        }
    }
}
