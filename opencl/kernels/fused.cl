// fused.cl - two graph nodes in one launch, each node's result still written (so any later
// reader of the first finds it): the OpenCL backend's pairs of fused.h.
//   k_rms_norm_mul: d = rms_norm(a) (as norm.cl's k_rms_norm), e = d * w, w one F32 row [ne0]
//                   broadcast over the rows. One work-group per row.

#ifndef NORM_WG
#define NORM_WG 128 // threads per row (a power of two); the host launches with this size
#endif

kernel __attribute__((reqd_work_group_size(NORM_WG, 1, 1)))
void k_rms_norm_mul(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global char* d, ulong d_offs,
                    long4 d_ne, ulong4 d_nb, float eps, global const char* w, ulong w_offs, ulong w_nb0,
                    global char* e, ulong e_offs, long4 e_ne, ulong4 e_nb) {
    local float scratch[NORM_WG];
    const long4 c = row_coords(get_group_id(0), a_ne);
    global const char* ar = a + a_offs + off4(a_nb, 0, c.s1, c.s2, c.s3);
    global char* dr = d + d_offs + off4(d_nb, 0, c.s1, c.s2, c.s3);
    global char* er = e + e_offs + off4(e_nb, 0, c.s1, c.s2, c.s3);
    const int ne0 = (int)a_ne.s0;

    const float inv = rms_factor(ar, a_nb.s0, ne0, eps, NORM_WG, scratch);
    global const char* wr = w + w_offs;
    if (a_nb.s0 == 4 && d_nb.s0 == 4 && e_nb.s0 == 4 && w_nb0 == 4 && !(((ulong)ar | (ulong)dr | (ulong)er | (ulong)wr) & 15) &&
        !(ne0 & 3)) { // float4s
        for (int i = get_local_id(0); i < ne0 / 4; i += NORM_WG) {
            const float4 y = ((global const float4*)ar)[i] * inv;
            ((global float4*)dr)[i] = y;
            ((global float4*)er)[i] = y * ((global const float4*)wr)[i];
        }
        return;
    }
    for (int i = get_local_id(0); i < ne0; i += NORM_WG) {
        const float y = *(global const float*)(ar + (ulong)i * a_nb.s0) * inv;
        *(global float*)(dr + (ulong)i * d_nb.s0) = y;
        *(global float*)(er + (ulong)i * e_nb.s0) = y * *(global const float*)(wr + (ulong)i * w_nb0);
    }
}

// k_rope_store: d = rope(a) as rope.cl's k_rope (one work item per pair of a token, for all its
// heads: common.cl's rope_token_pair), and the same values stored into s (F32 or F16) as cpy does
// for a permuted view of d: element (c0, c1, c2) of d goes to s at coordinates j_k = c_perm[k].

kernel void k_rope_store(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global char* d, ulong d_offs,
                         long4 d_ne, ulong4 d_nb, int n_dims, int mode, float theta, int n_past, global char* s,
                         ulong s_offs, ulong4 s_nb, int4 perm, int s_f16) {
    const int pairs = n_dims / 2 + ((int)a_ne.s0 - n_dims + 1) / 2;
    const int p = get_global_id(0), t = get_global_id(1); // pair, token
    if (p >= pairs || t >= (int)a_ne.s2) return;
    rope_token_pair(a, a_offs, a_ne, a_nb, d, d_offs, d_nb, n_dims, mode, theta, n_past, p, t, s, s_offs, s_nb, perm,
                    s_f16);
}
