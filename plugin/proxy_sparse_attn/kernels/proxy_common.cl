// proxy_common.cl - what the estimators' programs share on the device; the host puts it after
// proxy_det.cl in front of proxy_estimate.cl, proxy_sort.cl and (with estimator_common.cl)
// xattn.cl and flex.cl (ocl/program_text.cpp), so it is not a program by itself.
//   LOAD_K        one element of the K tensor as float (K_F16: f16 storage, else f32)
//   tri_of        offset of row m in a triangular [row][0..row] array that starts at row0
//   forced_of     forced blocks of row m (sink and diagonal; one on row 0)
//   comes_first   the order of every ranking: higher value first, equal values by lower index
//   bitonic_sort  that order in local memory, by one work-group of LS items
#pragma OPENCL FP_CONTRACT OFF

#ifndef K_F16
#define K_F16 0 // element type of K: 0 f32, 1 f16
#endif
#ifndef LS
#define LS 128 // work-group size of the sorting kernels
#endif

#if K_F16
#define LOAD_K(p) vload_half(0, (__global const half*)(p))
#else
#define LOAD_K(p) (*(__global const float*)(p))
#endif

inline long tri_of(long m, long row0) { return m * (m + 1) / 2 - row0 * (row0 + 1) / 2; }
inline int forced_of(int force, int m) { return force ? (m == 0 ? 1 : 2) : 0; }

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
