// flash_attn_decode.cl - dense flash_attn_ext for a few queries (decoding), split over the keys.
//   o[:, h, t] = sum_j softmax_j(scale * q[:, t, h] . k[:, j, hk]) v[:, j, hk], hk = h / FD_G
//   q F32 [FD_D, N, H]; k, v F32 or F16 [FD_D, Nkv, Hkv]; causal: j <= n_past + t.
// k_fa_decode: a work-group owns one query token, one kv head with its FD_G query heads (each
// K and V row is read once for all of them) and one split of the keys, walked in tiles of
// FD_WG keys: each thread scores one key against the FD_G heads, a thread per head turns the
// tile's scores into probabilities with the online softmax (running max m, sum l), then each
// thread updates its FD_OPT output elements (head, dim). One split writes o; several write
// (m, l, unnormalised o) per split and the last work-group of the query and kv head to finish
// merges them into o (merge_splits), all in one launch.
// A score is scale * (q . k) as the CPU reference forms it; log2 e applies to score
// differences (<= 0). A NaN score makes its row NaN (fmax skips it, its probability is NaN).

#ifndef FD_D
#define FD_D 64 // head dim (exact)
#endif
#ifndef FD_G
#define FD_G 1 // query heads per kv head
#endif
#ifndef FD_WG
#define FD_WG 64 // threads per work-group = keys per tile
#endif
#ifndef FD_K_F16
#define FD_K_F16 0
#endif
#ifndef FD_V_F16
#define FD_V_F16 0
#endif

#ifndef FD_K_VEC
// 1: K rows are contiguous and 16-byte aligned (the host checks), read as 16-byte words
#define FD_K_VEC 0
#endif

#define FD_OPT ((FD_G * FD_D + FD_WG - 1) / FD_WG) // output elements per thread
#define FD_K_PER_WORD (FD_K_F16 ? 8 : 4)             // K elements per 16-byte word
#define FD_K_WORDS (FD_D / FD_K_PER_WORD)

#if FD_K_F16
#define LOAD_K(p) load_half(p)
#else
#define LOAD_K(p) (*(global const float*)(p))
#endif
#if FD_V_F16
#define LOAD_V(p) load_half(p)
#else
#define LOAD_V(p) (*(global const float*)(p))
#endif

// The merge of the n_splits partials of query t, kv head hk into o, by the last work-group of
// the pair to finish (merging = 1, its FD_WG items): per head the largest split max m, then in
// chunks of FD_WG splits each item forms one split's weight w = exp2((m_s - m) log2 e) per head
// into W, and o = sum_s w o_s / sum_s w l_s over the splits in order. An empty split has m_s =
// -inf and weighs nothing. Every work-group calls it (merging = 0: no split, nothing written) so
// that its barriers are reached by all work-groups without an early return, which PoCL 3.1
// miscompiles ahead of barriers.
void merge_splits(volatile global const float* part, volatile global const float* part_ml, int n_splits,
                  int merging, global char* o, ulong o_offs, ulong4 o_nb, int hk, int t, int H,
                  local float (*W)[FD_WG], local float* m_g, local float* l_g) {
    const int lid = get_local_id(0), n_merge = merging ? n_splits : 0;
    const float log2e = 1.4426950408889634f;
    const ulong r_hk = (ulong)(t * H + hk * FD_G) * n_splits; // row of head g, split s: r_hk + g * n_splits + s
    for (int g = 0; g < FD_G; ++g) {
        float mx = -INFINITY;
        for (int s = lid; s < n_merge; s += FD_WG) mx = fmax(mx, part_ml[2 * (r_hk + g * n_splits + s)]);
        W[g][lid] = mx;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < FD_G) {
        float mx = -INFINITY;
        for (int i = 0; i < FD_WG; ++i) mx = fmax(mx, W[lid][i]);
        m_g[lid] = mx;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    float num[FD_OPT], den = 0.0f; // den: item g < FD_G sums head g's
    for (int i = 0; i < FD_OPT; ++i) num[i] = 0.0f;
    for (int s0 = 0; s0 < n_merge; s0 += FD_WG) {
        const int ns = min(FD_WG, n_merge - s0);
        if (lid < ns)
            for (int g = 0; g < FD_G; ++g) {
                const float ms = part_ml[2 * (r_hk + g * n_splits + s0 + lid)];
                W[g][lid] = ms == -INFINITY ? -INFINITY : exp2((ms - m_g[g]) * log2e); // -inf: skip
            }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < FD_G)
            for (int i = 0; i < ns; ++i)
                if (W[lid][i] != -INFINITY)
                    den = fma(W[lid][i], part_ml[2 * (r_hk + lid * n_splits + s0 + i) + 1], den);
        for (int j = 0; j < FD_OPT; ++j) {
            const int e = lid + j * FD_WG;
            if (e < FD_G * FD_D) {
                const int g = e / FD_D, c = e % FD_D;
                volatile global const float* pc = part + (r_hk + g * n_splits + s0) * FD_D + c;
                float a = num[j];
                for (int i = 0; i < ns; ++i)
                    if (W[g][i] != -INFINITY) a = fma(W[g][i], pc[(ulong)i * FD_D], a);
                num[j] = a;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid < FD_G) l_g[lid] = den;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int j = 0; j < FD_OPT; ++j) {
        const int e = lid + j * FD_WG;
        if (merging && e < FD_G * FD_D) {
            const int g = e / FD_D, c = e % FD_D, h = hk * FD_G + g;
            *(global float*)(o + o_offs + (ulong)c * o_nb.s0 + (ulong)h * o_nb.s1 + (ulong)t * o_nb.s2) =
                num[j] / l_g[g];
        }
    }
}

// grid: (n_splits * FD_WG, Hkv, N), local (FD_WG, 1, 1). n_splits > 1: part holds per (t, h,
// split) FD_D floats of unnormalised output, then from float ml_offs on their (m, l) (part_ml;
// one buffer, one argument fewer to enqueue); counters[t * Hkv + hk] counts
// the finished splits of (t, hk) and is 0 before and after the launch.
// k_fa_decode's scalars, one struct argument (launch.h arg_pack; flash_attn_decode.cpp fills it in
// this order)
typedef struct {
    ulong q_offs;
    long4 q_ne;
    ulong4 q_nb;
    ulong k_offs;
    long4 k_ne;
    ulong4 k_nb;
    ulong v_offs;
    long4 v_ne;
    ulong4 v_nb;
    ulong o_offs;
    long4 o_ne;
    ulong4 o_nb;
    float scale;
    int n_past, causal, keys_per_split, n_splits;
    ulong ml_offs;
} fd_args;

kernel __attribute__((reqd_work_group_size(FD_WG, 1, 1)))
void k_fa_decode(global const char* q, global const char* k, global const char* v, global char* o,
                 global float* part, global int* counters, fd_args P) {
    global float* part_ml = part + P.ml_offs;
    const ulong q_offs = P.q_offs, k_offs = P.k_offs, v_offs = P.v_offs, o_offs = P.o_offs;
    const long4 q_ne = P.q_ne, k_ne = P.k_ne;
    const ulong4 q_nb = P.q_nb, k_nb = P.k_nb, v_nb = P.v_nb, o_nb = P.o_nb;
    const float scale = P.scale;
    const int n_past = P.n_past, causal = P.causal, keys_per_split = P.keys_per_split, n_splits = P.n_splits;
    local float Qs[FD_G][FD_D];
    local float S[FD_G][FD_WG];
    local float m_l[FD_G], l_l[FD_G], alpha_l[FD_G];
    local int is_last;

    const int lid = get_local_id(0);
    const int split = get_group_id(0), hk = get_group_id(1), t = get_group_id(2);
    const int N = (int)q_ne.s1, H = (int)q_ne.s2, Nkv = (int)k_ne.s1;
    const int limit = causal ? min(Nkv, n_past + t + 1) : Nkv;
    const int j0 = split * keys_per_split, j1 = min(limit, j0 + keys_per_split);
    const float log2e = 1.4426950408889634f;

    for (int e = lid; e < FD_G * FD_D; e += FD_WG) {
        const int g = e / FD_D, c = e % FD_D;
        Qs[g][c] = *(global const float*)(q + q_offs + (ulong)c * q_nb.s0 + (ulong)t * q_nb.s1 +
                                          (ulong)(hk * FD_G + g) * q_nb.s2);
    }
    if (lid < FD_G) {
        m_l[lid] = -INFINITY;
        l_l[lid] = 0.0f;
    }
    float acc[FD_OPT];
    for (int i = 0; i < FD_OPT; ++i) acc[i] = 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);

    global const char* kb = k + k_offs + (ulong)hk * k_nb.s2;
    global const char* vb = v + v_offs + (ulong)hk * v_nb.s2;
    for (int jt = j0; jt < j1; jt += FD_WG) {
        const int nv = min(FD_WG, j1 - jt);
        if (lid < nv) { // score of key jt + lid against every head of the group
            global const char* kr = kb + (ulong)(jt + lid) * k_nb.s1;
            float s[FD_G];
            for (int g = 0; g < FD_G; ++g) s[g] = 0.0f;
#if FD_K_VEC // the row as 16-byte loads, all issued before the first product
            uint4 raw[FD_K_WORDS];
#pragma unroll
            for (int w = 0; w < FD_K_WORDS; ++w) raw[w] = ((global const uint4*)kr)[w];
#pragma unroll
            for (int w = 0; w < FD_K_WORDS; ++w) {
#if FD_K_F16
                const float8 kv = vload_half8(0, (const half*)&raw[w]);
                const float kc[8] = {kv.s0, kv.s1, kv.s2, kv.s3, kv.s4, kv.s5, kv.s6, kv.s7};
#else
                const float4 kv = as_float4(raw[w]);
                const float kc[4] = {kv.s0, kv.s1, kv.s2, kv.s3};
#endif
#pragma unroll
                for (int i = 0; i < FD_K_PER_WORD; ++i)
                    for (int g = 0; g < FD_G; ++g) s[g] = fma(Qs[g][w * FD_K_PER_WORD + i], kc[i], s[g]);
            }
#else
            for (int c = 0; c < FD_D; ++c) {
                const float kc = LOAD_K(kr + (ulong)c * k_nb.s0);
                for (int g = 0; g < FD_G; ++g) s[g] = fma(Qs[g][c], kc, s[g]);
            }
#endif
            for (int g = 0; g < FD_G; ++g) S[g][lid] = scale * s[g];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < FD_G) { // online softmax of head lid over the tile
            const int g = lid;
            float mt = m_l[g];
            for (int i = 0; i < nv; ++i) mt = fmax(mt, S[g][i]);
            const float alpha = exp2((m_l[g] - mt) * log2e); // 0 on the first tile (m = -inf)
            float sum = 0.0f;
            for (int i = 0; i < nv; ++i) {
                const float p = exp2((S[g][i] - mt) * log2e);
                S[g][i] = p;
                sum += p;
            }
            l_l[g] = l_l[g] * alpha + sum;
            m_l[g] = mt;
            alpha_l[g] = alpha;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = 0; i < FD_OPT; ++i) {
            const int e = lid + i * FD_WG;
            if (e >= FD_G * FD_D) break;
            const int g = e / FD_D, c = e % FD_D;
            float a = acc[i] * alpha_l[g];
            global const char* vc = vb + (ulong)jt * v_nb.s1 + (ulong)c * v_nb.s0;
            for (int j = 0; j < nv; ++j) a = fma(S[g][j], LOAD_V(vc + (ulong)j * v_nb.s1), a);
            acc[i] = a;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    // One split writes o; several write this split's (m, l, unnormalised o), then the last
    // work-group of (t, hk) to finish merges them all.
    for (int i = 0; i < FD_OPT; ++i) {
        const int e = lid + i * FD_WG;
        if (e < FD_G * FD_D) {
            const int g = e / FD_D, c = e % FD_D, h = hk * FD_G + g;
            if (n_splits == 1)
                *(global float*)(o + o_offs + (ulong)c * o_nb.s0 + (ulong)h * o_nb.s1 + (ulong)t * o_nb.s2) =
                    acc[i] / l_l[g];
            else
                part[((ulong)(t * H + h) * n_splits + split) * FD_D + c] = acc[i];
        }
    }
    if (n_splits > 1 && lid < FD_G) {
        const ulong r = (ulong)(t * H + hk * FD_G + lid) * n_splits + split;
        part_ml[2 * r] = m_l[lid];
        part_ml[2 * r + 1] = l_l[lid];
    }
    // The partials of every work-item must reach device scope before its work-group counts as
    // done: each item fences its own global writes (on NVIDIA a device-wide membar, CUDA's
    // __threadfence), the barrier puts item 0's increment after every item's fence. The
    // work-group whose increment returns n_splits - 1 is the last: all others have counted, so
    // their partials are visible to it; it reads them through volatile pointers (loads that
    // skip the non-coherent L1, so no line cached before the others wrote can answer) and sets
    // the counter back to 0 for the next launch (no other work-group of this launch touches it).
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        global int* counter = counters + t * (int)k_ne.s2 + hk;
        is_last = n_splits > 1 && atomic_inc(counter) == n_splits - 1;
        if (is_last) atomic_xchg(counter, 0);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    merge_splits(part, part_ml, n_splits, is_last, o, o_offs, o_nb, hk, t, H, S, m_l, l_l);
}
