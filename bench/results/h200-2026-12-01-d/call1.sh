#!/usr/bin/env bash
# call 1 (2026-12-01, fourth session): the whole suite and pa demo on the NVIDIA device (the
# kernels changed after the last H200 run), then the portable FP32 variants side by side: 1 (the
# default), 4 (1 + pipelined staging), 5 (Q from global memory, two stages a tile), 6 (5 +
# pipelined), 7 (64 x 64 tiles of 256 items, Q from global, pipelined), 8 (7 without pipelining).
set -u
export PA_BUILD_DIR=/tmp/pa-build PA_OPENCL_DEVICE=NVIDIA
bash bench/gpu_session.sh check >/dev/null 2>&1
grep -E "rel diff|tolerance|proxy keeps|tests passed|tests failed|\*\*\*Failed|Exception|done" $OUT/check.log | tail -12
echo "check done $(date -u +%T)"
B=/tmp/pa-build
for v in 1 4 5 6 7 8 1; do
  tag=v$v; [ -f /tmp/p-$tag.json ] && tag=v$v-again
  cache=/tmp/kc-$tag; rm -rf $cache
  PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=$cache timeout 90 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm 0 --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  python3 -c "
import json
for r in json.load(open('/tmp/p-$tag.json')):
    if r.get('mode')=='dense_portable': print('$tag', r['n'], round(r['time_ms'],2), 'ms', round(r['tflops'],2), 'TFLOP/s rel_l2', r.get('rel_l2_mma_vs_portable'))
" 2>&1
  kernel=k_flash_attn_tiled_q
  bash bench/tools/ptxas_from_cache.sh $cache $kernel 2>&1 | grep -E "registers|spill|no program" | sort -u | head -4 > /tmp/ptxas-$tag.txt
  cat /tmp/ptxas-$tag.txt
done
(cd /tmp && tar czf $OUT/portable.tgz p-v*.json p-v*.txt ptxas-v*.txt)
echo "done $(date -u +%T)"
