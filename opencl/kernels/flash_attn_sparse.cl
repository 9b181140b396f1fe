// flash_attn_sparse.cl - block-sparse causal flash attention over a block mask (the row kernel:
// any head dim and block size; flash_attn_tiled.cl and flash_attn_mma.cl are the fast paths).
//
// One work-group = BLOCK_Q consecutive queries of one query block (row m) of one head; one
// work-item = one query. The group walks the row's kept blocks in ascending order (the CSR
// mask of pa/block_sparse.h: counts[h][row], blocks[h][tri(m) ..]), stages TILE_K keys and
// values at a time in local memory (f16 via vload_half),
// and keeps an online softmax (base 2 on score differences; a score is scale * (q . k), as the
// CPU reference forms it: q pre-scaled by a huge scale would overflow). Causal inside the
// diagonal block: query p sees keys j <= p. GQA: head h reads kv head h / gqa.
// Output: dst [HEAD_DIM, H, N] f32, query t = p - n_past.
#ifndef HEAD_DIM
#define HEAD_DIM 64
#endif
#ifndef BLOCK_Q
#define BLOCK_Q 32
#endif
#ifndef TILE_K
#define TILE_K 32
#endif
#ifndef K_F16
#define K_F16 0
#endif
#ifndef V_F16
#define V_F16 0
#endif

#define LOAD_F32(p) (*(__global const float*)(p))
#define LOAD_F16(p) vload_half(0, (__global const half*)(p))
#if K_F16
#define LOAD_K LOAD_F16
#else
#define LOAD_K LOAD_F32
#endif
#if V_F16
#define LOAD_V LOAD_F16
#else
#define LOAD_V LOAD_F32
#endif

#define LOG2E 1.44269504088896341f

inline long tri_of(long m, long row0) { return m * (m + 1) / 2 - row0 * (row0 + 1) / 2; }

__kernel void k_flash_attn_sparse(__global const uchar* q, ulong q_offs, long4 q_ne, ulong4 q_nb,
                                  __global const uchar* k, ulong k_offs, long4 k_ne, ulong4 k_nb,
                                  __global const uchar* v, ulong v_offs, long4 v_ne, ulong4 v_nb,
                                  __global uchar* dst, ulong d_offs, long4 d_ne, ulong4 d_nb,
                                  __global const int* counts, __global const int* blocks, long n_past, long n_keys,
                                  int B, int row0, int n_rows, int gqa, float scale) {
    __local float ks[TILE_K * HEAD_DIM];
    __local float vs[TILE_K * HEAD_DIM];
    const int lid = get_local_id(0), tile = get_group_id(0), row = get_group_id(1), h = get_group_id(2);
    const int m = row0 + row;
    const long rb = max((long)m * B, n_past), re = min((long)(m + 1) * B, n_keys);
    const long p0 = (long)m * B + (long)tile * BLOCK_Q;
    if (p0 + BLOCK_Q <= rb || p0 >= re) return; // whole group outside the row
    const long p = p0 + lid;
    const bool valid = p >= rb && p < re;
    const long p_hi = min(p0 + BLOCK_Q, re) - 1; // last key any query of the group sees
    const int hk = h / gqa;

    float qv[HEAD_DIM], acc[HEAD_DIM];
    {
        __global const uchar* qrow = q + q_offs + (valid ? p - n_past : 0) * q_nb.s1 + h * q_nb.s2;
        for (int c = 0; c < HEAD_DIM; ++c) {
            qv[c] = valid ? LOAD_F32(qrow + c * q_nb.s0) : 0.0f;
            acc[c] = 0.0f;
        }
    }
    float mrun = -INFINITY, l = 0.0f;
    const long tt = tri_of(row0 + n_rows, row0);
    const int cnt = counts[(long)h * n_rows + row];
    __global const int* list = blocks + (long)h * tt + tri_of(m, row0);
    __global const uchar* kbase = k + k_offs + hk * k_nb.s2;
    __global const uchar* vbase = v + v_offs + hk * v_nb.s2;

    for (int c = 0; c < cnt; ++c) {
        const long n = list[c];
        const long j0 = n * B, j1 = min(j0 + B, p_hi + 1);
        for (long k0 = j0; k0 < j1; k0 += TILE_K) {
            const int nk = (int)min((long)TILE_K, j1 - k0);
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int e = lid; e < TILE_K * HEAD_DIM; e += BLOCK_Q) {
                const int kk = e / HEAD_DIM, cc = e % HEAD_DIM;
                const bool in = kk < nk;
                ks[e] = in ? LOAD_K(kbase + (k0 + kk) * k_nb.s1 + cc * k_nb.s0) : 0.0f;
                vs[e] = in ? LOAD_V(vbase + (k0 + kk) * v_nb.s1 + cc * v_nb.s0) : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            if (!valid) continue;
            float s[TILE_K];
            float tmax = -INFINITY;
            for (int kk = 0; kk < nk; ++kk) {
                float dotv = 0.0f;
                for (int cc = 0; cc < HEAD_DIM; ++cc) dotv += qv[cc] * ks[kk * HEAD_DIM + cc];
                s[kk] = k0 + kk <= p ? dotv * scale : -INFINITY;
                tmax = fmax(tmax, s[kk]);
            }
            if (tmax == -INFINITY) continue; // every key of the tile is in this query's future
            const float mnew = fmax(mrun, tmax);
            const float corr = exp2((mrun - mnew) * LOG2E);
            // the tile's sums start from zero and join the running ones once: long runs of tiny
            // additions into a large accumulator would lose ~1e-5 at 16K keys
            float lt = 0.0f;
            for (int kk = 0; kk < nk; ++kk) {
                s[kk] = exp2((s[kk] - mnew) * LOG2E);
                lt += s[kk];
            }
            l = l * corr + lt;
            for (int cc = 0; cc < HEAD_DIM; ++cc) {
                float t = 0.0f;
                for (int kk = 0; kk < nk; ++kk) t += s[kk] * vs[kk * HEAD_DIM + cc];
                acc[cc] = acc[cc] * corr + t;
            }
            mrun = mnew;
        }
    }
    if (!valid) return;
    const float inv = 1.0f / l;
    __global uchar* out = dst + d_offs + h * d_nb.s1 + (p - n_past) * d_nb.s2;
    for (int c = 0; c < HEAD_DIM; ++c) *(__global float*)(out + c * d_nb.s0) = acc[c] * inv;
}
