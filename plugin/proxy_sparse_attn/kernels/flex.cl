// flex.cl - estimator = flex (FlexPrefill, arXiv 2502.20766) on the device; follows
// ref/flex.cpp step by step (the host puts proxy_det.cl, proxy_common.cl and
// estimator_common.cl in front):
//   flex_quantize_q, flex_quantize_k   step 1: int8 rows of the tail queries and of every key
//   flex_pool_q, flex_pool_k           step 1: pooled (mean) query ranges and key blocks, int8
//   flex_tail_stats, flex_tail_merge   step 2: the tail's block statistics and softmax
//   flex_lines                         step 2: vertical and slash masses of the tail
//   flex_pattern                       step 2: pooled estimate, JS divergence, pattern per head
//   flex_pick_lines                    step 3: kept lines of vertical-slash heads
//   flex_qa_scores                     step 3: pooled block scores of query-aware heads (then
//                                      rank_rows_threshold of estimator_common.cl)
//   flex_vs_budgets                    step 3: per-row counts of vertical-slash heads
//   flex_build_mask                    step 4
#ifndef HEAD_DIM
#define HEAD_DIM 64
#endif

// q = rint(x * 127 / amax) per element into q8; returns amax / 127 (0 for a zero row:
// proxy_det.cl quant_zero_row).
inline float quantize_row(const float* x, __global char* q8) {
    float amax = 0.0f;
    for (int c = 0; c < HEAD_DIM; ++c) amax = fmax(amax, quant_abs(x[c]));
    if (quant_zero_row(amax)) {
        for (int c = 0; c < HEAD_DIM; ++c) q8[c] = 0;
        return 0.0f;
    }
    const float f = quant_factor(amax);
    for (int c = 0; c < HEAD_DIM; ++c) q8[c] = quant_q8(x[c], f);
    return quant_scale(amax);
}

// ---- step 1 -----------------------------------------------------------------------------------
// The tail queries: row (h, i) = q[:, t_first + i, h] times the attention scale. Global (count, H).
__kernel void flex_quantize_q(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb, __global char* q8,
                              __global float* qs, long t_first, int count, float attn_scale) {
    const int i = get_global_id(0), h = get_global_id(1);
    if (i >= count) return;
    __global const uchar* base = q + q_offs + (t_first + i) * q_nb.s1 + h * q_nb.s2;
    float x[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) x[c] = *(__global const float*)(base + c * q_nb.s0);
    const long r = (long)h * count + i;
    qs[r] = quantize_row(x, q8 + r * HEAD_DIM) * attn_scale;
}

// Every key of every kv head. Global (n_keys, Hkv).
__kernel void flex_quantize_k(__global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb, __global char* k8,
                              __global float* ks, long n_keys) {
    const long j = get_global_id(0);
    const int hk = get_global_id(1);
    if (j >= n_keys) return;
    __global const uchar* base = k + k_offs + j * k_nb.s1 + hk * k_nb.s2;
    float x[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) x[c] = LOAD_K(base + c * k_nb.s0);
    const long r = (long)hk * n_keys + j;
    ks[r] = quantize_row(x, k8 + r * HEAD_DIM);
}

// Pooled queries: row (h, r) = mean of q[:, first[r] .. first[r] + count[r] - 1, h] (sum in query
// order from 0, times recip(count)), int8, times the attention scale. Global (n_ranges, H).
__kernel void flex_pool_q(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb,
                          __global const long* first, __global const int* count, __global char* q8,
                          __global float* qs, int n_ranges, float attn_scale) {
    const int r = get_global_id(0), h = get_global_id(1);
    if (r >= n_ranges) return;
    __global const uchar* base = q + q_offs + h * q_nb.s2;
    const float inv = det_recip((float)count[r]);
    float x[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) {
        float s = 0.0f;
        for (long t = first[r]; t < first[r] + count[r]; ++t)
            s = s + *(__global const float*)(base + t * q_nb.s1 + c * q_nb.s0);
        x[c] = s * inv;
    }
    const long o = (long)h * n_ranges + r;
    qs[o] = quantize_row(x, q8 + o * HEAD_DIM) * attn_scale;
}

// Pooled keys: row (hk, n) = mean of the keys of block n. Global (n_kblocks, Hkv).
__kernel void flex_pool_k(__global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb, __global char* k8,
                          __global float* ks, int n_kblocks, long n_keys, int B) {
    const int n = get_global_id(0), hk = get_global_id(1);
    if (n >= n_kblocks) return;
    __global const uchar* base = k + k_offs + hk * k_nb.s2;
    const long a = (long)n * B, e = min(a + B, n_keys);
    const float inv = det_recip((float)(e - a));
    float x[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) {
        float s = 0.0f;
        for (long j = a; j < e; ++j) s = s + LOAD_K(base + j * k_nb.s1 + c * k_nb.s0);
        x[c] = s * inv;
    }
    const long o = (long)hk * n_kblocks + n;
    ks[o] = quantize_row(x, k8 + o * HEAD_DIM);
}

// ---- step 2 -----------------------------------------------------------------------------------
// Tail query i (position t_abs + i) of head h against key block n: max logit and fixed-point sum
// of exp (logits recomputed: exact integers). Global (n_kblocks, count, H); bm/bs [H][count][nb].
__kernel void flex_tail_stats(__global const char* q8, __global const float* qs, __global const char* k8,
                              __global const float* ks, __global float* bm, __global float* bs, long t_abs,
                              int count, long n_keys, int gqa, int B, int n_kblocks) {
    const int n = get_global_id(0), i = get_global_id(1), h = get_global_id(2);
    if (n >= n_kblocks || i >= count) return;
    const long p = t_abs + i;
    if (n > p / B) return;
    const long a = (long)n * B, e = min(a + B, p + 1);
    const long r = (long)h * count + i, k0 = (long)(h / gqa) * n_keys;
    __global const char* qrow = q8 + r * HEAD_DIM;
    float mx = -INFINITY;
    for (long j = a; j < e; ++j) mx = fmax(mx, logit(idot_n(qrow, k8 + (k0 + j) * HEAD_DIM, HEAD_DIM), qs[r], ks[k0 + j]));
    ulong sum = 0;
    for (long j = a; j < e; ++j)
        sum += exp_fixed(logit(idot_n(qrow, k8 + (k0 + j) * HEAD_DIM, HEAD_DIM), qs[r], ks[k0 + j]) - mx);
    bm[r * n_kblocks + n] = mx;
    bs[r * n_kblocks + n] = from_fixed(sum);
}

// Per tail query: M = max of the block maxima, inv = 1 / (sum in block order of bs * exp(bm - M)).
// Global (count, H).
__kernel void flex_tail_merge(__global const float* bm, __global const float* bs, __global float* tM,
                              __global float* tinv, long t_abs, int count, int B, int n_kblocks) {
    const int i = get_global_id(0), h = get_global_id(1);
    if (i >= count) return;
    const int nb = (int)((t_abs + i) / B) + 1;
    const long r = (long)h * count + i, at = r * n_kblocks;
    float M = -INFINITY;
    for (int n = 0; n < nb; ++n) M = fmax(M, bm[at + n]);
    float sum = 0.0f;
    for (int n = 0; n < nb; ++n) sum = sum + bs[at + n] * det_exp(bm[at + n] - M);
    tM[r] = M;
    tinv[r] = det_recip(sum);
}

inline float tail_mass(__global const float* bm, __global const float* bs, __global const float* tM,
                       __global const float* tinv, long r, int n_kblocks, int n) {
    const long at = r * n_kblocks + n;
    return bs[at] * det_exp(bm[at] - tM[r]) * tinv[r];
}

// lines [H][3][nb]: vertical[n] = sum over the tail queries in order of their mass on block n;
// slash[o] = likewise on block row - o. Global (n_kblocks, H).
__kernel void flex_lines(__global const float* bm, __global const float* bs, __global const float* tM,
                         __global const float* tinv, __global float* lines, long t_abs, int count, int B,
                         int n_kblocks) {
    const int n = get_global_id(0), h = get_global_id(1);
    if (n >= n_kblocks) return;
    float v = 0.0f, s = 0.0f;
    for (int i = 0; i < count; ++i) {
        const int m = (int)((t_abs + i) / B);
        if (n <= m) {
            const long r = (long)h * count + i;
            v = v + tail_mass(bm, bs, tM, tinv, r, n_kblocks, n);
            s = s + tail_mass(bm, bs, tM, tinv, r, n_kblocks, m - n);
        }
    }
    lines[((long)h * 3 + 0) * n_kblocks + n] = v;
    lines[((long)h * 3 + 1) * n_kblocks + n] = s;
}

// Softmax of pooled query row q (int8, scale q_s) against pooled keys k0 .. k0 + nb - 1 into p.
inline void pooled_softmax(__global const char* q, float q_s, __global const char* pk8, __global const float* pks,
                           long k0, int nb, __global float* p) {
    float M = -INFINITY;
    for (int n = 0; n < nb; ++n) {
        p[n] = logit(idot_n(q, pk8 + (k0 + n) * HEAD_DIM, HEAD_DIM), q_s, pks[k0 + n]);
        M = fmax(M, p[n]);
    }
    float sum = 0.0f;
    for (int n = 0; n < nb; ++n) sum = sum + det_exp(p[n] - M);
    const float inv = det_recip(sum);
    for (int n = 0; n < nb; ++n) p[n] = det_exp(p[n] - M) * inv;
}

// One item per head: the pooled estimate (pooled query range 0 = the tail) into lines[h][2], the
// JS divergence (ref/flex.cpp js_divergence) and pick[h][0] = query-aware. Global (H).
__kernel void flex_pattern(__global const char* pq8, __global const float* pqs, __global const char* pk8,
                           __global const float* pks, __global float* lines, __global float* js,
                           __global int* pick, int n_ranges, int n_kblocks, int gqa, float tau, int H) {
    const int h = get_global_id(0);
    if (h >= H) return;
    const long r = (long)h * n_ranges;
    __global const float* V = lines + ((long)h * 3 + 0) * n_kblocks;
    __global float* est = lines + ((long)h * 3 + 2) * n_kblocks;
    pooled_softmax(pq8 + r * HEAD_DIM, pqs[r], pk8, pks, (long)(h / gqa) * n_kblocks, n_kblocks, est);
    float total = 0.0f;
    for (int n = 0; n < n_kblocks; ++n) total = total + V[n];
    const float inv = det_recip(total);
    float D = 0.0f;
    for (int n = 0; n < n_kblocks; ++n) {
        const float p = V[n] * inv, q = est[n];
        const float mid = (p + q) * 0.5f;
        const float tp = p >= 0x1p-100f ? p * (det_log(p) - det_log(mid)) : 0.0f;
        const float tq = q >= 0x1p-100f ? q * (det_log(q) - det_log(mid)) : 0.0f;
        D = D + 0.5f * (tp + tq);
    }
    js[h] = D;
    pick[(long)h * 3] = tau > 0.0f && D < tau * tau ? 1 : 0;
}

// ---- step 3 -----------------------------------------------------------------------------------
// One work-group per head: global (LS * H). The vertical lines (forced: block 0), then the slash
// lines (forced: offset 0), each by rank_threshold; vertical-slash heads write keep [H][2][nb]
// (zero-filled by the host), pick[h][1] and pick[h][2]. Every work-group sorts (no barrier sits
// behind a branch).
__kernel void flex_pick_lines(__global const float* lines, __global int* pick, __global uchar* keep, int n_kblocks,
                              int force, float gamma, int k_min, int k_max, int sort_n, __local float* key,
                              __local int* idx, __local int* result) {
    const int lid = get_local_id(0), h = get_group_id(0);
    const bool vs = pick[(long)h * 3] == 0;
    for (int which = 0; which < 2; ++which) {
        const int k = rank_threshold(lines + ((long)h * 3 + which) * n_kblocks, n_kblocks, force ? 0 : -1, -1,
                                     gamma, k_min, k_max, sort_n, key, idx, result, lid);
        const int lim = vs ? k + (force ? 1 : 0) : 0;
        for (int r = lid; r < lim; r += LS) keep[((long)h * 2 + which) * n_kblocks + idx[r]] = 1;
        if (lid == 0 && vs) pick[(long)h * 3 + 1 + which] = k;
        barrier(CLK_LOCAL_MEM_FENCE); // result and idx are reused
    }
}

// Query-aware heads: row m's pooled query (range 1 + row) against the pooled keys of blocks 0..m.
// scores [H][tri] (zero-filled by the host for the other heads). Global (n_rows, H).
__kernel void flex_qa_scores(__global const char* pq8, __global const float* pqs, __global const char* pk8,
                             __global const float* pks, __global const int* pick, __global float* scores,
                             int n_ranges, int row0, int n_rows, int n_kblocks, int gqa) {
    const int row = get_global_id(0), h = get_global_id(1);
    if (row >= n_rows || pick[(long)h * 3] == 0) return;
    const int m = row0 + row;
    const long r = (long)h * n_ranges + 1 + row;
    pooled_softmax(pq8 + r * HEAD_DIM, pqs[r], pk8, pks, (long)(h / gqa) * n_kblocks, m + 1,
                   scores + (long)h * tri_of(row0 + n_rows, row0) + tri_of(m, row0));
}

// Whether vertical-slash row m keeps block n (the diagonal alone when no kept line crosses it).
inline bool vs_keeps(__global const uchar* kv, __global const uchar* ks, int m, int n, bool row_empty) {
    return kv[n] || ks[m - n] || (row_empty && n == m);
}
inline int vs_row_count(__global const uchar* kv, __global const uchar* ks, int m) {
    int c = 0;
    for (int n = 0; n <= m; ++n) c += vs_keeps(kv, ks, m, n, false) ? 1 : 0;
    return c;
}

// Vertical-slash heads: blocks kept beyond the forced ones per row. Global (n_rows, H).
__kernel void flex_vs_budgets(__global const int* pick, __global const uchar* keep, __global int* budgets,
                              int row0, int n_rows, int n_kblocks, int force) {
    const int row = get_global_id(0), h = get_global_id(1);
    if (row >= n_rows || pick[(long)h * 3] != 0) return;
    const int m = row0 + row;
    __global const uchar* kv = keep + ((long)h * 2 + 0) * n_kblocks;
    __global const uchar* ks = keep + ((long)h * 2 + 1) * n_kblocks;
    budgets[(long)h * n_rows + row] = max(0, max(1, vs_row_count(kv, ks, m)) - forced_of(force, m));
}

// ---- step 4 -----------------------------------------------------------------------------------
// One item per (row, head): global (n_rows, H).
__kernel void flex_build_mask(__global const int* pick, __global const uchar* keep, __global const int* ranks,
                              __global const int* budgets, __global int* counts, __global int* blocks, int row0,
                              int n_rows, int n_kblocks, int force) {
    const int row = get_global_id(0), h = get_global_id(1);
    if (row >= n_rows) return;
    const int m = row0 + row;
    const long at = (long)h * tri_of(row0 + n_rows, row0) + tri_of(m, row0);
    const bool qa = pick[(long)h * 3] != 0;
    __global const uchar* kv = keep + ((long)h * 2 + 0) * n_kblocks;
    __global const uchar* ks = keep + ((long)h * 2 + 1) * n_kblocks;
    const int lim = budgets[(long)h * n_rows + row] + forced_of(force, m);
    const bool empty = !qa && vs_row_count(kv, ks, m) == 0;
    int c = 0;
    for (int n = 0; n <= m; ++n)
        if (qa ? ranks[at + n] < lim : vs_keeps(kv, ks, m, n, empty)) blocks[at + c++] = n;
    counts[(long)h * n_rows + row] = c;
}
