// ptx_probe_mbar.cl - NVIDIA only, built behind opencl/kernels/mma_ptx.cl with -DMMA_MBARRIER=1:
// whether its mbarrier helpers work from OpenCL C, as a producer / consumer pipeline uses them.
// One work-group of 96: warp 0 copies round r's 32 uint4 of src into stage r % 2 by cp.async and
// arrives on full[r % 2] as they land; warps 1 and 2 wait on it, read the stage (each lane another
// lane's element), arrive on empty[r % 2], which the producer waits on before refilling the stage.
// out[c] (c = consumer item 0..63) = sum over rounds of x ^ y ^ z ^ w of src[r][(lane + 7 w) % 32].
kernel void probe_mbar_pipeline(global const uint4* src, global uint* out, int rounds) {
    local uint4 stage[2][32];
    local ulong full[2], empty[2];
    const int l = get_local_id(0), w = l >> 5, lane = l & 31;
    if (l == 0) {
        mbar_init(&full[0], 32);
        mbar_init(&full[1], 32);
        mbar_init(&empty[0], 64);
        mbar_init(&empty[1], 64);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (w == 0) {
        for (int r = 0; r < rounds; ++r) {
            const int s = r & 1;
            if (r >= 2) mbar_wait(&empty[s], ((r >> 1) - 1) & 1);
            cp_async16(&stage[s][lane], src + r * 32 + lane);
            cp_async_mbar_arrive(&full[s]);
        }
        cp_async_wait_all();
        return;
    }
    uint acc = 0;
    for (int r = 0; r < rounds; ++r) {
        const int s = r & 1;
        mbar_wait(&full[s], (r >> 1) & 1);
        const uint4 v = stage[s][(lane + 7 * w) & 31];
        acc += v.x ^ v.y ^ v.z ^ v.w;
        mbar_arrive(&empty[s]);
    }
    out[l - 32] = acc;
}
