#!/usr/bin/env bash
# call 4 (fifth session): the final tree on the H200 (pa demo, the whole CTest suite with the
# NVIDIA device as the default), then the decode products three ways, side by side in one call:
# "new" (staged blocks read from local memory as aligned words and float4s, mvq_aligned=1, and Q4
# nibbles built from their bits, mvq_nib=1: the defaults), "nib" (mvq_aligned=0: call 3's
# default) and "old" (both 0: the tree before this session). pa bench gemm at N = 1 (Llama-3-8B
# shapes, Q4_0 / Q4_1 / Q8_0) and pa bench model (random-weight Llama-3-8B-shaped Q4_0,
# SmolLM2-shaped Q4_1: pp512, tg128, tg128 after 512).
set -u
export PA_BUILD_DIR=/tmp/pa-build PA_OPENCL_DEVICE=NVIDIA
bash bench/gpu_session.sh check >/dev/null 2>&1
grep -E "rel diff|tolerance|proxy keeps|tests passed|tests failed|\*\*\*Failed|Exception|done" $OUT/check.log | tail -12
echo "check done $(date -u +%T)"
B=/tmp/pa-build
export PA_KERNEL_CACHE=/tmp/kc-dec
timeout 120 $B/bin/pa bench random-model -o /tmp/l8.gguf --shape llama3-8b --type q4_0 > /tmp/rm1.txt 2>&1 || { echo "!!! random l8"; tail -3 /tmp/rm1.txt; }
timeout 60 $B/bin/pa bench random-model -o /tmp/sm.gguf --shape smollm2-135m --type q4_1 > /tmp/rm2.txt 2>&1 || { echo "!!! random sm"; tail -3 /tmp/rm2.txt; }
echo "models $(date -u +%T)"
tun() { case $1 in new) echo "mvq_aligned=1,mvq_nib=1";; nib) echo "mvq_aligned=0,mvq_nib=1";; old) echo "mvq_aligned=0,mvq_nib=0";; esac; }
for c in new nib old new nib old; do
  tag=$c; [ -f /tmp/g-$tag.json ] && tag=$tag-again
  PA_OPENCL_TUNING=$(tun $c) timeout 60 $B/bin/pa bench gemm --device 0 --shapes llama3-8b --types q4_0,q4_1,q8_0 --n-list 1 --reps 7 \
    --blas-max-n 0 --out /tmp/g-$tag.json > /tmp/g-$tag.txt 2>&1 || { echo "!!! gemm $tag"; tail -3 /tmp/g-$tag.txt; }
  echo "== gemm N=1 $tag: $(grep -E 'q[48]_' /tmp/g-$tag.txt | awk '{printf "%s/%s %s  ", $1, $4, $6}')"
done
for c in new nib old new nib old; do
  tag=$c; [ -f /tmp/m8-$tag.json ] && tag=$tag-again
  PA_OPENCL_TUNING=$(tun $c) timeout 90 $B/bin/pa bench model --device 0 -m /tmp/l8.gguf -p 512 -n 128 --tg-after 0 -r 3 \
    --out /tmp/m8-$tag.json > /tmp/m8-$tag.txt 2>&1 || { echo "!!! model8 $tag"; tail -3 /tmp/m8-$tag.txt; }
  echo "== llama3-8b q4_0 $tag: $(grep -E '^(pp512|tg128)' /tmp/m8-$tag.txt | awk '{printf "%s %s  ", $1, $4}')"
done
for c in new nib old new nib old; do
  tag=$c; [ -f /tmp/ms-$tag.json ] && tag=$tag-again
  PA_OPENCL_TUNING=$(tun $c) timeout 60 $B/bin/pa bench model --device 0 -m /tmp/sm.gguf -p 512 -n 128 --tg-after 512 -r 3 \
    --out /tmp/ms-$tag.json > /tmp/ms-$tag.txt 2>&1 || { echo "!!! smol $tag"; tail -3 /tmp/ms-$tag.txt; }
  echo "== smollm2 q4_1 $tag: $(grep -E '^(pp512|tg128)' /tmp/ms-$tag.txt | awk '{printf "%s %s  ", $1, $4}')"
done
(cd /tmp && tar czf $OUT/decode.tgz g-*.json g-*.txt m8-*.json m8-*.txt ms-*.json ms-*.txt rm*.txt)
echo "done $(date -u +%T)"
