// bench_fill.cl - benchmark inputs made on the device: uniform values in [-1.5, 1.5) from a
// hash of (seed, index), so large problems need no host upload and are never all zeros.
kernel void bench_fill_f32(global float* x, ulong n, uint seed) {
    const ulong i = get_global_id(0);
    if (i >= n) return;
    uint h = (uint)i * 0x9E3779B1u ^ (uint)(i >> 32) ^ seed * 0x85EBCA77u;
    h ^= h >> 16;
    h *= 0x7FEB352Du;
    h ^= h >> 15;
    h *= 0x846CA68Bu;
    h ^= h >> 16;
    x[i] = (float)(h >> 8) * (3.0f / 16777216.0f) - 1.5f;
}
