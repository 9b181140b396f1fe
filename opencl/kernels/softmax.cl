// softmax.cl - soft_max_ext: y = softmax(x * scale + mask) along ne0. The mask (F32/F16
// [ne0, >= ne1]) row i1 serves every (i2, i3). A row that is all -inf gives zeros.
// One work-group per row: max, sum of exponentials, normalise.

#ifndef SOFTMAX_WG
#define SOFTMAX_WG 128 // threads per row (a power of two)
#endif

inline float sm_input(global const char* ar, ulong nb0, global const char* mr, ulong mnb0, int mtype, int i,
                      float scale) {
    float x = *(global const float*)(ar + (ulong)i * nb0) * scale;
    if (mtype == PA_F32) x += *(global const float*)(mr + (ulong)i * mnb0);
    else if (mtype == PA_F16) x += load_half(mr + (ulong)i * mnb0);
    return x;
}

// mtype: PA_F32, PA_F16, or -1 without mask (m may then be any buffer)
kernel __attribute__((reqd_work_group_size(SOFTMAX_WG, 1, 1)))
void k_soft_max(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, global const char* m, ulong m_offs,
                ulong4 m_nb, int mtype, global char* d, ulong d_offs, long4 d_ne, ulong4 d_nb, float scale) {
    local float scratch[SOFTMAX_WG];
    const long4 c = row_coords(get_group_id(0), a_ne);
    global const char* ar = a + a_offs + off4(a_nb, 0, c.s1, c.s2, c.s3);
    global const char* mr = m + m_offs + (ulong)c.s1 * m_nb.s1;
    global char* dr = d + d_offs + off4(d_nb, 0, c.s1, c.s2, c.s3);
    const int ne0 = (int)a_ne.s0;
    const int l = get_local_id(0);

    float mx = -INFINITY;
    for (int i = l; i < ne0; i += SOFTMAX_WG) mx = fmax(mx, sm_input(ar, a_nb.s0, mr, m_nb.s0, mtype, i, scale));
    mx = wg_max(scratch, mx);
    if (mx == -INFINITY) { // every entry masked
        for (int i = l; i < ne0; i += SOFTMAX_WG) *(global float*)(dr + (ulong)i * d_nb.s0) = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (int i = l; i < ne0; i += SOFTMAX_WG) {
        const float e = exp(sm_input(ar, a_nb.s0, mr, m_nb.s0, mtype, i, scale) - mx);
        *(global float*)(dr + (ulong)i * d_nb.s0) = e;
        sum += e;
    }
    sum = wg_sum(scratch, sum);
    const float inv = 1.0f / sum;
    // each thread rescales exactly the entries it wrote, so no barrier on global memory is needed
    for (int i = l; i < ne0; i += SOFTMAX_WG) *(global float*)(dr + (ulong)i * d_nb.s0) *= inv;
}
