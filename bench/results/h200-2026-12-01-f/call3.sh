#!/usr/bin/env bash
# call 3 (seventh session): (a) the sample rows' tables kept by their fields (A) against built and
# compared every node (B), SmolLM2-shaped attention at 8K / 16K, with device profiles at 8K;
# (b) the estimate's stages at 128K with the block statistics' register cap (128, now applied
# through the PTX) against none; (c) k/v-shaped GEMMs with b read as F32 in two stages against the
# default (three stages through the f16 copy).
set -u
export PA_OPENCL_DEVICE=NVIDIA
OUT_FINAL=$OUT
O=/tmp/c3; mkdir -p $O
OUT=$O/ab AB_KIND=attn AB_ATTN_SHAPES=smollm2-135m AB_ATTN_N=8192,16384 AB_REPS=15 AB_ROUNDS=3 bash bench/ab_gpu.sh .gpu-ab/b3.patch
pa=/tmp/pa-ab/build-a/bin/pa
export PA_KERNEL_CACHE=/tmp/pa-ab/kernel-cache
for v in W8R128 W8R0; do
  PA_PROXY_STATS=$v timeout 200 $pa bench attn --device 0 --shapes llama3-8b,qwen2.5-7b --n-list 131072 --reps 3 \
    --portable-max 0 --sgemm 0 --no-quality --out $O/stages-$v.json > $O/stages-$v.txt 2>&1 || echo "!!! $v"
  echo "== PA_PROXY_STATS=$v"; grep -iE "proxy|stage|pool|score|budget|mask" $O/stages-$v.txt | head -24
done
for t in "" "mmq_stages=2" "mmq_stages=2,mmq_x16_min_m=1"; do
  PA_OPENCL_TUNING=$t timeout 120 $pa bench gemm --device 0 --shapes 1024x4096,4096x4096 --types q4_0,q8_0,f16 \
    --n-list 8192,32768,131072 --reps 5 --blas-max-n 0 --copy-mib 0 --out $O/gemm-${t:-default}.json > $O/gemm-${t:-default}.txt 2>&1 || echo "!!! $t"
  echo "== gemm ${t:-default}"; grep -E "x4096 " $O/gemm-${t:-default}.txt
done
echo "=== done $(date -u +%T)"
tar czf $OUT_FINAL/call3.tgz -C $O .
