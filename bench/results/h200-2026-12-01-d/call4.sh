#!/usr/bin/env bash
# call 4: the final tree (fat_variant 4 = pipelined staging + S unrolled by 2, NVIDIA's default):
# pa demo and the whole CTest suite on the NVIDIA device; then the portable kernel beside variant 1
# and CLBlast SGEMM 8192^3 in the same call (Llama-3-8B layer 16K / 32K; SmolLM2 shape d = 64 at
# 16K), 4 with a 128-register cap, and proxy on the portable path (PA_MMA=0) at 32K.
set -u
export PA_BUILD_DIR=/tmp/pa-build PA_OPENCL_DEVICE=NVIDIA
bash bench/gpu_session.sh check >/dev/null 2>&1
grep -E "rel diff|tolerance|proxy keeps|tests passed|tests failed|\*\*\*Failed|Exception|done" $OUT/check.log | tail -12
echo "check done $(date -u +%T)"
B=/tmp/pa-build
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') == 'sgemm': print('$2', r.get('shape', ''), r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 2), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s', r.get('rel_l2_mma_vs_portable', ''))
" 2>&1; }
sg=8192
for v in 4 1 4:128 4 1; do
  n=${v%%:*}; tun="fat_variant=$n"; tag=v$n; [ "$v" != "$n" ] && { tun="$tun,fat_maxrreg=${v#*:}"; tag="v$n-r${v#*:}"; }
  [ -f /tmp/p-$tag.json ] && tag=$tag-again
  PA_OPENCL_TUNING=$tun PA_KERNEL_CACHE=/tmp/kc-$tag timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  row /tmp/p-$tag.json $tag; grep -i "sgemm" /tmp/p-$tag.txt | head -2
  sg=0
done
for v in 4 1; do
  PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=/tmp/kc-d64-$v timeout 90 $B/bin/pa bench attn --device 0 --shapes smollm2-135m \
    --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/p-d64-v$v.json > /tmp/p-d64-v$v.txt 2>&1 || echo "!!! d64 $v"
  row /tmp/p-d64-v$v.json d64-v$v
done
for v in 4 1; do
  PA_MMA=0 PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=/tmp/kc-s$v timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 32768 --reps 3 --no-quality --no-stages --sgemm 0 --out /tmp/s-v$v.json > /tmp/s-v$v.txt 2>&1 || { echo "!!! s$v"; tail -5 /tmp/s-v$v.txt; }
  echo "PA_MMA=0 v$v"; grep -E " dense | proxy " /tmp/s-v$v.txt | tail -2
done
(cd /tmp && tar czf $OUT/portable4.tgz p-*.json p-*.txt s-v*.json s-v*.txt)
echo "done $(date -u +%T)"
