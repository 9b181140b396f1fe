#!/usr/bin/env bash
# call 5 (eleventh session): what a GPU without a vendor entry gets for portable attention now
# (variant 7 with none of NVIDIA's settings: no register cap, no P V unroll) beside variant 0 (the
# default before) and NVIDIA's entry, same call (Llama-3-8B layer, 16K / 32K); the tensor-core GEMM
# kernel alone per Llama-3-8B shape (Q4_0, 8K tokens, PA_OPENCL_PROFILE=device, one shape a run).
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c5
OUT=/tmp/c5 PA_BUILD_DIR=$B bash bench/gpu_session.sh build > /tmp/c5/build-out.log 2>&1
grep -E "proxy keeps|error|!!!" /tmp/c5/build-out.log | tail -4
echo "build done $(date -u +%T)"
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') in ('sgemm', 'portable'): print('$2', r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 3), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s')
" 2>&1 | tr '\n' ' '; echo; }
llama() { # tag tuning
  PA_OPENCL_TUNING=$2 PA_KERNEL_CACHE=/tmp/kc-5 timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/c5/p-$1.json > /tmp/c5/p-$1.txt 2>&1 \
    || { echo "!!! $1"; tail -3 /tmp/c5/p-$1.txt; }
  row /tmp/c5/p-$1.json $1
  sg=0
}
sg=8192
llama nvidia-entry ""
llama generic-v7 fat_variant=7,fat_unroll_pv=0,fat_maxrreg=0
llama v0 fat_variant=0,fat_unroll_pv=0,fat_maxrreg=0
for s in 4096x4096 1024x4096 14336x4096 4096x14336; do
  PA_OPENCL_PROFILE=device PA_KERNEL_CACHE=/tmp/kc-5 timeout 60 $B/bin/pa bench gemm --device 0 --shapes $s \
    --types q4_0 --n-list 8192 --reps 5 --blas-max-n 0 --copy-mib 0 --out /tmp/c5/gemm-$s.json > /tmp/c5/gemm-$s.txt 2>&1 || echo "!!! gemm $s"
  grep -E "tensor_cores|k_mmq " /tmp/c5/gemm-$s.txt | sed 's/  */ /g'
done
(cd /tmp && tar czf $OUT/c5.tgz c5/p-* c5/gemm-* c5/build.txt)
echo "done $(date -u +%T)"
