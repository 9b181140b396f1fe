// mma_ptx.cl - the NVIDIA tensor-core building blocks as inline PTX (sm_80 or newer), shared by
// the tensor-core kernels: the host puts this file between common.cl and flash_attn_mma.cl or
// mul_mat_mma.cl (context.cpp, program_pieces), and in front of the ProxyAttn estimate's
// plugin/proxy_sparse_attn/kernels/proxy_block_stats.cl (ocl/block_stats.cpp). Other compilers
// reject the PTX, so those programs are built only after the capability check (NVIDIA platform,
// compute capability >= 8.0). With -DMMA_EMULATE=1 every helper is portable OpenCL C that
// exchanges fragments through local memory, so the same kernels (slowly) run on PoCL: that is
// how the fragment layouts are tested without an NVIDIA GPU.
//
// Halves travel as ushort bit patterns, two per uint ("f16x2", the lower k or column in the low
// 16 bits): NVIDIA OpenCL has no cl_khr_fp16.
//
// mma.sync.m16n8k16.row.col (f16 in, f32 accumulate), lane = 4g + t holds
//   A (16x16): a.x = (row g, k 2t..2t+1), a.y = (g+8, 2t..), a.z = (g, 2t+8..), a.w = (g+8, 2t+8..)
//   B (16x8):  b0 = (k 2t..2t+1, n g), b1 = (k 2t+8..2t+9, n g)
//   C (16x8):  c.x,c.y = (row g, n 2t, 2t+1), c.z,c.w = (row g+8, n 2t, 2t+1)
// mma.sync.m16n8k32.row.col (s8 in, s32 accumulate, exact), 32-bit registers of 4 int8:
//   A (16x32): a.x = (row g, k 4t..4t+3), a.y = (g+8, 4t..), a.z = (g, 16+4t..), a.w = (g+8, 16+4t..)
//   B (32x8):  b0 = (k 4t..4t+3, n g), b1 = (k 16+4t..16+4t+3, n g)
//   C (16x8):  as m16n8k16, int32
// ldmatrix.x4: lane 8j + r gives the address of row r of matrix j (8 rows of 16 bytes); register
// j of lane 4g + t receives halves 2t, 2t+1 of row g of matrix j.
//
// Emulation contract: every helper is reached by all work-items of the work-group (uniform
// control flow: the emulation uses barriers), and the kernel declares EMU_DECL at its top, after
// defining MMA_EMU_WARPS (warps per work-group); a helper function of the kernel that calls them
// takes EMU_PARAM as its last parameter and gets EMU_ARG.

#ifndef MMA_EMULATE
#define MMA_EMULATE 0
#endif
#ifndef MMA_MBARRIER
#define MMA_MBARRIER 0
#endif

// Loops over register arrays are unrolled (constant indices keep the arrays in registers);
// not when emulating, where unrolling the emulated MMAs makes compiles very slow.
#if MMA_EMULATE
#define MMA_UNROLL
#else
#define MMA_UNROLL _Pragma("unroll")
#endif

#if !MMA_EMULATE

#define EMU_DECL
#define EMU_PARAM
#define EMU_ARG

// Two floats to f16x2, round to nearest even; lo goes to the low 16 bits.
inline uint pack_f16x2(float lo, float hi) {
    uint r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// The 32 bits of lane (this lane ^ mask) of the warp.
inline uint shfl_xor_bits(uint v, int mask) {
    uint r;
    asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=r"(r) : "r"(v), "r"(mask));
    return r;
}
inline float shfl_xor(float v, int mask) { return as_float(shfl_xor_bits(as_uint(v), mask)); }

// d += A * B on one warp.
inline void mma16816(float4* d, uint4 a, uint b0, uint b1) {
    float d0, d1, d2, d3;
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                 : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3)
                 : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1),
                   "f"((*d).x), "f"((*d).y), "f"((*d).z), "f"((*d).w));
    *d = (float4)(d0, d1, d2, d3);
}

// d += A * B on one warp, int8 (exact).
inline int4 mma16832_s8(int4 d, uint4 a, uint b0, uint b1) {
    int d0, d1, d2, d3;
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                 : "=r"(d0), "=r"(d1), "=r"(d2), "=r"(d3)
                 : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1), "r"(d.x), "r"(d.y), "r"(d.z),
                   "r"(d.w));
    return (int4)(d0, d1, d2, d3);
}

// An OpenCL local pointer converted to an integer is its .shared address, what the PTX below
// takes for local memory (bench/kernels/ptx_probe.cl).
inline uint shared_addr(local const void* p) { return (uint)(size_t)p; }

// Four 8x8 matrices of halves from local memory; this lane's row is base[off] (16 bytes).
inline uint4 ldsm_x4(local const uint4* base, int off) {
    uint r0, r1, r2, r3;
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(shared_addr(base + off)));
    return (uint4)(r0, r1, r2, r3);
}

// f16x2 arithmetic, each half rounded to nearest even.
inline uint h2_sub(uint a, uint b) {
    uint r;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
inline uint h2_mul(uint a, uint b) {
    uint r;
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
inline uint h2_fma(uint a, uint b, uint c) {
    uint r;
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
}

#else // MMA_EMULATE: the same operations through local memory, one warp = 32 work-items

// Per-warp exchange area: 32 lanes x 6 words.
#define EMU_DECL                                                                                        \
    local uint emu_area[MMA_EMU_WARPS * 32 * 6];                                                        \
    local uint* emu = emu_area;
#define EMU_PARAM , local uint *emu
#define EMU_ARG , emu

inline float half_bits_to_float(uint h) {
    const uint s = (h & 0x8000u) << 16, e = (h >> 10) & 31u, m = h & 1023u;
    if (e == 0) return (s ? -1.0f : 1.0f) * (float)m * 5.9604645e-8f; // subnormal: m * 2^-24
    if (e == 31) return as_float(s | 0x7f800000u | (m << 13));
    return as_float(s | ((e + 112u) << 23) | (m << 13));
}
inline uint pack_f16x2(float lo, float hi) {
    ushort l, h;
    vstore_half_rte(lo, 0, (half*)&l);
    vstore_half_rte(hi, 0, (half*)&h);
    return (uint)l | ((uint)h << 16);
}
inline float emu_half(uint w, int hi) { return half_bits_to_float(hi ? w >> 16 : w & 0xffffu); }

inline uint shfl_xor_bits_emu(uint v, int mask, local uint* emu) {
    const int lane = get_local_id(0) & 31, base = (get_local_id(0) >> 5) * 32 * 6;
    emu[base + lane] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint r = emu[base + (lane ^ mask)];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
#define shfl_xor_bits(v, m) shfl_xor_bits_emu(v, m, emu)
#define shfl_xor(v, m) as_float(shfl_xor_bits_emu(as_uint(v), m, emu))

inline void mma16816_emu(float4* d, uint4 a, uint b0, uint b1, local uint* emu) {
    const int lane = get_local_id(0) & 31, base = (get_local_id(0) >> 5) * 32 * 6;
    local uint* me = emu + base + lane * 6;
    me[0] = a.x; me[1] = a.y; me[2] = a.z; me[3] = a.w; me[4] = b0; me[5] = b1;
    barrier(CLK_LOCAL_MEM_FENCE);
    const int g = lane >> 2, t = lane & 3;
    float acc[4] = {(*d).x, (*d).y, (*d).z, (*d).w};
    for (int i = 0; i < 4; ++i) {
        const int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
        float s = 0.0f;
        for (int k = 0; k < 16; ++k) {
            // A[row][k]: lane (row%8)*4 + (k%8)/2, register (row>=8) + 2*(k>=8), half k&1
            local uint* al = emu + base + ((row & 7) * 4 + ((k & 7) >> 1)) * 6;
            const float av = emu_half(al[(row >= 8) + 2 * (k >= 8)], k & 1);
            // B[k][col]: lane col*4 + (k%8)/2, register 4 + (k>=8), half k&1
            local uint* bl = emu + base + (col * 4 + ((k & 7) >> 1)) * 6;
            const float bv = emu_half(bl[4 + (k >= 8)], k & 1);
            s += av * bv;
        }
        acc[i] += s;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    *d = (float4)(acc[0], acc[1], acc[2], acc[3]);
}
#define mma16816(d, a, b0, b1) mma16816_emu(d, a, b0, b1, emu)

inline int4 mma16832_s8_emu(int4 d, uint4 a, uint b0, uint b1, local uint* emu) {
    const int lane = get_local_id(0) & 31, base = (get_local_id(0) >> 5) * 32 * 6;
    local uint* me = emu + base + lane * 6;
    me[0] = a.x; me[1] = a.y; me[2] = a.z; me[3] = a.w; me[4] = b0; me[5] = b1;
    barrier(CLK_LOCAL_MEM_FENCE);
    const int g = lane >> 2, t = lane & 3;
    int acc[4] = {d.x, d.y, d.z, d.w};
    for (int i = 0; i < 4; ++i) {
        const int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
        int s = 0;
        for (int k = 0; k < 32; ++k) {
            // A[row][k]: lane (row%8)*4 + (k%16)/4, register (row>=8) + 2*(k>=16), byte k&3
            const uint aw = emu[base + ((row & 7) * 4 + ((k & 15) >> 2)) * 6 + (row >= 8) + 2 * (k >= 16)];
            // B[k][col]: lane col*4 + (k%16)/4, register 4 + (k>=16), byte k&3
            const uint bw = emu[base + (col * 4 + ((k & 15) >> 2)) * 6 + 4 + (k >= 16)];
            s += (int)(char)(aw >> (8 * (k & 3))) * (int)(char)(bw >> (8 * (k & 3)));
        }
        acc[i] += s;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return (int4)(acc[0], acc[1], acc[2], acc[3]);
}
#define mma16832_s8(d, a, b0, b1) mma16832_s8_emu(d, a, b0, b1, emu)

// Every lane publishes its row offset; register j reads row g of matrix j (lane 8j + g's row).
inline uint4 ldsm_x4_emu(local const uint4* base, int off, local uint* emu) {
    const int lane = get_local_id(0) & 31, wbase = (get_local_id(0) >> 5) * 32 * 6;
    const int g = lane >> 2, t = lane & 3;
    emu[wbase + lane] = (uint)off;
    barrier(CLK_LOCAL_MEM_FENCE);
    uint r[4];
    for (int j = 0; j < 4; ++j) r[j] = ((local const uint*)(base + emu[wbase + 8 * j + g]))[t];
    barrier(CLK_LOCAL_MEM_FENCE);
    return (uint4)(r[0], r[1], r[2], r[3]);
}
#define ldsm_x4(base, off) ldsm_x4_emu(base, off, emu)

// f16x2 arithmetic in float: the exact result (products of halves are exact in float), rounded.
inline uint h2_sub(uint a, uint b) {
    return pack_f16x2(emu_half(a, 0) - emu_half(b, 0), emu_half(a, 1) - emu_half(b, 1));
}
inline uint h2_mul(uint a, uint b) {
    return pack_f16x2(emu_half(a, 0) * emu_half(b, 0), emu_half(a, 1) * emu_half(b, 1));
}
inline uint h2_fma(uint a, uint b, uint c) {
    return pack_f16x2(fma(emu_half(a, 0), emu_half(b, 0), emu_half(c, 0)),
                      fma(emu_half(a, 1), emu_half(b, 1), emu_half(c, 1)));
}

#endif // MMA_EMULATE

// 16-byte global -> local copies that bypass registers (cp.async, sm_80+); cp_async_wait_all()
// waits for every copy this work-item issued (a barrier then publishes them). For double
// buffering: cp_async_commit() closes a group of copies, cp_async_wait_one() waits for all but
// the last group committed, cp_async_wait_group(n) for all but the last n (n a literal or a
// macro that expands to one).
#if !MMA_EMULATE
inline void cp_async16(local uint4* dst, global const uint4* src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(shared_addr(dst)), "l"(src) : "memory");
}
inline void cp_async_wait_all(void) { asm volatile("cp.async.wait_all;" ::: "memory"); }
inline void cp_async_commit(void) { asm volatile("cp.async.commit_group;" ::: "memory"); }
inline void cp_async_wait_one(void) { asm volatile("cp.async.wait_group 1;" ::: "memory"); }
#define cp_async_wait_group(n) cp_async_wait_group_(n)
#define cp_async_wait_group_(n) asm volatile("cp.async.wait_group " #n ";" ::: "memory")

// mbarriers in local memory (sm_80+; try_wait sm_90): an item's cp.async copies arrive on a
// stage's "full" barrier as they land (cp_async_mbar_arrive: no waiting, and the barrier's count
// must include one arrival an item), readers wait on its phase parity and arrive on the stage's
// "empty" barrier when done, which whoever refills the stage waits on. Unlike barrier(), no warp
// waits for another's compute. Not emulated: kernels that use them keep their barrier form under
// MMA_EMULATE. Only where the program asks (-DMMA_MBARRIER=1): other programs never hand this PTX
// to the driver.
#if MMA_MBARRIER
inline void mbar_init(local ulong* b, uint count) {
    asm volatile("mbarrier.init.shared.b64 [%0], %1;" ::"r"(shared_addr(b)), "r"(count) : "memory");
}
inline void mbar_arrive(local ulong* b) {
    asm volatile("{\n .reg .b64 st;\n mbarrier.arrive.shared.b64 st, [%0];\n}" ::"r"(shared_addr(b)) : "memory");
}
inline void cp_async_mbar_arrive(local ulong* b) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared.b64 [%0];" ::"r"(shared_addr(b)) : "memory");
}
// 1 once the phase of this parity has completed (the hardware may suspend the thread a while)
inline uint mbar_try_wait(local ulong* b, uint parity) {
    uint ok;
    asm volatile("{\n .reg .pred p;\n mbarrier.try_wait.parity.shared.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}"
                 : "=r"(ok)
                 : "r"(shared_addr(b)), "r"(parity)
                 : "memory");
    return ok;
}
inline void mbar_wait(local ulong* b, uint parity) {
    while (!mbar_try_wait(b, parity)) {
    }
}
// Every lane of the warp is past this point (its reads of a stage done): bar.warp.sync.
inline void warp_sync(void) { asm volatile("bar.warp.sync -1;" ::: "memory"); }
#endif // MMA_MBARRIER
#else
inline void cp_async16(local uint4* dst, global const uint4* src) { *dst = *src; }
inline void cp_async_wait_all(void) {}
inline void cp_async_commit(void) {}
inline void cp_async_wait_one(void) {}
#define cp_async_wait_group(n) ((void)0)
#endif
