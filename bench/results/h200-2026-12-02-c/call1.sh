#!/usr/bin/env bash
# call 1 (tenth session): the portable kernel's variants 7 (6 + the scale folded into Q, unmasked
# tiles not masked) and 8 (7 + native_exp2) beside 6 (NVIDIA's default), two rounds, Llama-3-8B
# layer 16K / 32K, CLBlast SGEMM in the same call; the variants' test on the device first;
# register caps 160 / 176 on 8; SmolLM2's d = 64; proxy on the portable path (PA_MMA=0).
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
for t in v6 v7 v8 v6 v7 v8 v8-c160 v8-c176 v7-c0; do
  v=${t%%-*}; v=${v#v}; cap=""
  case $t in *-c*) cap=",fat_maxrreg=${t##*-c}";; esac
  tag=$t; [ -f /tmp/p-$tag.json ] && tag=$tag-again
  PA_OPENCL_BUILD_LOG=1 PA_OPENCL_TUNING=fat_variant=$v$cap PA_KERNEL_CACHE=/tmp/kc-$t timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  row /tmp/p-$tag.json $tag; grep -i "sgemm" /tmp/p-$tag.txt | head -1
  grep -A8 'flash_attn_tiled_q.cl' /tmp/p-$tag.txt | grep -E 'Used|spill' | head -4
  sg=0
done
for v in 6 8; do
  PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=/tmp/kc-v$v timeout 90 $B/bin/pa bench attn --device 0 --shapes smollm2-135m \
    --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/p-d64-v$v.json > /tmp/p-d64-v$v.txt 2>&1 || echo "!!! d64 $v"
  row /tmp/p-d64-v$v.json d64-v$v
done
for v in 6 8; do
  PA_MMA=0 PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=/tmp/kc-s$v timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 32768 --reps 3 --no-quality --no-stages --sgemm 0 --out /tmp/s-v$v.json > /tmp/s-v$v.txt 2>&1 || { echo "!!! s$v"; tail -5 /tmp/s-v$v.txt; }
  echo "PA_MMA=0 v$v"; grep -E " dense | proxy " /tmp/s-v$v.txt | tail -2
done
(cd /tmp && tar czf $OUT/portable.tgz p-*.json p-*.txt s-v*.json s-v*.txt c1)
echo "done $(date -u +%T)"
