// proxy_sort.cl - ranking, budgets, exact rows and the CSR mask (spec steps 5-6):
//   rank_rows      per (proxy group, row): one sorted order of A_j[m][0..m], forced blocks
//                  (sink, diagonal) first, stored as ranks; shared by the group's heads
//   sample_budgets per (head, sample row), budget = rows: blocks of the shared order needed to
//                  reach gamma of the row's measured mass
//   tail_budgets   per head, budget = last: the paper's count from the tail's mass
//   row_budgets    per (head, row): the count on the line through the neighbouring sample rows'
//                  counts (before the first: its count scaled to the row), at least k_min
//   exact_rows     per (head, sample row): the head's own blocks reaching gamma of the row's mass,
//                  and on tail rows of each measured query's (a parallel pre-check leaves only the
//                  queries that fall short to the sequential step)
//   build_mask     per (head, row), a work-group each: kept blocks = rank < budget + forced, or
//                  exact; ascending
// Order everywhere: higher value first, equal values by lower block index (as the CPU
// reference), so the result does not depend on the sorting network. Sorts are bitonic in local
// memory: the __local arrays hold sort_n (the next power of two of the longest row), a row of n
// values sorts pow2_at_least(n) of them (the -inf padding sorts last, so the order of the n
// values does not depend on the padding: every value sorted is >= 0 or +inf).
// Sequential sums run on one work-item, in the order ref/estimate.cpp states. Needs proxy_det.cl
// and proxy_common.cl (tri_of, forced_of, comes_first, bitonic_sort) in front.
#pragma OPENCL FP_CONTRACT OFF

inline int pow2_at_least(int x) {
    int p = 1;
    while (p < x) p <<= 1;
    return p;
}

// Loads v[0..n) (and -inf past n) with indices, then sorts.
inline void sort_values(__global const float* v, int n, int sort_n, __local float* key, __local int* idx, int lid) {
    for (int e = lid; e < sort_n; e += LS) {
        key[e] = e < n ? v[e] : -INFINITY;
        idx[e] = e;
    }
    bitonic_sort(key, idx, sort_n, lid);
}

// Sorts the values already in key[0 .. n) (index order), with -inf past n.
inline void sort_in_place(int n, int sort_n, __local float* key, __local int* idx, int lid) {
    for (int e = lid; e < sort_n; e += LS) {
        if (e >= n) key[e] = -INFINITY;
        idx[e] = e;
    }
    bitonic_sort(key, idx, sort_n, lid);
}

inline float sum_in_order(__global const float* a, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s = s + a[i];
    return s;
}
inline float sum_in_order_local(__local const float* a, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s = s + a[i];
    return s;
}

// One work-group per (row, group): global (LS * n_rows, g). ranks[j][tri(m) + n] = position of
// block n in the row's order.
__kernel void rank_rows(__global const float* scores, __global int* ranks, int row0, int n_rows, int force,
                        int sort_n, __local float* key, __local int* idx) {
    const int lid = get_local_id(0), m = row0 + get_group_id(0), j = get_group_id(1);
    const long tt = tri_of(row0 + n_rows, row0);
    __global const float* A = scores + (long)j * tt + tri_of(m, row0);
    sort_n = pow2_at_least(m + 1); // this row's
    for (int e = lid; e < sort_n; e += LS) {
        float v = e <= m ? A[e] : -INFINITY;
        if (force && (e == 0 || e == m)) v = INFINITY;
        key[e] = v;
        idx[e] = e;
    }
    bitonic_sort(key, idx, sort_n, lid);
    __global int* rank = ranks + (long)j * tt + tri_of(m, row0);
    for (int r = lid; r <= m; r += LS) rank[idx[r]] = r;
}

// One work-group per (sample s, head h): global (LS * samples, H). The position in the group's
// order of row m where the running sum of the mass (in that order) first reaches gamma * (sum
// in index order), minus the forced blocks. budget [H][samples]. The mass is staged in local
// memory in both orders, so the sequential sums read local memory only.
__kernel void sample_budgets(__global const int* ranks, __global const float* mass, __global const int* s_m,
                             __global const int* s_mass, __global int* budget, int n_samples, int n_mass, int row0,
                             int n_rows, int heads_per_group, int force, float gamma, __local float* by_index,
                             __local float* by_rank) {
    const int lid = get_local_id(0), s = get_group_id(0), h = get_group_id(1), m = s_m[s];
    const long tt = tri_of(row0 + n_rows, row0);
    __global const int* rank = ranks + (long)(h / heads_per_group) * tt + tri_of(m, row0);
    __global const float* a = mass + (long)h * n_mass + s_mass[s];
    for (int n = lid; n <= m; n += LS) {
        const float v = a[n];
        by_index[n] = v;
        by_rank[rank[n]] = v;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid != 0) return;
    const float thr = gamma * sum_in_order_local(by_index, m + 1);
    float cum = 0.0f;
    int cnt = m + 1;
    for (int r = 0; r <= m; ++r) {
        cum = cum + by_rank[r];
        if (cum >= thr) {
            cnt = r + 1;
            break;
        }
    }
    budget[(long)h * n_samples + s] = max(0, cnt - forced_of(force, m));
}

// One work-group per head, budget = last: the tail rows' masses summed (tail[n] = tail[n] +
// mass in sample order), sorted; the smallest k whose top-k sum reaches gamma * (sum in index
// order); max(k, k_min) for every row. tail is scratch [H][n_kblocks].
__kernel void tail_budgets(__global const float* mass, __global const int* s_m, __global const int* s_mass,
                           __global const int* s_tail, __global float* tail, __global int* budgets, int n_samples,
                           int n_mass, int n_kblocks, int n_rows, float gamma, int k_min, int sort_n,
                           __local float* key, __local int* idx) {
    const int lid = get_local_id(0), h = get_group_id(0);
    __global float* t = tail + (long)h * n_kblocks;
    for (int n = lid; n < n_kblocks; n += LS) {
        float v = 0.0f;
        for (int s = 0; s < n_samples; ++s)
            if (s_tail[s] && n <= s_m[s]) v = v + mass[(long)h * n_mass + s_mass[s] + n];
        t[n] = v;
    }
    barrier(CLK_GLOBAL_MEM_FENCE);
    sort_values(t, n_kblocks, sort_n, key, idx, lid);
    if (lid == 0) {
        const float thr = gamma * sum_in_order(t, n_kblocks);
        float cum = 0.0f;
        int k = n_kblocks;
        for (int r = 0; r < n_kblocks; ++r) {
            cum = cum + key[r];
            if (cum >= thr) {
                k = r + 1;
                break;
            }
        }
        idx[0] = max(k, k_min); // the sorted order is not needed any more
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int r = lid; r < n_rows; r += LS) budgets[(long)h * n_rows + r] = idx[0];
}

// ceil(k * (m + 1) / (s + 1))
inline long scaled_count(long k, long s, long m) { return (k * (m + 1) + s) / (s + 1); }

// ceil((klo (hi - m) + khi (m - lo)) / (hi - lo)) for lo < m <= hi
inline long between_count(long klo, long lo, long khi, long hi, long m) {
    return (klo * (hi - m) + khi * (m - lo) + hi - lo - 1) / (hi - lo);
}

// One item per (row, head), budget = rows: the first sample row at or after the row; before the
// first sample row its count scaled to the row, otherwise the count on the line through it and
// the sample row before; at least k_min.
__kernel void row_budgets(__global const int* sample_budget, __global const int* s_m, __global int* budgets,
                          int n_samples, int row0, int n_rows, int k_min) {
    const int row = get_global_id(0), h = get_global_id(1);
    if (row >= n_rows) return;
    const int m = row0 + row;
    int next = 0;
    while (s_m[next] < m) ++next;
    __global const int* sb = sample_budget + (long)h * n_samples;
    const long k = next == 0 ? scaled_count(sb[0], s_m[0], m)
                             : between_count(sb[next - 1], s_m[next - 1], sb[next], s_m[next], m);
    budgets[(long)h * n_rows + row] = (int)max(k, (long)k_min);
}

// One work-group per (sample s, head h) whose sample is exact (s_exact): global (LS * samples,
// H). keep flags over blocks 0..m go to exact[h][tri(m) ..]. The forced blocks; then blocks in
// the order of the row's mass until the kept mass reaches gamma of the row's; then, on a tail row
// (s_tail), per measured query, in order, its own blocks in the order of its mass until it keeps
// gamma of its own
// (qtot: the query's total, from sample_merge). Kept masses are sums in index order over the
// kept blocks, then the added ones in the order added, as in ref/estimate.cpp exact_set.
//
// Parallel pre-check: every query of a chunk of LS computes its kept mass under the current keep
// flags; one that reaches its threshold now reaches it later too (keep only grows, and a sum in
// index order of non-negative values over a superset is not smaller: rounding is monotone), so
// only the queries that fall short go through the sequential step, in order.
inline float query_prob(__global const float* bm, __global const float* bs, long at, float M, float inv) {
    return bs[at] * det_exp(bm[at] - M) * inv;
}

// Keeps blocks in sorted order (key = values, idx = blocks) until kept reaches thr.
inline void add_sorted(__local const float* key, __local const int* idx, __local uchar* keep, int m, float kept,
                       float thr) {
    for (int r = 0; r <= m && !(kept >= thr); ++r)
        if (!keep[idx[r]]) {
            keep[idx[r]] = 1;
            kept = kept + key[r];
        }
}

// Sum in index order of v over the kept blocks 0..m.
inline float kept_mass(__local const float* v, __local const uchar* keep, int m) {
    float s = 0.0f;
    for (int n = 0; n <= m; ++n)
        if (keep[n]) s = s + v[n];
    return s;
}

__kernel void exact_rows(__global const float* mass, __global const float* bm, __global const float* bs,
                         __global const float* qM, __global const float* qinv, __global const float* qtot,
                         __global const int* s_m, __global const int* s_q, __global const int* s_count,
                         __global const int* s_mass, __global const int* s_tail, __global const int* s_exact,
                         __global uchar* exact, int n_bq,
                         int n_mass, int n_kblocks, int row0, int n_rows, int force, float gamma, int sort_n,
                         __local float* key, __local int* idx, __local uchar* keep, __local int* flags) {
    // key: the values in block order, then sorted in place; flags[0 .. LS): the chunk's queries
    // that fall short; flags[LS]: the current one still does
    // a sample without an exact set runs with no blocks and no queries rather than returning:
    // every work-item reaches every barrier (PoCL needs that, uniform early returns included)
    const int lid = get_local_id(0), s = get_group_id(0), h = get_group_id(1);
    const bool on = s_exact[s] != 0; // uniform over the work-group
    const int m = on ? s_m[s] : -1, count = on && s_tail[s] ? s_count[s] : 0; // queries of tail rows
    sort_n = pow2_at_least(m + 1); // this row's
    __global const float* a = mass + (long)h * n_mass + s_mass[s];
    for (int n = lid; n <= m; n += LS) {
        keep[n] = force && (n == 0 || n == m) ? 1 : 0;
        key[n] = a[n];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    float kept = 0.0f, thr = 0.0f; // item 0's
    if (lid == 0) {
        kept = kept_mass(key, keep, m);
        thr = gamma * sum_in_order_local(key, m + 1);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    sort_in_place(m + 1, sort_n, key, idx, lid); // ends with a barrier
    if (lid == 0) add_sorted(key, idx, keep, m, kept, thr);
    for (int c0 = 0; c0 < count; c0 += LS) {
        barrier(CLK_LOCAL_MEM_FENCE);
        const int q = c0 + lid;
        if (q < count) { // blocks in the same order on every item: consecutive queries, consecutive addresses
            const long r = (long)h * n_bq + s_q[s] + q, at0 = (long)h * n_kblocks * n_bq + s_q[s] + q;
            const float M = qM[r], inv = qinv[r];
            float rec = 0.0f;
            for (int n = 0; n <= m; ++n)
                if (keep[n]) rec = rec + query_prob(bm, bs, at0 + (long)n * n_bq, M, inv);
            flags[lid] = rec >= gamma * qtot[r] ? 0 : 1;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = 0; i < min(LS, count - c0); ++i) {
            if (!flags[i]) continue; // uniform: read after a barrier, written before the next
            const long r = (long)h * n_bq + s_q[s] + c0 + i, at0 = (long)h * n_kblocks * n_bq + s_q[s] + c0 + i;
            const float M = qM[r], inv = qinv[r], qthr = gamma * qtot[r];
            for (int n = lid; n <= m; n += LS) key[n] = query_prob(bm, bs, at0 + (long)n * n_bq, M, inv);
            barrier(CLK_LOCAL_MEM_FENCE);
            float rec = 0.0f; // item 0's
            if (lid == 0) {
                rec = kept_mass(key, keep, m);
                flags[LS] = rec >= qthr ? 0 : 1;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            if (flags[LS]) {
                sort_in_place(m + 1, sort_n, key, idx, lid);
                if (lid == 0) add_sorted(key, idx, keep, m, rec, qthr);
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const long out = (long)h * tri_of(row0 + n_rows, row0) + tri_of(m, row0);
    for (int n = lid; n <= m; n += LS) exact[out + n] = keep[n];
}

// One work-group of LS items per (row, head): global (LS * n_rows, H), local (LS, 1). exact may
// be all zeros (no exact rows). The row goes LS blocks a pass: each item flags its block, a scan
// of the flags in local memory places every kept block in the list, ascending, where one item
// walking the row would have written it (one item a row, each walking its own ~KB of ranks,
// took 0.58 ms at 128K).
__kernel void build_mask(__global const int* ranks, __global const int* budgets, __global const uchar* exact,
                         __global int* counts, __global int* blocks, int row0, int n_rows, int heads_per_group,
                         int force) {
    __local int scan[LS];
    const int row = get_group_id(0), h = get_global_id(1), lid = get_local_id(0);
    const int m = row0 + row, j = h / heads_per_group;
    const long tt = tri_of(row0 + n_rows, row0);
    const int lim = budgets[(long)h * n_rows + row] + forced_of(force, m);
    __global const int* rank = ranks + (long)j * tt + tri_of(m, row0);
    __global const uchar* ex = exact + (long)h * tt + tri_of(m, row0);
    __global int* list = blocks + (long)h * tt + tri_of(m, row0);
    int c = 0;
    for (int base = 0; base <= m; base += LS) {
        const int n = base + lid;
        const int keep = n <= m && (rank[n] < lim || ex[n]) ? 1 : 0;
        scan[lid] = keep;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int off = 1; off < LS; off <<= 1) { // inclusive scan (Hillis-Steele)
            const int add = lid >= off ? scan[lid - off] : 0;
            barrier(CLK_LOCAL_MEM_FENCE);
            scan[lid] += add;
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (keep) list[c + scan[lid] - 1] = n;
        c += scan[LS - 1];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) counts[(long)h * n_rows + row] = c;
}
