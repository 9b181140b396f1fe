// ptx_prelude.cl - lets clang compile opencl/kernels/fa_mma.cl for nvptx without libclc, so
// that ptxas can report registers and spills offline (bench/tools/ptxas_report.sh). Only the
// builtins fa_mma.cl uses, mapped to NVVM intrinsics; dimension 0 only (what the kernels use).
#define asm __asm__
#define get_local_id(i) ((size_t)__nvvm_read_ptx_sreg_tid_x())
#define get_group_id(i) ((size_t)__nvvm_read_ptx_sreg_ctaid_x())
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
