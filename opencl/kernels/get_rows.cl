// get_rows.cl - dst[i0, i1, i2, i3] = src[i0, ids[i1, i2, i3], i2, i3] as F32, any source type
// (F32, F16, Q8_0, Q4_0, Q4_1). One work item per output element. A row whose id lies outside
// [0, rows) is not written: its first work item lowers *bad_row to the row's flat index (the
// host initialises it to INT_MAX and reports the lowest bad row, as the CPU reference does).

kernel void k_get_rows(global const char* a, ulong a_offs, long4 a_ne, ulong4 a_nb, int a_type,
                       global const char* ids, ulong ids_offs, ulong4 ids_nb, global char* d, ulong d_offs,
                       long4 d_ne, ulong4 d_nb, volatile global int* bad_row) {
    const int i0 = get_global_id(0);
    const long r = get_global_id(1);
    if (r >= d_ne.s1 * d_ne.s2 * d_ne.s3) return;
    const long4 c = row_coords(r, d_ne);
    const int id = *(global const int*)(ids + ids_offs + off4(ids_nb, c.s1, c.s2, c.s3, 0));
    if (id < 0 || id >= a_ne.s1) {
        if (i0 == 0) atomic_min(bad_row, (int)r);
        return;
    }
    if (i0 >= d_ne.s0) return;
    global const char* ar = a + a_offs + off4(a_nb, 0, id, c.s2, c.s3);
    *(global float*)(d + d_offs + off4(d_nb, i0, c.s1, c.s2, c.s3)) = load_elem(a_type, ar, a_nb.s0, i0);
}
