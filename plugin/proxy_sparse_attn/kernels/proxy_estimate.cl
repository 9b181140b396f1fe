// proxy_estimate.cl - ProxyAttn mask estimation on the device (spec steps 1-5):
//   proxy_pool_q / proxy_pool_k   strided proxy pooling (mean over a group's heads)
//   proxy_lse_chunk, _merge       pass 1 of proxy scores: LSE of every strided proxy row, per
//                                 chunk of keys, merged in chunk order
//   proxy_blockmax                pass 2: A_j[m][n] = max over the row's strided queries of
//                                 exp(max logit in key block n - row max) / row sum
//   budget_block_lse, budget_row, per-head budget from the last query block: LSE state per
//   budget_reduce                 (query, key block), merged per query in block order, block
//                                 probabilities summed over the queries
// The (N/S)^2 proxy matrix is never stored: pass 1 keeps each query's max logit per key block
// ((N/S) x (N/B) floats, in batches of rows), pass 2 turns those into block probabilities.
//
// Bit-exactness: every value that decides the mask is computed exactly as in
// plugin/proxy/ref/det_math.h (same constants, fma written out, same order: dot products in
// element order, LSE in key order, sums in the order stated at each kernel), and contraction is
// off, so budgets and kept blocks equal the CPU reference's bit for bit.
#pragma OPENCL FP_CONTRACT OFF

#ifndef HEAD_DIM
#define HEAD_DIM 64
#endif
#ifndef K_F16
#define K_F16 0 // element type of the K tensor: 0 f32, 1 f16
#endif

#if K_F16
#define LOAD_K(p) vload_half(0, (__global const half*)(p))
#else
#define LOAD_K(p) (*(__global const float*)(p))
#endif

// ---- deterministic math (mirror of det_math.h) -------------------------------------------
inline float det_exp(float x) {
    if (!(x >= -87.0f)) return 0.0f;
    if (x > 88.0f) x = 88.0f;
    const float n = rint(x * 1.44269504f);
    float r = fma(n, -0.693145751953125f, x);
    r = fma(n, -1.42860677e-06f, r);
    float p = 1.98412698e-4f;
    p = fma(p, r, 1.38888889e-3f);
    p = fma(p, r, 8.33333333e-3f);
    p = fma(p, r, 4.16666667e-2f);
    p = fma(p, r, 1.66666667e-1f);
    p = fma(p, r, 0.5f);
    p = fma(p, r, 1.0f);
    p = fma(p, r, 1.0f);
    const int e = ((int)n + 127) << 23;
    return p * as_float(e);
}

inline float det_recip(float s) {
    float r = as_float(0x7EF311C3 - as_int(s));
    for (int i = 0; i < 4; ++i) {
        const float e = fma(-s, r, 1.0f);
        r = fma(r, e, r);
    }
    return r;
}

inline void lse_add(float* mx, float* sum, float x) {
    if (x > *mx) {
        *sum = fma(*sum, det_exp(*mx - x), 1.0f);
        *mx = x;
    } else {
        *sum = *sum + det_exp(x - *mx);
    }
}

// ---- geometry helpers (mirror of proxy_geometry.h) ---------------------------------------
// Strided query sample i: the first row (row0) may start mid-block at n_past; later rows start
// at first_full = (row0 + 1) * B.
inline long sq_pos(int i, int sq_first, long n_past, long first_full, int S) {
    return i < sq_first ? n_past + (long)i * S : first_full + (long)(i - sq_first) * S;
}
inline int sq_row_first(int m, int row0, int sq_first, int kpb) {
    return m == row0 ? 0 : sq_first + (m - row0 - 1) * kpb;
}
inline long tri_of(long m, long row0) { return m * (m + 1) / 2 - row0 * (row0 + 1) / 2; }

// ---- step 1-2: proxy pooling ----------------------------------------------------------------
// out [g][n_sq][HEAD_DIM] = (sum over the group's query heads, in head order) * inv_q
__kernel void proxy_pool_q(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb, __global float* out,
                           int n_sq, int sq_first, long n_past, long first_full, int S, int heads_per_group,
                           float inv_q) {
    const int c = get_global_id(0), i = get_global_id(1), j = get_global_id(2);
    if (c >= HEAD_DIM || i >= n_sq) return;
    const long t = sq_pos(i, sq_first, n_past, first_full, S) - n_past;
    __global const uchar* base = q + q_offs + t * q_nb.s1 + c * q_nb.s0;
    float sum = 0.0f;
    for (int h = j * heads_per_group; h < (j + 1) * heads_per_group; ++h)
        sum += *(__global const float*)(base + h * q_nb.s2);
    out[((long)j * n_sq + i) * HEAD_DIM + c] = sum * inv_q;
}

// out [g][n_sk][HEAD_DIM]: keys at positions i * S, mean over the group's kv heads
__kernel void proxy_pool_k(__global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb, __global float* out,
                           int n_sk, int S, int kv_per_group, float inv_k) {
    const int c = get_global_id(0), i = get_global_id(1), j = get_global_id(2);
    if (c >= HEAD_DIM || i >= n_sk) return;
    __global const uchar* base = k + k_offs + (long)i * S * k_nb.s1 + c * k_nb.s0;
    float sum = 0.0f;
    for (int h = j * kv_per_group; h < (j + 1) * kv_per_group; ++h) sum += LOAD_K(base + h * k_nb.s2);
    out[((long)j * n_sk + i) * HEAD_DIM + c] = sum * inv_k;
}


// ---- register-tiled logits ------------------------------------------------------------------------
// The heavy kernels compute tiles of logits q.k like an SGEMM: queries and keys are staged in
// local memory DC head dims at a time, transposed (dim-major, so that 4 queries or 4 keys are one
// 16-byte read), and each work-item accumulates TQ queries x TKW keys in registers. Every dot
// product still adds its terms one fma at a time in dim order, across the DC chunks in order, so
// each logit is bit-identical to det::dot in the CPU reference.
#define TQ 4   // queries per work-item
#define TKW 16 // keys per work-item
#if HEAD_DIM % 16 == 0
#define DC 16
#elif HEAD_DIM % 8 == 0
#define DC 8
#elif HEAD_DIM % 4 == 0
#define DC 4
#else
#define DC 1
#endif
#define TP 4 // padding of the staged rows (keeps 16-byte alignment, spreads banks)

// acc[a][b] += sum over the DC staged dims (in order) of Ql[c][qa + a] * Kl[c][kb + b]
inline void tile_fma(__local const float* Ql, int q_stride, int qa, __local const float* Kl, int k_stride, int kb,
                     float acc[TQ][TKW]) {
    for (int c = 0; c < DC; ++c) {
        const float4 qv = vload4(0, Ql + c * q_stride + qa);
        float kv[TKW];
        for (int b = 0; b < TKW; b += 4) {
            const float4 t = vload4(0, Kl + c * k_stride + kb + b);
            kv[b] = t.x;
            kv[b + 1] = t.y;
            kv[b + 2] = t.z;
            kv[b + 3] = t.w;
        }
        for (int b = 0; b < TKW; ++b) {
            acc[0][b] = fma(qv.x, kv[b], acc[0][b]);
            acc[1][b] = fma(qv.y, kv[b], acc[1][b]);
            acc[2][b] = fma(qv.z, kv[b], acc[2][b]);
            acc[3][b] = fma(qv.w, kv[b], acc[3][b]);
        }
    }
}

inline void tile_zero(float acc[TQ][TKW]) {
    for (int a = 0; a < TQ; ++a)
        for (int b = 0; b < TKW; ++b) acc[a][b] = 0.0f;
}

// L[(qa + a) * l_stride + kb + b] = acc[a][b] * scale
inline void tile_store(__local float* L, int l_stride, int qa, int kb, float acc[TQ][TKW], float scale) {
    for (int a = 0; a < TQ; ++a)
        for (int b = 0; b < TKW; ++b) L[(qa + a) * l_stride + kb + b] = acc[a][b] * scale;
}

// Stages rows [r0, r0 + ROWS) x dims [d0, d0 + DC) of a row-major f32 matrix (rows of HEAD_DIM)
// into dst[c * (ROWS + TP) + r]; rows at or past r_end read as 0.
inline void stage_rows(__local float* dst, int ROWS, __global const float* src, int r0, int r_end, int d0, int lid,
                       int nthreads) {
    for (int e = lid; e < ROWS * DC; e += nthreads) {
        const int r = e / DC, c = e % DC;
        dst[c * (ROWS + TP) + r] = r0 + r < r_end ? src[(long)(r0 + r) * HEAD_DIM + d0 + c] : 0.0f;
    }
}

// ---- step 3: row LSE of the strided proxy scores ----------------------------------------------
// Pass 1, proxy_lse_chunk: one work-item per (strided query i, chunk c of CH strided keys, group
// j); global (n_sq rounded to LQ, n_chunks, g). Logit tiles of LQ queries x LK keys; the LSE
// state of the item's visible keys in the chunk, in key order, goes to cmax/csum
// [g][n_chunks][n_sq]. Work-groups whose chunk no query of
// theirs sees return at once; items that see no key of a visible chunk write (-inf, 0), which
// proxy_lse_merge never reads (it stops at the query's last visible chunk).
#define LQ 64 // strided queries per proxy_lse_chunk work-group (its size)
#define LK 64 // keys per tile
__kernel __attribute__((reqd_work_group_size(LQ, 1, 1)))
void proxy_lse_chunk(__global const float* Qs, __global const float* Ks, __global float* cmax, __global float* csum,
                     __global float* bmx, int i_begin, int i_end, int n_sq, int n_sk, int sq_first, long n_past,
                     long first_full, int S, int CH, int kpb, int n_kblocks, float scale) {
    __local float Ql[DC * (LQ + TP)] __attribute__((aligned(16)));
    __local float Kl[DC * (LK + TP)] __attribute__((aligned(16)));
    __local float L[LQ * (LK + 1)];
    const int lid = get_local_id(0), i0 = i_begin + get_group_id(0) * LQ, c = get_group_id(1), j = get_group_id(2);
    const int i = i0 + lid;
    const bool valid = i < i_end;
    const int i_last = min(i0 + LQ, i_end) - 1;
    const int cnt_group = (int)(sq_pos(i_last, sq_first, n_past, first_full, S) / S) + 1;
    const int c0 = c * CH, c1 = min(c0 + CH, cnt_group);
    if (c0 >= cnt_group) return; // uniform over the work-group
    const int cnt = valid ? (int)(sq_pos(i, sq_first, n_past, first_full, S) / S) + 1 : 0;
    __global const float* Q = Qs + (long)j * n_sq * HEAD_DIM;
    __global const float* K = Ks + (long)j * n_sk * HEAD_DIM;
    const int qa = (lid % (LQ / TQ)) * TQ, kb = (lid / (LQ / TQ)) * TKW;
    __global float* bm_row = bmx + ((long)j * (i_end - i_begin) + (i - i_begin)) * n_kblocks;
    float mx = -INFINITY, sum = 0.0f, cur = -INFINITY; // cur: max logit of block cur_blk so far
    int cur_blk = -1;
    for (int k0 = c0; k0 < c1; k0 += LK) {
        float acc[TQ][TKW];
        tile_zero(acc);
        for (int d0 = 0; d0 < HEAD_DIM; d0 += DC) {
            barrier(CLK_LOCAL_MEM_FENCE);
            stage_rows(Ql, LQ, Q, i0, i_end, d0, lid, LQ);
            stage_rows(Kl, LK, K, k0, c1, d0, lid, LQ);
            barrier(CLK_LOCAL_MEM_FENCE);
            tile_fma(Ql, LQ + TP, qa, Kl, LK + TP, kb, acc);
        }
        tile_store(L, LK + 1, qa, kb, acc, scale);
        barrier(CLK_LOCAL_MEM_FENCE);
        const int kend = min(LK, min(c1, cnt) - k0); // this row's visible keys of the tile, in order
        for (int kk = 0; kk < kend; ++kk) {
            const float x = L[lid * (LK + 1) + kk];
            lse_add(&mx, &sum, x);
            const int blk = (k0 + kk) / kpb; // chunks start on block boundaries
            if (blk != cur_blk) {
                if (cur_blk >= 0) bm_row[cur_blk] = cur;
                cur_blk = blk;
                cur = x;
            } else {
                cur = fmax(cur, x);
            }
        }
    }
    if (valid) {
        if (cur_blk >= 0) bm_row[cur_blk] = cur;
        cmax[((long)j * get_num_groups(1) + c) * n_sq + i] = mx;
        csum[((long)j * get_num_groups(1) + c) * n_sq + i] = sum;
    }
}

// Merge of LSE states stored at stride `step` (chunk order): max of the maxima, then the sum in
// order of s * exp(m - M). Mirrors merge_lse in proxy_ref_estimate.cpp.
inline void merge_lse(int count, long step, __global const float* pm, __global const float* ps, float* M,
                      float* inv) {
    float mx = -INFINITY;
    for (int n = 0; n < count; ++n)
        if (pm[n * step] > mx) mx = pm[n * step];
    float sum = 0.0f;
    for (int n = 0; n < count; ++n) sum = sum + ps[n * step] * det_exp(pm[n * step] - mx);
    *M = mx;
    *inv = det_recip(sum);
}

// Pass 2, proxy_lse_merge: per (i, j), global (n_sq, g): row_max and 1 / row sum from the
// query's visible chunks.
__kernel void proxy_lse_merge(__global const float* cmax, __global const float* csum, __global float* row_max,
                              __global float* row_inv, int i_begin, int i_end, int n_sq, int n_chunks, int sq_first,
                              long n_past, long first_full, int S, int CH) {
    const int i = i_begin + get_global_id(0), j = get_global_id(1);
    if (i >= i_end) return;
    const int cnt = (int)(sq_pos(i, sq_first, n_past, first_full, S) / S) + 1;
    const long base = (long)j * n_chunks * n_sq + i;
    float M, inv;
    merge_lse((cnt + CH - 1) / CH, n_sq, cmax + base, csum + base, &M, &inv);
    row_max[(long)j * n_sq + i] = M;
    row_inv[(long)j * n_sq + i] = inv;
}

// ---- step 4: block max pooling ------------------------------------------------------------------
// proxy_lse_chunk stored, for each strided query i of the batch and each key block n it sees,
// the max logit over the block's visible strided keys: bmx [g][i - i_begin][n_kblocks]. Here one
// work-item per (key block n, row m of the batch, group j), global (n_kblocks, rows, g), takes
// A_j[m][n] = max over the row's strided queries of exp(bmx - row max) * (1 / row sum). The
// logits are computed once (in pass 1), and a max does not depend on order, so this equals the
// reference's row-by-row loop exactly. Only the batch's rows of bmx exist at a time, which bounds
// its size ((N/S) x (N/B) floats per group, not the (N/S)^2 proxy matrix).
__kernel void proxy_blockmax(__global const float* bmx, __global const float* row_max, __global const float* row_inv,
                             __global float* scores, int i_begin, int i_end, int n_sq, int sq_first, long n_past,
                             int S, int B, int row0, int m0, long n_keys, int n_kblocks) {
    const int n = get_global_id(0), m = m0 + get_global_id(1), j = get_global_id(2);
    if (n >= n_kblocks || n > m) return;
    const int kpb = B / S;
    const long rb = max((long)m * B, n_past), re = min((long)(m + 1) * B, n_keys);
    const int i0 = sq_row_first(m, row0, sq_first, kpb);
    const int cnt_q = (int)((re - rb + S - 1) / S);
    float best = 0.0f;
    for (int t = 0; t < cnt_q; ++t) {
        const int i = i0 + t;
        const long r = (long)j * n_sq + i;
        const float bm = bmx[((long)j * (i_end - i_begin) + (i - i_begin)) * n_kblocks + n];
        best = fmax(best, det_exp(bm - row_max[r]) * row_inv[r]);
    }
    scores[(long)j * tri_of(n_kblocks, row0) + tri_of(m, row0) + n] = best;
}

// ---- step 5: per-head budgets ---------------------------------------------------------------------
// Queries of the last row (absolute positions last_begin .. last_begin + nq - 1), all keys of
// the head's kv head up to the query's position. Parallel over (query, key block, head): each
// block's LSE state is computed in key order, then merged in block order (same as the CPU
// reference's budget_query).

// Step 5, pass 1: one item per (query qi, key block n, head h), global (nq rounded to UQ,
// n_kblocks, H): online LSE state of the block's visible logits in key order, from logit tiles
// of UQ queries x UK keys. pmax/psum [H][n_kblocks][nq]; a block with no visible key gives
// (-inf, 0).
#define UQ 64 // budget queries per work-group (its size)
#define UK 64 // keys per tile
__kernel __attribute__((reqd_work_group_size(UQ, 1, 1)))
void budget_block_lse(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb, __global const uchar* k,
                      ulong k_offs, long4 k_ne, ulong4 k_nb, __global float* pmax, __global float* psum, long n_past,
                      long last_begin, int nq, int gqa, int B, int n_kblocks, float scale) {
    __local float Ql[DC * (UQ + TP)] __attribute__((aligned(16)));
    __local float Kl[DC * (UK + TP)] __attribute__((aligned(16)));
    __local float L[UQ * (UK + 1)];
    const int lid = get_local_id(0), q0 = get_group_id(0) * UQ, n = get_group_id(1), h = get_group_id(2);
    const int qi = q0 + lid;
    const bool valid = qi < nq;
    const long p = last_begin + qi;
    const int q_end = min(q0 + UQ, nq);
    const long p_group = last_begin + q_end - 1;
    const long b0 = (long)n * B, b1 = min(b0 + B, p_group + 1); // keys any query of the group sees
    __global const uchar* qbase = q + q_offs + h * q_nb.s2;
    __global const uchar* kbase = k + k_offs + (h / gqa) * k_nb.s2;
    const int qa = (lid % (UQ / TQ)) * TQ, kb = (lid / (UQ / TQ)) * TKW;
    float mx = -INFINITY, sum = 0.0f;
    for (long k0 = b0; k0 < b1; k0 += UK) {
        float acc[TQ][TKW];
        tile_zero(acc);
        for (int d0 = 0; d0 < HEAD_DIM; d0 += DC) {
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int e = lid; e < UQ * DC; e += UQ) {
                const int r = e / DC, c = e % DC;
                Ql[c * (UQ + TP) + r] =
                    q0 + r < q_end
                        ? *(__global const float*)(qbase + (last_begin + q0 + r - n_past) * q_nb.s1 + (d0 + c) * q_nb.s0)
                        : 0.0f;
            }
            for (int e = lid; e < UK * DC; e += UQ) {
                const int r = e / DC, c = e % DC;
                Kl[c * (UK + TP) + r] = k0 + r < b1 ? LOAD_K(kbase + (k0 + r) * k_nb.s1 + (d0 + c) * k_nb.s0) : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            tile_fma(Ql, UQ + TP, qa, Kl, UK + TP, kb, acc);
        }
        tile_store(L, UK + 1, qa, kb, acc, scale);
        barrier(CLK_LOCAL_MEM_FENCE);
        const int kend = valid ? (int)min((long)UK, min(b1, p + 1) - k0) : 0; // visible keys, in order
        for (int kk = 0; kk < kend; ++kk) lse_add(&mx, &sum, L[lid * (UK + 1) + kk]);
        barrier(CLK_LOCAL_MEM_FENCE); // L is rewritten by the next tile
    }
    if (valid) {
        pmax[((long)h * n_kblocks + n) * nq + qi] = mx;
        psum[((long)h * n_kblocks + n) * nq + qi] = sum;
    }
}

// Step 5, pass 2: per (query, head), global (nq, H): row max M = max of the block maxima, row
// sum = sum in block order of psum * det_exp(pmax - M); bmax = M, binv = 1 / row sum.
__kernel void budget_row(__global const float* pmax, __global const float* psum, __global float* bmax,
                         __global float* binv, int nq, int n_kblocks) {
    const int qi = get_global_id(0), h = get_global_id(1);
    if (qi >= nq) return;
    const long base = (long)h * n_kblocks * nq + qi;
    float M, inv;
    merge_lse(n_kblocks, nq, pmax + base, psum + base, &M, &inv);
    bmax[(long)h * nq + qi] = M;
    binv[(long)h * nq + qi] = inv;
}

// Step 5, pass 3: head_mass [H][n_kblocks] = sum over the last row's queries, in query order,
// of (psum * det_exp(pmax - M)) * (1 / row sum).
__kernel void budget_reduce(__global const float* pmax, __global const float* psum, __global const float* bmax,
                            __global const float* binv, __global float* head_mass, int nq, int n_kblocks) {
    const int n = get_global_id(0), h = get_global_id(1);
    if (n >= n_kblocks) return;
    __global const float* pm = pmax + ((long)h * n_kblocks + n) * nq;
    __global const float* ps = psum + ((long)h * n_kblocks + n) * nq;
    __global const float* M = bmax + (long)h * nq;
    __global const float* inv = binv + (long)h * nq;
    float s = 0.0f;
    for (int q = 0; q < nq; ++q) s = s + ps[q] * det_exp(pm[q] - M[q]) * inv[q];
    head_mass[(long)h * n_kblocks + n] = s;
}
