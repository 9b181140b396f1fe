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

    float sum_sq = 0.0f;
    for (int i = get_local_id(0); i < ne0; i += NORM_WG) {
        const float x = *(global const float*)(ar + (ulong)i * a_nb.s0);
        sum_sq += x * x;
    }
    sum_sq = wg_sum(scratch, sum_sq);
    const float inv = 1.0f / sqrt(sum_sq / (float)ne0 + eps);
    for (int i = get_local_id(0); i < ne0; i += NORM_WG) {
        const float y = *(global const float*)(ar + (ulong)i * a_nb.s0) * inv;
        *(global float*)(dr + (ulong)i * d_nb.s0) = y;
        *(global float*)(er + (ulong)i * e_nb.s0) = y * *(global const float*)(w + w_offs + (ulong)i * w_nb0);
    }
}
