#!/usr/bin/env bash
# call 2 (eleventh session): O += P V's loop over keys unrolled 8 times (fat_unroll_pv=8, 31.3 /
# 31.5 TFLOP/s at 16K / 32K in call 1 against the defaults' 29.7 / 29.9) beside the caps around
# it, 16 keys, and S's loop unrolled 4 times with it; SmolLM2's d = 64 and the block-sparse
# portable path (PA_MMA=0, 32K synthetic needle) for the old defaults and the new unroll.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c2
OUT=/tmp/c2 PA_BUILD_DIR=$B bash bench/gpu_session.sh build > /tmp/c2/build-out.log 2>&1
grep -E "proxy keeps|error|!!!" /tmp/c2/build-out.log | tail -4
echo "build done $(date -u +%T)"
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') in ('sgemm', 'portable'): print('$2', r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 3), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s')
" 2>&1 | tr '\n' ' '; echo; }
llama() { # tag tuning
  PA_OPENCL_BUILD_LOG=1 PA_OPENCL_TUNING=$2 PA_KERNEL_CACHE=/tmp/kc-sweep timeout 90 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/c2/p-$1.json > /tmp/c2/p-$1.txt 2>&1 \
    || { echo "!!! $1"; tail -3 /tmp/c2/p-$1.txt; }
  row /tmp/c2/p-$1.json $1
  grep -E 'SGEMM' /tmp/c2/p-$1.txt | head -1 | cut -c1-50
  grep -A3 'flash_attn_tiled_q.cl' /tmp/c2/p-$1.txt | grep -oE 'Used [0-9]+ registers|spill[^,]*' | head -2 | tr '\n' ' '; echo
  sg=0
}
sg=8192
for cfg in fat_unroll_pv=8 fat_unroll_pv=8,fat_maxrreg=164 fat_unroll_pv=8,fat_maxrreg=168 fat_unroll_pv=8,fat_maxrreg=0 \
           fat_unroll_pv=8,fat_maxrreg=156 fat_unroll_pv=16 fat_unroll_pv=8,fat_unroll_s=4 fat_unroll_pv=8,fat_unroll_s=4,fat_maxrreg=168 \
           fat_unroll_pv=32,fat_maxrreg=168 fat_unroll_pv=0 fat_unroll_pv=8-again; do
  llama "$(echo $cfg | tr ',=' '-_')" "${cfg%-again}"
done
echo "sweep done $(date -u +%T)"
for t in old pv8; do
  tu=fat_unroll_pv=0; [ $t = pv8 ] && tu=fat_unroll_pv=8
  PA_OPENCL_TUNING=$tu PA_KERNEL_CACHE=/tmp/kc-sweep timeout 90 $B/bin/pa bench attn --device 0 --shapes smollm2-135m \
    --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/c2/d64-$t.json > /tmp/c2/d64-$t.txt 2>&1 || echo "!!! d64 $t"
  row /tmp/c2/d64-$t.json d64-$t
  PA_MMA=0 PA_OPENCL_TUNING=$tu PA_KERNEL_CACHE=/tmp/kc-sweep timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 32768 --reps 3 --no-quality --no-stages --sgemm 0 --out /tmp/c2/s-$t.json > /tmp/c2/s-$t.txt 2>&1 || { echo "!!! s $t"; tail -3 /tmp/c2/s-$t.txt; }
  echo "PA_MMA=0 $t"; grep -E " dense | proxy " /tmp/c2/s-$t.txt | tail -2
done
mkdir -p /tmp/c2/ptx
for f in /tmp/kc-sweep/*.bin; do grep -aq "k_flash_attn_tiled_q" "$f" && cp "$f" /tmp/c2/ptx/; done
cp /tmp/c2/build-out.log $OUT/
(cd /tmp && tar czf $OUT/c2.tgz c2/p-*.json c2/p-*.txt c2/d64-* c2/s-* c2/ptx c2/build.log)
echo "done $(date -u +%T)"
