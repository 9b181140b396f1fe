// proxy_estimate.cl - ProxyAttn mask estimation on the device (spec steps 1-4):
//   proxy_pool_q / proxy_pool_k   proxy pooling (mean over a group's heads)
//   quantize_rows, quantize_q_rows, quantize_k_rows
//                                 int8 rows with a float scale (det_math.h quantize_row), ROW_BYTES
//                                 apart (zeros past HEAD_DIM), key rows padded with zero rows
//   (proxy_block_stats.cl)        per (query, key block): max logit and the block's sum of
//                                 exp(logit - max) in 2^-32 fixed point
//   proxy_merge, sample_merge     per query: max logit and 1 / softmax sum, in block order
//   proxy_blockmax                A_j[m][n] = max over row m's proxy queries of the largest
//                                 probability they give a key of block n
//   sample_mass                   block masses of the measured rows, summed over their queries
// The (N/S) x N proxy matrix is never stored: the block statistics ((N/S) x (N/B) pairs, in
// batches of rows) carry everything the later steps need.
//
// Bit-exactness: every value that decides the mask is computed exactly as in
// ref/det_math.h and ref/estimate.cpp (proxy_det.cl, put in front by the host: same constants,
// fma written out; integer dot products, fixed-point block sums, sequential sums in the order
// stated at each kernel), and contraction is off, so budgets and kept blocks equal the CPU
// reference's bit for bit.
#pragma OPENCL FP_CONTRACT OFF

#ifndef HEAD_DIM
#define HEAD_DIM 64
#endif
#ifndef K_F16
#define K_F16 0 // element type of the K tensor: 0 f32, 1 f16
#endif
#ifndef ROW_BYTES
#define ROW_BYTES HEAD_DIM // int8 row stride: HEAD_DIM rounded up to 32 (proxy_block_stats.cl)
#endif

#if K_F16
#define LOAD_K(p) vload_half(0, (__global const half*)(p))
#else
#define LOAD_K(p) (*(__global const float*)(p))
#endif

// q = rint(x * 127 / amax) per element, zeros from HEAD_DIM to ROW_BYTES; returns amax / 127
// (0 for a zero row).
inline float quantize_row(const float* x, __global char* q) {
    for (int c = HEAD_DIM; c < ROW_BYTES; ++c) q[c] = 0;
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

// A padding row: zeros, scale 0.
inline void zero_row(__global char* q, __global float* scale) {
    for (int c = 0; c < ROW_BYTES; ++c) q[c] = 0;
    *scale = 0.0f;
}

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
// Rows of contiguous floats, per head h = get_global_id(1): src [h][rows_in][HEAD_DIM] ->
// q8 [h][rows_out][ROW_BYTES], scale [h][rows_out] (times extra); rows rows_in .. rows_out - 1
// are padding. Global (rows_out, heads).
__kernel void quantize_rows(__global const float* src, __global char* q8, __global float* scale, long rows_in,
                            long rows_out, float extra) {
    const long r = get_global_id(0);
    const int h = get_global_id(1);
    if (r >= rows_out) return;
    const long o = (long)h * rows_out + r;
    if (r >= rows_in) {
        zero_row(q8 + o * ROW_BYTES, scale + o);
        return;
    }
    float x[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) x[c] = src[((long)h * rows_in + r) * HEAD_DIM + c];
    scale[o] = quantize_row(x, q8 + o * ROW_BYTES) * extra;
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
    scale[r] = quantize_row(x, q8 + r * ROW_BYTES) * attn_scale;
}

// Every key of every kv head: row (hk, j) = k[:, j, hk] for j < n_keys, padding rows up to
// k_rows. Global (k_rows, Hkv).
__kernel void quantize_k_rows(__global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb, __global char* q8,
                              __global float* scale, long n_keys, long k_rows) {
    const long j = get_global_id(0);
    const int hk = get_global_id(1);
    if (j >= k_rows) return;
    const long r = hk * k_rows + j;
    if (j >= n_keys) {
        zero_row(q8 + r * ROW_BYTES, scale + r);
        return;
    }
    __global const uchar* base = k + k_offs + j * k_nb.s1 + hk * k_nb.s2;
    float x[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) x[c] = LOAD_K(base + c * k_nb.s0);
    scale[r] = quantize_row(x, q8 + r * ROW_BYTES);
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
