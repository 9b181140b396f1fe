// flash_attn_tiled.cl - dense flash_attn_ext, portable, register-tiled (F32 compute).
// Same contract as flash_attn.cl (q F32 [D, N, H]; k, v F32 or F16 [D, Nkv, Hkv]; o F32
// [D, H, N]; causal: key j visible to query t when j <= n_past + t), for head dims that are a
// multiple of 32 up to 128. Both products run like an SGEMM: S = Q K^T with Q and K staged
// dim-major in local memory 16 dims at a time and each work-item holding a 4 x 4 block of S in
// registers; O += P V with P (key-major) and the V tile in local memory and each work-item
// holding 4 query rows x D/8 output dims. The online softmax (FlashAttention-2) keeps the
// running max and sum of each row in local memory; two work-items share a row.
// A warp's 32 work-items take 4 query groups x 8 key groups (S) or dim groups (O), and a work-item's
// dims are 4-wide pieces 32 dims apart, so each local-memory read of Q, K, P or V is one
// conflict-free 128-byte wavefront or a broadcast (the ablation runs of docs/benchmarks.md put most
// of the kernel's time in the Q K^T loop and in staging Q and K). With FA_VEC (rows contiguous
// along the head dim, Q's at 16-byte alignment: the host checks) Q, K and V are staged 4 dims a load.
// With FA_SPARSE (proxy_sparse_attn's step 7 off NVIDIA) a work-group's 64 queries lie in one
// row block of the proxy mask (block size a multiple of 64, tiles aligned to absolute
// positions from first_tile * 64) and the keys come from that row's kept blocks only
// (counts [H][n_rows], blocks [H][tri_total], as written by build_mask).

// FA_D, FA_K_F16, FA_V_F16, FA_SPARSE, FA_VEC and TLOAD_K / TLOAD_V: flash_attn_tiled_common.cl

#define TBM 64              // queries per work-group
#define TBN 32              // keys per tile
#define TWG 128             // work-items: 16 query groups x 8 key (or dim) groups
#define TDC 16              // head dims staged per step of S
#define TPAD 4              // row padding of staged tiles (keeps 16-byte alignment)
#define TDPT (FA_D / 8)     // output dims per work-item (a multiple of 4)

#define TKB (FA_K_F16 ? 2 : 4) // bytes of a K element
#define TVB (FA_V_F16 ? 2 : 4)

// grid: (ceil(N / TBM) * TWG, H), local (TWG, 1)
kernel __attribute__((reqd_work_group_size(TWG, 1, 1)))
void k_flash_attn_tiled(global const char* q, ulong q_offs, long4 q_ne, ulong4 q_nb, global const char* k,
                        ulong k_offs, long4 k_ne, ulong4 k_nb, global const char* v, ulong v_offs, long4 v_ne,
                        ulong4 v_nb, global char* o, ulong o_offs, long4 o_ne, ulong4 o_nb, float scale,
                        int n_past, int causal
#if FA_SPARSE
                        ,
                        global const int* counts, global const int* blocks, int B, int row0, int n_rows,
                        long tri_total, int first_tile
#endif
) {
    local float Qt[TDC * (TBM + TPAD)] __attribute__((aligned(16)));
    local float Kt[TDC * (TBN + TPAD)] __attribute__((aligned(16)));
    local float Vs[TBN * (FA_D + TPAD)] __attribute__((aligned(16)));
    local float P[TBN * (TBM + TPAD)] __attribute__((aligned(16))); // scores, then weights, key-major
    local float m_run[TBM], l_run[TBM], alpha[TBM], part[2][TBM];

    const int lid = get_local_id(0);
    const int N = (int)q_ne.s1, H = (int)q_ne.s2, Nkv = (int)k_ne.s1, Hkv = (int)k_ne.s2;
    const int h = get_group_id(1), hk = h / (H / Hkv);
#if FA_SPARSE
    const int t0 = (first_tile + (int)get_group_id(0)) * TBM - n_past; // may be < 0: those rows are idle
    const int m = (t0 + n_past) / B;
    const int n_spans = fa_mask_count(counts, h, m, row0, n_rows);
    global const int* span_list = fa_mask_list(blocks, h, m, row0, tri_total);
#else
    const int t0 = get_group_id(0) * TBM;
    const int n_spans = 1;
#endif
    // 4 queries gq*4.. ; 4 keys gk*4.. (S) or dims gk*4 + 32 i.. (O)
    const int gq = lid / 8, gk = lid % 8;
    const int t_last = min(t0 + TBM, N) - 1;
    const int n_keys = causal ? min(Nkv, n_past + t_last + 1) : Nkv;
    global const char* qh = q + q_offs + (ulong)h * q_nb.s2;
    global const char* kh = k + k_offs + (ulong)hk * k_nb.s2;
    global const char* vh = v + v_offs + (ulong)hk * v_nb.s2;

    if (lid < TBM) {
        m_run[lid] = -INFINITY;
        l_run[lid] = 0.0f;
    }
    float acc[4][TDPT];
    for (int a = 0; a < 4; ++a)
        for (int b = 0; b < TDPT; ++b) acc[a][b] = 0.0f;

    for (int span = 0; span < n_spans; ++span) {
#if FA_SPARSE
    const int s0 = span_list[span] * B, s1 = min(s0 + B, n_keys); // one kept key block
#else
    const int s0 = 0, s1 = n_keys;
#endif
    for (int j0 = s0; j0 < s1; j0 += TBN) {
        // S = Q K^T for this tile, 4 x 4 per work-item (scaled below, as the CPU reference does)
        float s[4][4];
        for (int a = 0; a < 4; ++a)
            for (int b = 0; b < 4; ++b) s[a][b] = 0.0f;
        for (int d0 = 0; d0 < FA_D; d0 += TDC) {
            barrier(CLK_LOCAL_MEM_FENCE);
#if FA_VEC
            for (int e = lid; e < TBM * TDC / 4; e += TWG) { // 4 dims a load, stored transposed
                const int r = e / (TDC / 4), c = (e % (TDC / 4)) * 4, t = t0 + r;
                const float4 x = t >= 0 && t < N ? *(global const float4*)(qh + (ulong)(d0 + c) * 4 + (ulong)t * q_nb.s1)
                                                 : (float4)(0.0f);
                Qt[c * (TBM + TPAD) + r] = x.x;
                Qt[(c + 1) * (TBM + TPAD) + r] = x.y;
                Qt[(c + 2) * (TBM + TPAD) + r] = x.z;
                Qt[(c + 3) * (TBM + TPAD) + r] = x.w;
            }
            for (int e = lid; e < TBN * TDC / 4; e += TWG) {
                const int r = e / (TDC / 4), c = (e % (TDC / 4)) * 4, j = j0 + r;
                const float4 x = j < s1 ? TLOAD_K4(kh + (ulong)(d0 + c) * TKB + (ulong)j * k_nb.s1) : (float4)(0.0f);
                Kt[c * (TBN + TPAD) + r] = x.x;
                Kt[(c + 1) * (TBN + TPAD) + r] = x.y;
                Kt[(c + 2) * (TBN + TPAD) + r] = x.z;
                Kt[(c + 3) * (TBN + TPAD) + r] = x.w;
            }
#else
            for (int e = lid; e < TBM * TDC; e += TWG) {
                const int r = e / TDC, c = e % TDC, t = t0 + r;
                Qt[c * (TBM + TPAD) + r] =
                    t >= 0 && t < N ? *(global const float*)(qh + (ulong)(d0 + c) * q_nb.s0 + (ulong)t * q_nb.s1)
                          : 0.0f;
            }
            for (int e = lid; e < TBN * TDC; e += TWG) {
                const int r = e / TDC, c = e % TDC, j = j0 + r;
                Kt[c * (TBN + TPAD) + r] = j < s1 ? TLOAD_K(kh + (ulong)(d0 + c) * k_nb.s0 + (ulong)j * k_nb.s1) : 0.0f;
            }
#endif
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int c = 0; c < TDC; ++c) {
                const float4 qv = vload4(0, Qt + c * (TBM + TPAD) + gq * 4);
                const float4 kv = vload4(0, Kt + c * (TBN + TPAD) + gk * 4);
                s[0][0] = fma(qv.x, kv.x, s[0][0]); s[0][1] = fma(qv.x, kv.y, s[0][1]);
                s[0][2] = fma(qv.x, kv.z, s[0][2]); s[0][3] = fma(qv.x, kv.w, s[0][3]);
                s[1][0] = fma(qv.y, kv.x, s[1][0]); s[1][1] = fma(qv.y, kv.y, s[1][1]);
                s[1][2] = fma(qv.y, kv.z, s[1][2]); s[1][3] = fma(qv.y, kv.w, s[1][3]);
                s[2][0] = fma(qv.z, kv.x, s[2][0]); s[2][1] = fma(qv.z, kv.y, s[2][1]);
                s[2][2] = fma(qv.z, kv.z, s[2][2]); s[2][3] = fma(qv.z, kv.w, s[2][3]);
                s[3][0] = fma(qv.w, kv.x, s[3][0]); s[3][1] = fma(qv.w, kv.y, s[3][1]);
                s[3][2] = fma(qv.w, kv.z, s[3][2]); s[3][3] = fma(qv.w, kv.w, s[3][3]);
            }
        }
        // masked scores into P (key-major); the V tile goes to local memory meanwhile
        for (int a = 0; a < 4; ++a)
            for (int b = 0; b < 4; ++b) {
                const int r = gq * 4 + a, n = gk * 4 + b, j = j0 + n;
                const bool ok = j < s1 && (!causal || j <= n_past + t0 + r);
                P[n * (TBM + TPAD) + r] = ok ? s[a][b] * scale : -INFINITY;
            }
#if FA_VEC
        for (int e = lid; e < TBN * FA_D / 4; e += TWG) {
            const int n = e / (FA_D / 4), dd = (e % (FA_D / 4)) * 4, j = j0 + n;
            vstore4(j < s1 ? TLOAD_V4(vh + (ulong)dd * TVB + (ulong)j * v_nb.s1) : (float4)(0.0f), 0,
                    Vs + n * (FA_D + TPAD) + dd);
        }
#else
        for (int e = lid; e < TBN * FA_D; e += TWG) {
            const int n = e / FA_D, dd = e % FA_D, j = j0 + n;
            Vs[n * (FA_D + TPAD) + dd] = j < s1 ? TLOAD_V(vh + (ulong)dd * v_nb.s0 + (ulong)j * v_nb.s1) : 0.0f;
        }
#endif
        barrier(CLK_LOCAL_MEM_FENCE);

        // online softmax: work-items r and r + 64 take half of row r's keys each
        const int r = lid % TBM, side = lid / TBM, n0 = side * (TBN / 2);
        float mx = -INFINITY;
        for (int n = n0; n < n0 + TBN / 2; ++n) mx = fmax(mx, P[n * (TBM + TPAD) + r]);
        part[side][r] = mx;
        barrier(CLK_LOCAL_MEM_FENCE);
        const float m_new = fmax(m_run[r], fmax(part[0][r], part[1][r]));
        barrier(CLK_LOCAL_MEM_FENCE); // both halves read part before it holds sums
        float sum = 0.0f;
        for (int n = n0; n < n0 + TBN / 2; ++n) {
            const float w = m_new == -INFINITY ? 0.0f : exp2((P[n * (TBM + TPAD) + r] - m_new) * M_LOG2E_F);
            P[n * (TBM + TPAD) + r] = w;
            sum += w;
        }
        part[side][r] = sum;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (side == 0) {
            const float al = m_run[r] == -INFINITY ? 0.0f : exp2((m_run[r] - m_new) * M_LOG2E_F);
            l_run[r] = l_run[r] * al + (part[0][r] + part[1][r]);
            m_run[r] = m_new;
            alpha[r] = al;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // O = O * alpha + P V: 4 rows x TDPT dims per work-item
        for (int a = 0; a < 4; ++a) {
            const float al = alpha[gq * 4 + a];
            for (int b = 0; b < TDPT; ++b) acc[a][b] *= al;
        }
        for (int n = 0; n < TBN; ++n) {
            const float4 p = vload4(0, P + n * (TBM + TPAD) + gq * 4);
            for (int b = 0; b < TDPT; b += 4) { // dims b * 8 + gk * 4 .. + 3
                const float4 vv = vload4(0, Vs + n * (FA_D + TPAD) + b * 8 + gk * 4);
                acc[0][b] = fma(p.x, vv.x, acc[0][b]); acc[0][b + 1] = fma(p.x, vv.y, acc[0][b + 1]);
                acc[0][b + 2] = fma(p.x, vv.z, acc[0][b + 2]); acc[0][b + 3] = fma(p.x, vv.w, acc[0][b + 3]);
                acc[1][b] = fma(p.y, vv.x, acc[1][b]); acc[1][b + 1] = fma(p.y, vv.y, acc[1][b + 1]);
                acc[1][b + 2] = fma(p.y, vv.z, acc[1][b + 2]); acc[1][b + 3] = fma(p.y, vv.w, acc[1][b + 3]);
                acc[2][b] = fma(p.z, vv.x, acc[2][b]); acc[2][b + 1] = fma(p.z, vv.y, acc[2][b + 1]);
                acc[2][b + 2] = fma(p.z, vv.z, acc[2][b + 2]); acc[2][b + 3] = fma(p.z, vv.w, acc[2][b + 3]);
                acc[3][b] = fma(p.w, vv.x, acc[3][b]); acc[3][b + 1] = fma(p.w, vv.y, acc[3][b + 1]);
                acc[3][b + 2] = fma(p.w, vv.z, acc[3][b + 2]); acc[3][b + 3] = fma(p.w, vv.w, acc[3][b + 3]);
            }
        }
    }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int a = 0; a < 4; ++a) {
        const int r = gq * 4 + a, t = t0 + r;
        if (t < 0 || t >= N) continue;
        const float l = l_run[r];
        const float inv = l == 0.0f ? 0.0f : 1.0f / l; // no visible key: 0; NaN stays NaN
        global char* orow = o + o_offs + (ulong)h * o_nb.s1 + (ulong)t * o_nb.s2;
        for (int b = 0; b < TDPT; ++b)
            *(global float*)(orow + (ulong)((b / 4) * 32 + gk * 4 + b % 4) * o_nb.s0) = acc[a][b] * inv;
    }
}
