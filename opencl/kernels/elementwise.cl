// elementwise.cl - add, mul (src1 broadcast over src0), scale, silu, swiglu.
// One work item per element of dst, flat index i0 fastest; every tensor through its own
// strides, so views and permutes need no copies. Element counts fit in int (checked by host).
// The *4 kernels: contiguous F32 tensors at 16-byte offsets (the host checks), one float4 of dst
// per work item, b the same shape or one row repeated; no coordinates to compute (the general
// kernels' divisions and 64-bit offsets held them at a third of a GPU's memory bandwidth).

#ifndef EW_WG
#define EW_WG 256 // work-group size the host launches with
#endif

inline int4 flat_coords(int i, long4 ne) {
    int4 c;
    c.s0 = i % (int)ne.s0;
    i /= (int)ne.s0;
    c.s1 = i % (int)ne.s1;
    i /= (int)ne.s1;
    c.s2 = i % (int)ne.s2;
    c.s3 = i / (int)ne.s2;
    return c;
}

inline float silu_f(float x) { return x / (1.0f + exp(-x)); }

#define PA_BINARY_KERNEL(NAME, EXPR)                                                                  \
    kernel void NAME(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global const char* b, \
                     ulong b_offs, long4 b_ne, ulong4 b_nb, int b_type, global char* d, ulong d_offs,   \
                     long4 d_ne, ulong4 d_nb, int n) {                                                  \
        const int i = get_global_id(0);                                                                 \
        if (i >= n) return;                                                                             \
        const int4 c = flat_coords(i, d_ne);                                                            \
        const float x = *(global const float*)(a + a_offs + off4(a_nb, c.s0, c.s1, c.s2, c.s3));        \
        const ulong bo = off4(b_nb, c.s0 % (int)b_ne.s0, c.s1 % (int)b_ne.s1, c.s2 % (int)b_ne.s2,      \
                              c.s3 % (int)b_ne.s3);                                                     \
        const float y = b_type == PA_F16 ? load_half(b + b_offs + bo) : *(global const float*)(b + b_offs + bo); \
        *(global float*)(d + d_offs + off4(d_nb, c.s0, c.s1, c.s2, c.s3)) = (EXPR);                     \
    }

PA_BINARY_KERNEL(k_add, x + y)
PA_BINARY_KERNEL(k_mul, x * y)
PA_BINARY_KERNEL(k_swiglu, silu_f(x) * y)

// n4 float4s of dst; b_row4 > 0: b is one row of b_row4 float4s repeated, else b has dst's shape
#define PA_BINARY4_KERNEL(NAME, EXPR)                                                                 \
    kernel void NAME(global const char* a, ulong a_offs, global const char* b, ulong b_offs, int b_row4, \
                     global char* d, ulong d_offs, int n4) {                                            \
        const int i = get_global_id(0);                                                                 \
        if (i >= n4) return;                                                                            \
        const float4 x = ((global const float4*)(a + a_offs))[i];                                       \
        const float4 y = ((global const float4*)(b + b_offs))[b_row4 > 0 ? i % b_row4 : i];            \
        ((global float4*)(d + d_offs))[i] = (EXPR);                                                     \
    }

inline float4 silu_f4(float4 x) { return (float4)(silu_f(x.s0), silu_f(x.s1), silu_f(x.s2), silu_f(x.s3)); }

PA_BINARY4_KERNEL(k_add4, x + y)
PA_BINARY4_KERNEL(k_mul4, x * y)
PA_BINARY4_KERNEL(k_swiglu4, silu_f4(x) * y)

// op: 0 scale (by s), 1 silu
kernel void k_unary(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global char* d, ulong d_offs,
                    long4 d_ne, ulong4 d_nb, int n, int op, float s) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const int4 c = flat_coords(i, d_ne);
    const float x = *(global const float*)(a + a_offs + off4(a_nb, c.s0, c.s1, c.s2, c.s3));
    *(global float*)(d + d_offs + off4(d_nb, c.s0, c.s1, c.s2, c.s3)) = op == 0 ? x * s : silu_f(x);
}
