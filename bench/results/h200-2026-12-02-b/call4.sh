#!/usr/bin/env bash
# call 4: the final tree (NVIDIA's portable entry: fat_variant 6 = 4 launched KV group by KV group,
# heaviest tiles first, lazy running max; fat_maxrreg 168): pa demo and the whole CTest suite on the
# NVIDIA device; then the portable kernel at the defaults beside 6 uncapped and 4, CLBlast SGEMM
# 8192^3 in the same call (Llama-3-8B layer 16K / 32K), SmolLM2's d = 64 at 16K, proxy on the
# portable path (PA_MMA=0) at 32K.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c4
OUT=/tmp/c4 PA_BUILD_DIR=$B bash bench/gpu_session.sh check > /tmp/c4/out.log 2>&1
grep -E "rel diff|proxy keeps|tests passed|tests failed|\*\*\*Failed|Exception|!!!" /tmp/c4/check.log | tail -12
echo "check done $(date -u +%T)"
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') == 'sgemm': print('$2', r.get('shape', ''), r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 2), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s', r.get('rel_l2_mma_vs_portable', ''))
" 2>&1; }
sg=8192
for t in default fat_maxrreg=0 fat_variant=4; do
  tag=${t//=/-}
  PA_OPENCL_BUILD_LOG=1 PA_OPENCL_TUNING=$( [ $t = default ] || echo $t ) PA_KERNEL_CACHE=/tmp/kc-$tag timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  row /tmp/p-$tag.json $tag; grep -i "sgemm" /tmp/p-$tag.txt | head -1
  awk '/flash_attn_tiled_q.cl/{f=1} f&&/registers|spill/{print; n++} n>=2{exit}' /tmp/p-$tag.txt
  sg=0
done
for t in default fat_variant=4; do
  tag=${t//=/-}
  PA_OPENCL_TUNING=$( [ $t = default ] || echo $t ) PA_KERNEL_CACHE=/tmp/kc-d-$tag timeout 90 $B/bin/pa bench attn --device 0 --shapes smollm2-135m \
    --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/p-d64-$tag.json > /tmp/p-d64-$tag.txt 2>&1 || echo "!!! d64 $t"
  row /tmp/p-d64-$tag.json d64-$tag
  PA_MMA=0 PA_OPENCL_TUNING=$( [ $t = default ] || echo $t ) PA_KERNEL_CACHE=/tmp/kc-s-$tag timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 32768 --reps 3 --no-quality --no-stages --sgemm 0 --out /tmp/s-$tag.json > /tmp/s-$tag.txt 2>&1 || { echo "!!! s $t"; tail -5 /tmp/s-$tag.txt; }
  echo "PA_MMA=0 $tag"; grep -E " dense | proxy " /tmp/s-$tag.txt | tail -2
done
cp /tmp/c4/check.log /tmp/c4/ctest.txt $OUT/ 2>/dev/null
(cd /tmp && tar czf $OUT/portable4.tgz p-*.json p-*.txt s-*.json s-*.txt c4)
echo "done $(date -u +%T)"
