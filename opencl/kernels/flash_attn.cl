// flash_attn.cl - dense flash_attn_ext, portable (FlashAttention-2 style, F32 compute).
//   o[:, h, t] = sum_j softmax_j(scale * q[:, t, h] . k[:, j, hk]) v[:, j, hk]
//   q F32 [D, N, H]; k, v F32 or F16 [D, Nkv, Hkv]; hk = h / (H / Hkv); causal: j <= n_past + t.
// A work-group owns FA_BM queries of one head and walks the keys in tiles of FA_BN: the Q tile,
// a K and a V tile sit in local memory; the online softmax keeps a running max m and sum l per
// query row, so scores never leave the work-group. A score is scale * (q . k), as the CPU
// reference forms it (q pre-scaled by a huge scale would overflow where the score does not);
// log2 e applies to score differences, which are <= 0. A NaN score makes its row NaN.
// Thread (row, lane): FA_TPQ lanes share a query row, each owns D / FA_TPQ output dims.
// Every tensor goes through its strides (KV cache views, permuted Q).

#ifndef FA_D
#define FA_D 128 // head dim (exact)
#endif
#ifndef FA_BM
#define FA_BM 16 // queries per work-group
#endif
#ifndef FA_BN
#define FA_BN 32 // keys per tile
#endif
#ifndef FA_TPQ
#define FA_TPQ 8 // lanes per query row
#endif
#ifndef FA_K_F16
#define FA_K_F16 0 // 1: k is F16
#endif
#ifndef FA_V_F16
#define FA_V_F16 0 // 1: v is F16
#endif

#define FA_WG (FA_BM * FA_TPQ)
#define FA_DPT ((FA_D + FA_TPQ - 1) / FA_TPQ) // output dims per lane

#if FA_K_F16
#define LOAD_K(p) load_half(p)
#else
#define LOAD_K(p) (*(global const float*)(p))
#endif
#if FA_V_F16
#define LOAD_V(p) load_half(p)
#else
#define LOAD_V(p) (*(global const float*)(p))
#endif

// grid: (ceil(N / FA_BM) * FA_WG, H), local (FA_WG, 1)
kernel __attribute__((reqd_work_group_size(FA_WG, 1, 1)))
void k_flash_attn(global const char* q, ulong q_offs, long4 q_ne, ulong4 q_nb, global const char* k, ulong k_offs,
                  long4 k_ne, ulong4 k_nb, global const char* v, ulong v_offs, long4 v_ne, ulong4 v_nb,
                  global char* o, ulong o_offs, long4 o_ne, ulong4 o_nb, float scale, int n_past,
                  int causal) {
    local float Qs[FA_BM][FA_D];
    local float Ks[FA_BN][FA_D + 1]; // +1: lanes read different key rows, avoid bank conflicts
    local float Vs[FA_BN][FA_D];
    local float S[FA_BM][FA_BN + 1];

    const int lid = get_local_id(0);
    const int row = lid / FA_TPQ, lane = lid % FA_TPQ;
    const int N = (int)q_ne.s1, H = (int)q_ne.s2, Nkv = (int)k_ne.s1, Hkv = (int)k_ne.s2;
    const int h = get_group_id(1), hk = h / (H / Hkv);
    const int t0 = get_group_id(0) * FA_BM;
    const int t = t0 + row;

    for (int e = lid; e < FA_BM * FA_D; e += FA_WG) {
        const int m = e / FA_D, dd = e % FA_D;
        Qs[m][dd] = t0 + m < N ? *(global const float*)(q + q_offs + (ulong)dd * q_nb.s0 + (ulong)(t0 + m) * q_nb.s1 +
                                                         (ulong)h * q_nb.s2)
                               : 0.0f;
    }
    float acc[FA_DPT];
    for (int i = 0; i < FA_DPT; ++i) acc[i] = 0.0f;
    float m_run = -INFINITY, l_run = 0.0f;

    // keys the last query of this block can see: causal blocks stop early
    const int t_last = min(t0 + FA_BM, N) - 1;
    const int n_keys = causal ? min(Nkv, n_past + t_last + 1) : Nkv;
    const int last_visible = causal ? n_past + t : Nkv - 1;
    global const char* kh = k + k_offs + (ulong)hk * k_nb.s2;
    global const char* vh = v + v_offs + (ulong)hk * v_nb.s2;

    for (int j0 = 0; j0 < n_keys; j0 += FA_BN) {
        barrier(CLK_LOCAL_MEM_FENCE); // previous tile fully consumed
        for (int e = lid; e < FA_BN * FA_D; e += FA_WG) {
            const int n = e / FA_D, dd = e % FA_D, j = j0 + n;
            const bool in = j < Nkv;
            Ks[n][dd] = in ? LOAD_K(kh + (ulong)dd * k_nb.s0 + (ulong)j * k_nb.s1) : 0.0f;
            Vs[n][dd] = in ? LOAD_V(vh + (ulong)dd * v_nb.s0 + (ulong)j * v_nb.s1) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // scores of this row: lane takes keys lane, lane + TPQ, ...
        for (int n = lane; n < FA_BN; n += FA_TPQ) {
            const int j = j0 + n;
            float s = -INFINITY;
            if (j < Nkv && j <= last_visible) {
                s = 0.0f;
                for (int dd = 0; dd < FA_D; ++dd) s = fma(Qs[row][dd], Ks[n][dd], s);
                s *= scale;
            }
            S[row][n] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float m_new = m_run;
        for (int n = 0; n < FA_BN; ++n) m_new = fmax(m_new, S[row][n]);
        barrier(CLK_LOCAL_MEM_FENCE); // all lanes read the raw scores before they turn into weights
        for (int n = lane; n < FA_BN; n += FA_TPQ) S[row][n] = m_new == -INFINITY ? 0.0f : exp2((S[row][n] - m_new) * M_LOG2E_F);
        barrier(CLK_LOCAL_MEM_FENCE);

        // rescale the running state to the new max, then add this tile
        const float alpha = m_run == -INFINITY ? 0.0f : exp2((m_run - m_new) * M_LOG2E_F);
        float l_tile = 0.0f;
        for (int n = 0; n < FA_BN; ++n) l_tile += S[row][n];
        l_run = l_run * alpha + l_tile;
        for (int i = 0; i < FA_DPT; ++i) {
            const int dd = lane + i * FA_TPQ;
            if (dd >= FA_D) break;
            float a = acc[i] * alpha;
            for (int n = 0; n < FA_BN; ++n) a = fma(S[row][n], Vs[n][dd], a);
            acc[i] = a;
        }
        m_run = m_new;
    }
    if (t >= N) return;
    const float inv = l_run == 0.0f ? 0.0f : 1.0f / l_run; // no visible key: 0; NaN stays NaN
    global char* orow = o + o_offs + (ulong)h * o_nb.s1 + (ulong)t * o_nb.s2;
    for (int i = 0; i < FA_DPT; ++i) {
        const int dd = lane + i * FA_TPQ;
        if (dd < FA_D) *(global float*)(orow + (ulong)dd * o_nb.s0) = acc[i] * inv;
    }
}
