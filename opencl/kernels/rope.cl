// rope.cl - rotary position embedding of x [d, H, N, 1]: the pair (p, q) of every head of token
// t turns by angle (n_past + t) * theta^(-2i/n_dims); normal mode pairs (2i, 2i+1), neox
// (i, i + n_dims/2). Elements at and beyond n_dims are copied. One work item per pair.
// The rotation is common.cl's rope_rotate (in double with PA_FP64, like the CPU reference).

kernel void k_rope(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global char* d, ulong d_offs,
                   long4 d_ne, ulong4 d_nb, int n_dims, int mode, float theta, int n_past) {
    const int half_dims = n_dims / 2;
    const int ne0 = (int)a_ne.s0;
    const int pairs = half_dims + (ne0 - n_dims + 1) / 2; // rotated pairs, then copied pairs
    const int p = get_global_id(0);
    const int r = get_global_id(1); // row: head + H * token
    if (p >= pairs || r >= (int)(a_ne.s1 * a_ne.s2)) return;
    const int h = r % (int)a_ne.s1, t = r / (int)a_ne.s1;
    global const char* ar = a + a_offs + (ulong)h * a_nb.s1 + (ulong)t * a_nb.s2;
    global char* dr = d + d_offs + (ulong)h * d_nb.s1 + (ulong)t * d_nb.s2;

    if (p >= half_dims) { // pass-through tail
        const int i = n_dims + 2 * (p - half_dims);
        for (int e = i; e < min(i + 2, ne0); ++e)
            *(global float*)(dr + (ulong)e * d_nb.s0) = *(global const float*)(ar + (ulong)e * a_nb.s0);
        return;
    }
    const int i0 = mode == 2 ? p : 2 * p;
    const int i1 = mode == 2 ? p + half_dims : 2 * p + 1;
    const float2 y = rope_rotate(*(global const float*)(ar + (ulong)i0 * a_nb.s0),
                                 *(global const float*)(ar + (ulong)i1 * a_nb.s0), p, n_past + t, theta, n_dims);
    *(global float*)(dr + (ulong)i0 * d_nb.s0) = y.x;
    *(global float*)(dr + (ulong)i1 * d_nb.s0) = y.y;
}
