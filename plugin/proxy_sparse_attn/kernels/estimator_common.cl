// estimator_common.cl - what the xattn and flex estimators share on the device; the host puts it
// in front of xattn.cl and flex.cl, after proxy_det.cl and proxy_common.cl (ocl/program_text.cpp), so
// it is not a program by itself.
//   logit, idot_n        integer logits (ref/det_math.h)
//   rank_threshold       the per-row selection of ref/block_select.cpp (one work-group)
//   rank_rows_threshold  per (row, head): ranks and count of the row's scores
//   build_rank_mask      per (row, head): the kept blocks (rank < count + forced), ascending
// Bit-exactness: the same constants, fma written out, sums in the CPU reference's order,
// contraction off.
#pragma OPENCL FP_CONTRACT OFF

// ---- integer logits (det_math.h; det_exp, det_recip, det_log, exp_fixed: proxy_det.cl) --------
inline float logit(int dot, float qs, float ks) { return (float)dot * (qs * ks); }

// Dot product of the 4 int8 lanes of two words.
inline int dot4_i8(uint a, uint b) {
    const int4 p = convert_int4(as_char4(a)) * convert_int4(as_char4(b));
    return p.x + p.y + p.z + p.w;
}
inline int dot16_i8(uint4 a, uint4 b) { return dot4_i8(a.x, b.x) + dot4_i8(a.y, b.y) + dot4_i8(a.z, b.z) + dot4_i8(a.w, b.w); }

// Exact integer dot product of two int8 rows of n elements (any order: integer sums), 16 bytes
// at a time where both rows are 16-byte aligned.
inline int idot_n(__global const char* a, __global const char* b, int n) {
    int acc = 0, c = 0;
    if (((ulong)a & 15) == 0 && ((ulong)b & 15) == 0)
        for (; c + 16 <= n; c += 16) acc += dot16_i8(*(__global const uint4*)(a + c), *(__global const uint4*)(b + c));
    for (; c < n; ++c) acc += (int)a[c] * (int)b[c];
    return acc;
}

// ---- selection ---------------------------------------------------------------------------------
// ref/block_select.cpp rank_threshold, by one work-group: candidates v[0..n), forced f0, f1 (-1:
// none). Leaves the order in idx[0..n) and returns the count (all items).
inline int rank_threshold(__global const float* v, int n, int f0, int f1, float gamma, int k_min, int k_max,
                          int sort_n, __local float* key, __local int* idx, __local int* result, int lid) {
    for (int e = lid; e < sort_n; e += LS) {
        float x = e < n ? v[e] : -INFINITY;
        if (e == f0 || e == f1) x = INFINITY;
        key[e] = x;
        idx[e] = e;
    }
    bitonic_sort(key, idx, sort_n, lid);
    if (lid == 0) {
        const int forced = (f0 >= 0 ? 1 : 0) + (f1 >= 0 && f1 != f0 ? 1 : 0);
        float total = 0.0f;
        for (int i = 0; i < n; ++i) total = total + v[i];
        const float thr = gamma * total;
        float cum = 0.0f;
        int cnt = n;
        for (int r = 0; r < n; ++r) {
            cum = cum + v[idx[r]];
            if (cum >= thr) {
                cnt = r + 1;
                break;
            }
        }
        int k = max(max(0, cnt - forced), k_min);
        if (k_max > 0) k = min(k, k_max);
        result[0] = min(k, n - forced);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return result[0];
}

// One work-group per (row, head): global (LS * n_rows, H). For heads whose flag is on
// (head_flag[h * flag_stride] != 0): ranks [H][tri] of the row's scores, budgets [H][n_rows] its
// count. Every work-group sorts (no barrier sits behind a branch); only flagged heads write.
__kernel void rank_rows_threshold(__global const float* scores, __global int* ranks, __global int* budgets,
                                  __global const int* head_flag, int flag_stride, int row0, int n_rows, int force,
                                  float gamma, int k_min, int k_max, int sort_n, __local float* key,
                                  __local int* idx, __local int* result) {
    const int lid = get_local_id(0), m = row0 + get_group_id(0), h = get_group_id(1);
    const long at = (long)h * tri_of(row0 + n_rows, row0) + tri_of(m, row0);
    const int k = rank_threshold(scores + at, m + 1, force ? 0 : -1, force ? m : -1, gamma, k_min, k_max, sort_n,
                                 key, idx, result, lid);
    if (head_flag[(long)h * flag_stride] == 0) return;
    for (int r = lid; r <= m; r += LS) ranks[at + idx[r]] = r;
    if (lid == 0) budgets[(long)h * n_rows + (m - row0)] = k;
}

// One item per (row, head): global (n_rows, H).
__kernel void build_rank_mask(__global const int* ranks, __global const int* budgets, __global int* counts,
                              __global int* blocks, int row0, int n_rows, int force) {
    const int row = get_global_id(0), h = get_global_id(1);
    if (row >= n_rows) return;
    const int m = row0 + row;
    const long at = (long)h * tri_of(row0 + n_rows, row0) + tri_of(m, row0);
    const int lim = budgets[(long)h * n_rows + row] + forced_of(force, m);
    int c = 0;
    for (int n = 0; n <= m; ++n)
        if (ranks[at + n] < lim) blocks[at + c++] = n;
    counts[(long)h * n_rows + row] = c;
}
