#!/usr/bin/env bash
# ptxas_report.sh [-D...]: offline register/spill report of the fa_mma kernels for sm_90, using
# clang (nvptx) + ptxas from a CUDA toolkit. NVIDIA's OpenCL compiler is a different front end,
# so the numbers are a guide; the device build log (-cl-nv-verbose, printed by pa_mma_check) is
# the measurement.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
ptxas=${PTXAS:-$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "$root/bench/tools/ptx_prelude.cl" > "$tmp/src.cl"
[ -n "${SPARSE:-}" ] && cat "$root/plugin/kernels/sparse_attn_mma.cl" >> "$tmp/src.cl"
cat "$root/opencl/kernels/fa_mma.cl" >> "$tmp/src.cl"
clang-15 -x cl -cl-std=CL1.2 -target nvptx64-nvidia-nvcl -Xclang -finclude-default-header -O3 -march=sm_80 \
  -Wno-pass-failed "$@" -S -o "$tmp/fa.ptx" "$tmp/src.cl"
"$ptxas" -arch=sm_90 -v "$tmp/fa.ptx" -o "$tmp/fa.cubin" 2>&1 | grep -A4 "entry function 'fa_mma'" |
  grep -oE "[0-9]+ bytes stack frame|[0-9]+ bytes spill stores|Used [0-9]+ registers" | tr '\n' ' '
echo
