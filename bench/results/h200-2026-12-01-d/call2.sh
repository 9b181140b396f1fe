#!/usr/bin/env bash
# call 2: the portable kernel's pipelined staging (fat_variant 4), with a 128-register cap (four
# work-groups a multiprocessor) and with the inner loops unrolled by 2 (5), beside 1; the
# block-sparse portable path (PA_MMA=0: proxy at 32K) for 1 and 4; then the tensor-core GEMM's
# tiles at 8K tokens (issue 16).
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl test_opencl_flash_attn_tiled > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
PA_KERNEL_CACHE=/tmp/kc-t timeout 100 $B/bin/test_opencl_flash_attn_tiled --gtest_brief=1 2>&1 | tail -3
for v in 1 4 4:128 5 1 4; do
  n=${v%%:*}; tun="fat_variant=$n"; tag=v$n; [ "$v" != "$n" ] && { tun="$tun,fat_maxrreg=${v#*:}"; tag="v$n-r${v#*:}"; }
  [ -f /tmp/p-$tag.json ] && tag=$tag-again
  cache=/tmp/kc-$tag; rm -rf $cache
  PA_OPENCL_TUNING=$tun PA_KERNEL_CACHE=$cache timeout 90 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm 0 --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  python3 -c "
import json
for r in json.load(open('/tmp/p-$tag.json')):
    if r.get('mode')=='dense_portable': print('$tag', r['n'], round(r['time_ms'],2), 'ms', round(r['tflops'],2), 'TFLOP/s rel_l2', r.get('rel_l2_mma_vs_portable'))
" 2>&1
  bash bench/tools/ptxas_from_cache.sh $cache k_flash_attn_tiled_q 2>&1 | grep -E "registers" | sort -u | head -2 | tee /tmp/ptxas-$tag.txt
done
echo "portable done $(date -u +%T)"
for v in 1 4; do
  PA_MMA=0 PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=/tmp/kc-s$v timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 32768 --reps 3 --no-quality --no-stages --sgemm 0 --out /tmp/s-v$v.json > /tmp/s-v$v.txt 2>&1 || { echo "!!! s$v"; tail -5 /tmp/s-v$v.txt; }
  grep -E "dense|proxy" /tmp/s-v$v.txt | tail -4
done
echo "sparse done $(date -u +%T)"
(cd /tmp && tar czf $OUT/portable2.tgz p-v*.json p-v*.txt ptxas-v*.txt s-v*.json s-v*.txt)
GEMM_N=8192 GEMM_TYPES=q4_0,f16 GEMM_VARIANTS="mmq_wn=2,mmq_wm=2,mmq_stages=3 mmq_wn=4,mmq_wm=2,mmq_stages=2 mmq_wn=2,mmq_wm=4,mmq_stages=2" \
  PA_BUILD_DIR=$B timeout 240 bash bench/gemm_gpu.sh variants > /dev/null 2>&1
tail -20 $OUT/gemm_gpu.log
echo "done $(date -u +%T)"
