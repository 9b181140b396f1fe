#!/usr/bin/env bash
# call 1 (eleventh session): build; the portable attention's defaults (variant 7, cap 160) beside
# new tuning keys fat_unroll_s (S's loop over dims) and fat_unroll_pv (O += P V's loop over keys)
# at several register caps (Llama-3-8B layer, 16K / 32K, CLBlast SGEMM 8192^3 in the same call);
# the PTX NVIDIA's compiler made for each (kernel caches, for ptxas / SASS offline); the
# tensor-core GEMM's kernels alone (PA_OPENCL_PROFILE=device) at 8K for every Llama shape.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c1
OUT=/tmp/c1 PA_BUILD_DIR=$B bash bench/gpu_session.sh build > /tmp/c1/build-out.log 2>&1
grep -E "rel|proxy keeps|error|!!!" /tmp/c1/build-out.log | tail -6
echo "build done $(date -u +%T)"
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') in ('sgemm', 'portable'): print('$2', r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 3), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s')
" 2>&1 | tr '\n' ' '; echo; }
llama() { # tag tuning cache
  PA_OPENCL_BUILD_LOG=1 PA_OPENCL_TUNING=$2 PA_KERNEL_CACHE=$3 timeout 90 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/c1/p-$1.json > /tmp/c1/p-$1.txt 2>&1 \
    || { echo "!!! $1"; tail -3 /tmp/c1/p-$1.txt; }
  row /tmp/c1/p-$1.json $1
  grep -E 'SGEMM|sgemm' /tmp/c1/p-$1.txt | head -1
  grep -A3 'flash_attn_tiled_q.cl' /tmp/c1/p-$1.txt | grep -oE 'Used [0-9]+ registers|spill[^,]*' | head -2 | tr '\n' ' '; echo
  sg=0
}
sg=8192
llama default "" /tmp/kc-default
for cfg in fat_unroll_s=4 fat_unroll_s=4,fat_maxrreg=168 fat_unroll_s=4,fat_maxrreg=0 fat_unroll_s=4,fat_maxrreg=152 \
           fat_unroll_pv=1 fat_unroll_pv=2 fat_unroll_pv=4 fat_unroll_pv=8 fat_unroll_pv=32 fat_maxrreg=0; do
  llama "$(echo $cfg | tr ',=' '-_')" "$cfg" /tmp/kc-sweep
done
llama default-again "" /tmp/kc-default
echo "sweep done $(date -u +%T)"
PA_OPENCL_PROFILE=device PA_KERNEL_CACHE=/tmp/kc-gemm timeout 150 $B/bin/pa bench gemm --device 0 --shapes llama3-8b \
  --types q4_0,q8_0,f16 --n-list 8192 --reps 3 --blas-max-n 0 --copy-mib 0 --out /tmp/c1/gemm.json > /tmp/c1/gemm.txt 2>&1 || echo "!!! gemm"
grep -E "TFLOP|k_mmq|tflops" /tmp/c1/gemm.txt | head -40
mkdir -p /tmp/c1/ptx
for d in /tmp/kc-default /tmp/kc-sweep; do
  for f in $d/*.bin; do grep -aq "k_flash_attn_tiled_q" "$f" && cp "$f" /tmp/c1/ptx/$(basename $d)-$(basename $f); done
done
ls /tmp/c1/ptx | wc -l
cp /tmp/c1/build-out.log $OUT/
(cd /tmp && tar czf $OUT/c1.tgz c1/p-*.json c1/p-*.txt c1/gemm.* c1/ptx c1/build.log)
echo "done $(date -u +%T)"
