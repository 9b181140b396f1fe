#!/usr/bin/env bash
# call 5 (eighth session, the last device seconds): split rows in the block-sparse kernel
# (mma_split_per_cu, default 16) against none (0), one build; SmolLM2 shape 8K / 16K and Llama-3-8B
# 8K, dense and proxy at the defaults, A / B in turn; then pa attn at 8K with each (proxy's error
# against dense must not change).
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
O=/tmp/c5; mkdir -p $O
OUT_FINAL=$OUT
(cmake -B $B -DCMAKE_BUILD_TYPE=Release > $O/build.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl >> $O/build.txt 2>&1) || { tail -20 $O/build.txt; exit 1; }
pa=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
for round in 1 2; do
  for t in mma_split_per_cu=16 mma_split_per_cu=0; do
    PA_OPENCL_TUNING=$t timeout 40 $pa bench attn --device 0 --shapes smollm2-135m,llama3-8b --n-list 8192,16384 --reps 15 \
      --portable-max 0 --sgemm 0 --no-quality --no-stages --out $O/attn-$t-$round.json > $O/attn-$t-$round.txt 2>&1 || echo "!!! $t"
    echo "== $t round $round"; grep -E " (dense|proxy) " $O/attn-$t-$round.txt | awk '!seen[$0]++'
  done
done
for t in mma_split_per_cu=16 mma_split_per_cu=0; do
  PA_OPENCL_TUNING=$t timeout 30 $pa attn --device 0 --n 8192 --heads 9 --kv-heads 3 --dim 64 --kv-type f16 --no-stages --no-recall > $O/pa-attn-$t.txt 2>&1 || echo "!!! attn $t"
  echo "== pa attn $t"; grep -E "density|error|time" $O/pa-attn-$t.txt
done
echo "=== done $(date -u +%T)"
tar czf $OUT_FINAL/call5.tgz -C $O .
