// flash_attn_tiled_common.cl - what the portable register-tiled attention kernels share; the host
// puts it between common.cl and flash_attn_tiled.cl or flash_attn_tiled_q.cl (opencl/context.cpp):
// the options' defaults (head dim, K and V element types, block-sparse, 4-dim loads) and the
// element loads of K and V as float (TLOAD_K / TLOAD_V, 4 at a time TLOAD_K4 / TLOAD_V4).

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
