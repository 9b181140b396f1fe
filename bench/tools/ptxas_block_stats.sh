#!/usr/bin/env bash
# ptxas_block_stats.sh [-D...]: offline register/spill report of the tensor-core estimate kernels
# (plugin/proxy_sparse_attn/kernels/proxy_block_stats.cl after opencl/kernels/mma_ptx.cl, BS_MODE=1) for sm_90, with clang
# (nvptx) + ptxas from a CUDA toolkit, and the PTX instruction mix of proxy_stats. NVIDIA's
# OpenCL compiler is a different front end: a guide; its build log is the measurement.
#   bash bench/tools/ptxas_block_stats.sh                      # DP=128 KT=128 W8, cap 128
#   MAXREG=0 bash bench/tools/ptxas_block_stats.sh -DBS_DP=64  # no register cap
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
ptxas=${PTXAS:-$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)}
clang=${CLANG:-$(command -v clang-14 || command -v clang)}
maxreg=${MAXREG:-128}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the OpenCL builtins the kernels use, for clang without libclc; `inline` made static so that
# clang emits no external calls
cat >"$tmp/src.cl" <<'PRELUDE'
#define asm __asm__
#define get_local_id(i) ((size_t)__nvvm_read_ptx_sreg_tid_x())
#define get_group_id(i) ((size_t)((i) == 0 ? __nvvm_read_ptx_sreg_ctaid_x() : (i) == 1 ? __nvvm_read_ptx_sreg_ctaid_y() : __nvvm_read_ptx_sreg_ctaid_z()))
#define get_num_groups(i) ((size_t)((i) == 0 ? __nvvm_read_ptx_sreg_nctaid_x() : (i) == 1 ? __nvvm_read_ptx_sreg_nctaid_y() : __nvvm_read_ptx_sreg_nctaid_z()))
#define barrier(f) __asm__ volatile("bar.sync 0;" ::: "memory")
#define OVL __attribute__((overloadable))
float OVL fmax(float a, float b) { return __builtin_fmaxf(a, b); }
float2 OVL fmax(float2 a, float2 b) { return (float2)(__builtin_fmaxf(a.x, b.x), __builtin_fmaxf(a.y, b.y)); }
float OVL fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
float OVL rint(float a) { return __builtin_rintf(a); }
int OVL min(int a, int b) { return a < b ? a : b; }
uint2 OVL vload2(size_t i, const global uint* p) { return *(const global uint2*)(p + 2 * i); }
uint2 OVL vload2(size_t i, const local uint* p) { return *(const local uint2*)(p + 2 * i); }
float2 OVL vload2(size_t i, const local float* p) { return *(const local float2*)(p + 2 * i); }
float4 OVL convert_float4(int4 a) { return (float4)((float)a.x, (float)a.y, (float)a.z, (float)a.w); }
float4 OVL select(float4 a, float4 b, int4 c) { return (float4)(c.x < 0 ? b.x : a.x, c.y < 0 ? b.y : a.y, c.z < 0 ? b.z : a.z, c.w < 0 ? b.w : a.w); }
#define inline static inline __attribute__((always_inline))
PRELUDE
k="$root/plugin/proxy_sparse_attn/kernels"
cat "$k/proxy_det.cl" "$root/opencl/kernels/mma_ptx.cl" "$k/proxy_block_stats.cl" >>"$tmp/src.cl"
"$clang" -x cl -cl-std=CL1.2 -target nvptx64-nvidia-nvcl -Xclang -finclude-default-header -O3 -march=sm_80 \
  -DBS_MODE=1 -DBS_DP=128 -DBS_KT=128 -DBS_WARPS=8 "$@" -S -o "$tmp/bs.ptx" "$tmp/src.cl"
cap=()
[ "$maxreg" != 0 ] && cap=(-maxrregcount="$maxreg")
"$ptxas" -arch=sm_90 -v "${cap[@]}" "$tmp/bs.ptx" -o "$tmp/bs.cubin" 2>&1 | grep -E "entry function|Used|spill"
echo "PTX instructions of proxy_stats (the unrolled tile loop: per 64 logits a lane):"
awk '/.entry proxy_stats/,/^}/' "$tmp/bs.ptx" | grep -oE "^\s+[a-z][a-z0-9_.]+" | sort | uniq -c | sort -rn | head -16
