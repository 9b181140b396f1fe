// mul_mat.cl - dst[m, n, i2, i3] = sum_k a[k, m, i2/r2, i3/r3] * b[k, n, i2, i3]  (ggml mul_mat)
// a: A_TYPE (F32, F16, Q8_0, Q4_0, Q4_1; set by the host with -DA_TYPE=...), b and dst: F32.
// Every tensor goes through its strides. Two kernels:
//   k_mul_mat_tiled: a TM x TN tile of dst per work-group, K in steps of TK through local
//                    memory (a dequantized once per tile), each thread a WM x WN register block.
//   k_mul_mv:        few columns (decode): one work-group per row of a, all columns at once.

#ifndef A_TYPE
#define A_TYPE PA_F32
#endif
#ifndef TM
#define TM 64 // rows of a (m) per tile
#endif
#ifndef TN
#define TN 64 // columns of b (n) per tile
#endif
#ifndef TK
#define TK 32 // k per step: one quantization block
#endif
#ifndef WM
#define WM 4 // outputs per thread along m
#endif
#ifndef WN
#define WN 4 // outputs per thread along n
#endif
#ifndef MV_WG
#define MV_WG 64 // threads per row in k_mul_mv (a power of two)
#endif
#ifndef MV_MAX_N
#define MV_MAX_N 8 // columns k_mul_mv handles at once
#endif

#define TILE_WG ((TM / WM) * (TN / WN))

// Element k of row `row` of a (k < K guaranteed by the caller).
inline float a_elem(global const char* row, ulong nb0, int k) {
#if A_TYPE == PA_F32
    return *(global const float*)(row + (ulong)k * nb0);
#elif A_TYPE == PA_F16
    return load_half(row + (ulong)k * nb0);
#elif A_TYPE == PA_Q8_0
    return deq_q8_0(row + (ulong)(k / QK) * nb0, k % QK);
#elif A_TYPE == PA_Q4_0
    return deq_q4_0(row + (ulong)(k / QK) * nb0, k % QK);
#elif A_TYPE == PA_Q4_1
    return deq_q4_1(row + (ulong)(k / QK) * nb0, k % QK);
#else
#error "unsupported A_TYPE"
#endif
}

// grid: (ceil(M/TM) * TILE_WG, ceil(N/TN), b2 * b3), local (TILE_WG, 1, 1)
kernel __attribute__((reqd_work_group_size(TILE_WG, 1, 1)))
void k_mul_mat_tiled(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global const char* b,
                     ulong b_offs, long4 b_ne, ulong4 b_nb, global char* d, ulong d_offs, long4 d_ne,
                     ulong4 d_nb) {
    local float As[TK][TM + 1];
    local float Bs[TK][TN + 1];
    const int K = (int)a_ne.s0, M = (int)a_ne.s1, N = (int)b_ne.s1;
    const int lid = get_local_id(0);
    const int tx = lid % (TM / WM), ty = lid / (TM / WM);
    const int m0 = get_group_id(0) * TM, n0 = get_group_id(1) * TN;
    const int z = get_group_id(2);
    const int i2 = z % (int)b_ne.s2, i3 = z / (int)b_ne.s2;
    const int a2 = i2 / (int)(b_ne.s2 / a_ne.s2), a3 = i3 / (int)(b_ne.s3 / a_ne.s3);
    global const char* ab = a + a_offs + (ulong)a2 * a_nb.s2 + (ulong)a3 * a_nb.s3;
    global const char* bb = b + b_offs + (ulong)i2 * b_nb.s2 + (ulong)i3 * b_nb.s3;

    float acc[WM][WN];
    for (int i = 0; i < WM; ++i)
        for (int j = 0; j < WN; ++j) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += TK) {
        // stage a tile of a (TM rows x TK) and b (TN columns x TK), zero outside the matrices
        for (int e = lid; e < TM * TK; e += TILE_WG) {
            const int m = e / TK, kk = e % TK;
            const int gm = m0 + m, gk = k0 + kk;
            As[kk][m] = (gm < M && gk < K) ? a_elem(ab + (ulong)gm * a_nb.s1, a_nb.s0, gk) : 0.0f;
        }
        for (int e = lid; e < TN * TK; e += TILE_WG) {
            const int n = e / TK, kk = e % TK;
            const int gn = n0 + n, gk = k0 + kk;
            Bs[kk][n] = (gn < N && gk < K) ? *(global const float*)(bb + (ulong)gn * b_nb.s1 + (ulong)gk * b_nb.s0)
                                           : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TK; ++kk) {
            float av[WM], bv[WN];
            for (int i = 0; i < WM; ++i) av[i] = As[kk][tx + i * (TM / WM)];
            for (int j = 0; j < WN; ++j) bv[j] = Bs[kk][ty + j * (TN / WN)];
            for (int i = 0; i < WM; ++i)
                for (int j = 0; j < WN; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    global char* db = d + d_offs + (ulong)i2 * d_nb.s2 + (ulong)i3 * d_nb.s3;
    for (int i = 0; i < WM; ++i) {
        const int gm = m0 + tx + i * (TM / WM);
        if (gm >= M) continue;
        for (int j = 0; j < WN; ++j) {
            const int gn = n0 + ty + j * (TN / WN);
            if (gn < N) *(global float*)(db + (ulong)gm * d_nb.s0 + (ulong)gn * d_nb.s1) = acc[i][j];
        }
    }
}

// grid: (M * MV_WG, ceil(N / MV_MAX_N), b2 * b3), local (MV_WG, 1, 1)
kernel __attribute__((reqd_work_group_size(MV_WG, 1, 1)))
void k_mul_mv(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global const char* b, ulong b_offs,
              long4 b_ne, ulong4 b_nb, global char* d, ulong d_offs, long4 d_ne, ulong4 d_nb) {
    local float scratch[MV_WG];
    const int K = (int)a_ne.s0, N = (int)b_ne.s1;
    const int m = get_group_id(0);
    const int nc0 = get_group_id(1) * MV_MAX_N;
    const int nc = min(MV_MAX_N, N - nc0);
    const int z = get_group_id(2);
    const int i2 = z % (int)b_ne.s2, i3 = z / (int)b_ne.s2;
    const int a2 = i2 / (int)(b_ne.s2 / a_ne.s2), a3 = i3 / (int)(b_ne.s3 / a_ne.s3);
    global const char* arow = a + a_offs + (ulong)m * a_nb.s1 + (ulong)a2 * a_nb.s2 + (ulong)a3 * a_nb.s3;
    global const char* bb = b + b_offs + (ulong)nc0 * b_nb.s1 + (ulong)i2 * b_nb.s2 + (ulong)i3 * b_nb.s3;

    float acc[MV_MAX_N];
    for (int j = 0; j < MV_MAX_N; ++j) acc[j] = 0.0f;
    for (int k = get_local_id(0); k < K; k += MV_WG) {
        const float av = a_elem(arow, a_nb.s0, k);
        for (int j = 0; j < nc; ++j)
            acc[j] = fma(av, *(global const float*)(bb + (ulong)j * b_nb.s1 + (ulong)k * b_nb.s0), acc[j]);
    }
    global char* db = d + d_offs + (ulong)m * d_nb.s0 + (ulong)i2 * d_nb.s2 + (ulong)i3 * d_nb.s3;
    for (int j = 0; j < nc; ++j) {
        const float s = wg_sum(scratch, acc[j]);
        if (get_local_id(0) == 0) *(global float*)(db + (ulong)(nc0 + j) * d_nb.s1) = s;
    }
}
