// proxy_estimate.cl - ProxyAttn mask estimation on the device (spec steps 1-4):
//   proxy_pool_q / proxy_pool_k   proxy pooling (mean over a group's heads)
//   quantize_rows, quantize_q_rows, quantize_k_rows
//                                 int8 rows with a float scale (det_math.h quantize_row), ROW_BYTES
//                                 apart (zeros past HEAD_DIM), key rows padded with zero rows
//   (proxy_block_stats.cl)        per (query, key block): max logit and the block's sum of
//                                 exp(logit - max) in 2^-32 fixed point
//   proxy_merge, sample_merge     per query: max logit and 1 / softmax sum, in block order (and
//                                 a measured query's total probability)
//   proxy_blockmax                A_j[m][n] = max over row m's proxy queries of the largest
//                                 probability they give a key of block n
//   sample_mass                   block masses of the measured rows, summed over their queries
// The (N/S) x N proxy matrix is never stored: the block statistics ((N/S) x (N/B) pairs, in
// batches of rows) carry everything the later steps need.
//
// Bit-exactness: every value that decides the mask is computed exactly as in
// ref/det_math.h and ref/estimate.cpp (proxy_det.cl, put in front by the host with proxy_common.cl: same constants,
// fma written out; integer dot products, fixed-point block sums, sequential sums in the order
// stated at each kernel), and contraction is off, so budgets and kept blocks equal the CPU
// reference's bit for bit.
#pragma OPENCL FP_CONTRACT OFF

#ifndef HEAD_DIM
#define HEAD_DIM 64
#endif
#ifndef ROW_BYTES
#define ROW_BYTES HEAD_DIM // int8 row stride: HEAD_DIM rounded up to 32 (proxy_block_stats.cl)
#endif

// ---- geometry helpers (mirror of geometry.h) ---------------------------------------------
// Strided query sample i: the first row (row0) may start mid-block at n_past; later rows start
// at first_full = (row0 + 1) * B.
inline long sq_pos(int i, int sq_first, long n_past, long first_full, int S) {
    return i < sq_first ? n_past + (long)i * S : first_full + (long)(i - sq_first) * S;
}
inline int sq_row_first(int m, int row0, int sq_first, int kpb) {
    return m == row0 ? 0 : sq_first + (m - row0 - 1) * kpb;
}

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
// det_math.h quantize_row, cooperatively: QL items per row (local size (QL, QR): QR rows per
// work-group), item l holding elements l * QE .. l * QE + QE - 1 (zeros past HEAD_DIM); the row's
// amax (fmax: order-free) is reduced through local memory. q = rint(x * 127 / amax) clamped to
// +-127, zeros for a row that holds NaN or whose amax lies outside [2^-100, 2^50] (proxy_det.cl
// quant_zero_row); the row's scale is (amax / 127) * extra (0 * extra for a zero row). Rows past
// the real ones (padding rows) come out as zeros, scale 0.
#define QL 16
#define QR 8
#define QE (ROW_BYTES / QL)

inline void quantize_coop(const float* x, bool write, __global char* q, __global float* scale, float extra,
                          __local float* red) {
    const int l = get_local_id(0), rr = get_local_id(1);
    float a = 0.0f;
    for (int e = 0; e < QE; ++e) a = fmax(a, quant_abs(x[e]));
    red[rr * QL + l] = a;
    barrier(CLK_LOCAL_MEM_FENCE);
    float amax = 0.0f;
    for (int i = 0; i < QL; ++i) amax = fmax(amax, red[rr * QL + i]);
    if (!write) return;
    const bool zero = quant_zero_row(amax);
    const float f = zero ? 0.0f : quant_factor(amax);
    for (int e = 0; e < QE; ++e) q[l * QE + e] = zero || l * QE + e >= HEAD_DIM ? 0 : quant_q8(x[e], f);
    if (l == 0) *scale = (zero ? 0.0f : quant_scale(amax)) * extra;
}

// Rows of contiguous floats, per head h: src [h][rows_in][HEAD_DIM] -> q8 [h][rows_out][ROW_BYTES],
// scale [h][rows_out] (times extra); rows rows_in .. rows_out - 1 are padding. Global
// (QL, rows_out rounded up to QR, heads), local (QL, QR, 1).
__kernel void quantize_rows(__global const float* src, __global char* q8, __global float* scale, long rows_in,
                            long rows_out, float extra) {
    __local float red[QL * QR];
    const int l = get_local_id(0), h = get_global_id(2);
    const long r = get_global_id(1);
    float x[QE];
    for (int e = 0; e < QE; ++e) {
        const int c = l * QE + e;
        x[e] = r < rows_in && c < HEAD_DIM ? src[((long)h * rows_in + r) * HEAD_DIM + c] : 0.0f;
    }
    const long o = (long)h * rows_out + r;
    quantize_coop(x, r < rows_out, q8 + o * ROW_BYTES, scale + o, extra, red);
}

// The measured queries of every head: row (h, qi) = q[:, pos[qi] - n_past, h], times the
// attention scale. Global (QL, n_bq rounded up to QR, H), local (QL, QR, 1).
__kernel void quantize_q_rows(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb,
                              __global const long* pos, __global char* q8, __global float* scale, int n_bq,
                              long n_past, float attn_scale) {
    __local float red[QL * QR];
    const int l = get_local_id(0), qi = get_global_id(1), h = get_global_id(2);
    float x[QE];
    for (int e = 0; e < QE; ++e) {
        const int c = l * QE + e;
        x[e] = qi < n_bq && c < HEAD_DIM
                   ? *(__global const float*)(q + q_offs + (pos[qi] - n_past) * q_nb.s1 + h * q_nb.s2 + c * q_nb.s0)
                   : 0.0f;
    }
    const long r = (long)h * n_bq + qi;
    quantize_coop(x, qi < n_bq, q8 + r * ROW_BYTES, scale + r, attn_scale, red);
}

// Every key of every kv head: row (hk, j) = k[:, j, hk] for j < n_keys, padding rows up to
// k_rows. Global (QL, k_rows rounded up to QR, Hkv), local (QL, QR, 1).
__kernel void quantize_k_rows(__global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb, __global char* q8,
                              __global float* scale, long n_keys, long k_rows) {
    __local float red[QL * QR];
    const int l = get_local_id(0), hk = get_global_id(2);
    const long j = get_global_id(1);
    float x[QE];
    for (int e = 0; e < QE; ++e) {
        const int c = l * QE + e;
        x[e] = j < n_keys && c < HEAD_DIM ? LOAD_K(k + k_offs + j * k_nb.s1 + hk * k_nb.s2 + c * k_nb.s0) : 0.0f;
    }
    const long r = hk * k_rows + j;
    quantize_coop(x, j < k_rows, q8 + r * ROW_BYTES, scale + r, 1.0f, red);
}

// ---- a query's softmax over its blocks --------------------------------------------------------
// The statistics are block-major: a query's value of block n sits n * stride after its block-0
// value (proxy batch: [g][n_kblocks][rows of the batch]; measured queries: [H][n_kblocks][n_bq]),
// so items of consecutive queries read consecutive addresses.
// An item walks ~1000 blocks of one query with few items per multiprocessor (one per query), so
// its loads are issued MERGE_BATCH at a time before any is used (memory-level parallelism: at 128K
// one load in flight per item left the merges at ~0.2 TB/s); the sums still add in block order.
#define MERGE_BATCH 8

// The max of bm over blocks 0 .. nb - 1 (order-free).
inline float blocks_max(__global const float* bm, int nb, long stride) {
    float mx = -INFINITY;
    int n = 0;
    for (; n + MERGE_BATCH <= nb; n += MERGE_BATCH) {
        float v[MERGE_BATCH];
#pragma unroll
        for (int u = 0; u < MERGE_BATCH; ++u) v[u] = bm[(n + u) * stride];
#pragma unroll
        for (int u = 0; u < MERGE_BATCH; ++u) mx = fmax(mx, v[u]);
    }
    for (; n < nb; ++n) mx = fmax(mx, bm[n * stride]);
    return mx;
}

// The sum in block order of bs * exp(bm - M) * f (f = 1 leaves every term's bits as they are).
inline float blocks_sum(__global const float* bm, __global const float* bs, int nb, long stride, float M, float f) {
    float sum = 0.0f;
    int n = 0;
    for (; n + MERGE_BATCH <= nb; n += MERGE_BATCH) {
        float t[MERGE_BATCH];
#pragma unroll
        for (int u = 0; u < MERGE_BATCH; ++u) t[u] = bm[(n + u) * stride];
#pragma unroll
        for (int u = 0; u < MERGE_BATCH; ++u) t[u] = bs[(n + u) * stride] * det_exp(t[u] - M) * f;
#pragma unroll
        for (int u = 0; u < MERGE_BATCH; ++u) sum = sum + t[u];
    }
    for (; n < nb; ++n) sum = sum + bs[n * stride] * det_exp(bm[n * stride] - M) * f;
    return sum;
}

// M = max of the block maxima; inv = 1 / (sum in block order of bs * exp(bm - M)).
inline void merge(__global const float* bm, __global const float* bs, int nb, long stride, float* M, float* inv) {
    const float mx = blocks_max(bm, nb, stride);
    *M = mx;
    *inv = det_recip(blocks_sum(bm, bs, nb, stride, mx, 1.0f));
}

// One item per (proxy query i of the batch, group j); nb = row(i) + 1.
__kernel void proxy_merge(__global const float* bm, __global const float* bs, __global float* row_max,
                          __global float* row_inv, int i_begin, int i_end, int n_sq, int sq_first, long n_past,
                          long first_full, int S, int B, int n_kblocks) {
    const int i = i_begin + get_global_id(0), j = get_global_id(1);
    if (i >= i_end) return;
    const int nb = (int)(sq_pos(i, sq_first, n_past, first_full, S) / B) + 1;
    const long rows = i_end - i_begin, at = (long)j * n_kblocks * rows + (i - i_begin);
    float M, inv;
    merge(bm + at, bs + at, nb, rows, &M, &inv);
    row_max[(long)j * n_sq + i] = M;
    row_inv[(long)j * n_sq + i] = inv;
}

// One item per (measured query qi, head h); nb = nblk[qi]. Also the query's total probability,
// the sum in block order of bs * exp(bm - M) * inv (exact_rows' threshold).
__kernel void sample_merge(__global const float* bm, __global const float* bs, __global const int* nblk,
                           __global float* qM, __global float* qinv, __global float* qtot, int n_bq, int n_kblocks) {
    const int qi = get_global_id(0), h = get_global_id(1);
    if (qi >= n_bq) return;
    const long r = (long)h * n_bq + qi, at = (long)h * n_kblocks * n_bq + qi;
    const int nb = nblk[qi];
    float M, inv;
    merge(bm + at, bs + at, nb, n_bq, &M, &inv);
    const float tot = blocks_sum(bm + at, bs + at, nb, n_bq, M, inv);
    qM[r] = M;
    qinv[r] = inv;
    qtot[r] = tot;
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
        const float b = bm[((long)j * n_kblocks + n) * (i_end - i_begin) + (i - i_begin)];
        best = fmax(best, det_exp(b - row_max[r]) * row_inv[r]);
    }
    scores[(long)j * tri_of(n_kblocks, row0) + tri_of(m, row0) + n] = best;
}

// ---- step 4: masses of the measured rows --------------------------------------------------------
// Probability of block n for measured query qi of head h: bs * exp(bm - M) * inv.
inline float query_mass(__global const float* bm, __global const float* bs, __global const float* qM,
                        __global const float* qinv, int h, int qi, int n_bq, int n_kblocks, int n) {
    const long at = ((long)h * n_kblocks + n) * n_bq + qi, r = (long)h * n_bq + qi;
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
        sum = sum + query_mass(bm, bs, qM, qinv, h, s_q[s] + i, n_bq, n_kblocks, n);
    mass[(long)h * n_mass + s_mass[s] + n] = sum;
}
