// flash_attn_decode.cl - dense flash_attn_ext for a few queries (decoding), split over the keys.
//   o[:, h, t] = sum_j softmax_j(scale * q[:, t, h] . k[:, j, hk]) v[:, j, hk], hk = h / FD_G
//   q F32 [FD_D, N, H]; k, v F32 or F16 [FD_D, Nkv, Hkv]; causal: j <= n_past + t.
// k_fa_decode: a work-group owns one query token, one kv head with its FD_G query heads (each
// K and V row is read once for all of them) and one split of the keys, walked in tiles of
// FD_WG keys: each thread scores one key against the FD_G heads, a thread per head turns the
// tile's scores into probabilities with the online softmax (running max m, sum l), then each
// thread updates its FD_OPT output elements (head, dim). One split writes o; several write
// (m, l, unnormalised o) per split and k_fa_decode_combine merges them.
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

#define FD_OPT ((FD_G * FD_D + FD_WG - 1) / FD_WG) // output elements per thread

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

// grid: (n_splits * FD_WG, Hkv, N), local (FD_WG, 1, 1). part: n_splits > 1, per (t, h, split)
// FD_D floats of unnormalised output then (m, l) at part_ml.
kernel __attribute__((reqd_work_group_size(FD_WG, 1, 1)))
void k_fa_decode(global const char* q, ulong q_offs, long4 q_ne, ulong4 q_nb, global const char* k,
                 ulong k_offs, long4 k_ne, ulong4 k_nb, global const char* v, ulong v_offs, long4 v_ne,
                 ulong4 v_nb, global char* o, ulong o_offs, long4 o_ne, ulong4 o_nb, float scale, int n_past,
                 int causal, int keys_per_split, int n_splits, global float* part, global float* part_ml) {
    local float Qs[FD_G][FD_D];
    local float S[FD_G][FD_WG];
    local float m_l[FD_G], l_l[FD_G], alpha_l[FD_G];

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
            for (int c = 0; c < FD_D; ++c) {
                const float kc = LOAD_K(kr + (ulong)c * k_nb.s0);
                for (int g = 0; g < FD_G; ++g) s[g] = fma(Qs[g][c], kc, s[g]);
            }
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

    for (int i = 0; i < FD_OPT; ++i) {
        const int e = lid + i * FD_WG;
        if (e >= FD_G * FD_D) break;
        const int g = e / FD_D, c = e % FD_D, h = hk * FD_G + g;
        if (n_splits == 1) {
            *(global float*)(o + o_offs + (ulong)c * o_nb.s0 + (ulong)h * o_nb.s1 + (ulong)t * o_nb.s2) =
                acc[i] / l_l[g];
        } else {
            part[((ulong)(t * H + h) * n_splits + split) * FD_D + c] = acc[i];
        }
    }
    if (n_splits > 1 && lid < FD_G) {
        const ulong r = (ulong)(t * H + hk * FD_G + lid) * n_splits + split;
        part_ml[2 * r] = m_l[lid];
        part_ml[2 * r + 1] = l_l[lid];
    }
}

// grid: (FD_D, H, N): o[c, h, t] from the splits' (m, l, unnormalised o); an empty split has
// m = -inf and weighs nothing.
kernel void k_fa_decode_combine(global const float* part, global const float* part_ml, int n_splits,
                                global char* o, ulong o_offs, ulong4 o_nb) {
    const int c = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
    const int H = get_global_size(1);
    const ulong r0 = (ulong)(t * H + h) * n_splits;
    float m = -INFINITY;
    for (int s = 0; s < n_splits; ++s) m = fmax(m, part_ml[2 * (r0 + s)]);
    float num = 0.0f, den = 0.0f;
    for (int s = 0; s < n_splits; ++s) {
        const float ms = part_ml[2 * (r0 + s)];
        if (ms == -INFINITY) continue;
        const float w = exp2((ms - m) * 1.4426950408889634f);
        num = fma(w, part[(r0 + s) * FD_D + c], num);
        den = fma(w, part_ml[2 * (r0 + s) + 1], den);
    }
    *(global float*)(o + o_offs + (ulong)c * o_nb.s0 + (ulong)h * o_nb.s1 + (ulong)t * o_nb.s2) = num / den;
}
