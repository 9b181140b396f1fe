// norm.cl - rms_norm along ne0: y = x / sqrt(mean(x^2) + eps). One work-group per row.

#ifndef NORM_WG
#define NORM_WG 128 // threads per row (a power of two); the host launches with this size
#endif

kernel __attribute__((reqd_work_group_size(NORM_WG, 1, 1)))
void k_rms_norm(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global char* d, ulong d_offs,
                long4 d_ne, ulong4 d_nb, float eps) {
    local float scratch[NORM_WG];
    const long4 c = row_coords(get_group_id(0), a_ne);
    global const char* ar = a + a_offs + off4(a_nb, 0, c.s1, c.s2, c.s3);
    global char* dr = d + d_offs + off4(d_nb, 0, c.s1, c.s2, c.s3);
    const int ne0 = (int)a_ne.s0;

    const float inv = rms_factor(ar, a_nb.s0, ne0, eps, NORM_WG, scratch);
    if (a_nb.s0 == 4 && d_nb.s0 == 4 && !(((ulong)ar | (ulong)dr) & 15) && !(ne0 & 3)) { // float4s
        for (int i = get_local_id(0); i < ne0 / 4; i += NORM_WG)
            ((global float4*)dr)[i] = ((global const float4*)ar)[i] * inv;
        return;
    }
    for (int i = get_local_id(0); i < ne0; i += NORM_WG)
        *(global float*)(dr + (ulong)i * d_nb.s0) = *(global const float*)(ar + (ulong)i * a_nb.s0) * inv;
}
