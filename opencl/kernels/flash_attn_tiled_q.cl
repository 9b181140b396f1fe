// flash_attn_tiled_q.cl - dense (or block-sparse) flash_attn_ext, portable, register-tiled (F32
// compute), with the work-group's queries staged once: the Q-resident variants of
// flash_attn_tiled.cl (same contract: q F32 [D, N, H]; k, v F32 or F16 [D, Nkv, Hkv]; o F32
// [D, H, N]; causal: key j visible to query t when j <= n_past + t; head dims 32..128 in steps of
// 32; FA_SPARSE and FA_VEC as there). The host picks the geometry (flash_attn_tiled.cpp,
// $PA_OPENCL_TUNING fat_variant):
//   FQ_BM queries a work-group (a multiple of 16), staged once, row-major (Qs: dims contiguous);
//   FQ_BN keys a tile; FQ_WG work-items = FQ_BM / 4 query groups x FQ_NGK key groups (a multiple
//   of 8); K staged FQ_DC dims at a time, V FQ_VK keys at a time, both key-major (dims
//   contiguous, loaded and stored 4 dims at a time: no transposition), sharing one buffer.
// S = Q K^T: a work-item holds 4 query rows (gq + NGQ a) x RK keys (gk + NGK b) of S; each step
// of 4 dims reads 4 float4 of Q and RK float4 of K for 16 RK multiply-adds. The row statistics
// live in registers (each of a row group's NGK work-items keeps the same running max and its own
// part of the running sum): one exchange of partial maxima a tile through local memory, the sums
// added once at the end. O += P V: the same 4 rows x D / NGK dims (4- or 2-wide pieces NGK
// pieces apart), P through local memory (key-major; a row group's 4 rows side by side).
// Local-memory reads of a warp (4 query groups x 8 key groups): Q a 64-byte broadcast, K, V a
// 128-byte row, P a 64-byte broadcast; row strides of 4 mod 32 floats keep them conflict-free.
// FQ_PF 1 (FA_VEC only: 4-element loads of whole rows) pipelines the staging: each stage's global
// loads are issued before the previous stage's products and kept as raw bits (f16 halves are
// converted when stored), so their latency hides behind the products; a tile's last stage loads
// the next tile's first (across kept blocks too). FQ_UNROLL_S (n > 1) asks the compiler to unroll
// the loop over dims of S = Q K^T n times, FQ_UNROLL_PV (n > 0) the loop over keys of O += P V.
// FQ_ORDER 1: a one-dimensional grid, one KV group after the other, in each the last query tiles
// (the most keys under a causal mask) first and the group's query heads side by side (they read
// the same K / V rows): the launch no longer ends on its longest work-groups. FQ_LAZY 1: a row
// group's running max moves only where a tile's scores exceed it by more than FQ_LAZY_T (weights
// then stay <= 2^8): a flag a row group in local memory says so, and only then are the partial
// maxima read and O rescaled.
// FQ_FOLD 1: Q is staged times scale log2(e), so the scores come out of the product in the units
// of exp2 (no scaling a score, no multiply in the exponent), and a tile that no row of the
// work-group sees masked (every key before the first row's diagonal and the span's end) is not
// masked.

// FA_D, FA_K_F16, FA_V_F16, FA_SPARSE, FA_VEC and TLOAD_K / TLOAD_V: flash_attn_tiled_common.cl

#ifndef FQ_BM
#define FQ_BM 32 // queries per work-group
#endif
#ifndef FQ_BN
#define FQ_BN 64 // keys per tile
#endif
#ifndef FQ_WG
#define FQ_WG 128 // work-items
#endif
#ifndef FQ_DC
#define FQ_DC 64 // dims of K staged at a time (divides FA_D, a multiple of 4)
#endif
#ifndef FQ_VK
#define FQ_VK 32 // keys of V staged at a time (divides FQ_BN)
#endif
#ifndef FQ_PF
#define FQ_PF 0
#endif
#ifndef FQ_ORDER
#define FQ_ORDER 0
#endif
#ifndef FQ_LAZY
#define FQ_LAZY 0
#endif
#ifndef FQ_FOLD
#define FQ_FOLD 0
#endif
#if FQ_FOLD
#define FQ_LAZY_T 8.0f // in units of exp2
#define FQ_EXPD(x) (x)  // a score difference in units of exp2
#else
#define FQ_LAZY_T (8.0f * M_LN2_F) // in units of scaled scores
#define FQ_EXPD(x) ((x) * M_LOG2E_F)
#endif
#if FQ_PF && !FA_VEC
#error "flash_attn_tiled_q.cl: FQ_PF needs FA_VEC"
#endif
#define FQ_PRAGMA_(x) _Pragma(#x)
#define FQ_PRAGMA(x) FQ_PRAGMA_(x)
#if defined(FQ_UNROLL_S) && FQ_UNROLL_S > 1
#define FQ_UNROLL_S_LOOP FQ_PRAGMA(unroll FQ_UNROLL_S)
#else
#define FQ_UNROLL_S_LOOP
#endif
#if defined(FQ_UNROLL_PV) && FQ_UNROLL_PV > 0
#define FQ_UNROLL_PV_LOOP FQ_PRAGMA(unroll FQ_UNROLL_PV)
#else
#define FQ_UNROLL_PV_LOOP
#endif

// loop unrolling hints (constant trip counts over register arrays); the host turns them off where
// they only cost compile time (-DFQ_UNROLL= -DFQ_UNROLL_4=: CPU devices)
#ifndef FQ_UNROLL
#define FQ_UNROLL _Pragma("unroll")
#endif
#ifndef FQ_UNROLL_4
#define FQ_UNROLL_4 _Pragma("unroll 4")
#endif

#define FQ_NGQ (FQ_BM / 4)       // query groups of 4 rows
#define FQ_NGK (FQ_WG / FQ_NGQ)  // key groups (S) = dim groups (O)
#define FQ_RK (FQ_BN / FQ_NGK)   // keys of S per work-item
#define FQ_DPW (FA_D / FQ_NGK)   // output dims per work-item
#define FQ_QS (FA_D + 4)         // row stride of Qs and of staged V
#define FQ_KS (FQ_DC + 4)        // row stride of staged K
#define FQ_PS (FQ_BM + 4)        // row stride of P and of the row exchange
#define FQ_KV_FLOATS (FQ_BN * FQ_KS > FQ_VK * FQ_QS ? FQ_BN * FQ_KS : FQ_VK * FQ_QS)

#if FQ_BM % 16 || FQ_NGK % 8 || FQ_BN % FQ_NGK || FA_D % FQ_NGK || FQ_DPW % 2 || FA_D % FQ_DC || FQ_DC % 4 || \
    FQ_BN % FQ_VK
#error "flash_attn_tiled_q.cl: unsupported geometry"
#endif
#if FQ_DPW % 4 == 0
#define FQ_PW 4 // output dims are 4-wide pieces
#else
#define FQ_PW 2
#endif
#define FQ_NP (FQ_DPW / FQ_PW) // pieces per work-item, FQ_NGK * FQ_PW dims apart

// rows [j0, j0 + nrows) of a K or V head (keys past s1 as zeros), dims [c0, c0 + ncols), into
// dst[n * stride + c]; nb1, nb0: the row and element strides in bytes (FA_VEC: nb0 = element size)
#if FA_VEC
#define FQ_STAGE(dst, stride, base, nb1, nb0, LOAD4, LOAD1, j0, nrows, c0, ncols, s1)                          \
    for (int e = lid; e < (nrows) * (ncols) / 4; e += FQ_WG) {                                                   \
        const int n_ = e / ((ncols) / 4), c_ = (e % ((ncols) / 4)) * 4, j_ = (j0) + n_;                        \
        vstore4(j_ < (s1) ? LOAD4((base) + (ulong)((c0) + c_) * (nb0) + (ulong)j_ * (nb1)) : (float4)(0.0f), 0, \
                (dst) + n_ * (stride) + c_);                                                                     \
    }
#else
#define FQ_STAGE(dst, stride, base, nb1, nb0, LOAD4, LOAD1, j0, nrows, c0, ncols, s1)                          \
    for (int e = lid; e < (nrows) * (ncols); e += FQ_WG) {                                                       \
        const int n_ = e / (ncols), c_ = e % (ncols), j_ = (j0) + n_;                                            \
        (dst)[n_ * (stride) + c_] = j_ < (s1) ? LOAD1((base) + (ulong)((c0) + c_) * (nb0) + (ulong)j_ * (nb1)) : 0.0f; \
    }
#endif

#if FQ_PF
// Pipelined staging: pf holds the raw bits of the next stage (4 elements a uint4: f16 in .xy).
#define FQ_PF_FLOATS (FQ_BN * FQ_DC > FQ_VK * FA_D ? FQ_BN * FQ_DC : FQ_VK * FA_D)
#define FQ_PF_N ((FQ_PF_FLOATS / 4 + FQ_WG - 1) / FQ_WG)
inline float4 fq_halves(uint2 w) { return vload_half4(0, (const private half*)&w); }
#if FA_K_F16
#define FQ_RAW_K(p) ((uint4)(vload2(0, (global const uint*)(p)), 0u, 0u))
#define FQ_CVT_K(r) fq_halves((r).xy)
#else
#define FQ_RAW_K(p) as_uint4(vload4(0, (global const float*)(p)))
#define FQ_CVT_K(r) as_float4(r)
#endif
#if FA_V_F16
#define FQ_RAW_V(p) ((uint4)(vload2(0, (global const uint*)(p)), 0u, 0u))
#define FQ_CVT_V(r) fq_halves((r).xy)
#else
#define FQ_RAW_V(p) as_uint4(vload4(0, (global const float*)(p)))
#define FQ_CVT_V(r) as_float4(r)
#endif
// rows [j0, j0 + nrows) (keys past s1 as zeros), dims [c0, c0 + ncols) into pf
#define FQ_PF_LOAD(base, nb1, nb0, RAW, j0, nrows, c0, ncols, s1)                                              \
    FQ_UNROLL for (int i_ = 0; i_ < FQ_PF_N; ++i_) {                                                          \
        const int e_ = lid + i_ * FQ_WG;                                                                      \
        if (e_ < (nrows) * (ncols) / 4) {                                                                     \
            const int n_ = e_ / ((ncols) / 4), c_ = (e_ % ((ncols) / 4)) * 4, j_ = (j0) + n_;                \
            pf[i_] = j_ < (s1) ? RAW((base) + (ulong)((c0) + c_) * (nb0) + (ulong)j_ * (nb1)) : (uint4)(0u);  \
        }                                                                                                    \
    }
// pf (nrows x ncols, as loaded) into dst[n * stride + c]
#define FQ_PF_STORE(dst, stride, CVT, nrows, ncols)                                                            \
    FQ_UNROLL for (int i_ = 0; i_ < FQ_PF_N; ++i_) {                                                          \
        const int e_ = lid + i_ * FQ_WG;                                                                      \
        if (e_ < (nrows) * (ncols) / 4)                                                                       \
            vstore4(CVT(pf[i_]), 0, (dst) + (e_ / ((ncols) / 4)) * (stride) + (e_ % ((ncols) / 4)) * 4);     \
    }
#endif

// The key tile after (sp, j0, s1) in the walk (span by span, FQ_BN keys a tile): sp, j0, s1 become
// its span, first key and span end; j0 >= s1 when there is none.
#if FA_SPARSE
#define FQ_SPAN_S1(s0) min((s0) + B, n_keys)
#define FQ_SPAN_S0(sp) (span_list[sp] * B)
#else
#define FQ_SPAN_S1(s0) n_keys
#define FQ_SPAN_S0(sp) 0
#endif
#define FQ_NEXT_TILE(sp, j0, s1)                                                                               \
    do {                                                                                                       \
        (j0) += FQ_BN;                                                                                         \
        while ((j0) >= (s1) && ++(sp) < n_spans) {                                                             \
            (j0) = FQ_SPAN_S0(sp);                                                                             \
            (s1) = FQ_SPAN_S1(j0);                                                                             \
        }                                                                                                      \
    } while (0)

// m[a] = the max of m_run[a] and the row group's NGK partial maxima of its row a (in red, after the
// exchange's barrier); not all partials in flight at once (registers)
#define FQ_ROW_GROUP_MAX(m)                                                                                   \
    FQ_UNROLL for (int a_ = 0; a_ < 4; ++a_)(m)[a_] = m_run[a_];                                             \
    FQ_UNROLL_4 for (int g_ = 0; g_ < FQ_NGK; ++g_) {                                                         \
        const float4 x_ = vload4(0, red + g_ * FQ_PS + gq * 4);                                               \
        (m)[0] = fmax((m)[0], x_.x);                                                                          \
        (m)[1] = fmax((m)[1], x_.y);                                                                          \
        (m)[2] = fmax((m)[2], x_.z);                                                                          \
        (m)[3] = fmax((m)[3], x_.w);                                                                          \
    }

// grid: (ceil(N / FQ_BM) * FQ_WG, H) (FA_SPARSE: the tiles from first_tile on), local (FQ_WG, 1);
// FQ_ORDER 1: (ceil(N / FQ_BM) * H * FQ_WG, 1)
kernel __attribute__((reqd_work_group_size(FQ_WG, 1, 1)))
void k_flash_attn_tiled_q(global const char* q, ulong q_offs, long4 q_ne, ulong4 q_nb, global const char* k,
                          ulong k_offs, long4 k_ne, ulong4 k_nb, global const char* v, ulong v_offs, long4 v_ne,
                          ulong4 v_nb, global char* o, ulong o_offs, long4 o_ne, ulong4 o_nb, float scale,
                          int n_past, int causal
#if FA_SPARSE
                          ,
                          global const int* counts, global const int* blocks, int B, int row0, int n_rows,
                          long tri_total, int first_tile
#endif
) {
    local float Qs[FQ_BM * FQ_QS] __attribute__((aligned(16)));
    local float KV[FQ_KV_FLOATS] __attribute__((aligned(16))); // K dims of a tile (S), then V keys (O)
    local float P[FQ_BN * FQ_PS] __attribute__((aligned(16)));  // weights, key-major
    local float red[FQ_NGK * FQ_PS] __attribute__((aligned(16))); // partial row maxima, then sums
#if FQ_LAZY
    local int grew[FQ_NGQ]; // the last tile whose scores outgrew the row group's running max
#endif

    const int lid = get_local_id(0);
    // a warp (32 work-items) is 4 query groups x 8 key groups
    const int gk = lid % 8 + 8 * ((lid / 32) % (FQ_NGK / 8));
    const int gq = (lid % 32) / 8 + 4 * (lid / (32 * (FQ_NGK / 8)));
    const int N = (int)q_ne.s1, H = (int)q_ne.s2, Nkv = (int)k_ne.s1, Hkv = (int)k_ne.s2;
#if FQ_ORDER
    // KV group by KV group; in one, the last query tile first, the group's query heads side by side
    const int r_ = H / Hkv, per_ = (int)get_num_groups(0) / Hkv, wg_ = get_group_id(0);
    const int h = (wg_ / per_) * r_ + (wg_ % per_) % r_, tile = per_ / r_ - 1 - (wg_ % per_) / r_;
#else
    const int h = get_group_id(1), tile = get_group_id(0);
#endif
    const int hk = h / (H / Hkv);
#if FA_SPARSE
    const int t0 = (first_tile + tile) * FQ_BM - n_past; // may be < 0: those rows are idle
    const int m = (t0 + n_past) / B;
    const int n_spans = fa_mask_count(counts, h, m, row0, n_rows);
    global const int* span_list = fa_mask_list(blocks, h, m, row0, tri_total);
#else
    const int t0 = tile * FQ_BM;
    const int n_spans = 1;
#endif
    const int t_last = min(t0 + FQ_BM, N) - 1;
    const int n_keys = causal ? min(Nkv, n_past + t_last + 1) : Nkv;
    global const char* qh = q + q_offs + (ulong)h * q_nb.s2;
    global const char* kh = k + k_offs + (ulong)hk * k_nb.s2;
    global const char* vh = v + v_offs + (ulong)hk * v_nb.s2;

    // the work-group's queries, once (rows outside [0, N) as zeros; FQ_FOLD: times scale log2(e))
    const float q_scale = FQ_FOLD ? scale * M_LOG2E_F : 1.0f;
#if FA_VEC
    for (int e = lid; e < FQ_BM * FA_D / 4; e += FQ_WG) {
        const int r = e / (FA_D / 4), c = (e % (FA_D / 4)) * 4, t = t0 + r;
        vstore4(t >= 0 && t < N ? q_scale * *(global const float4*)(qh + (ulong)c * 4 + (ulong)t * q_nb.s1)
                                : (float4)(0.0f),
                0, Qs + r * FQ_QS + c);
    }
#else
    for (int e = lid; e < FQ_BM * FA_D; e += FQ_WG) {
        const int r = e / FA_D, c = e % FA_D, t = t0 + r;
        Qs[r * FQ_QS + c] =
            t >= 0 && t < N ? q_scale * *(global const float*)(qh + (ulong)c * q_nb.s0 + (ulong)t * q_nb.s1) : 0.0f;
    }
#endif

    float m_run[4], l_part[4], acc[4][FQ_DPW];
FQ_UNROLL
    for (int a = 0; a < 4; ++a) {
        m_run[a] = -INFINITY;
        l_part[a] = 0.0f;
FQ_UNROLL
        for (int b = 0; b < FQ_DPW; ++b) acc[a][b] = 0.0f;
    }

#if FQ_LAZY
    for (int i = lid; i < FQ_NGQ; i += FQ_WG) grew[i] = -1; // seen after the first stage's barrier
    int tile_no = 0;
#endif
#if FQ_PF
    uint4 pf[FQ_PF_N];
    { // the first tile's first K stage
        int sp = -1, j0 = -FQ_BN, s1 = 0;
        FQ_NEXT_TILE(sp, j0, s1);
        if (j0 < s1) {
            FQ_PF_LOAD(kh, k_nb.s1, k_nb.s0, FQ_RAW_K, j0, FQ_BN, 0, FQ_DC, s1)
        }
    }
#endif
    for (int span = 0; span < n_spans; ++span) {
    const int s0 = FQ_SPAN_S0(span), s1 = FQ_SPAN_S1(s0); // one kept key block (dense: all keys)
    for (int j0 = s0; j0 < s1; j0 += FQ_BN) {
        // S = Q K^T, 4 rows x RK keys a work-item (scaled below, as the CPU reference does)
        float s[4][FQ_RK];
FQ_UNROLL
        for (int a = 0; a < 4; ++a)
FQ_UNROLL
            for (int b = 0; b < FQ_RK; ++b) s[a][b] = 0.0f;
        for (int d0 = 0; d0 < FA_D; d0 += FQ_DC) {
            barrier(CLK_LOCAL_MEM_FENCE); // KV free (the last tile's V, the last step's K); Qs written
#if FQ_PF
            FQ_PF_STORE(KV, FQ_KS, FQ_CVT_K, FQ_BN, FQ_DC)
            barrier(CLK_LOCAL_MEM_FENCE);
            if (d0 + FQ_DC < FA_D) { // the next stage: K's next dims, else the tile's first V keys
                FQ_PF_LOAD(kh, k_nb.s1, k_nb.s0, FQ_RAW_K, j0, FQ_BN, d0 + FQ_DC, FQ_DC, s1)
            } else {
                FQ_PF_LOAD(vh, v_nb.s1, v_nb.s0, FQ_RAW_V, j0, FQ_VK, 0, FA_D, s1)
            }
#else
            FQ_STAGE(KV, FQ_KS, kh, k_nb.s1, k_nb.s0, TLOAD_K4, TLOAD_K, j0, FQ_BN, d0, FQ_DC, s1)
            barrier(CLK_LOCAL_MEM_FENCE);
#endif
FQ_UNROLL_S_LOOP
            for (int c = 0; c < FQ_DC; c += 4) {
                float4 qa[4];
FQ_UNROLL
                for (int a = 0; a < 4; ++a) qa[a] = vload4(0, Qs + (gq + FQ_NGQ * a) * FQ_QS + d0 + c);
FQ_UNROLL
                for (int b = 0; b < FQ_RK; ++b) {
                    const float4 kb = vload4(0, KV + (gk + FQ_NGK * b) * FQ_KS + c);
FQ_UNROLL
                    for (int a = 0; a < 4; ++a)
                        s[a][b] = fma(qa[a].w, kb.w, fma(qa[a].z, kb.z, fma(qa[a].y, kb.y, fma(qa[a].x, kb.x, s[a][b]))));
                }
            }
        }
        // masked, scaled scores; the row group's partial maxima to the exchange
        float mx[4];
        // (FQ_FOLD, uniform: whether no row of the work-group sees a key of this tile masked)
        const bool unmasked = FQ_FOLD && j0 + FQ_BN <= s1 && (!causal || j0 + FQ_BN - 1 <= n_past + t0);
        if (unmasked) {
FQ_UNROLL
            for (int a = 0; a < 4; ++a) {
                mx[a] = s[a][0];
FQ_UNROLL
                for (int b = 1; b < FQ_RK; ++b) mx[a] = fmax(mx[a], s[a][b]);
            }
        } else {
FQ_UNROLL
            for (int a = 0; a < 4; ++a) {
                const int t = t0 + gq + FQ_NGQ * a;
                mx[a] = -INFINITY;
FQ_UNROLL
                for (int b = 0; b < FQ_RK; ++b) {
                    const int j = j0 + gk + FQ_NGK * b;
                    const bool ok = j < s1 && (!causal || j <= n_past + t);
                    s[a][b] = ok ? (FQ_FOLD ? s[a][b] : s[a][b] * scale) : -INFINITY;
                    mx[a] = fmax(mx[a], s[a][b]);
                }
            }
        }
        vstore4((float4)(mx[0], mx[1], mx[2], mx[3]), 0, red + gk * FQ_PS + gq * 4);
#if FQ_LAZY
        if (mx[0] > m_run[0] + FQ_LAZY_T || mx[1] > m_run[1] + FQ_LAZY_T || mx[2] > m_run[2] + FQ_LAZY_T ||
            mx[3] > m_run[3] + FQ_LAZY_T)
            grew[gq] = tile_no; // (every writer writes the same value)
#endif
        barrier(CLK_LOCAL_MEM_FENCE); // maxima visible; K no longer read

#if FQ_LAZY
        // the row group's max moves only when one of its work-items saw it outgrown
        if (grew[gq] == tile_no) {
            float m_new[4];
            FQ_ROW_GROUP_MAX(m_new)
FQ_UNROLL
            for (int a = 0; a < 4; ++a) {
                const float al = m_run[a] == -INFINITY ? 0.0f : exp2(FQ_EXPD(m_run[a] - m_new[a]));
                m_run[a] = m_new[a];
                l_part[a] *= al;
FQ_UNROLL
                for (int b = 0; b < FQ_DPW; ++b) acc[a][b] *= al;
            }
        }
        ++tile_no;
FQ_UNROLL
        for (int a = 0; a < 4; ++a) {
            float sum = 0.0f;
#if FQ_FOLD
            // a row with no key seen yet has only masked scores: exp2(-inf - inf) = 0, one select a row
            const float mr = m_run[a] == -INFINITY ? INFINITY : m_run[a];
FQ_UNROLL
            for (int b = 0; b < FQ_RK; ++b) {
                s[a][b] = exp2(s[a][b] - mr);
                sum += s[a][b];
            }
#else
FQ_UNROLL
            for (int b = 0; b < FQ_RK; ++b) {
                s[a][b] = m_run[a] == -INFINITY ? 0.0f : exp2(FQ_EXPD(s[a][b] - m_run[a]));
                sum += s[a][b];
            }
#endif
            l_part[a] += sum;
        }
#else
        // online softmax in registers: every work-item of a row group finds the same new max
        float m_new[4], al[4];
        FQ_ROW_GROUP_MAX(m_new)
FQ_UNROLL
        for (int a = 0; a < 4; ++a) {
            al[a] = m_run[a] == -INFINITY ? 0.0f : exp2(FQ_EXPD(m_run[a] - m_new[a]));
            m_run[a] = m_new[a];
            float sum = 0.0f;
FQ_UNROLL
            for (int b = 0; b < FQ_RK; ++b) {
                s[a][b] = m_new[a] == -INFINITY ? 0.0f : exp2(FQ_EXPD(s[a][b] - m_new[a]));
                sum += s[a][b];
            }
            l_part[a] = l_part[a] * al[a] + sum;
FQ_UNROLL
            for (int b = 0; b < FQ_DPW; ++b) acc[a][b] *= al[a];
        }
#endif
FQ_UNROLL
        for (int b = 0; b < FQ_RK; ++b)
            vstore4((float4)(s[0][b], s[1][b], s[2][b], s[3][b]), 0, P + (gk + FQ_NGK * b) * FQ_PS + gq * 4);

        // O += P V, FQ_VK keys of V at a time
        for (int vs = 0; vs < FQ_BN; vs += FQ_VK) {
            if (vs > 0) barrier(CLK_LOCAL_MEM_FENCE); // the last V keys read
#if FQ_PF
            FQ_PF_STORE(KV, FQ_QS, FQ_CVT_V, FQ_VK, FA_D)
            barrier(CLK_LOCAL_MEM_FENCE); // P and V visible
            if (vs + FQ_VK < FQ_BN) { // the next stage: V's next keys, else the next tile's first K dims
                FQ_PF_LOAD(vh, v_nb.s1, v_nb.s0, FQ_RAW_V, j0 + vs + FQ_VK, FQ_VK, 0, FA_D, s1)
            } else {
                int sp = span, nj0 = j0, ns1 = s1;
                FQ_NEXT_TILE(sp, nj0, ns1);
                if (nj0 < ns1) {
                    FQ_PF_LOAD(kh, k_nb.s1, k_nb.s0, FQ_RAW_K, nj0, FQ_BN, 0, FQ_DC, ns1)
                }
            }
#else
            FQ_STAGE(KV, FQ_QS, vh, v_nb.s1, v_nb.s0, TLOAD_V4, TLOAD_V, j0 + vs, FQ_VK, 0, FA_D, s1)
            barrier(CLK_LOCAL_MEM_FENCE); // P and V visible
#endif
FQ_UNROLL_PV_LOOP
            for (int n = 0; n < FQ_VK; ++n) {
                const float4 p = vload4(0, P + (vs + n) * FQ_PS + gq * 4);
FQ_UNROLL
                for (int i = 0; i < FQ_NP; ++i) {
#if FQ_PW == 4
                    const float4 vv = vload4(0, KV + n * FQ_QS + (i * FQ_NGK + gk) * 4);
                    acc[0][i * 4] = fma(p.x, vv.x, acc[0][i * 4]); acc[0][i * 4 + 1] = fma(p.x, vv.y, acc[0][i * 4 + 1]);
                    acc[0][i * 4 + 2] = fma(p.x, vv.z, acc[0][i * 4 + 2]); acc[0][i * 4 + 3] = fma(p.x, vv.w, acc[0][i * 4 + 3]);
                    acc[1][i * 4] = fma(p.y, vv.x, acc[1][i * 4]); acc[1][i * 4 + 1] = fma(p.y, vv.y, acc[1][i * 4 + 1]);
                    acc[1][i * 4 + 2] = fma(p.y, vv.z, acc[1][i * 4 + 2]); acc[1][i * 4 + 3] = fma(p.y, vv.w, acc[1][i * 4 + 3]);
                    acc[2][i * 4] = fma(p.z, vv.x, acc[2][i * 4]); acc[2][i * 4 + 1] = fma(p.z, vv.y, acc[2][i * 4 + 1]);
                    acc[2][i * 4 + 2] = fma(p.z, vv.z, acc[2][i * 4 + 2]); acc[2][i * 4 + 3] = fma(p.z, vv.w, acc[2][i * 4 + 3]);
                    acc[3][i * 4] = fma(p.w, vv.x, acc[3][i * 4]); acc[3][i * 4 + 1] = fma(p.w, vv.y, acc[3][i * 4 + 1]);
                    acc[3][i * 4 + 2] = fma(p.w, vv.z, acc[3][i * 4 + 2]); acc[3][i * 4 + 3] = fma(p.w, vv.w, acc[3][i * 4 + 3]);
#else
                    const float2 vv = vload2(0, KV + n * FQ_QS + (i * FQ_NGK + gk) * 2);
                    acc[0][i * 2] = fma(p.x, vv.x, acc[0][i * 2]); acc[0][i * 2 + 1] = fma(p.x, vv.y, acc[0][i * 2 + 1]);
                    acc[1][i * 2] = fma(p.y, vv.x, acc[1][i * 2]); acc[1][i * 2 + 1] = fma(p.y, vv.y, acc[1][i * 2 + 1]);
                    acc[2][i * 2] = fma(p.z, vv.x, acc[2][i * 2]); acc[2][i * 2 + 1] = fma(p.z, vv.y, acc[2][i * 2 + 1]);
                    acc[3][i * 2] = fma(p.w, vv.x, acc[3][i * 2]); acc[3][i * 2 + 1] = fma(p.w, vv.y, acc[3][i * 2 + 1]);
#endif
                }
            }
        }
    }
    }

    // the row sums: the row group's NGK parts, added in one order by all of its work-items
    barrier(CLK_LOCAL_MEM_FENCE);
    vstore4((float4)(l_part[0], l_part[1], l_part[2], l_part[3]), 0, red + gk * FQ_PS + gq * 4);
    barrier(CLK_LOCAL_MEM_FENCE);
    float4 l = (float4)(0.0f);
FQ_UNROLL_4
    for (int g = 0; g < FQ_NGK; ++g) l += vload4(0, red + g * FQ_PS + gq * 4);
    const float ls[4] = {l.x, l.y, l.z, l.w};
FQ_UNROLL
    for (int a = 0; a < 4; ++a) {
        const int t = t0 + gq + FQ_NGQ * a;
        if (t < 0 || t >= N) continue;
        const float inv = ls[a] == 0.0f ? 0.0f : 1.0f / ls[a]; // no visible key: 0; NaN stays NaN
        global char* orow = o + o_offs + (ulong)h * o_nb.s1 + (ulong)t * o_nb.s2;
FQ_UNROLL
        for (int i = 0; i < FQ_NP; ++i)
FQ_UNROLL
            for (int e = 0; e < FQ_PW; ++e)
                *(global float*)(orow + (ulong)((i * FQ_NGK + gk) * FQ_PW + e) * o_nb.s0) = acc[a][i * FQ_PW + e] * inv;
    }
}
