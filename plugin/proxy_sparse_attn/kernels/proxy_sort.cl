// proxy_sort.cl - ranking and the CSR mask (spec steps 5-6):
//   budget_select  per head: sort a_i descending, k_i = smallest prefix reaching gamma
//   rank_rows      per (proxy group, row): one sorted order of A_j[m][0..m], forced blocks
//                  (sink, diagonal) first, stored as ranks; shared by the group's heads
//   build_mask     per (head, row): kept blocks = rank < K_i + forced, ascending, plus a count
// Order everywhere: higher value first, equal values by lower block index (as the CPU
// reference), so the result does not depend on the sorting network. Sorts are bitonic in local
// memory (sort_n = next power of two of the row length, passed with its __local arrays).
#pragma OPENCL FP_CONTRACT OFF

#ifndef LS
#define LS 128 // work-group size of the sorting kernels
#endif

inline bool comes_first(float ka, int ia, float kb, int ib) { return ka > kb || (ka == kb && ia < ib); }

// Sorts key/idx[0 .. sort_n) (sort_n a power of two) into comes_first order. All LS items call it.
inline void bitonic_sort(__local float* key, __local int* idx, int sort_n, int lid) {
    for (int size = 2; size <= sort_n; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int t = lid; t < sort_n / 2; t += LS) {
                const int a = 2 * t - (t & (stride - 1));
                const int b = a + stride;
                const float ka = key[a], kb = key[b];
                const int ia = idx[a], ib = idx[b];
                // subsequences with (a & size) == 0 go in comes_first order, the others reversed
                const bool forward = (a & size) == 0;
                const bool swap = forward ? comes_first(kb, ib, ka, ia) : comes_first(ka, ia, kb, ib);
                if (swap) {
                    key[a] = kb;
                    key[b] = ka;
                    idx[a] = ib;
                    idx[b] = ia;
                }
            }
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

inline long tri_of(long m, long row0) { return m * (m + 1) / 2 - row0 * (row0 + 1) / 2; }

// One work-group per head: budgets[h] = max(k_i, k_min). total in block order, the running sum
// in sorted order, threshold gamma * total (as the CPU reference).
__kernel void budget_select(__global const float* head_mass, __global int* budgets, int nb, float gamma, int k_min,
                            int sort_n, __local float* key, __local int* idx) {
    const int lid = get_local_id(0), h = get_group_id(0);
    __global const float* a = head_mass + (long)h * nb;
    for (int e = lid; e < sort_n; e += LS) {
        key[e] = e < nb ? a[e] : -INFINITY;
        idx[e] = e;
    }
    bitonic_sort(key, idx, sort_n, lid);
    if (lid != 0) return;
    float total = 0.0f;
    for (int n = 0; n < nb; ++n) total = total + a[n];
    const float thr = gamma * total;
    float cum = 0.0f;
    int k = nb;
    for (int r = 0; r < nb; ++r) {
        cum = cum + key[r];
        if (cum >= thr) {
            k = r + 1;
            break;
        }
    }
    budgets[h] = max(k, k_min);
}

// One work-group per (row, group): global (LS * n_rows, g). ranks[j][tri(m) + n] = position of
// block n in the row's order.
__kernel void rank_rows(__global const float* scores, __global int* ranks, int row0, int n_rows, int force,
                        int sort_n, __local float* key, __local int* idx) {
    const int lid = get_local_id(0), m = row0 + get_group_id(0), j = get_group_id(1);
    const long tt = tri_of(row0 + n_rows, row0);
    __global const float* A = scores + (long)j * tt + tri_of(m, row0);
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

// One item per (row, head): global (n_rows, H).
__kernel void build_mask(__global const int* ranks, __global const int* budgets, __global int* counts,
                         __global int* blocks, int row0, int n_rows, int heads_per_group, int force) {
    const int row = get_global_id(0), h = get_global_id(1);
    if (row >= n_rows) return;
    const int m = row0 + row, j = h / heads_per_group;
    const long tt = tri_of(row0 + n_rows, row0);
    const int forced = force ? (m == 0 ? 1 : 2) : 0;
    const int lim = budgets[h] + forced;
    __global const int* rank = ranks + (long)j * tt + tri_of(m, row0);
    __global int* list = blocks + (long)h * tt + tri_of(m, row0);
    int c = 0;
    for (int n = 0; n <= m; ++n)
        if (rank[n] < lim) list[c++] = n;
    counts[(long)h * n_rows + row] = c;
}
