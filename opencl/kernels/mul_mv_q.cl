// mul_mv_q.cl - decode-shaped mul_mat with quantized a: dst[m, n, i2, i3] = sum_k a[k, m] * b[k, n]
// for a few columns n (N <= MVQ_N per work-group column), a Q8_0 / Q4_0 / Q4_1 (A_TYPE) with
// packed blocks along k, b and dst F32 with unit stride along k / m.
// MVQ_LANES lanes share a row: each lane takes whole 32-element blocks (block kb for lanes
// kb % MVQ_LANES), reads the block's scale once and its quants as one vector, and dots them
// with 32 floats of b; the lanes of a row then add up through local memory. A work-group holds
// MVQ_WG / MVQ_LANES rows. So one row's bytes are read once, in block-sized pieces, with no
// per-element block arithmetic. With MVQ_EPI, the lane that writes dst also writes e = r + dst
// or silu(r) * dst (r and e shaped as dst), r itself a second product of the same b (SwiGLU's
// gate beside its up product) with MVQ_EPI 3.

#ifndef A_TYPE
#define A_TYPE PA_Q8_0
#endif
#ifndef MVQ_WG
#define MVQ_WG 64 // threads per work-group (a multiple of MVQ_LANES)
#endif
#ifndef MVQ_LANES
#define MVQ_LANES 16 // threads per row (a power of two)
#endif
#ifndef MVQ_N
#define MVQ_N 4 // columns of b per work-group
#endif

#ifndef MVQ_EPI
// nodes after the product in the same launch (fused.h): 1 e = r + dst, 2 e = silu(r) * dst,
// 3 r = the product of weights g (shaped as a) with b, then e = silu(r) * dst, 4 e = a copy of
// dst through a permuted view of its packed elements (sizes v_ne, strides v_st in elements; F32
// or, with e_f16, F16 at e's strides)
#define MVQ_EPI 0
#endif

#define MVQ_ROWS (MVQ_WG / MVQ_LANES)

// sum_{j < 32} w_j * x[j] of one block, w its dequantized weights.
inline float block_dot(global const char* blk, global const float* x) {
    const float4 x0 = vload4(0, x), x1 = vload4(1, x), x2 = vload4(2, x), x3 = vload4(3, x);
    const float4 x4 = vload4(4, x), x5 = vload4(5, x), x6 = vload4(6, x), x7 = vload4(7, x);
    const float d = load_half(blk);
#if A_TYPE == PA_Q8_0
    const float16 lo = convert_float16(vload16(0, (global const char*)(blk + 2)));
    const float16 hi = convert_float16(vload16(1, (global const char*)(blk + 2)));
    const float4 s = lo.s0123 * x0 + lo.s4567 * x1 + lo.s89ab * x2 + lo.scdef * x3 + hi.s0123 * x4 +
                     hi.s4567 * x5 + hi.s89ab * x6 + hi.scdef * x7;
    return d * (s.x + s.y + s.z + s.w);
#elif A_TYPE == PA_Q4_0 || A_TYPE == PA_Q4_1
#if A_TYPE == PA_Q4_0
    const uchar16 q = vload16(0, (global const uchar*)(blk + 2));
#else
    const uchar16 q = vload16(0, (global const uchar*)(blk + 4));
#endif
    // elements 0..15: low nibbles, 16..31: high nibbles
    const float16 lo = convert_float16(q & (uchar16)15);
    const float16 hi = convert_float16(q >> (uchar16)4);
    const float4 s = lo.s0123 * x0 + lo.s4567 * x1 + lo.s89ab * x2 + lo.scdef * x3 + hi.s0123 * x4 +
                     hi.s4567 * x5 + hi.s89ab * x6 + hi.scdef * x7;
    const float4 t = (x0 + x1 + x2 + x3) + (x4 + x5 + x6 + x7); // sum of x, for the offset
    const float dot = s.x + s.y + s.z + s.w, sum_x = t.x + t.y + t.z + t.w;
#if A_TYPE == PA_Q4_0
    return d * (dot - 8.0f * sum_x); // x = d * (nibble - 8)
#else
    return d * dot + load_half(blk + 2) * sum_x; // x = d * nibble + m
#endif
#else
#error "mul_mv_q.cl: A_TYPE must be Q8_0, Q4_0 or Q4_1"
#endif
}

// This lane's share (blocks lane, lane + MVQ_LANES, ...) of the dot products of one weight row
// (blocks blk_bytes apart) with the nc columns of b at bb, into part[j][lid].
inline void lane_dots(global const char* row, ulong blk_bytes, global const char* bb, ulong b_nb1, int nc, int lane,
                      int blocks, int lid, local float (*part)[MVQ_WG]) {
    float acc[MVQ_N];
    for (int j = 0; j < MVQ_N; ++j) acc[j] = 0.0f;
    for (int kb = lane; kb < blocks; kb += MVQ_LANES) {
        global const char* blk = row + (ulong)kb * blk_bytes;
        for (int j = 0; j < MVQ_N; ++j)
            if (j < nc) acc[j] += block_dot(blk, (global const float*)(bb + (ulong)j * b_nb1) + kb * QK);
    }
    for (int j = 0; j < MVQ_N; ++j) part[j][lid] = acc[j];
}

// grid: (ceil(M / MVQ_ROWS) * MVQ_WG, ceil(N / MVQ_N), b2 * b3), local (MVQ_WG, 1, 1)
kernel __attribute__((reqd_work_group_size(MVQ_WG, 1, 1)))
void k_mul_mv_q(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global const char* b,
                ulong b_offs, long4 b_ne, ulong4 b_nb, global char* d, ulong d_offs, long4 d_ne, ulong4 d_nb,
                global char* r, ulong r_offs, ulong4 r_nb, global char* e, ulong e_offs, ulong4 e_nb,
                global const char* g, ulong g_offs, ulong4 g_nb, long4 v_ne, long4 v_st, int e_f16) {
    local float partial[MVQ_N][MVQ_WG];
#if MVQ_EPI == 3
    local float partial_g[MVQ_N][MVQ_WG];
#endif
    const int lid = get_local_id(0), lane = lid % MVQ_LANES;
    const int m = get_group_id(0) * MVQ_ROWS + lid / MVQ_LANES;
    const int M = (int)a_ne.s1, N = (int)b_ne.s1, blocks = (int)(a_ne.s0 / QK);
    const int n0 = get_group_id(1) * MVQ_N, nc = min(MVQ_N, N - n0);
    const int z = get_group_id(2);
    const int i2 = z % (int)b_ne.s2, i3 = z / (int)b_ne.s2;
    const int a2 = i2 / (int)(b_ne.s2 / a_ne.s2), a3 = i3 / (int)(b_ne.s3 / a_ne.s3);
    global const char* arow = a + a_offs + (ulong)min(m, M - 1) * a_nb.s1 + (ulong)a2 * a_nb.s2 + (ulong)a3 * a_nb.s3;
    global const char* bb = b + b_offs + (ulong)n0 * b_nb.s1 + (ulong)i2 * b_nb.s2 + (ulong)i3 * b_nb.s3;

    lane_dots(arow, a_nb.s0, bb, b_nb.s1, nc, lane, blocks, lid, partial);
#if MVQ_EPI == 3 // the same for the rows of g
    global const char* grow = g + g_offs + (ulong)min(m, M - 1) * g_nb.s1 + (ulong)a2 * g_nb.s2 + (ulong)a3 * g_nb.s3;
    lane_dots(grow, g_nb.s0, bb, b_nb.s1, nc, lane, blocks, lid, partial_g);
#endif
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = MVQ_LANES / 2; w > 0; w >>= 1) {
        if (lane < w)
            for (int j = 0; j < MVQ_N; ++j) {
                partial[j][lid] += partial[j][lid + w];
#if MVQ_EPI == 3
                partial_g[j][lid] += partial_g[j][lid + w];
#endif
            }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lane == 0 && m < M) {
        global char* db = d + d_offs + (ulong)m * d_nb.s0 + (ulong)i2 * d_nb.s2 + (ulong)i3 * d_nb.s3;
        for (int j = 0; j < nc; ++j) *(global float*)(db + (ulong)(n0 + j) * d_nb.s1) = partial[j][lid];
#if MVQ_EPI == 4
        for (int j = 0; j < nc; ++j) {
            const long f = m + (long)(n0 + j) * M; // flat index in the packed product
            const ulong off = (ulong)((f / v_st.s0) % v_ne.s0) * e_nb.s0 + (ulong)((f / v_st.s1) % v_ne.s1) * e_nb.s1 +
                              (ulong)((f / v_st.s2) % v_ne.s2) * e_nb.s2 + (ulong)((f / v_st.s3) % v_ne.s3) * e_nb.s3;
            if (e_f16)
                vstore_half(partial[j][lid], 0, (global half*)(e + e_offs + off));
            else
                *(global float*)(e + e_offs + off) = partial[j][lid];
        }
#elif MVQ_EPI
        global char* rb = r + r_offs + (ulong)m * r_nb.s0 + (ulong)i2 * r_nb.s2 + (ulong)i3 * r_nb.s3;
        global char* eb = e + e_offs + (ulong)m * e_nb.s0 + (ulong)i2 * e_nb.s2 + (ulong)i3 * e_nb.s3;
        for (int j = 0; j < nc; ++j) {
#if MVQ_EPI == 3
            const float x = partial_g[j][lid];
            *(global float*)(rb + (ulong)(n0 + j) * r_nb.s1) = x;
#else
            const float x = *(global const float*)(rb + (ulong)(n0 + j) * r_nb.s1);
#endif
#if MVQ_EPI == 1
            const float y = x + partial[j][lid];
#else
            const float y = x / (1.0f + exp(-x)) * partial[j][lid]; // as elementwise.cl's k_swiglu
#endif
            *(global float*)(eb + (ulong)(n0 + j) * e_nb.s1) = y;
        }
#endif
    }
}
