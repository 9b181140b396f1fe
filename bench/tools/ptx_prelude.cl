// ptx_prelude.cl - lets clang compile the tensor-core programs (mma_ptx.cl + flash_attn_mma.cl or
// mul_mat_mma.cl) for nvptx without libclc, so that ptxas can report registers and spills offline
// (bench/tools/ptxas_report.sh). Only the builtins those files use, mapped to NVVM intrinsics,
// and the type ids of common.cl.
#define asm __asm__
#define get_local_id(i) ((size_t)__nvvm_read_ptx_sreg_tid_x())
#define get_group_id(i) ((size_t)((i) == 0 ? __nvvm_read_ptx_sreg_ctaid_x() : __nvvm_read_ptx_sreg_ctaid_y()))
#define get_global_id(i) \
    ((size_t)((i) == 0 ? __nvvm_read_ptx_sreg_ctaid_x() * __nvvm_read_ptx_sreg_ntid_x() + __nvvm_read_ptx_sreg_tid_x() \
              : (i) == 1 ? __nvvm_read_ptx_sreg_ctaid_y() : __nvvm_read_ptx_sreg_ctaid_z()))
#define barrier(f) __asm__ volatile("bar.sync 0;" ::: "memory")
#define native_exp2(x) __nvvm_ex2_approx_f(x)
#define fma(a, b, c) __builtin_fmaf(a, b, c)
#define fmax(a, b) __builtin_fmaxf(a, b)
#define min(a, b) ((a) < (b) ? (a) : (b))
#define vload4(i, p) (*(const global float4*)((p) + 4 * (i)))
#define vstore2(v, i, p) (*(global float2*)((p) + 2 * (i)) = (v))
#define clamp(x, a, b) min(max(x, a), b)
#define max(a, b) ((a) > (b) ? (a) : (b))
#define PA_F32 0
#define PA_F16 1
#define PA_Q4_0 2
#define PA_Q4_1 3
#define PA_Q8_0 8
inline float load_half(global const char* p) {
    float f;
    __asm__("{ .reg .b16 h; ld.global.b16 h, [%1]; cvt.f32.f16 %0, h; }" : "=f"(f) : "l"(p));
    return f;
}
