// proxy_estimate.cl - ProxyAttn mask estimation on the device (spec steps 1-4):
//   proxy_pool_quantize           proxy pooling (mean over a group's heads) of queries and keys,
//                                 as int8 rows with a float scale (det_math.h quantize_row)
//   quantize_sample_rows          the measured queries and every key, as int8 rows likewise
//                                 (rows ROW_BYTES apart, zeros past HEAD_DIM, key rows padded
//                                 with zero rows)
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
// The launch geometry, chosen by the host (ocl/lowering.cpp, which passes every one of these):
//   POOL_DIMS  dims a pooling load takes (4 where 4 divides HEAD_DIM and ROW_BYTES / QL, else 1)
//   QL, QR     quantize kernels: items a row, rows a work-group
//   MQ, MW     merges: queries a work-group, items a query
//   SM_BLOCKS  sample_mass: blocks a work-group
#if !defined(POOL_DIMS) || !defined(QL) || !defined(QR) || !defined(MQ) || !defined(MW) || !defined(SM_BLOCKS)
#error "proxy_estimate.cl: the host passes POOL_DIMS, QL, QR, MQ, MW and SM_BLOCKS"
#endif
#if (POOL_DIMS != 1 && POOL_DIMS != 4) || HEAD_DIM % POOL_DIMS != 0
#error "proxy_estimate.cl: POOL_DIMS must be 1, or 4 where it divides HEAD_DIM"
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

// ---- pooling a row's elements over heads ----------------------------------------------------
// An item of the pooling kernel takes POOL_DIMS consecutive dims (4 where HEAD_DIM allows: Q's
// and K's rows are contiguous, and vload4 / vload_half4 need only the element's alignment).
#if POOL_DIMS == 4
#define POOL_VEC float4
#define POOL_LOAD(p, f16) ((f16) ? vload_half4(0, (__global const half*)(p)) : vload4(0, (__global const float*)(p)))
#define STORE_POOL(v, p) vstore4(v, 0, p)
#else
#define POOL_VEC float
#define POOL_LOAD(p, f16) ((f16) ? vload_half(0, (__global const half*)(p)) : *(__global const float*)(p))
#define STORE_POOL(v, p) (*(p) = (v))
#endif
#define POOL_BATCH 8

// The sum, in head order, of heads h0 .. h0 + count - 1 at base (heads stride bytes apart; f16:
// stored as f16), POOL_BATCH heads' loads issued before any is added.
inline POOL_VEC pool_heads(__global const uchar* base, ulong stride, int h0, int count, int f16) {
    POOL_VEC sum = 0.0f;
    int h = h0;
    for (; h + POOL_BATCH <= h0 + count; h += POOL_BATCH) {
        POOL_VEC v[POOL_BATCH];
#pragma unroll
        for (int u = 0; u < POOL_BATCH; ++u) v[u] = POOL_LOAD(base + (h + u) * stride, f16);
#pragma unroll
        for (int u = 0; u < POOL_BATCH; ++u) sum += v[u];
    }
    for (; h < h0 + count; ++h) sum += POOL_LOAD(base + h * stride, f16);
    return sum;
}

// ---- quantization ---------------------------------------------------------------------------
// det_math.h quantize_row, cooperatively: QL items per row (local size (QL, QR): QR rows per
// work-group), item l holding elements l * QE .. l * QE + QE - 1 (zeros past HEAD_DIM); the row's
// amax (fmax: order-free) is reduced through local memory. q = rint(x * 127 / amax) clamped to
// +-127, zeros for a row that holds NaN or whose amax lies outside [2^-100, 2^50] (proxy_det.cl
// quant_zero_row); the row's scale is (amax / 127) * extra (0 * extra for a zero row). Rows past
// the real ones (padding rows) come out as zeros, scale 0.
#define QE (ROW_BYTES / QL)
#if QE % POOL_DIMS != 0
#error "proxy_estimate.cl: POOL_DIMS must divide ROW_BYTES / QL"
#endif

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

// ---- step 1: proxy pooling, quantized -----------------------------------------------------------
// One launch for both proxies: launch row r < rq is proxy query r, a later one proxy key r - rq
// (rq: n_sq rounded up to QR, so a work-group takes one kind). A proxy query i of group j is the
// sum, in head order, of the group's query heads at sq_pos(i) times inv_q (mean); a proxy key i
// the same over its kv heads at key i * KS times inv_k. Each item pools its QE elements, then the
// row is quantized as above (queries with the attention scale as extra). Key rows n_sk ..
// k_rows - 1 are the padding the tiled statistics read. keep_pooled: the pooled floats also go to
// pooled_q [g][n_sq][HEAD_DIM] and pooled_k [g][n_sk][HEAD_DIM] (tests compare them with the
// reference). Global (QL, rq + k_rows rounded up to QR, g), local (QL, QR, 1).
__kernel void proxy_pool_quantize(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb,
                                  __global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb,
                                  __global char* q8, __global float* qs, __global char* k8, __global float* ks,
                                  __global float* pooled_q, __global float* pooled_k, int keep_pooled, int n_sq,
                                  int sq_first, long n_past, long first_full, int S, int heads_per_group,
                                  float inv_q, float q_extra, int n_sk, int KS, int kv_per_group, float inv_k,
                                  long k_rows, long rq) {
    __local float red[QL * QR];
    const int l = get_local_id(0), j = get_global_id(2);
    const long r = get_global_id(1);
    const bool is_q = r < rq;
    const long i = is_q ? r : r - rq, rows_in = is_q ? n_sq : n_sk, rows_out = is_q ? n_sq : k_rows;
    __global const uchar* base;
    ulong head_stride, elem;
    int h0, count, f16;
    float inv;
    if (is_q) {
        const long t = i < n_sq ? sq_pos(i, sq_first, n_past, first_full, S) - n_past : 0;
        base = q + q_offs + t * q_nb.s1;
        head_stride = q_nb.s2;
        elem = q_nb.s0;
        h0 = j * heads_per_group;
        count = heads_per_group;
        f16 = 0;
        inv = inv_q;
    } else {
        base = k + k_offs + i * KS * k_nb.s1;
        head_stride = k_nb.s2;
        elem = k_nb.s0;
        h0 = j * kv_per_group;
        count = kv_per_group;
        f16 = K_F16;
        inv = inv_k;
    }
    __global float* pooled = (is_q ? pooled_q : pooled_k) + ((long)j * rows_in + i) * HEAD_DIM;
    float x[QE];
    for (int e = 0; e < QE; e += POOL_DIMS) {
        const int c = l * QE + e; // c .. c + POOL_DIMS - 1 lie all below HEAD_DIM or all past it
        POOL_VEC v = 0.0f;
        if (i < rows_in && c < HEAD_DIM) {
            v = pool_heads(base + c * elem, head_stride, h0, count, f16) * inv;
            if (keep_pooled) STORE_POOL(v, pooled + c);
        }
#if POOL_DIMS == 4
        vstore4(v, 0, x + e);
#else
        x[e] = v;
#endif
    }
    const long o = (long)j * rows_out + i;
    quantize_coop(x, i < rows_out, (is_q ? q8 : k8) + o * ROW_BYTES, (is_q ? qs : ks) + o, is_q ? q_extra : 1.0f,
                  red);
}

// The measured queries of every head and every key of every kv head, in one launch: launch row
// r < H * bq_rows is query (h, qi) = (r / bq_rows, r % bq_rows), row (h, qi) = q[:, pos[qi] -
// n_past, h] times the attention scale; a later row is key (hk, j) = k[:, j, hk] for j < n_keys,
// padding rows up to k_rows (bq_rows, kr_rows: n_bq and k_rows rounded up to QR, so a
// work-group takes one head of one kind). Global (QL, H * bq_rows + Hkv * kr_rows, 1), local
// (QL, QR, 1).
__kernel void quantize_sample_rows(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb,
                                   __global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb,
                                   __global const long* pos, __global char* bq8, __global float* bqs,
                                   __global char* hk8, __global float* hks, int n_bq, long bq_rows, long n_past,
                                   float attn_scale, long n_keys, long k_rows, long kr_rows, long q_launch_rows) {
    __local float red[QL * QR];
    const int l = get_local_id(0);
    const long r = get_global_id(1);
    const bool is_q = r < q_launch_rows;
    const long rr = is_q ? r : r - q_launch_rows, per_head = is_q ? bq_rows : kr_rows;
    const long h = rr / per_head, i = rr % per_head;
    float x[QE];
    for (int e = 0; e < QE; ++e) {
        const int c = l * QE + e;
        float v = 0.0f;
        if (c < HEAD_DIM) {
            if (is_q && i < n_bq)
                v = *(__global const float*)(q + q_offs + (pos[i] - n_past) * q_nb.s1 + h * q_nb.s2 + c * q_nb.s0);
            else if (!is_q && i < n_keys)
                v = LOAD_K(k + k_offs + i * k_nb.s1 + h * k_nb.s2 + c * k_nb.s0);
        }
        x[e] = v;
    }
    // one call site: with the barrier inside reached from both arms of this (work-group uniform)
    // branch, PoCL 3.1 wrote past the buffers
    const long o = h * (is_q ? n_bq : k_rows) + i;
    quantize_coop(x, i < (is_q ? n_bq : k_rows), (is_q ? bq8 : hk8) + o * ROW_BYTES, (is_q ? bqs : hks) + o,
                  is_q ? attn_scale : 1.0f, red);
}

// ---- a query's softmax over its blocks --------------------------------------------------------
// The statistics are block-major: a query's value of block n sits n * stride after its block-0
// value (proxy batch: [g][n_kblocks][rows of the batch]; measured queries: [H][n_kblocks][n_bq]),
// so items of consecutive queries read consecutive addresses.
// A work-group takes MQ consecutive queries (local id 0) with MW items each (local id 1): the
// loads and exps of a query's ~1000 blocks are spread over its MW items (blocks w, w + MW, ...),
// and the sums in block order run on the items of w = 0 (one warp), each adding its query's
// terms from local memory, MCH blocks at a time. At 128K an item a query left the merges
// latency-bound (32K items in all: ~250 a multiprocessor, 0.45-0.7 ms).
#define MCH 128
#define MBATCH 8 // loads issued before any is used

// The largest nb of the work-group's queries; nbs: local [MQ].
inline int group_nb(int nb, local int* nbs) {
    const int lane = get_local_id(0);
    if (get_local_id(1) == 0) nbs[lane] = nb;
    barrier(CLK_LOCAL_MEM_FENCE);
    int mx = 0;
    for (int u = 0; u < MQ; ++u) mx = max(mx, nbs[u]);
    return mx;
}

// The max of bm over blocks 0 .. nb - 1 of this item's query (order-free), on every item of it;
// red: local [MW][MQ].
inline float query_max(global const float* bm, int nb, long stride, local float* red) {
    const int lane = get_local_id(0), w = get_local_id(1);
    float mx = -INFINITY;
    int n = w;
    for (; n + (MBATCH - 1) * MW < nb; n += MBATCH * MW) {
        float v[MBATCH];
#pragma unroll
        for (int u = 0; u < MBATCH; ++u) v[u] = bm[(n + u * MW) * stride];
#pragma unroll
        for (int u = 0; u < MBATCH; ++u) mx = fmax(mx, v[u]);
    }
    for (; n < nb; n += MW) mx = fmax(mx, bm[n * stride]);
    red[w * MQ + lane] = mx;
    barrier(CLK_LOCAL_MEM_FENCE);
    float M = -INFINITY;
    for (int u = 0; u < MW; ++u) M = fmax(M, red[u * MQ + lane]);
    barrier(CLK_LOCAL_MEM_FENCE); // red may be written again
    return M;
}

// The sum in block order of bs * exp(bm - M) * f over blocks 0 .. nb - 1 (f = 1 leaves every
// term's bits as they are), valid on the items of w = 0; every item of the work-group calls it
// with the group's largest nb (nb_max). T: local [MCH][MQ].
inline float query_sum(global const float* bm, global const float* bs, int nb, int nb_max, long stride, float M,
                       float f, local float* T) {
    const int lane = get_local_id(0), w = get_local_id(1);
    float sum = 0.0f;
    for (int c0 = 0; c0 < nb_max; c0 += MCH) {
        const int c1 = min(c0 + MCH, nb);
        for (int b = c0 + w; b < c1; b += MBATCH * MW) {
            float vm[MBATCH], vs[MBATCH];
#pragma unroll
            for (int u = 0; u < MBATCH; ++u) { // clamped to a block of the query: always in bounds
                const long at = min(b + u * MW, c1 - 1) * stride;
                vm[u] = bm[at];
                vs[u] = bs[at];
            }
#pragma unroll
            for (int u = 0; u < MBATCH; ++u)
                if (b + u * MW < c1) T[(b + u * MW - c0) * MQ + lane] = vs[u] * det_exp(vm[u] - M) * f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (w == 0)
            for (int n = c0; n < c1; ++n) sum = sum + T[(n - c0) * MQ + lane];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return sum;
}

// Global (ceil(queries / MQ) * MQ, MW, heads), local (MQ, MW, 1).
#define MERGE_LOCALS                                                                                           \
    local int nbs[MQ];                                                                                         \
    local float red[MW * MQ];                                                                                  \
    local float T[MCH * MQ];

// One query per (proxy query i of the batch, group j); nb = row(i) + 1. Row max M and
// inv = 1 / (sum in block order of bs * exp(bm - M)).
__kernel void proxy_merge(__global const float* bm, __global const float* bs, __global float* row_max,
                          __global float* row_inv, int i_begin, int i_end, int n_sq, int sq_first, long n_past,
                          long first_full, int S, int B, int n_kblocks) {
    MERGE_LOCALS
    const int i = i_begin + get_global_id(0), j = get_global_id(2);
    const int nb = i < i_end ? (int)(sq_pos(i, sq_first, n_past, first_full, S) / B) + 1 : 0;
    const int nb_max = group_nb(nb, nbs);
    const long rows = i_end - i_begin, at = (long)j * n_kblocks * rows + (i - i_begin);
    const float M = query_max(bm + at, nb, rows, red);
    const float sum = query_sum(bm + at, bs + at, nb, nb_max, rows, M, 1.0f, T);
    if (get_local_id(1) == 0 && i < i_end) {
        row_max[(long)j * n_sq + i] = M;
        row_inv[(long)j * n_sq + i] = det_recip(sum);
    }
}

// One query per (measured query qi, head h); nb = nblk[qi]. Also the query's total probability,
// the sum in block order of bs * exp(bm - M) * inv (exact_rows' threshold).
__kernel void sample_merge(__global const float* bm, __global const float* bs, __global const int* nblk,
                           __global float* qM, __global float* qinv, __global float* qtot, int n_bq, int n_kblocks) {
    MERGE_LOCALS
    const int qi = get_global_id(0), h = get_global_id(2);
    const int nb = qi < n_bq ? nblk[qi] : 0;
    const int nb_max = group_nb(nb, nbs);
    const long r = (long)h * n_bq + qi, at = (long)h * n_kblocks * n_bq + qi;
    const float M = query_max(bm + at, nb, n_bq, red);
    const float inv = det_recip(query_sum(bm + at, bs + at, nb, nb_max, n_bq, M, 1.0f, T));
    if (get_local_id(1) == 0) red[get_local_id(0)] = inv; // to every item of the query
    barrier(CLK_LOCAL_MEM_FENCE);
    const float f = red[get_local_id(0)];
    const float tot = query_sum(bm + at, bs + at, nb, nb_max, n_bq, M, f, T);
    if (get_local_id(1) == 0 && qi < n_bq) {
        qM[r] = M;
        qinv[r] = inv;
        qtot[r] = tot;
    }
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

// A work-group of SM_BLOCKS items per (SM_BLOCKS blocks of sample s, head h), global
// (ceil(n_kblocks / SM_BLOCKS) * SM_BLOCKS, samples, H), local (SM_BLOCKS, 1, 1): the sample's
// mass of block n = sum over its queries, in order, of their probabilities; mass [H][n_mass].
// The probabilities are computed MQ queries at a time by items laid along the queries (a query's
// blocks are n_bq apart, consecutive queries adjacent: loads of a warp are one line), then item
// n - n0 adds its block's MQ values in query order from local memory.
__kernel void sample_mass(__global const float* bm, __global const float* bs, __global const float* qM,
                          __global const float* qinv, __global const int* s_m, __global const int* s_q,
                          __global const int* s_count, __global const int* s_mass, __global float* mass, int n_bq,
                          int n_mass, int n_kblocks) {
    local float T[SM_BLOCKS * (MQ + 1)]; // [block][query], a row padded
    const int lid = get_local_id(0), s = get_group_id(1), h = get_group_id(2), lane = lid % MQ, w = lid / MQ;
    const int n0 = get_group_id(0) * SM_BLOCKS, n_end = min(s_m[s] + 1, n0 + SM_BLOCKS);
    const int q0 = s_q[s], cnt = n0 < n_end ? s_count[s] : 0; // a group past the row: no work, same barriers
    float sum = 0.0f;
    for (int i0 = 0; i0 < cnt; i0 += MQ) {
        const bool q_ok = i0 + lane < cnt;
        const long r = (long)h * n_bq + q0 + i0 + lane;
        const float M = q_ok ? qM[r] : 0.0f, inv = q_ok ? qinv[r] : 0.0f;
        for (int b = n0 + w; b < n_end; b += MBATCH * (SM_BLOCKS / MQ)) {
            float vm[MBATCH], vs[MBATCH];
#pragma unroll
            for (int u = 0; u < MBATCH; ++u) { // clamped to a block of the row: always in bounds
                const long at = ((long)h * n_kblocks + min(b + u * (SM_BLOCKS / MQ), n_end - 1)) * n_bq + q0 +
                                min(i0 + lane, cnt - 1);
                vm[u] = bm[at];
                vs[u] = bs[at];
            }
#pragma unroll
            for (int u = 0; u < MBATCH; ++u) {
                const int n = b + u * (SM_BLOCKS / MQ);
                if (n < n_end && q_ok) T[(n - n0) * (MQ + 1) + lane] = vs[u] * det_exp(vm[u] - M) * inv;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (n0 + lid < n_end)
            for (int i = 0; i < min(MQ, cnt - i0); ++i) sum = sum + T[lid * (MQ + 1) + i];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (n0 + lid < n_end) mass[(long)h * n_mass + s_mass[s] + n0 + lid] = sum;
}
