// ptx_probe.cl - NVIDIA only: whether an OpenCL __local pointer cast to uint is a .shared
// address that inline PTX (st.shared, cp.async, ldmatrix) can use. One work-group of 32.
kernel void probe_st_shared(global uint* out) {
    local uint buf[32];
    const uint l = get_local_id(0);
    buf[l] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint addr = (uint)(size_t)(buf + (31 - l));
    asm volatile("st.shared.u32 [%0], %1;" ::"r"(addr), "r"(l * 3 + 7) : "memory");
    barrier(CLK_LOCAL_MEM_FENCE);
    out[l] = buf[l]; // expect (31 - l) * 3 + 7
}

kernel void probe_cp_async(global const uint4* src, global uint4* out) {
    local uint4 buf[32];
    const uint l = get_local_id(0);
    buf[l] = (uint4)(0);
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint addr = (uint)(size_t)(buf + l);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(addr), "l"(src + (31 - l)) : "memory");
    asm volatile("cp.async.wait_all;" ::: "memory");
    barrier(CLK_LOCAL_MEM_FENCE);
    out[l] = buf[l]; // expect src[31 - l]
}

kernel void probe_ldmatrix(global const ushort* src, global uint4* out) {
    local uint4 buf4[32]; // four 8x8 matrices of halves, row r at buf + 8r (rows 16-byte aligned)
    local ushort* buf = (local ushort*)buf4;
    const uint l = get_local_id(0);
    for (int i = 0; i < 8; ++i) buf[l * 8 + i] = src[l * 8 + i];
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint addr = (uint)(size_t)(buf + l * 8);
    uint r0, r1, r2, r3;
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
    out[l] = (uint4)(r0, r1, r2, r3); // expect reg i = matrix i, row l/4, cols 2(l%4), +1
}

// Named barriers (bar.arrive / bar.sync with an id other than 0, which OpenCL's barrier() uses):
// what a producer / consumer kernel needs (a producer warp group filling local memory while
// consumer warps multiply). One work-group of 256: warps 0-3 write buf and arrive at barrier 1,
// warps 4-7 wait at it (256 threads counted) and read. Expect out[l] = l * 5 + 3 for l < 128 and
// out[l] = (l - 128) * 5 + 3 for l >= 128 (each consumer reads its producer's word).
kernel void probe_named_barrier(global uint* out) {
    local uint buf[128];
    const uint l = get_local_id(0);
    if (l < 128) {
        buf[l] = l * 5 + 3;
        asm volatile("bar.arrive 1, 256;" ::: "memory");
        out[l] = l * 5 + 3;
    } else {
        asm volatile("bar.sync 1, 256;" ::: "memory");
        out[l] = buf[l - 128];
    }
}
