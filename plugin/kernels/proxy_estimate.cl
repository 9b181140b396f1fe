// proxy_estimate.cl - ProxyAttn mask estimation on the device (spec steps 1-5):
//   proxy_pool_q / proxy_pool_k   strided proxy pooling (mean over a group's heads)
//   proxy_lse_chunk, _merge       pass 1 of proxy scores: LSE of every strided proxy row, per
//                                 chunk of keys, merged in chunk order
//   proxy_blockmax                pass 2: A_j[m][n] = max over the row's strided queries of
//                                 exp(max logit in key block n - row max) / row sum
//   budget_block_lse, budget_row, per-head budget from the last query block: LSE state per
//   budget_reduce                 (query, key block), merged per query in block order, block
//                                 probabilities summed over the queries
// The (N/S)^2 proxy matrix is never stored: logits are recomputed in pass 2.
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
#ifndef TILE_K
#define TILE_K 16 // keys staged in local memory at a time
#endif
#ifndef WG
#define WG 64 // work-group size of the row kernels
#endif
#ifndef WGB
#define WGB 32 // work-group size of proxy_blockmax (power of two)
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

// Dot products of a private vector with local rows, one fma per element in element order.
// Local rows are read 4 floats at a time where the head dim allows (one wide local load per
// four fmas instead of one per fma); the arithmetic and its order are the same either way.
#if HEAD_DIM % 4 == 0
#define DOT_VEC 1
#else
#define DOT_VEC 0
#endif

inline float det_dot_local(const float* a, __local const float* b) {
    float acc = 0.0f;
#if DOT_VEC
    for (int c = 0; c < HEAD_DIM; c += 4) {
        const float4 v = *(__local const float4*)(b + c);
        acc = fma(a[c], v.x, acc);
        acc = fma(a[c + 1], v.y, acc);
        acc = fma(a[c + 2], v.z, acc);
        acc = fma(a[c + 3], v.w, acc);
    }
#else
    for (int c = 0; c < HEAD_DIM; ++c) acc = fma(a[c], b[c], acc);
#endif
    return acc;
}

// two independent dot products in flight against the same private vector
inline void det_dot_local2(const float* a, __local const float* b0, __local const float* b1, float* r0, float* r1) {
    float acc0 = 0.0f, acc1 = 0.0f;
#if DOT_VEC
    for (int c = 0; c < HEAD_DIM; c += 4) {
        const float4 v0 = *(__local const float4*)(b0 + c), v1 = *(__local const float4*)(b1 + c);
        acc0 = fma(a[c], v0.x, acc0);
        acc1 = fma(a[c], v1.x, acc1);
        acc0 = fma(a[c + 1], v0.y, acc0);
        acc1 = fma(a[c + 1], v1.y, acc1);
        acc0 = fma(a[c + 2], v0.z, acc0);
        acc1 = fma(a[c + 2], v1.z, acc1);
        acc0 = fma(a[c + 3], v0.w, acc0);
        acc1 = fma(a[c + 3], v1.w, acc1);
    }
#else
    for (int c = 0; c < HEAD_DIM; ++c) {
        acc0 = fma(a[c], b0[c], acc0);
        acc1 = fma(a[c], b1[c], acc1);
    }
#endif
    *r0 = acc0;
    *r1 = acc1;
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

// ---- step 3: row LSE of the strided proxy scores ----------------------------------------------
// Pass 1, proxy_lse_chunk: one work-item per (strided query i, chunk c of CH strided keys, group
// j); global (n_sq rounded to WG, n_chunks, g). The LSE state of the item's visible keys in the
// chunk, in key order, goes to cmax/csum [g][n_chunks][n_sq]. Work-groups whose chunk no query of
// theirs sees return at once; items that see no key of a visible chunk write (-inf, 0), which
// proxy_lse_merge never reads (it stops at the query's last visible chunk).
__kernel void proxy_lse_chunk(__global const float* Qs, __global const float* Ks, __global float* cmax,
                              __global float* csum, int n_sq, int n_sk, int sq_first, long n_past, long first_full,
                              int S, int CH, float scale) {
    __local float kt[TILE_K * HEAD_DIM] __attribute__((aligned(16)));
    const int lid = get_local_id(0), i = get_global_id(0), c = get_group_id(1), j = get_group_id(2);
    const bool valid = i < n_sq;
    const int i_last = min((int)get_group_id(0) * WG + WG, n_sq) - 1;
    const int cnt_group = (int)(sq_pos(i_last, sq_first, n_past, first_full, S) / S) + 1;
    const int c0 = c * CH, c1 = min(c0 + CH, cnt_group);
    if (c0 >= cnt_group) return; // uniform over the work-group
    const int cnt = valid ? (int)(sq_pos(i, sq_first, n_past, first_full, S) / S) + 1 : 0;
    float qv[HEAD_DIM];
    for (int e = 0; e < HEAD_DIM; ++e) qv[e] = valid ? Qs[((long)j * n_sq + i) * HEAD_DIM + e] : 0.0f;
    __global const float* K = Ks + (long)j * n_sk * HEAD_DIM;
    float mx = -INFINITY, sum = 0.0f;
    for (int k0 = c0; k0 < c1; k0 += TILE_K) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < TILE_K * HEAD_DIM; e += WG) {
            const int kk = k0 + e / HEAD_DIM;
            kt[e] = kk < c1 ? K[(long)kk * HEAD_DIM + e % HEAD_DIM] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const int kend = min(min(TILE_K, c1 - k0), cnt - k0);
        int kk = 0;
        for (; kk + 1 < kend; kk += 2) { // two independent dot products in flight, added in order
            float a0, a1;
            det_dot_local2(qv, kt + kk * HEAD_DIM, kt + (kk + 1) * HEAD_DIM, &a0, &a1);
            lse_add(&mx, &sum, a0 * scale);
            lse_add(&mx, &sum, a1 * scale);
        }
        if (kk < kend) lse_add(&mx, &sum, det_dot_local(qv, kt + kk * HEAD_DIM) * scale);
    }
    if (valid) {
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
                              __global float* row_inv, int n_sq, int n_chunks, int sq_first, long n_past,
                              long first_full, int S, int CH) {
    const int i = get_global_id(0), j = get_global_id(1);
    if (i >= n_sq) return;
    const int cnt = (int)(sq_pos(i, sq_first, n_past, first_full, S) / S) + 1;
    const long base = (long)j * n_chunks * n_sq + i;
    float M, inv;
    merge_lse((cnt + CH - 1) / CH, n_sq, cmax + base, csum + base, &M, &inv);
    row_max[(long)j * n_sq + i] = M;
    row_inv[(long)j * n_sq + i] = inv;
}

// ---- step 4: block max pooling ------------------------------------------------------------------
// One work-group of WGB items per (row m, group j, run of NBLK key blocks): global
// (WGB * ceil(n_kblocks / NBLK), n_rows, g). Each item takes strided queries of the row (its
// query vector stays in registers across the run), finds its max logit over each block's
// visible strided keys and turns it into a probability; the max over the items is A_j[m][n].
// A max does not depend on order, so this equals the reference's row-by-row loop exactly.
#ifndef NBLK
#define NBLK 8
#endif
__kernel void proxy_blockmax(__global const float* Qs, __global const float* Ks, __global const float* row_max,
                             __global const float* row_inv, __global float* scores, int n_sq, int n_sk,
                             int sq_first, long n_past, long first_full, int S, int B, int row0, long n_keys,
                             float scale) {
    __local float kt[TILE_K * HEAD_DIM] __attribute__((aligned(16)));
    __local float red[NBLK][WGB];
    const int lid = get_local_id(0), nb0 = get_group_id(0) * NBLK, m = row0 + get_group_id(1), j = get_group_id(2);
    if (nb0 > m) return; // uniform over the work-group
    const int kpb = B / S;
    const long rb = max((long)m * B, n_past), re = min((long)(m + 1) * B, n_keys);
    const int i0 = sq_row_first(m, row0, sq_first, kpb);
    const int cnt_q = (int)((re - rb + S - 1) / S);
    __global const float* K = Ks + (long)j * n_sk * HEAD_DIM;
    float best[NBLK];
    for (int b = 0; b < NBLK; ++b) best[b] = 0.0f;
    float qv[HEAD_DIM];
    for (int qb = 0; qb < cnt_q; qb += WGB) {
        const int i = i0 + qb + lid;
        const bool valid = qb + lid < cnt_q;
        const int lim = valid ? (int)(sq_pos(i, sq_first, n_past, first_full, S) / S) + 1 : 0;
        for (int e = 0; e < HEAD_DIM; ++e) qv[e] = valid ? Qs[((long)j * n_sq + i) * HEAD_DIM + e] : 0.0f;
        const long r = (long)j * n_sq + i;
        const float rm = valid ? row_max[r] : 0.0f, ri = valid ? row_inv[r] : 0.0f;
        for (int b = 0; b < NBLK; ++b) {
            const int n = nb0 + b;
            if (n > m) break; // uniform
            const int kf = n * kpb, kl = min(kf + kpb, n_sk);
            float bm = -INFINITY;
            for (int k0 = kf; k0 < kl; k0 += TILE_K) {
                barrier(CLK_LOCAL_MEM_FENCE);
                for (int e = lid; e < TILE_K * HEAD_DIM; e += WGB) {
                    const int kk = k0 + e / HEAD_DIM;
                    kt[e] = kk < kl ? K[(long)kk * HEAD_DIM + e % HEAD_DIM] : 0.0f;
                }
                barrier(CLK_LOCAL_MEM_FENCE);
                const int kend = min(min(TILE_K, kl - k0), lim - k0);
                int kk = 0;
                for (; kk + 1 < kend; kk += 2) {
                    float a0, a1;
                    det_dot_local2(qv, kt + kk * HEAD_DIM, kt + (kk + 1) * HEAD_DIM, &a0, &a1);
                    bm = fmax(bm, a0 * scale);
                    bm = fmax(bm, a1 * scale);
                }
                if (kk < kend) bm = fmax(bm, det_dot_local(qv, kt + kk * HEAD_DIM) * scale);
            }
            if (valid) best[b] = fmax(best[b], det_exp(bm - rm) * ri);
        }
    }
    for (int b = 0; b < NBLK; ++b) red[b][lid] = best[b];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int b = lid; b < NBLK && nb0 + b <= m; b += WGB) { // WGB may be smaller than NBLK
        float v = 0.0f;
        for (int t = 0; t < WGB; ++t) v = fmax(v, red[b][t]);
        scores[(long)j * tri_of(row0 + get_num_groups(1), row0) + tri_of(m, row0) + nb0 + b] = v;
    }
}

// ---- step 5: per-head budgets ---------------------------------------------------------------------
// Queries of the last row (absolute positions last_begin .. last_begin + nq - 1), all keys of
// the head's kv head up to the query's position. Parallel over (query, key block, head): each
// block's LSE state is computed in key order, then merged in block order (same as the CPU
// reference's budget_query).
inline void load_q_row(__global const uchar* q, ulong q_offs, ulong4 q_nb, long t, int h, bool valid, float* qv) {
    __global const uchar* base = q + q_offs + t * q_nb.s1 + h * q_nb.s2;
    for (int c = 0; c < HEAD_DIM; ++c) qv[c] = valid ? *(__global const float*)(base + c * q_nb.s0) : 0.0f;
}

inline void load_k_tile(__global const uchar* k, ulong k_offs, ulong4 k_nb, int hk, long k0, long kend,
                        __local float* kt, int lid) {
    for (int e = lid; e < TILE_K * HEAD_DIM; e += WG) {
        const long kk = k0 + e / HEAD_DIM;
        kt[e] = kk < kend ? LOAD_K(k + k_offs + kk * k_nb.s1 + hk * k_nb.s2 + (e % HEAD_DIM) * k_nb.s0) : 0.0f;
    }
}

// Step 5, pass 1: one item per (query qi, key block n, head h), global (nq rounded to WG,
// n_kblocks, H): online LSE state of the block's visible logits in key order. Rows of a
// work-group share the head and block, so the block's keys are staged once for all of them.
// pmax/psum [H][n_kblocks][nq]; a block with no visible key gives (-inf, 0).
__kernel void budget_block_lse(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb,
                               __global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb,
                               __global float* pmax, __global float* psum, long n_past, long last_begin, int nq,
                               int gqa, int B, int n_kblocks, float scale) {
    __local float kt[TILE_K * HEAD_DIM] __attribute__((aligned(16)));
    const int lid = get_local_id(0), qi = get_global_id(0), n = get_group_id(1), h = get_group_id(2);
    const bool valid = qi < nq;
    const long p = last_begin + qi;
    const long p_group = last_begin + min((int)get_group_id(0) * WG + WG, nq) - 1;
    const long b0 = (long)n * B, b1 = min(b0 + B, p_group + 1); // keys staged for the group
    float qv[HEAD_DIM];
    load_q_row(q, q_offs, q_nb, p - n_past, h, valid, qv);
    float mx = -INFINITY, sum = 0.0f;
    for (long k0 = b0; k0 < b1; k0 += TILE_K) {
        barrier(CLK_LOCAL_MEM_FENCE);
        load_k_tile(k, k_offs, k_nb, h / gqa, k0, b1, kt, lid);
        barrier(CLK_LOCAL_MEM_FENCE);
        const int kend = valid ? (int)min((long)TILE_K, min(b1, p + 1) - k0) : 0;
        int kk = 0;
        for (; kk + 1 < kend; kk += 2) {
            float a0, a1;
            det_dot_local2(qv, kt + kk * HEAD_DIM, kt + (kk + 1) * HEAD_DIM, &a0, &a1);
            lse_add(&mx, &sum, a0 * scale);
            lse_add(&mx, &sum, a1 * scale);
        }
        if (kk < kend) lse_add(&mx, &sum, det_dot_local(qv, kt + kk * HEAD_DIM) * scale);
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
