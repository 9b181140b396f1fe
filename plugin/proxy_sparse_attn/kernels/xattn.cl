// xattn.cl - estimator = xattn (XAttention, arXiv 2503.16428) on the device; follows
// ref/xattn.cpp step by step (the host puts proxy_det.cl, proxy_common.cl and
// estimator_common.cl in front):
//   xattn_tile_q, xattn_tile_k   step 1: int8 tile rows (a reversed query tile, a key tile)
//   xattn_block_stats            step 2: per (query tile, key block) max logit and fixed-point
//                                sum of exp over the block's visible key tiles (antidiagonal sums)
//   xattn_block_stats_tiled      the same on local-memory tiles (where d % 16 == 0 and they fit)
//   xattn_merge                  per query tile: max and 1 / softmax sum, blocks in order
//   xattn_scores                 A_h[m][n]: the row's query tiles' probabilities, tiles in order
// Steps 3-4 are rank_rows_threshold and build_rank_mask of estimator_common.cl.
// The head dim d and the tile size S are arguments (one program serves every d and S); a tile
// row has S * d int8 elements, the diagonal tile's causal part the first (S + 1) / 2 * d.
#ifndef TPB_MAX
#define TPB_MAX 8 // capacity of the private logits of one block: >= B / S (the host rounds up)
#endif

// ---- step 1 -----------------------------------------------------------------------------------
// Query tile i = tq0 + ti of head h: segment k holds q at position iS + S-1-k (zeros where that is
// not a query). amax in (segment, element) order, then rint(x * 127 / amax); scale
// amax / 127 * extra. Global (n_qtiles, H).
__kernel void xattn_tile_q(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb, __global char* q8,
                           __global float* qs, int n_qtiles, long tq0, long n_past, long n_keys, int S, int d,
                           float extra) {
    const int ti = get_global_id(0), h = get_global_id(1);
    if (ti >= n_qtiles) return;
    const long i = tq0 + ti;
    __global const uchar* base = q + q_offs + h * q_nb.s2;
    float amax = 0.0f;
    for (int k = 0; k < S; ++k) {
        const long p = i * S + S - 1 - k;
        if (p < n_past || p >= n_keys) continue;
        for (int c = 0; c < d; ++c)
            amax = fmax(amax, quant_abs(*(__global const float*)(base + (p - n_past) * q_nb.s1 + c * q_nb.s0)));
    }
    const long r = (long)h * n_qtiles + ti;
    __global char* out = q8 + r * S * d;
    if (quant_zero_row(amax)) {
        for (int e = 0; e < S * d; ++e) out[e] = 0;
        qs[r] = 0.0f;
        return;
    }
    const float f = quant_factor(amax);
    for (int k = 0; k < S; ++k) {
        const long p = i * S + S - 1 - k;
        const bool ok = p >= n_past && p < n_keys;
        for (int c = 0; c < d; ++c) {
            const float x = ok ? *(__global const float*)(base + (p - n_past) * q_nb.s1 + c * q_nb.s0) : 0.0f;
            out[k * d + c] = quant_q8(x, f);
        }
    }
    qs[r] = quant_scale(amax) * extra;
}

// Key tile j of kv head hk: segment k holds key jS + k (zeros past the last key). Global
// (n_tiles, Hkv).
__kernel void xattn_tile_k(__global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb, __global char* k8,
                           __global float* ks, int n_tiles, long n_keys, int S, int d) {
    const int j = get_global_id(0), hk = get_global_id(1);
    if (j >= n_tiles) return;
    __global const uchar* base = k + k_offs + hk * k_nb.s2;
    float amax = 0.0f;
    for (int s = 0; s < S; ++s) {
        const long p = (long)j * S + s;
        if (p >= n_keys) continue;
        for (int c = 0; c < d; ++c) amax = fmax(amax, quant_abs(LOAD_K(base + p * k_nb.s1 + c * k_nb.s0)));
    }
    const long r = (long)hk * n_tiles + j;
    __global char* out = k8 + r * S * d;
    if (quant_zero_row(amax)) {
        for (int e = 0; e < S * d; ++e) out[e] = 0;
        ks[r] = 0.0f;
        return;
    }
    const float f = quant_factor(amax);
    for (int s = 0; s < S; ++s) {
        const long p = (long)j * S + s;
        const bool ok = p < n_keys;
        for (int c = 0; c < d; ++c) {
            const float x = ok ? LOAD_K(base + p * k_nb.s1 + c * k_nb.s0) : 0.0f;
            out[s * d + c] = quant_q8(x, f);
        }
    }
    ks[r] = quant_scale(amax);
}

// ---- step 2 -----------------------------------------------------------------------------------
// Query tiles t_begin .. t_end - 1 (indices from tq0) against key block n: one item per (n, tile,
// head), global (n_kblocks, t_end - t_begin, H). bm/bs [H][t_end - t_begin][n_kblocks]; blocks
// past the tile's row are not written.
__kernel void xattn_block_stats(__global const char* q8, __global const float* qs, __global const char* k8,
                                __global const float* ks, __global float* bm, __global float* bs, int t_begin,
                                int t_end, int n_qtiles, int n_tiles, long tq0, int gqa, int n_kblocks, int S, int d,
                                int tpb) {
    const int n = get_global_id(0), ti = t_begin + get_global_id(1), h = get_global_id(2);
    if (n >= n_kblocks || ti >= t_end) return;
    const long i = tq0 + ti;
    if (n > i / tpb) return;
    const int len = S * d, causal_len = (S + 1) / 2 * d;
    const long j0 = (long)n * tpb, j1 = min(j0 + tpb, i + 1);
    const long r = (long)h * n_qtiles + ti, k0 = (long)(h / gqa) * n_tiles;
    __global const char* qrow = q8 + r * len;
    float L[TPB_MAX];
    float mx = -INFINITY;
    for (long j = j0; j < j1; ++j) {
        const int dot = idot_n(qrow, k8 + (k0 + j) * len, j == i ? causal_len : len);
        L[j - j0] = logit(dot, qs[r], ks[k0 + j]);
        mx = fmax(mx, L[j - j0]);
    }
    ulong sum = 0;
    for (long j = j0; j < j1; ++j) sum += exp_fixed(L[j - j0] - mx);
    const long at = ((long)h * (t_end - t_begin) + (ti - t_begin)) * n_kblocks + n;
    bm[at] = mx;
    bs[at] = from_fixed(sum);
}

// Step 2 on local-memory tiles, the host's choice where d is a multiple of 16 and the tiles fit
// (xattn.cpp): one work-group of XT_LS items per (key block n, qt query tiles from t_begin, head).
// The block's key tiles and the group's query tiles are staged in local memory (rows padded by
// 16 bytes against bank conflicts); the items compute the (query tile, key tile) dot products,
// then one item per query tile takes the max and the fixed-point sum. Same integers, same logits,
// same order-free max and exact sums as xattn_block_stats: the same bits. Global
// (n_kblocks * XT_LS, ceil((t_end - t_begin) / qt), H).
// XT_LS, XT_KEY_BYTES (a block's key tiles, padded), XT_Q_BYTES (the query tiles, padded) and
// XT_PAIRS (qt * tpb logits) come from the host, which checks that the tiles fit them.
#ifndef XT_LS
#error "xattn.cl: the host defines XT_LS, XT_KEY_BYTES, XT_Q_BYTES and XT_PAIRS"
#endif
__kernel __attribute__((reqd_work_group_size(XT_LS, 1, 1))) void
xattn_block_stats_tiled(__global const char* q8, __global const float* qs, __global const char* k8,
                        __global const float* ks, __global float* bm, __global float* bs, int t_begin, int t_end,
                        int n_qtiles, int n_tiles, long tq0, int gqa, int n_kblocks, int S, int d, int tpb, int qt) {
    __local uint4 kl[XT_KEY_BYTES / 16];
    __local uint4 ql[XT_Q_BYTES / 16];
    __local float L[XT_PAIRS];
    const int n = get_group_id(0), h = get_group_id(2), lid = get_local_id(0);
    const int tb = t_begin + get_group_id(1) * qt, te = min(tb + qt, t_end);
    if (n > (tq0 + te - 1) / tpb) return; // the group's last (latest) tile does not reach block n
    const int w = S * d / 16, ws = w + 1, causal_w = (S + 1) / 2 * d / 16; // 16-byte words of a row
    const long k0 = (long)(h / gqa) * n_tiles, j0 = (long)n * tpb;
    const int nk = (int)min((long)tpb, n_tiles - j0), nq = te - tb;
    __global const uint4* kg = (__global const uint4*)(k8 + (k0 + j0) * S * d);
    for (int e = lid; e < nk * w; e += XT_LS) kl[(e / w) * ws + e % w] = kg[e];
    __global const uint4* qg = (__global const uint4*)(q8 + ((long)h * n_qtiles + tb) * S * d);
    for (int e = lid; e < nq * w; e += XT_LS) ql[(e / w) * ws + e % w] = qg[e];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int p = lid; p < nq * tpb; p += XT_LS) {
        const int a = p / tpb, jj = p % tpb;
        const long i = tq0 + tb + a, j = j0 + jj;
        if (j > i) continue; // past the tile's causal limit (also past the last key tile)
        __local const uint4* qr = ql + a * ws;
        __local const uint4* kr = kl + jj * ws;
        const int nw = j == i ? causal_w : w;
        int acc = 0;
        for (int c = 0; c < nw; ++c) acc += dot16_i8(qr[c], kr[c]);
        L[p] = logit(acc, qs[(long)h * n_qtiles + tb + a], ks[k0 + j]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int a = lid; a < nq; a += XT_LS) {
        const long i = tq0 + tb + a;
        if (n > i / tpb) continue;
        const int m = (int)(min(j0 + tpb, i + 1) - j0);
        float mx = -INFINITY;
        for (int jj = 0; jj < m; ++jj) mx = fmax(mx, L[a * tpb + jj]);
        ulong sum = 0;
        for (int jj = 0; jj < m; ++jj) sum += exp_fixed(L[a * tpb + jj] - mx);
        const long at = ((long)h * (t_end - t_begin) + (tb + a - t_begin)) * n_kblocks + n;
        bm[at] = mx;
        bs[at] = from_fixed(sum);
    }
}

// Per query tile: M = max of its block maxima, inv = 1 / (sum in block order of bs * exp(bm - M)).
// Global (t_end - t_begin, H); tM/tinv [H][n_qtiles].
__kernel void xattn_merge(__global const float* bm, __global const float* bs, __global float* tM,
                          __global float* tinv, int t_begin, int t_end, int n_qtiles, long tq0, int n_kblocks,
                          int tpb) {
    const int ti = t_begin + get_global_id(0), h = get_global_id(1);
    if (ti >= t_end) return;
    const int nb = (int)((tq0 + ti) / tpb) + 1;
    const long at = ((long)h * (t_end - t_begin) + (ti - t_begin)) * n_kblocks;
    float M = -INFINITY;
    for (int n = 0; n < nb; ++n) M = fmax(M, bm[at + n]);
    float sum = 0.0f;
    for (int n = 0; n < nb; ++n) sum = sum + bs[at + n] * det_exp(bm[at + n] - M);
    tM[(long)h * n_qtiles + ti] = M;
    tinv[(long)h * n_qtiles + ti] = det_recip(sum);
}

// A_h[m][n] = sum over the row's query tiles, in order, of bs * exp(bm - M) * inv, from 0. One
// item per (n, row of the batch, head): global (n_kblocks, m1 - m0, H).
__kernel void xattn_scores(__global const float* bm, __global const float* bs, __global const float* tM,
                           __global const float* tinv, __global float* scores, int t_begin, int t_end, int m0,
                           int row0, int n_rows, int n_qtiles, int n_tiles, long tq0, int n_kblocks, int tpb) {
    const int n = get_global_id(0), m = m0 + get_global_id(1), h = get_global_id(2);
    if (n >= n_kblocks || n > m) return;
    const long first = max((long)m * tpb, tq0), end = min((long)(m + 1) * tpb, (long)n_tiles);
    float a = 0.0f;
    for (long i = first; i < end; ++i) {
        const int ti = (int)(i - tq0);
        const long at = ((long)h * (t_end - t_begin) + (ti - t_begin)) * n_kblocks + n;
        const long r = (long)h * n_qtiles + ti;
        a = a + bs[at] * det_exp(bm[at] - tM[r]) * tinv[r];
    }
    scores[(long)h * tri_of(row0 + n_rows, row0) + tri_of(m, row0) + n] = a;
}
