// proxy_sort.cl - ranking, budgets, exact rows and the CSR mask (spec steps 5-6):
//   rank_rows      per (proxy group, row): one sorted order of A_j[m][0..m], forced blocks
//                  (sink, diagonal) first, stored as ranks; shared by the group's heads
//   sample_budgets per (head, sample row), budget = rows: blocks of the shared order needed to
//                  reach gamma of the row's measured mass; the last work-group of a head then
//                  gives every row the count on the line through the neighbouring sample rows'
//                  counts (before the first: its count scaled to the row), at least k_min
//   tail_budgets   per head, budget = last: the paper's count from the tail's mass
//   exact_rows     per (head, sample row): the head's own blocks reaching gamma of the row's mass
//                  (with budget = rows sample_budgets makes these sets in the same work-groups)
//   exact_tail     per (head, query of a tail row): that row's set and the query's own blocks
//                  reaching gamma of its mass (each query from the row's set alone: independent);
//                  the last work-group of a (head, tail row) then ors its queries' sets into the
//                  row's
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
#pragma unroll 8
    for (int i = 0; i < n; ++i) s = s + a[i];
    return s;
}

// One work-group per (row, group): global (LS * n_rows, g). ranks[j][tri(m) + n] = position of
// block n in the row's order. It also clears the row's exact flags for the group's heads
// (exact[h][tri(m) + n] = 0), which the exact sets then mark on the measured rows: one launch less
// than a separate fill.
__kernel void rank_rows(__global const float* scores, __global int* ranks, __global uchar* exact, int row0,
                        int n_rows, int force, int heads_per_group, int sort_n, __local float* key,
                        __local int* idx) {
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
    for (int h = j * heads_per_group; h < (j + 1) * heads_per_group; ++h)
        for (int n = lid; n <= m; n += LS) exact[(long)h * tt + tri_of(m, row0) + n] = 0;
}

// The last work-group to finish among total work-groups counting in *counter (zero before the
// launch; the last one sets it back to 0), true on every item of that one; every item calls it
// after its global writes. As flash_attn_decode.cl's split merge: each item fences its writes to
// device scope and the barrier puts item 0's count after every fence, so the last one sees the
// others' writes (reading them through volatile loads: the L1 is not coherent). flag: local.
inline bool last_to_finish(global int* counter, int total, local int* flag) {
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
    if (get_local_id(0) == 0) {
        *flag = atomic_inc(counter) == total - 1;
        if (*flag) atomic_xchg(counter, 0);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    return *flag;
}

// ceil(k * (m + 1) / (s + 1))
inline long scaled_count(long k, long s, long m) { return (k * (m + 1) + s) / (s + 1); }

// ceil((klo (hi - m) + khi (m - lo)) / (hi - lo)) for lo < m <= hi
inline long between_count(long klo, long lo, long khi, long hi, long m) {
    return (klo * (hi - m) + khi * (m - lo) + hi - lo - 1) / (hi - lo);
}

// The budget of row m, budget = rows, from the sample rows' (sb [samples], rows s_m ascending,
// the last one the last row): the first sample row at or after m; before the first sample row
// its count scaled to the row, otherwise the count on the line through it and the sample row
// before; at least k_min.
inline int row_budget(volatile global const int* sb, global const int* s_m, int m, int k_min) {
    int next = 0;
    while (s_m[next] < m) ++next;
    const long k = next == 0 ? scaled_count(sb[0], s_m[0], m)
                             : between_count(sb[next - 1], s_m[next - 1], sb[next], s_m[next], m);
    return (int)max(k, (long)k_min);
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

// Exact sets. Of a sample row (exact_set): keep flags over blocks 0..m, the forced blocks, then
// blocks in the order of the row's mass until the kept mass reaches gamma of the row's. Kept
// masses are sums in index order over the kept blocks, then the added ones in the order added,
// as in ref/estimate.cpp exact_set. The queries of tail rows follow in exact_tail.
#define PROB_BATCH 8 // query_probs: block statistics loaded a batch at a time

inline float query_prob(__global const float* bm, __global const float* bs, long at, float M, float inv) {
    return bs[at] * det_exp(bm[at] - M) * inv;
}

// key[n] = the query's probability of block n, n = 0..m, by every item: PROB_BATCH blocks'
// loads before any is used (a query's blocks lie n_bq apart).
inline void query_probs(__global const float* bm, __global const float* bs, long at0, int n_bq, float M, float inv,
                        int m, __local float* key) {
    int n = get_local_id(0);
    for (; n + (PROB_BATCH - 1) * LS <= m; n += PROB_BATCH * LS) {
        float b[PROB_BATCH], e[PROB_BATCH];
#pragma unroll
        for (int u = 0; u < PROB_BATCH; ++u) {
            b[u] = bm[at0 + (long)(n + u * LS) * n_bq];
            e[u] = bs[at0 + (long)(n + u * LS) * n_bq];
        }
#pragma unroll
        for (int u = 0; u < PROB_BATCH; ++u) key[n + u * LS] = e[u] * det_exp(b[u] - M) * inv;
    }
    for (; n <= m; n += LS) key[n] = query_prob(bm, bs, at0 + (long)n * n_bq, M, inv);
}

// Keeps blocks in sorted order (key = values, idx = blocks) until kept reaches thr, as the
// reference: for r = 0, 1, ... while kept < thr, a block not yet kept is kept and its value added.
// All LS items call it; item 0's kept and thr count. The blocks already kept are marked first, in
// parallel (idx[r] = -1 - block), so item 0's loop reads local memory with no dependent loads.
inline void add_sorted(__local const float* key, __local int* idx, __local uchar* keep, int m, float kept,
                       float thr) {
    const int lid = get_local_id(0);
    for (int r = lid; r <= m; r += LS)
        if (keep[idx[r]]) idx[r] = -1 - idx[r];
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0)
        for (int r = 0; r <= m && !(kept >= thr); ++r) {
            const int b = idx[r];
            if (b >= 0) {
                keep[b] = 1;
                kept = kept + key[r];
            }
        }
    barrier(CLK_LOCAL_MEM_FENCE);
}

// Sum in index order of v over the kept blocks 0..m. The blocks not kept add +0.0f, which leaves
// every sum here as it is (the values are probabilities: +0 or more, or NaN), so the loop has no
// branch and its loads can be issued ahead.
inline float kept_mass(__local const float* v, __local const uchar* keep, int m) {
    float s = 0.0f;
#pragma unroll 8
    for (int n = 0; n <= m; ++n) s = s + (keep[n] ? v[n] : 0.0f);
    return s;
}

// The exact set of a sample row (m; -1: none, every work-item still reaches every barrier) from
// its mass, staged by the caller in key[0..m] with keep[0..m] = the forced blocks: keep flags go
// to out[0..m]. key and idx are sorted in place.
inline void exact_set(int m, float gamma, int lid, __local float* key, __local int* idx, __local uchar* keep,
                      __global uchar* out) {
    float kept = 0.0f, thr = 0.0f; // item 0's
    if (lid == 0) {
        kept = kept_mass(key, keep, m);
        thr = gamma * sum_in_order_local(key, m + 1);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    sort_in_place(m + 1, pow2_at_least(m + 1), key, idx, lid); // ends with a barrier
    add_sorted(key, idx, keep, m, kept, thr);
    for (int n = lid; n <= m; n += LS) out[n] = keep[n];
}

// One work-group per (sample s, head h) whose sample is exact (s_exact): global (LS * samples,
// H); the set goes to exact[h][tri(m) ..]. Budget = last or fixed only: with budget = rows,
// sample_budgets makes the sets.
__kernel void exact_rows(__global const float* mass, __global const int* s_m, __global const int* s_mass,
                         __global const int* s_exact, __global uchar* exact, int n_mass, int row0, int n_rows,
                         int force, float gamma, __local float* key, __local int* idx, __local uchar* keep) {
    // a sample without an exact set runs with no blocks rather than returning: every work-item
    // reaches every barrier (PoCL needs that, uniform early returns included)
    const int lid = get_local_id(0), s = get_group_id(0), h = get_group_id(1);
    const int m = s_exact[s] != 0 ? s_m[s] : -1;
    __global const float* a = mass + (long)h * n_mass + s_mass[s];
    for (int n = lid; n <= m; n += LS) {
        keep[n] = force && (n == 0 || n == m) ? 1 : 0;
        key[n] = a[n];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    exact_set(m, gamma, lid, key, idx, keep, exact + (long)h * tri_of(row0 + n_rows, row0) + tri_of(m, row0));
}

// One work-group per (sample s, head h): global (LS * samples, H), budget = rows. The position in
// the group's order of row m where the running sum of the mass (in that order) first reaches
// gamma * (sum in index order), minus the forced blocks: budget [H][samples]. The mass is staged
// in local memory in both orders (by rank in idx's memory, which the exact set sorts later), so
// the sequential sums read local memory only. Then, on a sample with an exact set (s_exact), that
// set, as exact_rows would (it saves that launch). The last work-group of a head to finish
// (counted in counters[h], zero before and after the launch; the pattern of flash_attn_decode.cl's
// split merge) then writes every row's budget of that head from the samples' (row_budget):
// budgets [H][n_rows], without a launch of its own.
__kernel void sample_budgets(__global const int* ranks, __global const float* mass, __global const int* s_m,
                             __global const int* s_mass, __global const int* s_exact, __global int* budget,
                             __global int* budgets, __global uchar* exact, __global int* counters, int n_samples,
                             int n_mass, int row0, int n_rows, int heads_per_group, int force, float gamma,
                             int k_min, __local float* key, __local int* idx, __local uchar* keep) {
    __local int is_last;
    __local float* by_rank = (__local float*)idx;
    const int lid = get_local_id(0), s = get_group_id(0), h = get_group_id(1), m = s_m[s];
    const long tt = tri_of(row0 + n_rows, row0);
    __global const int* rank = ranks + (long)(h / heads_per_group) * tt + tri_of(m, row0);
    __global const float* a = mass + (long)h * n_mass + s_mass[s];
    for (int n = lid; n <= m; n += LS) {
        const float v = a[n];
        key[n] = v;
        by_rank[rank[n]] = v;
        keep[n] = force && (n == 0 || n == m) ? 1 : 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        const float thr = gamma * sum_in_order_local(key, m + 1);
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
    barrier(CLK_LOCAL_MEM_FENCE); // by_rank read: idx may be sorted
    exact_set(s_exact[s] != 0 ? m : -1, gamma, lid, key, idx, keep, exact + (long)h * tt + tri_of(m, row0));
    if (!last_to_finish(counters + h, n_samples, &is_last)) return;
    volatile global const int* sb = budget + (long)h * n_samples;
    for (int row = lid; row < n_rows; row += LS) budgets[(long)h * n_rows + row] = row_budget(sb, s_m, row0 + row, k_min);
}

// One work-group per (query t of the tail rows, head h): global (LS * n_tail, H). Query t is
// measured query t_q[t] of sample t_s[t] (row m); its set starts as the row's (exact, from
// sample_budgets or exact_rows) and, when the row's set holds less than gamma of the query's mass (qtot: its total,
// from sample_merge), gains the query's blocks in the order of its mass until it holds gamma.
// added[h][t][0..m] = the set (1 = kept). The last work-group of a (sample, head) to finish
// (counted in counters[h][sample], zero before and after the launch; the sample's queries are
// tail queries s_t0[s] .. s_t0[s] + s_count[s] - 1) then or-s every query's set into the row's:
// exact |= added, without a launch of its own.
__kernel void exact_tail(__global const float* bm, __global const float* bs, __global const float* qM,
                         __global const float* qinv, __global const float* qtot, __global const int* s_m,
                         __global const int* s_count, __global const int* s_t0, __global const int* t_s,
                         __global const int* t_q, __global uchar* exact, __global uchar* added,
                         __global int* counters, int n_samples, int n_bq, int n_tail, int n_kblocks, int row0,
                         int n_rows, float gamma, int sort_n, __local float* key, __local int* idx,
                         __local uchar* keep, __local int* flag) {
    const int lid = get_local_id(0), t = get_group_id(0), h = get_group_id(1);
    const int s = t_s[t], m = s_m[s], qi = t_q[t];
    sort_n = pow2_at_least(m + 1); // this row's
    __global uchar* row = exact + (long)h * tri_of(row0 + n_rows, row0) + tri_of(m, row0);
    const long r = (long)h * n_bq + qi;
    const float qthr = gamma * qtot[r];
    for (int n = lid; n <= m; n += LS) keep[n] = row[n];
    query_probs(bm, bs, (long)h * n_kblocks * n_bq + qi, n_bq, qM[r], qinv[r], m, key);
    barrier(CLK_LOCAL_MEM_FENCE);
    float rec = 0.0f; // item 0's
    if (lid == 0) {
        rec = kept_mass(key, keep, m);
        flag[0] = rec >= qthr ? 0 : 1;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (flag[0]) { // uniform
        sort_in_place(m + 1, sort_n, key, idx, lid);
        add_sorted(key, idx, keep, m, rec, qthr);
    }
    __global uchar* out = added + ((long)h * n_tail + t) * n_kblocks;
    for (int n = lid; n <= m; n += LS) out[n] = keep[n];
    // the row's set in exact is read above by every work-group of the sample before it counts,
    // so the last one may write it
    if (!last_to_finish(counters + (long)h * n_samples + s, s_count[s], flag)) return;
    const int t0 = s_t0[s];
    volatile global const uchar* sets = added + (long)h * n_tail * n_kblocks;
    for (int n = lid; n <= m; n += LS) {
        uchar v = row[n]; // the row's set (also in every query's)
        for (int u = t0; u < t0 + s_count[s]; ++u) v |= sets[(long)u * n_kblocks + n];
        row[n] = v;
    }
}

// One work-group of LS items per (row, head): global (LS * n_rows, H), local (LS, 1). exact may
// be all zeros (no exact rows). Item lid takes the row's blocks [lid * per, (lid + 1) * per),
// per = ceil((m + 1) / LS): it counts its kept blocks, an exclusive scan of the counts in local
// memory gives where its first one goes, and it writes them there, ascending (one scan a row;
// one item a row, each walking its own ~KB of ranks, took 0.58 ms at 128K, a scan of every LS
// blocks 0.12 ms).
inline bool kept_block(__global const int* rank, __global const uchar* ex, int n, int lim) {
    return rank[n] < lim || ex[n];
}

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
    const int per = (m + LS) / LS, b0 = min(lid * per, m + 1), b1 = min(b0 + per, m + 1);
    int c = 0;
    for (int n = b0; n < b1; ++n) c += kept_block(rank, ex, n, lim) ? 1 : 0;
    scan[lid] = c;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = 1; off < LS; off <<= 1) { // inclusive scan (Hillis-Steele)
        const int add = lid >= off ? scan[lid - off] : 0;
        barrier(CLK_LOCAL_MEM_FENCE);
        scan[lid] += add;
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    int at = scan[lid] - c;
    for (int n = b0; n < b1; ++n)
        if (kept_block(rank, ex, n, lim)) list[at++] = n;
    if (lid == LS - 1) counts[(long)h * n_rows + row] = scan[LS - 1];
}
