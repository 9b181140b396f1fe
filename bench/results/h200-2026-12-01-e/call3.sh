#!/usr/bin/env bash
# call 3 (fifth session): the final tree on the H200 (pa demo, the whole CTest suite with the
# NVIDIA device as the default), then the decode products with Q4 nibbles made floats from their
# bits (mvq_nib=1, the new default) against integer-to-float conversions (mvq_nib=0), side by side
# in one process type: pa bench gemm at N = 1 (Llama-3-8B shapes, Q4_0 / Q4_1) and pa bench model
# tg128 on random-weight Llama-3-8B-shaped Q4_0 and SmolLM2-shaped Q4_1 models.
set -u
export PA_BUILD_DIR=/tmp/pa-build PA_OPENCL_DEVICE=NVIDIA
bash bench/gpu_session.sh check >/dev/null 2>&1
grep -E "rel diff|tolerance|proxy keeps|tests passed|tests failed|\*\*\*Failed|Exception|done" $OUT/check.log | tail -12
echo "check done $(date -u +%T)"
B=/tmp/pa-build
export PA_KERNEL_CACHE=/tmp/kc-dec
timeout 120 $B/bin/pa bench random-model -o /tmp/l8.gguf --shape llama3-8b --type q4_0 > /tmp/rm1.txt 2>&1 || { echo "!!! random l8"; tail -3 /tmp/rm1.txt; }
timeout 60 $B/bin/pa bench random-model -o /tmp/sm.gguf --shape smollm2-135m --type q4_1 > /tmp/rm2.txt 2>&1 || { echo "!!! random sm"; tail -3 /tmp/rm2.txt; }
echo "models $(date -u +%T) $(ls -la /tmp/l8.gguf /tmp/sm.gguf | awk '{print $5}' | tr '\n' ' ')"
for nib in 1 0 1 0; do
  tag=n$nib; [ -f /tmp/g-$tag.json ] && tag=$tag-again
  PA_OPENCL_TUNING=mvq_nib=$nib timeout 60 $B/bin/pa bench gemm --device 0 --shapes llama3-8b --types q4_0,q4_1 --n-list 1 --reps 5 \
    --blas-max-n 0 --out /tmp/g-$tag.json > /tmp/g-$tag.txt 2>&1 || { echo "!!! gemm $tag"; tail -3 /tmp/g-$tag.txt; }
  echo "== gemm N=1 mvq_nib=$nib"; grep -E "q4_" /tmp/g-$tag.txt | head -8
done
for nib in 1 0 1 0; do
  tag=n$nib; [ -f /tmp/m8-$tag.json ] && tag=$tag-again
  PA_OPENCL_TUNING=mvq_nib=$nib timeout 90 $B/bin/pa bench model --device 0 -m /tmp/l8.gguf -p 512 -n 128 --tg-after 0 -r 3 \
    --out /tmp/m8-$tag.json > /tmp/m8-$tag.txt 2>&1 || { echo "!!! model8 $tag"; tail -3 /tmp/m8-$tag.txt; }
  echo "== llama3-8b q4_0 mvq_nib=$nib"; grep -E "pp512|tg128" /tmp/m8-$tag.txt | head -4
done
for nib in 1 0 1 0; do
  tag=n$nib; [ -f /tmp/ms-$tag.json ] && tag=$tag-again
  PA_OPENCL_TUNING=mvq_nib=$nib timeout 60 $B/bin/pa bench model --device 0 -m /tmp/sm.gguf -p 512 -n 128 --tg-after 512 -r 3 \
    --out /tmp/ms-$tag.json > /tmp/ms-$tag.txt 2>&1 || { echo "!!! smol $tag"; tail -3 /tmp/ms-$tag.txt; }
  echo "== smollm2 q4_1 mvq_nib=$nib"; grep -E "pp512|tg128" /tmp/ms-$tag.txt | head -4
done
(cd /tmp && tar czf $OUT/decode.tgz g-*.json g-*.txt m8-*.json m8-*.txt ms-*.json ms-*.txt rm*.txt)
echo "done $(date -u +%T)"
