// flash_attn_tiled_common.cl - what the portable register-tiled attention kernels share; the host
// puts it between common.cl and flash_attn_tiled.cl or flash_attn_tiled_q.cl (opencl/context.cpp):
// the options' defaults (head dim, K and V element types, block-sparse, 4-dim loads), the
// element loads of K and V as float (TLOAD_K / TLOAD_V, 4 at a time TLOAD_K4 / TLOAD_V4) and where
// a mask row's kept blocks are (FA_SPARSE).

#ifndef FA_D
#define FA_D 128
#endif
#ifndef FA_K_F16
#define FA_K_F16 0
#endif
#ifndef FA_V_F16
#define FA_V_F16 0
#endif
#ifndef FA_SPARSE
#define FA_SPARSE 0
#endif
#ifndef FA_VEC
#define FA_VEC 0
#endif

#if FA_K_F16
#define TLOAD_K(p) load_half(p)
#define TLOAD_K4(p) vload_half4(0, (global const half*)(p))
#else
#define TLOAD_K(p) (*(global const float*)(p))
#define TLOAD_K4(p) vload4(0, (global const float*)(p))
#endif
#if FA_V_F16
#define TLOAD_V(p) load_half(p)
#define TLOAD_V4(p) vload_half4(0, (global const half*)(p))
#else
#define TLOAD_V(p) (*(global const float*)(p))
#define TLOAD_V4(p) vload4(0, (global const float*)(p))
#endif

// Mask row m of head h in build_mask's layout (counts [H][n_rows]; blocks [H][tri_total], row m's
// kept blocks ascending from tri(m) - tri(row0), tri(x) = x (x + 1) / 2): how many, and where.
inline int fa_mask_count(global const int* counts, int h, int m, int row0, int n_rows) {
    return counts[(long)h * n_rows + (m - row0)];
}
inline global const int* fa_mask_list(global const int* blocks, int h, int m, int row0, long tri_total) {
    return blocks + (long)h * tri_total + ((long)m * (m + 1) / 2 - (long)row0 * (row0 + 1) / 2);
}
