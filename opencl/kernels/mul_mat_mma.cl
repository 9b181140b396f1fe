// mul_mat_mma.cl - mul_mat on NVIDIA tensor cores (prefill GEMMs):
//   dst[m, n, i2, i3] = sum_k a[k, m, i2/r2, i3/r3] * b[k, n, i2, i3]
// a = weights (F16, F32, Q4_0, Q4_1, Q8_0), b = activations (F32), dst F32; f16 operands, f32
// accumulation, through mma.sync m16n8k16, ldmatrix and cp.async (mma_ptx.cl, which the host puts
// in front of this file; -DMMA_EMULATE=1 runs everything in portable OpenCL C).
//
// Operands (host: mul_mat_mma.cpp; geometry, X16 and PERM: mmq_common.cl, which the host puts in
// front of this file after mma_ptx.cl):
//   b      read as F32 by the GEMM kernel (MMQ_XF32 = 1: rows of whole 32-k blocks, 16-byte
//          aligned) and rounded to f16 on the way to local memory, or else first copied by
//          k_mmq_prep_f16 into X16
//   W16    [slice of a][MP][KP/8] uint4: F16 or F32 weights as f16 (MMQ_W == PA_F16), X16's layout
//   WQ     [slice of a][KP/32][MP][QW] quantized weights (MMQ_W == PA_Q4_0 | PA_Q4_1 | PA_Q8_0),
//          repacked by k_mmq_prep_q: uint words per block, the rows of one block column adjacent
//          (a warp's loads are one contiguous piece): Q4 the 16 bytes of nibbles, Q8 the 32 bytes
//          as (word j, word 4+j) for j = 0..3; rows m >= M have scale 0
//   WS     [slice of a][KP/32][MP][SW] uint scales: d as f16x2 (d, d); Q4_1 then (m, m)
// MP: M rounded up to whole tiles.
//
// Weight tiles are stages of [BW rows][4 chunks] like the activations'. K runs in steps of BK =
// 32 through MMQ_STAGES local-memory stages, one barrier per step.
//   Two stages: while the warps multiply stage s, stage s^1 receives the next tiles, by cp.async
//   (X16, W16) or from registers loaded before the MMAs (b in F32, rounded to f16; quantized
//   weights, dequantized in f16x2 arithmetic) and stored after them. A load has one step of MMAs
//   to arrive.
//   Three stages (X16 only): step kb multiplies stage kb % 3 while cp.async fills stage
//   (kb + 2) % 3 with step kb + 2 (b, W16), and quantized weights of step kb + 2, loaded into
//   registers during step kb - 1, are stored there; step kb + 3's are loaded into the other
//   register set. Every load has two steps of MMAs to arrive.
//
// Tuning macros (-D, tuning.h): MMQ_WN (1, 2, 4), MMQ_WM (2, 4), MMQ_STAGES (2, 3); the stages of
// both tiles fill 4 KiB x (MMQ_WN + MMQ_WM) x MMQ_STAGES <= 48 KiB; host-chosen: MMQ_W the weight
// source, MMQ_XF32 (two stages only), MMQ_STAGES_W (the stages of this weight source where they
// differ from the table's MMQ_STAGES: F16 tiles, tuning key mmq_f16_stages).

#ifndef MMQ_XF32
#define MMQ_XF32 1
#endif
#ifndef MMQ_STAGES
#define MMQ_STAGES 2
#endif
#ifdef MMQ_STAGES_W
#undef MMQ_STAGES
#define MMQ_STAGES MMQ_STAGES_W
#endif

#define WCH (BW * 4 / NT) // weight chunks each work-item fills per step

#if (MMQ_STAGES != 2 && MMQ_STAGES != 3) || (MMQ_WN + MMQ_WM) * MMQ_STAGES > 12
#error "mul_mat_mma.cl: MMQ_STAGES must be 2 or 3, (MMQ_WN + MMQ_WM) * MMQ_STAGES <= 12"
#endif
#if MMQ_STAGES == 3 && MMQ_XF32
#error "mul_mat_mma.cl: three stages take b through X16 (MMQ_XF32 0)"
#endif

#if MMQ_W == PA_Q8_0
#define QWPC 2 // words of quants per 16-byte chunk of 8 halves
#else
#define QWPC 1
#endif
#define QW (WCH * QWPC)              // quant words each work-item loads per step
#define RPT (WCH >= 4 ? WCH / 4 : 1) // weight rows each work-item dequantizes per step

// ---- main kernel ---------------------------------------------------------------------------

#if MMQ_XF32
// The next tile of b in F32, through registers: chunk j of a 32-k block is the float4s at k 4j
// and 16 + 4j (PERM), rounded to f16 when stored.
typedef struct {
    float4 lo[XCH], hi[XCH];
} x_regs;
inline void load_x(x_regs* r, global const char* const* xrow, int kb, int tid) {
    MMA_UNROLL
    for (int i = 0; i < XCH; ++i) {
        global const float4* p = (global const float4*)xrow[i] + kb * 8 + ((tid + i * NT) & 3);
        r->lo[i] = p[0];
        r->hi[i] = p[4];
    }
}
inline void store_x(local uint4* xs, const x_regs* r, int tid) {
    MMA_UNROLL
    for (int i = 0; i < XCH; ++i) {
        const int c = tid + i * NT, row = c >> 2, j = c & 3;
        const float4 a = r->lo[i], b = r->hi[i];
        xs[row * 4 + (j ^ SWZ(row))] =
            (uint4)(pack_f16x2(a.x, a.z), pack_f16x2(a.y, a.w), pack_f16x2(b.x, b.z), pack_f16x2(b.y, b.w));
    }
}
#endif

#if !MMQ_QUANT
inline void copy_w_tile(local uint4* ws, global const uint4* wg, int kc, int kb, int tid) {
    MMA_UNROLL
    for (int i = 0; i < WCH; ++i) {
        const int c = tid + i * NT, row = c >> 2, j = c & 3;
        cp_async16(ws + row * 4 + (j ^ SWZ(row)), wg + (ulong)row * kc + kb * 4 + j);
    }
}
#else
// One step of quantized weights in registers: QW quant words (the chunks tid*WCH ..), RPT*SW scales.
typedef struct {
    uint q[QW];
    uint s[RPT * SW];
} wq_regs;

// wq, ws: this slice's block column kb, first row of the tile.
inline void load_wq(wq_regs* r, global const uint* wq, global const uint* ws, int tid) {
#if QW == 2
    const uint2 v = *((global const uint2*)wq + tid);
    r->q[0] = v.x;
    r->q[1] = v.y;
#else
    MMA_UNROLL
    for (int i = 0; i < QW / 4; ++i) {
        const uint4 v = *((global const uint4*)wq + tid * (QW / 4) + i);
        r->q[4 * i] = v.x;
        r->q[4 * i + 1] = v.y;
        r->q[4 * i + 2] = v.z;
        r->q[4 * i + 3] = v.w;
    }
#endif
    const int row0 = tid * WCH / 4;
    MMA_UNROLL
    for (int i = 0; i < RPT * SW; ++i) r->s[i] = ws[row0 * SW + i];
}

// 8 weights (one chunk, PERM order) from quant words w0 (and w1: Q8) as f16x2: (q - zero) * d (+ m).
inline uint4 deq_chunk(uint w0, uint w1, uint d2, uint m2) {
#if MMQ_W == PA_Q8_0
    const uint x0 = w0 ^ 0x80808080u, x1 = w1 ^ 0x80808080u; // bytes q + 128
    return (uint4)(deq_pair(x0, d2, m2), deq_pair(x0 >> 8, d2, m2), deq_pair(x1, d2, m2),
                   deq_pair(x1 >> 8, d2, m2));
#else
    return (uint4)(deq_pair(w0, d2, m2), deq_pair(w0 >> 8, d2, m2), deq_pair(w0 >> 4, d2, m2),
                   deq_pair(w0 >> 12, d2, m2));
#endif
}

inline void store_wq(local uint4* ws, const wq_regs* r, int tid) {
    MMA_UNROLL
    for (int u = 0; u < WCH; ++u) {
        const int c = tid * WCH + u, row = c >> 2, j = c & 3, rr = WCH >= 4 ? u >> 2 : 0;
        const uint w0 = r->q[u * QWPC], w1 = r->q[u * QWPC + QWPC - 1];
        const uint m2 = SW == 2 ? r->s[rr * SW + SW - 1] : 0u;
        ws[row * 4 + (j ^ SWZ(row))] = deq_chunk(w0, w1, r->s[rr * SW], m2);
    }
}
#endif

// acc += the warp's 64 x 64 product over the 16 k at chunks 2kk, 2kk+1 of the stage.
inline void mma_k16(float4 acc[4][8], local const uint4* xs, local const uint4* ws, int wn, int wm, int lane,
                    int kk EMU_PARAM) {
    uint4 af[4], bf[4];
    load_a_frags(af, xs, wn, lane, kk EMU_ARG);
    MMA_UNROLL
    for (int p = 0; p < 4; ++p) { // weight rows 16p..: b0, b1 of n-tile 2p, then of 2p+1
        const int row = wm * 64 + 16 * p + (lane & 7) + 8 * (lane >> 4), ch = 2 * kk + ((lane >> 3) & 1);
        bf[p] = ldsm_x4(ws, row * 4 + (ch ^ SWZ(row)));
    }
    MMA_UNROLL
    for (int i = 0; i < 4; ++i) {
        MMA_UNROLL
        for (int p = 0; p < 4; ++p) {
            mma16816(&acc[i][2 * p], af[i], bf[p].x, bf[p].y);
            mma16816(&acc[i][2 * p + 1], af[i], bf[p].z, bf[p].w);
        }
    }
}

// Launch and tiles_w, b2, r2, r3, a2: mmq_common.cl's mmq_place_of.
//   x: b (MMQ_XF32: F32 rows, 16-byte aligned, K a multiple of 32) or X16 (rows of KP/8 chunks),
//   at this launch's first token, with its byte strides (nb0 unused); n_kb = KP/32
//   wv: W16 or WQ, wsc: WS (unused for W16), mp rows per slice of a, kc = KP/8
//   d: dst at this launch's first token, d_vec2 = 1 when its rows take 8-byte stores (nb0 = 4,
//   nb1.. and the offset multiples of 8); n, m: valid tokens and rows
kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void k_mmq(global const char* x, ulong x_offs, ulong4 x_nb, int n_kb, global const uint4* wv, global const uint* wsc,
           int mp, int kc, global char* d, ulong d_offs, ulong4 d_nb, int d_vec2, int n, int m, int tiles_w, int b2,
           int r2, int r3, int a2) {
    local uint4 xs[MMQ_STAGES][BT * 4];
    local uint4 ws[MMQ_STAGES][BW * 4];
    EMU_DECL
    const mmq_place pl = mmq_place_of(tiles_w, b2, r2, r3, a2);
    const int tid = pl.tid, lane = pl.lane, wn = pl.wn, wm = pl.wm, n0 = pl.n0, m0 = pl.m0;
    const int i2 = pl.i2, i3 = pl.i3, zw = pl.zw;

    global const char* xrow[XCH]; // the rows of b this work-item loads
    x_rows(xrow, x, x_offs, x_nb, i2, i3, n0, n, tid);
#if MMQ_XF32
    x_regs xr;
#endif
#if MMQ_QUANT
    // per block column: mp * QWPC * 4 quant words, mp * SW scale words
    global const uint* wqg = (global const uint*)wv + (ulong)zw * n_kb * mp * QWPC * 4 + (ulong)m0 * QWPC * 4;
    global const uint* wsg = wsc + (ulong)zw * n_kb * mp * SW + (ulong)m0 * SW;
    const ulong q_step = (ulong)mp * QWPC * 4, s_step = (ulong)mp * SW;
#if MMQ_STAGES == 2
    wq_regs wr;
#else
    wq_regs wr[2]; // the weights of the next step to store, and of the one after
#endif
#else
    global const uint4* wg = wv + ((ulong)zw * mp + m0) * kc;
#endif

    float4 acc[4][8];
    zero_acc(acc);

#if MMQ_STAGES == 2
    // stage 0 <- step 0
#if MMQ_XF32
    load_x(&xr, xrow, 0, tid);
    store_x(xs[0], &xr, tid);
#else
    copy_x_tile(xs[0], xrow, 0, tid);
#endif
#if MMQ_QUANT
    load_wq(&wr, wqg, wsg, tid);
    store_wq(ws[0], &wr, tid);
#else
    copy_w_tile(ws[0], wg, kc, 0, tid);
#endif
    cp_async_wait_all();
    barrier(CLK_LOCAL_MEM_FENCE);

    // Step kb multiplies stage s while step kb + 1 fills stage s^1 (which every warp finished
    // reading before the last barrier). Branch-free, so that the compiler can interleave the
    // conversions with the MMAs: the last step loads its own tiles again into the idle stage.
    for (int kb = 0; kb < n_kb; ++kb) {
        const int s = kb & 1, nk = min(kb + 1, n_kb - 1);
#if MMQ_XF32
        load_x(&xr, xrow, nk, tid);
#else
        copy_x_tile(xs[s ^ 1], xrow, nk, tid);
#endif
#if MMQ_QUANT
        load_wq(&wr, wqg + nk * q_step, wsg + nk * s_step, tid);
#else
        copy_w_tile(ws[s ^ 1], wg, kc, nk, tid);
#endif
        MMA_UNROLL
        for (int kk = 0; kk < 2; ++kk) mma_k16(acc, xs[s], ws[s], wn, wm, lane, kk EMU_ARG);
        // the loads above had the MMAs' time to arrive; stage s^1 is written after every
        // ldmatrix of stage s in program order
#if MMQ_XF32
        store_x(xs[s ^ 1], &xr, tid);
#endif
#if MMQ_QUANT
        store_wq(ws[s ^ 1], &wr, tid);
#endif
        cp_async_wait_all();
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#else // MMQ_STAGES == 3
    // stages 0 and 1 <- steps 0 and 1 (one cp.async group each), registers <- step 2's weights
    MMA_UNROLL
    for (int p = 0; p < 2; ++p) {
        const int ks = min(p, n_kb - 1);
        copy_x_tile(xs[p], xrow, ks, tid);
#if MMQ_QUANT
        load_wq(&wr[0], wqg + ks * q_step, wsg + ks * s_step, tid);
        store_wq(ws[p], &wr[0], tid);
#else
        copy_w_tile(ws[p], wg, kc, ks, tid);
#endif
        cp_async_commit();
    }
#if MMQ_QUANT
    load_wq(&wr[0], wqg + min(2, n_kb - 1) * q_step, wsg + min(2, n_kb - 1) * s_step, tid);
#endif
    cp_async_wait_one();
    barrier(CLK_LOCAL_MEM_FENCE);

    // Steps in pairs, so that the register set that holds the weights to store (wr[h]) and the
    // one that receives the next ones (wr[h ^ 1]) are known at compile time. Branch-free but
    // for an odd last step: past the end, steps load the last tiles again into the idle stage.
    int sc = 0; // stage multiplied now; (sc + 2) % 3 is filled
    for (int kb0 = 0; kb0 < n_kb; kb0 += 2) {
        MMA_UNROLL
        for (int h = 0; h < 2; ++h) {
            const int kb = kb0 + h;
            if (kb >= n_kb) break;
            const int sf = sc == 0 ? 2 : sc - 1, k2 = min(kb + 2, n_kb - 1);
            copy_x_tile(xs[sf], xrow, k2, tid);
#if MMQ_QUANT
            const int k3 = min(kb + 3, n_kb - 1);
            load_wq(&wr[h ^ 1], wqg + k3 * q_step, wsg + k3 * s_step, tid);
#else
            copy_w_tile(ws[sf], wg, kc, k2, tid);
#endif
            cp_async_commit();
            MMA_UNROLL
            for (int kk = 0; kk < 2; ++kk) mma_k16(acc, xs[sc], ws[sc], wn, wm, lane, kk EMU_ARG);
#if MMQ_QUANT
            store_wq(ws[sf], &wr[h], tid); // stage sf was last read in step kb - 1
#endif
            cp_async_wait_one(); // this work-item's copies of step kb + 1 are done
            barrier(CLK_LOCAL_MEM_FENCE);
            sc = sc == 2 ? 0 : sc + 1;
        }
    }
    cp_async_wait_all(); // no copy into local memory outlives the work-group
#endif

    store_warp_tile(acc, d + d_offs + (ulong)i2 * d_nb.s2 + (ulong)i3 * d_nb.s3, d_nb, d_vec2, n0 + wn * 64,
                    m0 + wm * 64, n, m, lane);
}

// ---- preparation ---------------------------------------------------------------------------

// X16 / W16 from an F32 or F16 tensor [K, rows, s2, s3] (any strides): global (rows_p * kc,
// slices), one 16-byte chunk each (8 k of one row, PERM order); zero outside the tensor.
kernel void k_mmq_prep_f16(global const char* src, ulong offs, long4 ne, ulong4 nb, int src_f16,
                           global uint4* dst, int rows_p, int kc) {
    const ulong id = get_global_id(0), total = (ulong)rows_p * kc;
    const int z = get_global_id(1);
    if (id >= total) return;
    // a 32-bit division where the index fits (a 64-bit one is a long instruction sequence, in a
    // kernel that should run at memory speed)
    const int row = total <= 0xffffffffUL ? (int)((uint)id / (uint)kc) : (int)(id / kc);
    const int c = (int)(id - (ulong)row * kc), k0 = (c >> 2) * 32 + 4 * (c & 3);
    global const char* p = src + offs + (ulong)row * nb.s1 + (ulong)(z % ne.s2) * nb.s2 + (ulong)(z / ne.s2) * nb.s3;
    // F32 rows of whole 32-k blocks, 16-byte aligned (the activations of a model): two float4s
    if (!src_f16 && nb.s0 == 4 && (ne.s0 & 31) == 0 && ((offs | nb.s1 | nb.s2 | nb.s3) & 15) == 0) {
        float4 a = (float4)(0.0f), b = (float4)(0.0f);
        if (row < ne.s1) {
            a = *(global const float4*)(p + (ulong)k0 * 4);
            b = *(global const float4*)(p + (ulong)(k0 + 16) * 4);
        }
        dst[(ulong)z * total + id] =
            (uint4)(pack_f16x2(a.x, a.z), pack_f16x2(a.y, a.w), pack_f16x2(b.x, b.z), pack_f16x2(b.y, b.w));
        return;
    }
    float v[8];
    for (int e = 0; e < 8; ++e) {
        const int k = k0 + (e & 3) + 16 * (e >> 2); // x[4j..4j+3], then x[16+4j..]
        v[e] = 0.0f;
        if (row < ne.s1 && k < ne.s0)
            v[e] = src_f16 ? load_half(p + (ulong)k * nb.s0) : *(global const float*)(p + (ulong)k * nb.s0);
    }
    dst[(ulong)z * total + id] =
        (uint4)(pack_f16x2(v[0], v[2]), pack_f16x2(v[1], v[3]), pack_f16x2(v[4], v[6]), pack_f16x2(v[5], v[7]));
}

#if MMQ_QUANT
// WQ / WS from quantized a [K, M, s2, s3] (nb0 = block bytes, 2-byte aligned): global (mp * n_kb,
// slices), one block each, rows fastest (the writes of a warp are contiguous).
kernel void k_mmq_prep_q(global const char* src, ulong offs, long4 ne, ulong4 nb, global uint* wq, global uint* ws,
                         int mp, int n_kb) {
    const ulong id = get_global_id(0);
    const int z = get_global_id(1);
    if (id >= (ulong)mp * n_kb) return;
    const int row = id % mp, kb = id / mp;
    global uint* q = wq + ((ulong)z * n_kb * mp + id) * QWPC * 4;
    global uint* s = ws + ((ulong)z * n_kb * mp + id) * SW;
    if (row >= ne.s1) { // padding rows: scale 0 makes every weight 0
        for (int i = 0; i < QWPC * 4; ++i) q[i] = 0u;
        for (int i = 0; i < SW; ++i) s[i] = 0u;
        return;
    }
    global const ushort* blk = (global const ushort*)(src + offs + (ulong)kb * nb.s0 + (ulong)row * nb.s1 +
                                                      (ulong)(z % ne.s2) * nb.s2 + (ulong)(z / ne.s2) * nb.s3);
    const uint dh = blk[0];
    s[0] = dh | (dh << 16);
#if MMQ_W == PA_Q4_1
    const uint mh = blk[1];
    s[1] = mh | (mh << 16);
    global const ushort* qs = blk + 2;
#else
    global const ushort* qs = blk + 1;
#endif
    uint w[QWPC * 4];
    for (int i = 0; i < QWPC * 4; ++i) w[i] = (uint)qs[2 * i] | ((uint)qs[2 * i + 1] << 16);
#if MMQ_W == PA_Q8_0
    for (int j = 0; j < 4; ++j) { // chunk j: words j (k 4j..) and 4+j (k 16+4j..)
        q[2 * j] = w[j];
        q[2 * j + 1] = w[4 + j];
    }
#else
    for (int j = 0; j < 4; ++j) q[j] = w[j];
#endif
}
#endif
