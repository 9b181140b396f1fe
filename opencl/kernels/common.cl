// common.cl - prepended to every program: tensor addressing, element loads, quantized blocks.
// Tensors arrive as (global char* base, ulong offs) and, when strides matter, (long4 ne,
// ulong4 nb) with ggml meaning: ne = elements per dimension, nb = byte strides.

#define PA_F32 0
#define PA_F16 1
#define PA_Q4_0 2
#define PA_Q4_1 3
#define PA_Q8_0 8
#define PA_I32 26

#define QK 32 // elements per quantization block

// GGUF block layouts (see include/pa/types.h); half fields are read with vload_half.
typedef struct { ushort d; char qs[QK]; } block_q8_0;            // x = d * q
typedef struct { ushort d; uchar qs[QK / 2]; } block_q4_0;       // x = d * (nibble - 8)
typedef struct { ushort d; ushort m; uchar qs[QK / 2]; } block_q4_1; // x = d * nibble + m

#define Q8_0_BYTES 34
#define Q4_0_BYTES 18
#define Q4_1_BYTES 20

inline global char* at(global char* base, ulong offs) { return base + offs; }
inline global const char* at_c(global const char* base, ulong offs) { return base + offs; }

// Byte offset of element (i0, i1, i2, i3); for block types i0 counts blocks.
inline ulong off4(ulong4 nb, long i0, long i1, long i2, long i3) {
    return (ulong)i0 * nb.s0 + (ulong)i1 * nb.s1 + (ulong)i2 * nb.s2 + (ulong)i3 * nb.s3;
}

inline float load_half(global const char* p) { return vload_half(0, (global const half*)p); }
inline void store_half(global char* p, float v) { vstore_half(v, 0, (global half*)p); }

// Element i (0..31) of a quantized block.
inline float deq_q8_0(global const char* blk, int i) {
    return load_half(blk) * (float)((global const char*)(blk + 2))[i];
}
inline float deq_q4_0(global const char* blk, int i) {
    const uchar q = ((global const uchar*)(blk + 2))[i & 15];
    const int n = i < 16 ? (q & 15) : (q >> 4);
    return load_half(blk) * ((float)n - 8.0f);
}
inline float deq_q4_1(global const char* blk, int i) {
    const uchar q = ((global const uchar*)(blk + 4))[i & 15];
    const int n = i < 16 ? (q & 15) : (q >> 4);
    return load_half(blk) * (float)n + load_half(blk + 2);
}

// Element i0 of a row of any supported type (row = address of the row's first byte,
// nb0 = element stride for plain types, block size for block types).
inline float load_elem(int type, global const char* row, ulong nb0, long i0) {
    switch (type) {
    case PA_F16: return load_half(row + (ulong)i0 * nb0);
    case PA_Q8_0: return deq_q8_0(row + (ulong)(i0 / QK) * nb0, (int)(i0 % QK));
    case PA_Q4_0: return deq_q4_0(row + (ulong)(i0 / QK) * nb0, (int)(i0 % QK));
    case PA_Q4_1: return deq_q4_1(row + (ulong)(i0 / QK) * nb0, (int)(i0 % QK));
    case PA_I32: return (float)*(global const int*)(row + (ulong)i0 * nb0);
    default: return *(global const float*)(row + (ulong)i0 * nb0);
    }
}

// Splits a flat row index into (i1, i2, i3) of a shape.
inline long4 row_coords(long r, long4 ne) {
    long4 c;
    c.s0 = 0;
    c.s1 = r % ne.s1;
    c.s2 = (r / ne.s1) % ne.s2;
    c.s3 = r / (ne.s1 * ne.s2);
    return c;
}

// Work-group reductions over local scratch of get_local_size(0) floats (a power of two).
inline float wg_sum(local float* s, float v) {
    const int l = get_local_id(0), n = get_local_size(0);
    s[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = n / 2; w > 0; w >>= 1) {
        if (l < w) s[l] += s[l + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

// RoPE's rotation (rope.cl, fused.cl): pair p of the token at position pos turns by
// pos * theta^(-2p / n_dims); with PA_FP64 (cl_khr_fp64) the angle and the products run in double
// like the CPU reference (for long contexts the float angle loses ~pos * 6e-8 rad).
#ifdef PA_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double rope_real;
#else
typedef float rope_real;
#endif
// The angle's cosine and sine, computed once where several heads of a token share the pair
// (rope.cl: the trigonometry in double is most of a prefill rope's time), and their use.
typedef struct {
    rope_real c, s;
} rope_cs;
inline rope_cs rope_angle(int p, int pos, float theta, int n_dims) {
    const rope_real angle = (rope_real)pos * pow((rope_real)theta, (rope_real)(-2) * (rope_real)p / (rope_real)n_dims);
    rope_cs r;
    r.c = cos(angle);
    r.s = sin(angle);
    return r;
}
inline float2 rope_apply(float x0, float x1, rope_cs r) {
    return (float2)((float)((rope_real)x0 * r.c - (rope_real)x1 * r.s), (float)((rope_real)x0 * r.s + (rope_real)x1 * r.c));
}
inline float2 rope_rotate(float x0, float x1, int p, int pos, float theta, int n_dims) {
    return rope_apply(x0, x1, rope_angle(p, pos, theta, n_dims));
}

// Element (c0, c1, c2) of a rope result also stored into s (F32 or F16) as cpy does for a permuted
// view of it: at coordinates j_k = c_perm[k] (fused.cl's k_rope_store: the KV cache).
inline void rope_store_to(global char* s, ulong s_offs, ulong4 s_nb, int4 perm, int s_f16, int c0, int c1, int c2,
                          float v) {
    const int c[4] = {c0, c1, c2, 0};
    global char* p = s + s_offs + (ulong)c[perm.s0] * s_nb.s0 + (ulong)c[perm.s1] * s_nb.s1 +
                     (ulong)c[perm.s2] * s_nb.s2 + (ulong)c[perm.s3] * s_nb.s3;
    if (s_f16)
        store_half(p, v);
    else
        *(global float*)p = v;
}

// Rope of x [d, H, N, 1] (a) into d for pair p of token t, every head: normal mode pairs (2i,
// 2i+1), neox (mode 2) (i, i + n_dims/2); pairs past n_dims / 2 copy the elements at and beyond
// n_dims. Where s is not null each value also goes to s (rope_store_to). One angle for all heads.
inline void rope_token_pair(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global char* d, ulong d_offs,
                            ulong4 d_nb, int n_dims, int mode, float theta, int n_past, int p, int t, global char* s,
                            ulong s_offs, ulong4 s_nb, int4 perm, int s_f16) {
    const int half_dims = n_dims / 2;
    const int ne0 = (int)a_ne.s0, n_heads = (int)a_ne.s1;
    global const char* at = a + a_offs + (ulong)t * a_nb.s2;
    global char* dt = d + d_offs + (ulong)t * d_nb.s2;
    if (p >= half_dims) { // pass-through tail
        const int i = n_dims + 2 * (p - half_dims);
        for (int h = 0; h < n_heads; ++h)
            for (int e = i; e < min(i + 2, ne0); ++e) {
                const float v = *(global const float*)(at + (ulong)h * a_nb.s1 + (ulong)e * a_nb.s0);
                *(global float*)(dt + (ulong)h * d_nb.s1 + (ulong)e * d_nb.s0) = v;
                if (s) rope_store_to(s, s_offs, s_nb, perm, s_f16, e, h, t, v);
            }
        return;
    }
    const int i0 = mode == 2 ? p : 2 * p;
    const int i1 = mode == 2 ? p + half_dims : 2 * p + 1;
    const rope_cs r = rope_angle(p, n_past + t, theta, n_dims);
    for (int h = 0; h < n_heads; ++h) {
        global const char* ar = at + (ulong)h * a_nb.s1;
        global char* dr = dt + (ulong)h * d_nb.s1;
        const float2 y = rope_apply(*(global const float*)(ar + (ulong)i0 * a_nb.s0),
                                    *(global const float*)(ar + (ulong)i1 * a_nb.s0), r);
        *(global float*)(dr + (ulong)i0 * d_nb.s0) = y.x;
        *(global float*)(dr + (ulong)i1 * d_nb.s0) = y.y;
        if (s) {
            rope_store_to(s, s_offs, s_nb, perm, s_f16, i0, h, t, y.x);
            rope_store_to(s, s_offs, s_nb, perm, s_f16, i1, h, t, y.y);
        }
    }
}

// rms_norm's factor of one row of ne0 floats (stride nb0): 1 / sqrt(mean of squares + eps), the
// items of a work-group taking elements lid, lid + step, ... (norm.cl, fused.cl).
// A contiguous row at 16-byte alignment with ne0 a multiple of 4 is read as float4s (a fused
// kernel's every work-group computes the factor on its critical path: a quarter of the loads).
inline float rms_factor(global const char* ar, ulong nb0, int ne0, float eps, int step, local float* scratch) {
    float sum_sq = 0.0f;
    if (nb0 == 4 && !((ulong)ar & 15) && !(ne0 & 3)) {
        global const float4* x4 = (global const float4*)ar;
        for (int i = get_local_id(0); i < ne0 / 4; i += step) {
            const float4 v = x4[i];
            sum_sq += dot(v, v);
        }
    } else {
        for (int i = get_local_id(0); i < ne0; i += step) {
            const float x = *(global const float*)(ar + (ulong)i * nb0);
            sum_sq += x * x;
        }
    }
    sum_sq = wg_sum(scratch, sum_sq);
    return 1.0f / sqrt(sum_sq / (float)ne0 + eps);
}

inline float wg_max(local float* s, float v) {
    const int l = get_local_id(0), n = get_local_size(0);
    s[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = n / 2; w > 0; w >>= 1) {
        if (l < w) s[l] = fmax(s[l], s[l + w]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
