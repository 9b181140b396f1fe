#!/usr/bin/env bash
# call 1 (ninth session): the portable kernel's new variants (5 heavy-first order, 6 lazy running
# max, 7 both) beside 4 (NVIDIA's default), Llama-3-8B layer 16K / 32K, CLBlast SGEMM in the same
# call; the variants' test on the NVIDIA device first; SmolLM2 shape d = 64; proxy on the portable path.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c1; OUT=/tmp/c1 PA_BUILD_DIR=$B bash bench/gpu_session.sh build > /tmp/c1/out.log 2>&1
grep -E "demo|rel|error|!!!" /tmp/c1/out.log | tail -6
PA_KERNEL_CACHE=/tmp/kc-test timeout 200 $B/bin/test_opencl_flash_attn_tiled 2>&1 | grep -E "OK|FAILED|variant" | tail -8
echo "test done $(date -u +%T)"
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') == 'sgemm': print('$2', r.get('shape', ''), r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 2), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s', r.get('rel_l2_mma_vs_portable', ''))
" 2>&1; }
sg=8192
for v in 4 5 6 7 4 5 6 7; do
  tag=v$v; [ -f /tmp/p-$tag.json ] && tag=$tag-again
  PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=/tmp/kc-$v timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  row /tmp/p-$tag.json $tag; grep -i "sgemm" /tmp/p-$tag.txt | head -2
  sg=0
done
for v in 4 7; do
  PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=/tmp/kc-$v timeout 90 $B/bin/pa bench attn --device 0 --shapes smollm2-135m \
    --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/p-d64-v$v.json > /tmp/p-d64-v$v.txt 2>&1 || echo "!!! d64 $v"
  row /tmp/p-d64-v$v.json d64-v$v
done
for v in 4 7; do
  PA_MMA=0 PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=/tmp/kc-s$v timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 32768 --reps 3 --no-quality --no-stages --sgemm 0 --out /tmp/s-v$v.json > /tmp/s-v$v.txt 2>&1 || { echo "!!! s$v"; tail -5 /tmp/s-v$v.txt; }
  echo "PA_MMA=0 v$v"; grep -E " dense | proxy " /tmp/s-v$v.txt | tail -2
done
(cd /tmp && tar czf $OUT/portable.tgz p-*.json p-*.txt s-v*.json s-v*.txt c1)
echo "done $(date -u +%T)"
