// mul_mat_mma_rq.cl - the tensor-core GEMM of quantized weights (Q4_0, Q4_1, Q8_0) with the
// weights dequantized in registers: each lane reads, from local memory, the quant words of exactly
// the weights its mma.sync B fragments hold and turns them into f16x2 right before its MMAs. The
// weights reach local memory still quantized (a quarter of Q4's f16 bytes), and no work-item
// stores f16 weights there for others to read back by ldmatrix: the weights' share of the
// local-memory traffic falls from 24 KiB to ~10 KiB a 32-k step of a 128 x 128 tile. Each warp
// dequantizes its 64 rows itself (2.3x the ALU work of the shared f16 tile): on the H200 this is
// 1-3% faster for Q4_0 / Q4_1 and slower for Q8_0 with a barrier a step, and with the stages
// handed over by mbarriers (RQ_MBAR) 5-13% faster again, Q8_0 then faster than mul_mat_mma.cl
// too (docs/benchmarks.md). The activations
// come as in mul_mat_mma.cl (X16 by cp.async, ldmatrix; mmq_common.cl, which the host puts in
// front of this file after mma_ptx.cl).
//
// WR [slice of a][KP/32][MP/64][GB] uint words, made by k_mmq_prep_r: one piece of GB words a
// 32-k block of a 64-row group, that is of one warp's weight rows (row 8p + g of the group is row
// g of n-tile p). The piece holds
//   quants  [QCH][32 lanes][4 words]: lane 4g + t's QL words (one lane's 16 bytes a row of 32
//           lanes, so that a warp's 16-byte loads cover distinct banks);
//           Q4: word p = n-tile p's row g, nibble (bits 4c + 16e) = weight k(t, c, e);
//           Q8: words 2p + h = n-tile p's row g, byte (r + 2e) of word 2p + h = weight
//           k(t, 2h + r, e) + 128;
//   scales  [SCH][8 g][4 words]: word p SW + w of lane group g: n-tile p's row g, (d, d) and for
//           Q4_1 (m, m) as f16x2;
// with k(t, c, e) = 4c + 2e + (t & 1) + 16 (t >> 1): c = 2kk + r names the register (b0: r = 0,
// b1: r = 1) of the MMA over the stage's 16 k at chunks 2kk, 2kk+1, e its half. That is the k
// which PERM (mmq_common.cl) puts where lane t's A fragment takes it. Rows m >= M have scale 0.
//
// K runs in steps of 32 through RQ_STAGES local-memory stages (each BT rows of X16 plus the
// tile's MMQ_WM pieces of WR), filled by cp.async RQ_STAGES - 1 steps ahead with one barrier a
// step, or with RQ_MBAR (tuning mmq_rq_sync, NVIDIA sm_90) handed between the warps by mbarriers.
// The host passes MMQ_W, RQ_STAGES (tuning mmq_rq_stages, fewer where a stage of this weight type
// would not fit the local memory) and the tile MMQ_WN x MMQ_WM (warps as in mul_mat_mma.cl; tuning
// mmq_rq_wn x mmq_rq_wm for the types of mmq_rq_tile_types whose rows are whole tiles of it, else
// mul_mat_mma.cl's mmq_wn x mmq_wm: mul_mat_mma.cpp, plan_mmq).

#ifndef RQ_STAGES
#define RQ_STAGES 3
#endif
#ifndef RQ_MBAR
#define RQ_MBAR 0 // 1: the stages are handed over by mbarriers, not a barrier (needs MMA_MBARRIER)
#endif
#if MMQ_W == PA_Q8_0
#define QL 16 // quant words a lane a step
#else
#define QL 8
#endif
#define QCH (QL / 4)                  // 16-byte rows of quants (of 32 lanes each) in a piece
#define SCH (2 * SW)                  // 16-byte rows of scales (of 8 lane groups each)
#define GB (QCH * 128 + SCH * 32)     // words of a piece
#define WRC (MMQ_WM * GB / 4)         // 16-byte chunks of a stage's weights
#define WRI ((WRC + NT - 1) / NT)     // chunks each work-item copies a step (the last ones partly)
#define RQ_PENDING_2 0                // copy groups still in flight when a step's tiles are in
#define RQ_PENDING_3 1
#define RQ_PENDING_4 2
#define RQ_PENDING_5 3
#define RQ_PENDING_(s) RQ_PENDING_##s
#define RQ_PENDING(s) RQ_PENDING_(s)

#if !MMQ_QUANT
#error "mul_mat_mma_rq.cl: quantized weights only (MMQ_W Q4_0, Q4_1 or Q8_0)"
#endif
#if RQ_STAGES < 2 || RQ_STAGES > 5
#error "mul_mat_mma_rq.cl: RQ_STAGES must be 2 .. 5"
#endif

// k of register c (0..3: b0, b1 of the first 16 k, then of the second), half e, of lane t.
inline int rq_k(int t, int c, int e) {
    return 4 * c + 2 * e + (t & 1) + 16 * (t >> 1);
}

// A stage's weights: WRC chunks, global -> local without registers.
inline void copy_w_pieces(local uint4* wl, global const uint4* wg, int tid) {
    MMA_UNROLL
    for (int i = 0; i < WRI; ++i) {
        const int c = tid + i * NT;
        if (WRC % NT == 0 || c < WRC) cp_async16(wl + c, wg + c);
    }
}

// A stage (xs, wl) <- step k: the tile's activations and weight pieces of block column k (cp.async;
// the caller commits them or has them arrive on an mbarrier).
inline void copy_stage(local uint4* xs, local uint4* wl, global const char* const* xrow, global const uint4* wg,
                       ulong w_step, int k, int tid) {
    copy_x_tile(xs, xrow, k, tid);
    copy_w_pieces(wl, wg + k * w_step, tid);
}

// acc += the warp's 64 x 64 product over one 32-k step: A fragments from the stage's activations
// xs, B fragments dequantized from the warp's piece wl.
inline void mma_step_rq(float4 acc[4][8], local const uint4* xs, local const uint4* wl, int wn, int lane EMU_PARAM) {
    const int g = lane >> 2;
    uint q[QL], sc[8 * SW];
    MMA_UNROLL
    for (int c = 0; c < QCH; ++c) {
        const uint4 v = wl[c * 32 + lane];
        q[4 * c] = v.x;
        q[4 * c + 1] = v.y;
        q[4 * c + 2] = v.z;
        q[4 * c + 3] = v.w;
    }
    MMA_UNROLL
    for (int c = 0; c < SCH; ++c) {
        const uint4 v = wl[QCH * 32 + c * 8 + g];
        sc[4 * c] = v.x;
        sc[4 * c + 1] = v.y;
        sc[4 * c + 2] = v.z;
        sc[4 * c + 3] = v.w;
    }
    MMA_UNROLL
    for (int kk = 0; kk < 2; ++kk) {
        uint4 af[4];
        load_a_frags(af, xs, wn, lane, kk EMU_ARG);
        MMA_UNROLL
        for (int p = 0; p < 8; ++p) {
            const uint d2 = sc[p * SW], m2 = SW == 2 ? sc[p * SW + SW - 1] : 0u;
#if MMQ_W == PA_Q8_0
            const uint v = q[2 * p + kk];
            const uint b0 = deq_pair(v, d2, m2), b1 = deq_pair(v >> 8, d2, m2);
#else
            const uint v = q[p] >> (8 * kk);
            const uint b0 = deq_pair(v, d2, m2), b1 = deq_pair(v >> 4, d2, m2);
#endif
            MMA_UNROLL
            for (int i = 0; i < 4; ++i) mma16816(&acc[i][p], af[i], b0, b1);
        }
    }
}

// Launch and tiles_w, b2, r2, r3, a2: mmq_common.cl's mmq_place_of.
//   x: X16 at this launch's first token, with its byte strides (nb0 unused); n_kb = KP/32
//   wr: WR, groups = MP/64 pieces a block column
//   d: dst at this launch's first token, d_vec2 = 1 when its rows take 8-byte stores; n, m: valid
//   tokens and rows
kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void k_mmq_rq(global const char* x, ulong x_offs, ulong4 x_nb, int n_kb, global const uint4* wr, int groups,
              global char* d, ulong d_offs, ulong4 d_nb, int d_vec2, int n, int m, int tiles_w, int b2, int r2,
              int r3, int a2) {
    local uint4 xs[RQ_STAGES][BT * 4];
    local uint4 wsm[RQ_STAGES][WRC];
    EMU_DECL
    const mmq_place pl = mmq_place_of(tiles_w, b2, r2, r3, a2);
    const int tid = pl.tid, lane = pl.lane, wn = pl.wn, wm = pl.wm, n0 = pl.n0, m0 = pl.m0;
    const int i2 = pl.i2, i3 = pl.i3, zw = pl.zw;

    global const char* xrow[XCH]; // the rows of b this work-item loads
    x_rows(xrow, x, x_offs, x_nb, i2, i3, n0, n, tid);
    // the tile's pieces of block column kb: WRC chunks at wg + kb * w_step
    global const uint4* wg = wr + ((ulong)zw * n_kb * groups + m0 / 64) * (GB / 4);
    const ulong w_step = (ulong)groups * (GB / 4);

    float4 acc[4][8];
    zero_acc(acc);

#if RQ_MBAR && !MMA_EMULATE
    // mbarriers instead of the barrier (mma_ptx.cl): a stage's "full" completes when every item's
    // copies into it have landed, its "empty" when every warp has multiplied it. A warp waits for
    // its step's data, multiplies, and only then refills the stage of the step before, once every
    // warp is done with that one: the warps drift apart by up to a step instead of meeting at a
    // barrier every step, and no warp waits for another's products of the current step (H200,
    // Llama-3-8B shapes at 8K: +5-13%, docs/benchmarks.md). Copies run RQ_STAGES - 2 steps ahead.
    local ulong full[RQ_STAGES], empty[RQ_STAGES];
    if (tid == 0)
        for (int p = 0; p < RQ_STAGES; ++p) {
            mbar_init(&full[p], NT);
            mbar_init(&empty[p], NT / 32); // one arrival a warp (every item's: the same speed)
        }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int p = 0; p < RQ_STAGES - 1 && p < n_kb; ++p) {
        copy_stage(xs[p], wsm[p], xrow, wg, w_step, p, tid);
        cp_async_mbar_arrive(&full[p]);
    }
    int s = 0, sp = RQ_STAGES - 1; // stages of steps kb and kb - 1
    uint ph = 0, php = 1;          // parities of their rounds
    for (int kb = 0; kb < n_kb; ++kb) {
        mbar_wait(&full[s], ph);
        mma_step_rq(acc, xs[s], wsm[s] + wm * (GB / 4), wn, lane);
        warp_sync(); // every lane's reads of the stage are done
        if (lane == 0) mbar_arrive(&empty[s]);
        const int kf = kb + RQ_STAGES - 1; // into the stage of step kb - 1
        if (kf < n_kb) {
            if (kb > 0) mbar_wait(&empty[sp], php);
            copy_stage(xs[sp], wsm[sp], xrow, wg, w_step, kf, tid);
            cp_async_mbar_arrive(&full[sp]);
        }
        sp = s;
        php = ph;
        if (++s == RQ_STAGES) s = 0, ph ^= 1u;
    }
    cp_async_wait_all();
#else
    // stages 0 .. RQ_STAGES - 2 <- steps 0 .. RQ_STAGES - 2, one copy group each
    MMA_UNROLL
    for (int p = 0; p < RQ_STAGES - 1; ++p) {
        const int ks = min(p, n_kb - 1);
        copy_stage(xs[p], wsm[p], xrow, wg, w_step, ks, tid);
        cp_async_commit();
    }
    // Step kb: its group is in once all but the newest RQ_STAGES - 2 are; the barrier publishes
    // it and ends every warp's reads of stage (kb - 1) % RQ_STAGES, which then receives step
    // kb + RQ_STAGES - 1. Past the end the last step's tiles are loaded again into idle stages.
    int s = 0;
    for (int kb = 0; kb < n_kb; ++kb) {
        cp_async_wait_group(RQ_PENDING(RQ_STAGES));
        barrier(CLK_LOCAL_MEM_FENCE);
        const int sf = s == 0 ? RQ_STAGES - 1 : s - 1, kf = min(kb + RQ_STAGES - 1, n_kb - 1);
        copy_stage(xs[sf], wsm[sf], xrow, wg, w_step, kf, tid);
        cp_async_commit();
        mma_step_rq(acc, xs[s], wsm[s] + wm * (GB / 4), wn, lane EMU_ARG);
        s = s == RQ_STAGES - 1 ? 0 : s + 1;
    }
    cp_async_wait_all(); // no copy into local memory outlives the work-group
#endif

    store_warp_tile(acc, d + d_offs + (ulong)i2 * d_nb.s2 + (ulong)i3 * d_nb.s3, d_nb, d_vec2, n0 + wn * 64,
                    m0 + wm * 64, n, m, lane);
}

// WR from quantized a [K, M, s2, s3] (nb0 = block bytes, 2-byte aligned): global (mp * n_kb,
// slices), one block (row, block column) each, rows fastest; mp = M rounded up to whole tiles.
kernel void k_mmq_prep_r(global const char* src, ulong offs, long4 ne, ulong4 nb, global uint* wr, int mp, int n_kb) {
    const ulong id = get_global_id(0);
    const int z = get_global_id(1);
    if (id >= (ulong)mp * n_kb) return;
    const int row = id % mp, kb = id / mp;
    const int p = (row & 63) >> 3, g = row & 7;
    global uint* piece = wr + (((ulong)z * n_kb + kb) * (mp / 64) + row / 64) * GB;
    global uint* sc = piece + QCH * 128 + g * 4; // + (index / 4) * 32 + index % 4
    uint q[32];                                  // the block's quants (Q8: + 128), scale words
    uint s0 = 0u, s1 = 0u;
    if (row < ne.s1) {
        global const ushort* blk = (global const ushort*)(src + offs + (ulong)kb * nb.s0 + (ulong)row * nb.s1 +
                                                          (ulong)(z % ne.s2) * nb.s2 + (ulong)(z / ne.s2) * nb.s3);
        s0 = (uint)blk[0] * 0x10001u;
#if MMQ_W == PA_Q4_1
        s1 = (uint)blk[1] * 0x10001u;
        global const uchar* qs = (global const uchar*)(blk + 2);
#else
        global const uchar* qs = (global const uchar*)(blk + 1);
#endif
        for (int k = 0; k < 32; ++k) {
#if MMQ_W == PA_Q8_0
            q[k] = (uint)(uchar)(qs[k] ^ 0x80u);
#else
            q[k] = k < 16 ? qs[k] & 15u : qs[k - 16] >> 4;
#endif
        }
    } else {
        for (int k = 0; k < 32; ++k) q[k] = 0u;
    }
    for (int t = 0; t < 4; ++t) {
        uint w[QL / 8] = {0u};
        for (int c = 0; c < 4; ++c)
            for (int e = 0; e < 2; ++e) {
#if MMQ_W == PA_Q8_0
                w[c >> 1] |= q[rq_k(t, c, e)] << (8 * ((c & 1) + 2 * e));
#else
                w[0] |= q[rq_k(t, c, e)] << (4 * c + 16 * e);
#endif
            }
        for (int h = 0; h < QL / 8; ++h) {
            const int idx = p * (QL / 8) + h, lane = 4 * g + t; // word idx of this lane
            piece[(idx >> 2) * 128 + lane * 4 + (idx & 3)] = w[h];
        }
    }
    sc[((p * SW) >> 2) * 32 + ((p * SW) & 3)] = s0;
#if SW == 2
    sc[((p * SW + 1) >> 2) * 32 + ((p * SW + 1) & 3)] = s1;
#endif
}
