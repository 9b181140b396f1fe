#!/usr/bin/env bash
# call 3: unrolling of the pipelined kernel's inner loops (fat_variant: 4 none, 5 S 2 / O 2, 6 4 / 4,
# 7 2 / -, 8 - / 2, 9 4 / 2), side by side, each variant against the double reference first.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl test_opencl_flash_attn_tiled > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
PA_KERNEL_CACHE=/tmp/kc-t timeout 150 $B/bin/test_opencl_flash_attn_tiled --gtest_brief=1 2>&1 | tail -3
for v in 4 5 6 7 8 9 5 9; do
  tag=v$v; [ -f /tmp/p-$tag.json ] && tag=$tag-again
  cache=/tmp/kc-$tag; rm -rf $cache
  PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=$cache timeout 90 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm 0 --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  python3 -c "
import json
for r in json.load(open('/tmp/p-$tag.json')):
    if r.get('mode')=='dense_portable': print('$tag', r['n'], round(r['time_ms'],2), 'ms', round(r['tflops'],2), 'TFLOP/s rel_l2', r.get('rel_l2_mma_vs_portable'))
" 2>&1
  bash bench/tools/ptxas_from_cache.sh $cache k_flash_attn_tiled_q 2>&1 | grep -E "registers" | sort -u | head -2 | tee /tmp/ptxas-$tag.txt
done
(cd /tmp && tar czf $OUT/portable3.tgz p-v*.json p-v*.txt ptxas-v*.txt)
echo "done $(date -u +%T)"
