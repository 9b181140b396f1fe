#!/usr/bin/env bash
# call 2 (eighth session): the tensor-core attention with the next tile's key read a tile ahead and
# optional L2 prefetches of the K / V tiles n tiles ahead (PA_MMA ...P<n>), A (this tree) against
# B (the kernel before, HEAD), Llama-3-8B layer 32K dense and proxy at the defaults, then 128K and a
# fixed low-density mask with and without the prefetch.
set -u
export PA_OPENCL_DEVICE=NVIDIA
OUT_FINAL=$OUT
O=/tmp/c2; mkdir -p $O
OUT=$O/ab AB_KIND=attn AB_ATTN_SHAPES=llama3-8b AB_ATTN_N=32768 AB_REPS=5 AB_ROUNDS=2 AB_PROFILE=0 \
  AB_RUNS="a=a b=b p2=a:PA_MMA=W4B32A1M2F1P2 p4=a:PA_MMA=W4B32A1M2F1P4 p8=a:PA_MMA=W4B32A1M2F1P8" \
  bash bench/ab_gpu.sh .gpu-ab/s8/b1.patch
pa=/tmp/pa-ab/build-a/bin/pa
export PA_KERNEL_CACHE=/tmp/pa-ab/kernel-cache
for p in P0 P4 P2; do
  PA_MMA=W4B32A1M2F1$p timeout 60 $pa bench attn --device 0 --shapes llama3-8b --n-list 32768 --reps 5 --portable-max 0 \
    --sgemm 0 --no-quality --no-stages --variants "budget=fixed,min-tokens=2048;budget=fixed,min-tokens=8192" \
    --out $O/fixed-$p.json > $O/fixed-$p.txt 2>&1 || echo "!!! fixed $p"
  echo "== fixed $p"; grep -E " (dense|proxy) " $O/fixed-$p.txt | awk '!seen[$0]++'
done
for p in P0 P4; do
  PA_MMA=W4B32A1M2F1$p timeout 80 $pa bench attn --device 0 --shapes llama3-8b --n-list 131072 --reps 3 --portable-max 0 \
    --sgemm 0 --no-quality --no-stages --out $O/n128-$p.json > $O/n128-$p.txt 2>&1 || echo "!!! n128 $p"
  echo "== 128K $p"; grep -E " (dense|proxy) " $O/n128-$p.txt | awk '!seen[$0]++'
done
echo "=== done $(date -u +%T)"
tar czf $OUT_FINAL/call2.tgz -C $O .
