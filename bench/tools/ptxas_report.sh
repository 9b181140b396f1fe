#!/usr/bin/env bash
# ptxas_report.sh PROGRAM KERNEL [-D...]: offline register/spill report of one tensor-core kernel
# for sm_90, e.g. `ptxas_report.sh mul_mat_mma.cl k_mmq -DMMQ_W=2` or
# `ptxas_report.sh flash_attn_mma.cl fa_mma`, using clang (nvptx) + ptxas from a CUDA toolkit.
# NVIDIA's OpenCL compiler is a different front end, so the numbers are a guide; the device build
# log (-cl-nv-verbose) is the measurement. SPARSE=1 puts flash_attn_mma_sparse.cl in front.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
program=$1 kernel=$2
shift 2
ptxas=${PTXAS:-$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)}
clang=${CLANG:-$(command -v clang-15 || command -v clang)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "$root/bench/tools/ptx_prelude.cl" "$root/opencl/kernels/mma_ptx.cl" > "$tmp/src.cl"
[ -n "${SPARSE:-}" ] && cat "$root/opencl/kernels/flash_attn_mma_sparse.cl" >> "$tmp/src.cl"
# the GEMMs' shared part, as opencl/context.cpp's program_pieces puts it in front of them
case "$program" in mul_mat_mma*.cl) cat "$root/opencl/kernels/mmq_common.cl" >> "$tmp/src.cl" ;; esac
cat "$root/opencl/kernels/$program" >> "$tmp/src.cl"
"$clang" -x cl -cl-std=CL1.2 -target nvptx64-nvidia-nvcl -Xclang -finclude-default-header -O3 -march=sm_80 \
  -Wno-pass-failed "-Dinline=static inline __attribute__((always_inline))" "$@" -S -o "$tmp/k.ptx" "$tmp/src.cl"
# clang-15 writes PTX for sm_80 at most; NVIDIA's driver targets sm_90 (mbarrier.try_wait needs it)
sed -i -e 's/^\.version .*/.version 7.8/' -e 's/^\.target sm_80/.target sm_90/' "$tmp/k.ptx"
[ -n "${KEEP_PTX:-}" ] && cp "$tmp/k.ptx" "$KEEP_PTX"
"$ptxas" -arch=sm_90 -v "$tmp/k.ptx" -o "$tmp/k.cubin" 2>&1 | grep -A4 "entry function '$kernel'" |
  grep -oE "[0-9]+ bytes stack frame|[0-9]+ bytes spill stores|[0-9]+ bytes spill loads|Used [0-9]+ registers|[0-9]+ bytes smem" | tr '\n' ' '
echo
