#!/usr/bin/env bash
# ptxas_libclc.sh PROGRAM KERNEL [-D...]: offline registers / spills of any kernel of
# opencl/kernels/PROGRAM (with common.cl in front, as the backend builds it) for sm_90, through
# clang-14 (nvptx), libclc's builtins (apt-get install libclc-14) and ptxas from a CUDA toolkit,
# e.g. `ptxas_libclc.sh mul_mv_q.cl k_mul_mv_q -DA_TYPE=2 -DMVQ_STAGE=1 -DMVQ_EPI=3 -DMVQ_NORM=1`.
# A different front end than NVIDIA's driver: read the differences between variants, not the
# numbers (mul_mv_q.cl: 118-164 here, 106-120 by the driver's own log, PA_OPENCL_BUILD_LOG=1).
# ptxas_report.sh covers the tensor-core programs without libclc.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
program=$1 kernel=$2
shift 2
ptxas=${PTXAS:-$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)}
clc=${LIBCLC:-/usr/lib/clc/nvptx64--nvidiacl.bc}
[ -f "$clc" ] || { echo "error: no libclc at $clc (apt-get install libclc-14, or LIBCLC=)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "$root/opencl/kernels/common.cl" "$root/opencl/kernels/$program" > "$tmp/src.cl"
# "static inline, always inlined": OpenCL C's plain inline leaves external calls that ptxas cannot
# resolve, where NVIDIA's compiler inlines everything
clang-14 -x cl -cl-std=CL1.2 -target nvptx64-nvidia-nvcl -include opencl-c.h -O3 -march=sm_80 -Wno-pass-failed \
  "-Dinline=static inline __attribute__((always_inline))" "$@" -emit-llvm -c -o "$tmp/k.bc" "$tmp/src.cl"
llvm-link-14 "$tmp/k.bc" "$clc" -o "$tmp/l.bc" 2>/dev/null
llc-14 -mcpu=sm_80 -O3 "$tmp/l.bc" -o "$tmp/k.ptx"
"$ptxas" -arch=sm_90 -v "$tmp/k.ptx" -o "$tmp/k.cubin" 2>&1 | grep -A4 "entry function '$kernel'" |
  grep -oE "[0-9]+ bytes stack frame|[0-9]+ bytes spill stores|[0-9]+ bytes spill loads|Used [0-9]+ registers|[0-9]+ bytes smem" | tr '\n' ' '
echo
