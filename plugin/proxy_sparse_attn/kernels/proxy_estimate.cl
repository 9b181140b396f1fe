// proxy_estimate.cl - ProxyAttn mask estimation on the device (spec steps 1-4):
//   proxy_pool_q / proxy_pool_k   proxy pooling (mean over a group's heads)
//   quantize_rows, quantize_q_rows, quantize_k_rows
//                                 int8 rows with a float scale (det_math.h quantize_row)
//   proxy_block_stats, sample_block_stats
//                                 per (query, key block): max logit and the block's sum of
//                                 exp(logit - max) in 2^-32 fixed point
//   merge_blocks                  per query: max logit and 1 / softmax sum, in block order
//   proxy_blockmax                A_j[m][n] = max over row m's proxy queries of the largest
//                                 probability they give a key of block n
//   sample_mass                   block masses of the measured rows, summed over their queries
// The (N/S) x N proxy matrix is never stored: the block statistics ((N/S) x (N/B) pairs, in
// batches of rows) carry everything the later steps need.
//
// Bit-exactness: every value that decides the mask is computed exactly as in
// ref/det_math.h and ref/estimate.cpp (same constants, fma written out, integer dot products,
// fixed-point block sums, sequential sums in the order stated at each kernel), and contraction
// is off, so budgets and kept blocks equal the CPU reference's bit for bit.
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

inline ulong exp_fixed(float x) { return (ulong)(det_exp(x) * 4294967296.0f); }
inline float from_fixed(ulong s) { return (float)s * 0x1p-32f; }

// q = rint(x * 127 / amax) per element; returns amax / 127 (0 for a zero row).
inline float quantize_row(const float* x, __global char* q) {
    float amax = 0.0f;
    for (int c = 0; c < HEAD_DIM; ++c) amax = fmax(amax, fabs(x[c]));
    if (!(amax >= 0x1p-100f)) {
        for (int c = 0; c < HEAD_DIM; ++c) q[c] = 0;
        return 0.0f;
    }
    const float f = 127.0f * det_recip(amax);
    for (int c = 0; c < HEAD_DIM; ++c) {
        const float r = rint(x[c] * f);
        q[c] = (char)(r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r));
    }
    return amax * 0x1.020408p-7f;
}

inline int idot(__global const char* a, __global const char* b) {
    int acc = 0;
    for (int c = 0; c < HEAD_DIM; ++c) acc += (int)a[c] * (int)b[c];
    return acc;
}

inline float logit(int dot, float qs, float ks) { return (float)dot * (qs * ks); }

// ---- geometry helpers (mirror of geometry.h) ---------------------------------------------
// Strided query sample i: the first row (row0) may start mid-block at n_past; later rows start
// at first_full = (row0 + 1) * B.
inline long sq_pos(int i, int sq_first, long n_past, long first_full, int S) {
    return i < sq_first ? n_past + (long)i * S : first_full + (long)(i - sq_first) * S;
}
inline int sq_row_first(int m, int row0, int sq_first, int kpb) {
    return m == row0 ? 0 : sq_first + (m - row0 - 1) * kpb;
}
inline long tri_of(long m, long row0) { return m * (m + 1) / 2 - row0 * (row0 + 1) / 2; }

// ---- step 1: proxy pooling ----------------------------------------------------------------
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

// out [g][n_sk][HEAD_DIM]: keys at positions i * KS, mean over the group's kv heads
__kernel void proxy_pool_k(__global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb, __global float* out,
                           int n_sk, int KS, int kv_per_group, float inv_k) {
    const int c = get_global_id(0), i = get_global_id(1), j = get_global_id(2);
    if (c >= HEAD_DIM || i >= n_sk) return;
    __global const uchar* base = k + k_offs + (long)i * KS * k_nb.s1 + c * k_nb.s0;
    float sum = 0.0f;
    for (int h = j * kv_per_group; h < (j + 1) * kv_per_group; ++h) sum += LOAD_K(base + h * k_nb.s2);
    out[((long)j * n_sk + i) * HEAD_DIM + c] = sum * inv_k;
}

// ---- quantization ---------------------------------------------------------------------------
// One item per row: rows of contiguous floats -> q8 [rows][HEAD_DIM], scale [rows] (times extra).
__kernel void quantize_rows(__global const float* src, __global char* q8, __global float* scale, long rows,
                            float extra) {
    const long r = get_global_id(0);
    if (r >= rows) return;
    float x[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) x[c] = src[r * HEAD_DIM + c];
    scale[r] = quantize_row(x, q8 + r * HEAD_DIM) * extra;
}

// The measured queries of every head: row (h, qi) = q[:, pos[qi] - n_past, h], times the
// attention scale. Global (n_bq, H).
__kernel void quantize_q_rows(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb,
                              __global const long* pos, __global char* q8, __global float* scale, int n_bq,
                              long n_past, float attn_scale) {
    const int qi = get_global_id(0), h = get_global_id(1);
    if (qi >= n_bq) return;
    __global const uchar* base = q + q_offs + (pos[qi] - n_past) * q_nb.s1 + h * q_nb.s2;
    float x[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) x[c] = *(__global const float*)(base + c * q_nb.s0);
    const long r = (long)h * n_bq + qi;
    scale[r] = quantize_row(x, q8 + r * HEAD_DIM) * attn_scale;
}

// Every key of every kv head: row (hk, j) = k[:, j, hk]. Global (n_keys, Hkv).
__kernel void quantize_k_rows(__global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb, __global char* q8,
                              __global float* scale, long n_keys) {
    const long j = get_global_id(0);
    const int hk = get_global_id(1);
    if (j >= n_keys) return;
    __global const uchar* base = k + k_offs + j * k_nb.s1 + hk * k_nb.s2;
    float x[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) x[c] = LOAD_K(base + c * k_nb.s0);
    const long r = hk * n_keys + j;
    scale[r] = quantize_row(x, q8 + r * HEAD_DIM);
}

// ---- block statistics -----------------------------------------------------------------------
// Keys [a, b) of K (rows of HEAD_DIM int8 from K8, scales KS8) against query row q8 (scale qs):
// max logit, then the fixed-point sum of exp(logit - max) (logits recomputed: exact integers).
inline void block_stat(__global const char* q8, float qs, __global const char* K8, __global const float* Ks, long a,
                       long b, float* bm, float* bs) {
    float mx = -INFINITY;
    for (long kk = a; kk < b; ++kk) mx = fmax(mx, logit(idot(q8, K8 + kk * HEAD_DIM), qs, Ks[kk]));
    ulong sum = 0;
    for (long kk = a; kk < b; ++kk) sum += exp_fixed(logit(idot(q8, K8 + kk * HEAD_DIM), qs, Ks[kk]) - mx);
    *bm = a < b ? mx : -INFINITY;
    *bs = from_fixed(sum);
}

// Proxy queries i_begin .. i_end - 1 of group j against the group's proxy keys: one item per
// (block n, query, group), global (n_kblocks, i_end - i_begin, g). bm/bs [g][batch][n_kblocks];
// blocks past the query's row are not written (nothing reads them).
__kernel void proxy_block_stats(__global const char* pq8, __global const float* pqs, __global const char* pk8,
                                __global const float* pks, __global float* bm, __global float* bs, int i_begin,
                                int i_end, int n_sq, int n_sk, int sq_first, long n_past, long first_full, int S,
                                int KS, int B, int n_kblocks) {
    const int n = get_global_id(0), i = i_begin + get_global_id(1), j = get_global_id(2);
    if (n >= n_kblocks || i >= i_end) return;
    const long p = sq_pos(i, sq_first, n_past, first_full, S);
    if ((long)n * B > p) return; // past the query's row
    const int kpb = B / KS;
    const long vis = p / KS + 1, a = (long)n * kpb, b = min(a + kpb, vis);
    const long r = (long)j * n_sq + i;
    float m, s;
    block_stat(pq8 + r * HEAD_DIM, pqs[r], pk8 + (long)j * n_sk * HEAD_DIM, pks + (long)j * n_sk, a, b, &m, &s);
    const long at = ((long)j * (i_end - i_begin) + (i - i_begin)) * n_kblocks + n;
    bm[at] = m;
    bs[at] = s;
}

// Measured queries of every head against all keys of its kv head (blocks of B): global
// (n_kblocks, n_bq, H). pos[qi] is the query's position, nblk[qi] its row + 1.
__kernel void sample_block_stats(__global const char* bq8, __global const float* bqs, __global const char* hk8,
                                 __global const float* hks, __global const long* pos, __global const int* nblk,
                                 __global float* bm, __global float* bs, int n_bq, long n_keys, int gqa, int B,
                                 int n_kblocks) {
    const int n = get_global_id(0), qi = get_global_id(1), h = get_global_id(2);
    if (n >= n_kblocks || qi >= n_bq || n >= nblk[qi]) return;
    const long a = (long)n * B, b = min(a + B, pos[qi] + 1);
    const long r = (long)h * n_bq + qi, kv = (long)(h / gqa) * n_keys;
    float m, s;
    block_stat(bq8 + r * HEAD_DIM, bqs[r], hk8 + kv * HEAD_DIM, hks + kv, a, b, &m, &s);
    bm[r * n_kblocks + n] = m;
    bs[r * n_kblocks + n] = s;
}

// ---- a query's softmax over its blocks --------------------------------------------------------
// M = max of the block maxima; inv = 1 / (sum in block order of bs * exp(bm - M)). One item per
// query row r (global rows): stats at bm/bs + r_stat * n_kblocks, results at M/inv + r_out.
// Proxy rows: r = (j, i), nb = row(i) + 1; measured rows: nb = nblk[qi].
inline void merge(__global const float* bm, __global const float* bs, int nb, float* M, float* inv) {
    float mx = -INFINITY;
    for (int n = 0; n < nb; ++n) mx = fmax(mx, bm[n]);
    float sum = 0.0f;
    for (int n = 0; n < nb; ++n) sum = sum + bs[n] * det_exp(bm[n] - mx);
    *M = mx;
    *inv = det_recip(sum);
}

__kernel void proxy_merge(__global const float* bm, __global const float* bs, __global float* row_max,
                          __global float* row_inv, int i_begin, int i_end, int n_sq, int sq_first, long n_past,
                          long first_full, int S, int B, int n_kblocks) {
    const int i = i_begin + get_global_id(0), j = get_global_id(1);
    if (i >= i_end) return;
    const int nb = (int)(sq_pos(i, sq_first, n_past, first_full, S) / B) + 1;
    const long at = ((long)j * (i_end - i_begin) + (i - i_begin)) * n_kblocks;
    float M, inv;
    merge(bm + at, bs + at, nb, &M, &inv);
    row_max[(long)j * n_sq + i] = M;
    row_inv[(long)j * n_sq + i] = inv;
}

__kernel void sample_merge(__global const float* bm, __global const float* bs, __global const int* nblk,
                           __global float* qM, __global float* qinv, int n_bq, int n_kblocks) {
    const int qi = get_global_id(0), h = get_global_id(1);
    if (qi >= n_bq) return;
    const long r = (long)h * n_bq + qi;
    float M, inv;
    merge(bm + r * n_kblocks, bs + r * n_kblocks, nblk[qi], &M, &inv);
    qM[r] = M;
    qinv[r] = inv;
}

// ---- step 3: block max pooling ------------------------------------------------------------------
// One item per (key block n, row m of the batch, group j), global (n_kblocks, rows, g):
// A_j[m][n] = max over the row's proxy queries of exp(bm - row max) * (1 / row sum), from 0.
__kernel void proxy_blockmax(__global const float* bm, __global const float* row_max, __global const float* row_inv,
                             __global float* scores, int i_begin, int i_end, int n_sq, int sq_first, int S, int B,
                             int row0, int m0, long n_past, long n_keys, int n_kblocks) {
    const int n = get_global_id(0), m = m0 + get_global_id(1), j = get_global_id(2);
    if (n >= n_kblocks || n > m) return;
    const long rb = max((long)m * B, n_past), re = min((long)(m + 1) * B, n_keys);
    const int i0 = sq_row_first(m, row0, sq_first, B / S);
    const int cnt_q = (int)((re - rb + S - 1) / S);
    float best = 0.0f;
    for (int t = 0; t < cnt_q; ++t) {
        const int i = i0 + t;
        const long r = (long)j * n_sq + i;
        const float b = bm[((long)j * (i_end - i_begin) + (i - i_begin)) * n_kblocks + n];
        best = fmax(best, det_exp(b - row_max[r]) * row_inv[r]);
    }
    scores[(long)j * tri_of(n_kblocks, row0) + tri_of(m, row0) + n] = best;
}

// ---- step 4: masses of the measured rows --------------------------------------------------------
// Probability of block n for measured query row r: bs * exp(bm - M) * inv.
inline float query_mass(__global const float* bm, __global const float* bs, __global const float* qM,
                        __global const float* qinv, long r, int n_kblocks, int n) {
    const long at = r * n_kblocks + n;
    return bs[at] * det_exp(bm[at] - qM[r]) * qinv[r];
}

// One item per (block n, sample s, head h), global (n_kblocks, samples, H): the sample's mass of
// block n = sum over its queries, in order, of their probabilities. mass [H][n_mass].
__kernel void sample_mass(__global const float* bm, __global const float* bs, __global const float* qM,
                          __global const float* qinv, __global const int* s_m, __global const int* s_q,
                          __global const int* s_count, __global const int* s_mass, __global float* mass, int n_bq,
                          int n_mass, int n_kblocks) {
    const int n = get_global_id(0), s = get_global_id(1), h = get_global_id(2);
    if (n >= n_kblocks || n > s_m[s]) return;
    float sum = 0.0f;
    for (int i = 0; i < s_count[s]; ++i)
        sum = sum + query_mass(bm, bs, qM, qinv, (long)h * n_bq + s_q[s] + i, n_kblocks, n);
    mass[(long)h * n_mass + s_mass[s] + n] = sum;
}
