// elementwise.cl - add, mul (src1 broadcast over src0), scale, silu, swiglu.
// One work item per element of dst, flat index i0 fastest; every tensor through its own
// strides, so views and permutes need no copies. Element counts fit in int (checked by host).

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

// op: 0 scale (by s), 1 silu
kernel void k_unary(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global char* d, ulong d_offs,
                    long4 d_ne, ulong4 d_nb, int n, int op, float s) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const int4 c = flat_coords(i, d_ne);
    const float x = *(global const float*)(a + a_offs + off4(a_nb, c.s0, c.s1, c.s2, c.s3));
    *(global float*)(d + d_offs + off4(d_nb, c.s0, c.s1, c.s2, c.s3)) = op == 0 ? x * s : silu_f(x);
}
