// cpy.cl - cpy/cont: src converted into dst's type and strides. With equal shapes element
// (i0..i3) goes to (i0..i3); otherwise (both contiguous) elements keep their flat order.
// Quantization mirrors the CPU reference bit for bit: no contraction into fma, correctly
// rounded division where the device offers it (the host passes the build flag).
#pragma OPENCL FP_CONTRACT OFF

// Source element of destination element (i0..i3), flat index f = i0 + ne0*(i1 + ...).
inline global const char* cpy_src(global const char* s, long4 s_ne, ulong4 s_nb, int same, int4 c, long4 d_ne) {
    if (same) return s + off4(s_nb, c.s0, c.s1, c.s2, c.s3);
    long f = c.s0 + d_ne.s0 * (c.s1 + d_ne.s1 * (c.s2 + d_ne.s2 * (long)c.s3));
    const long j0 = f % s_ne.s0;
    f /= s_ne.s0;
    const long j1 = f % s_ne.s1;
    f /= s_ne.s1;
    const long j2 = f % s_ne.s2;
    return s + off4(s_nb, j0, j1, j2, f / s_ne.s2);
}

// A plain-type source element (F32, F16, I32) as float; I32 rounds to nearest like a C cast.
inline float cpy_load_plain(int type, global const char* p) {
    if (type == PA_F16) return load_half(p);
    if (type == PA_I32) return (float)*(global const int*)p;
    return *(global const float*)p;
}

inline int4 cpy_coords(long i, long4 ne) {
    int4 c;
    c.s0 = (int)(i % ne.s0);
    i /= ne.s0;
    c.s1 = (int)(i % ne.s1);
    i /= ne.s1;
    c.s2 = (int)(i % ne.s2);
    c.s3 = (int)(i / ne.s2);
    return c;
}

// Plain destination (F32, F16, I32), one work item per element. Same types copy bits; other
// pairs convert through float (block-type sources dequantize; then shapes are equal; I32
// converts only to float types).
kernel void k_cpy_elem(global const char* s, ulong s_offs, long4 s_ne, ulong4 s_nb, int s_type, global char* d,
                       ulong d_offs, long4 d_ne, ulong4 d_nb, int d_type, int same, long n) {
    const long i = get_global_id(0);
    if (i >= n) return;
    const int4 c = cpy_coords(i, d_ne);
    global char* dp = d + d_offs + off4(d_nb, c.s0, c.s1, c.s2, c.s3);
    if (s_type == d_type) {
        global const char* sp = cpy_src(s + s_offs, s_ne, s_nb, same, c, d_ne);
        if (d_type == PA_F16) *(global ushort*)dp = *(global const ushort*)sp;
        else *(global uint*)dp = *(global const uint*)sp;
        return;
    }
    float v;
    if (s_type == PA_Q8_0 || s_type == PA_Q4_0 || s_type == PA_Q4_1) {
        v = load_elem(s_type, s + s_offs + off4(s_nb, 0, c.s1, c.s2, c.s3), s_nb.s0, c.s0);
    } else {
        v = cpy_load_plain(s_type, cpy_src(s + s_offs, s_ne, s_nb, same, c, d_ne));
    }
    if (d_type == PA_F16) store_half(dp, v);
    else *(global float*)dp = v;
}

// Block destination (Q8_0, Q4_0, Q4_1) from F32/F16/I32, one work item per destination block.
kernel void k_cpy_quant(global const char* s, ulong s_offs, long4 s_ne, ulong4 s_nb, int s_type, global char* d,
                        ulong d_offs, long4 d_ne, ulong4 d_nb, int d_type, int same, long n_blocks) {
    const long ib = get_global_id(0);
    if (ib >= n_blocks) return;
    const long blocks_per_row = d_ne.s0 / QK;
    const long4 rc = row_coords(ib / blocks_per_row, d_ne);
    const int4 c = (int4)((int)(ib % blocks_per_row) * QK, (int)rc.s1, (int)rc.s2, (int)rc.s3);
    global char* blk = d + d_offs + off4(d_nb, c.s0 / QK, c.s1, c.s2, c.s3);

    float x[QK];
    for (int j = 0; j < QK; ++j) {
        int4 cj = c;
        cj.s0 += j;
        x[j] = cpy_load_plain(s_type, cpy_src(s + s_offs, s_ne, s_nb, same, cj, d_ne));
    }
    if (d_type == PA_Q8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK; ++j) amax = fmax(amax, fabs(x[j]));
        const float dd = amax / 127.0f;
        const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
        store_half(blk, dd);
        global char* qs = blk + 2;
        for (int j = 0; j < QK; ++j) qs[j] = (char)convert_int(round(x[j] * id));
    } else if (d_type == PA_Q4_0) {
        float amax = 0.0f, vmax = 0.0f; // the element of largest magnitude (first on ties) maps to -8
        for (int j = 0; j < QK; ++j)
            if (fabs(x[j]) > amax) {
                amax = fabs(x[j]);
                vmax = x[j];
            }
        const float dd = vmax / -8.0f;
        const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
        store_half(blk, dd);
        global uchar* qs = (global uchar*)(blk + 2);
        for (int j = 0; j < QK / 2; ++j) {
            const int lo = clamp((int)(x[j] * id + 8.5f), 0, 15);
            const int hi = clamp((int)(x[j + QK / 2] * id + 8.5f), 0, 15);
            qs[j] = (uchar)(lo | (hi << 4));
        }
    } else { // PA_Q4_1
        float lo = x[0], hi = x[0];
        for (int j = 1; j < QK; ++j) {
            lo = fmin(lo, x[j]);
            hi = fmax(hi, x[j]);
        }
        const float dd = (hi - lo) / 15.0f;
        const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
        store_half(blk, dd);
        store_half(blk + 2, lo);
        global uchar* qs = (global uchar*)(blk + 4);
        for (int j = 0; j < QK / 2; ++j) {
            const int a = clamp((int)((x[j] - lo) * id + 0.5f), 0, 15);
            const int b = clamp((int)((x[j + QK / 2] - lo) * id + 0.5f), 0, 15);
            qs[j] = (uchar)(a | (b << 4));
        }
    }
}

// Same block type, equal shapes: one work item per block, bytes copied.
kernel void k_cpy_blocks(global const char* s, ulong s_offs, ulong4 s_nb, global char* d, ulong d_offs, long4 d_ne,
                         ulong4 d_nb, int block_bytes, long n_blocks) {
    const long ib = get_global_id(0);
    if (ib >= n_blocks) return;
    const int4 c = cpy_coords(ib, d_ne); // d_ne.s0 counts blocks here
    global const char* sp = s + s_offs + off4(s_nb, c.s0, c.s1, c.s2, c.s3);
    global char* dp = d + d_offs + off4(d_nb, c.s0, c.s1, c.s2, c.s3);
    for (int j = 0; j < block_bytes; ++j) dp[j] = sp[j];
}
