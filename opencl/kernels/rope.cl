// rope.cl - rotary position embedding of x [d, H, N, 1]: the pair (p, q) of every head of token
// t turns by angle (n_past + t) * theta^(-2i/n_dims); normal mode pairs (2i, 2i+1), neox
// (i, i + n_dims/2). Elements at and beyond n_dims are copied. One work item per pair of a
// token, for every head (common.cl's rope_token_pair): the angle (rope_angle, in double with
// PA_FP64 like the CPU reference) is the same for all heads of a token, and its trigonometry
// costs more than the heads' loads and stores.

kernel void k_rope(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global char* d, ulong d_offs,
                   long4 d_ne, ulong4 d_nb, int n_dims, int mode, float theta, int n_past) {
    const int pairs = n_dims / 2 + ((int)a_ne.s0 - n_dims + 1) / 2; // rotated pairs, then copied pairs
    const int p = get_global_id(0), t = get_global_id(1);           // pair, token
    if (p >= pairs || t >= (int)a_ne.s2) return;
    rope_token_pair(a, a_offs, a_ne, a_nb, d, d_offs, d_nb, n_dims, mode, theta, n_past, p, t, 0, 0, (ulong4)(0),
                    (int4)(0), 0);
}
