// rope.cl - rotary position embedding of x [d, H, N, 1]: the pair (p, q) of every head of token
// t turns by angle (n_past + t) * theta^(-2i/n_dims); normal mode pairs (2i, 2i+1), neox
// (i, i + n_dims/2). Elements at and beyond n_dims are copied. One work item per pair of a
// token, for every head: the angle (common.cl's rope_angle, in double with PA_FP64 like the CPU
// reference) is the same for all heads of a token, and its trigonometry costs more than the
// heads' loads and stores.

kernel void k_rope(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global char* d, ulong d_offs,
                   long4 d_ne, ulong4 d_nb, int n_dims, int mode, float theta, int n_past) {
    const int half_dims = n_dims / 2;
    const int ne0 = (int)a_ne.s0, n_heads = (int)a_ne.s1;
    const int pairs = half_dims + (ne0 - n_dims + 1) / 2; // rotated pairs, then copied pairs
    const int p = get_global_id(0);
    const int t = get_global_id(1); // token
    if (p >= pairs || t >= (int)a_ne.s2) return;
    global const char* at = a + a_offs + (ulong)t * a_nb.s2;
    global char* dt = d + d_offs + (ulong)t * d_nb.s2;

    if (p >= half_dims) { // pass-through tail
        const int i = n_dims + 2 * (p - half_dims);
        for (int h = 0; h < n_heads; ++h)
            for (int e = i; e < min(i + 2, ne0); ++e)
                *(global float*)(dt + (ulong)h * d_nb.s1 + (ulong)e * d_nb.s0) =
                    *(global const float*)(at + (ulong)h * a_nb.s1 + (ulong)e * a_nb.s0);
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
    }
}
