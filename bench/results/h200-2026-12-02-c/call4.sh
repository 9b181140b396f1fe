#!/usr/bin/env bash
# call 4 (tenth session): the final tree (call 3's kernels; the host folds the scale into Q only
# where |scale log2(e)| <= 1, which call 3's two failures, scales of 3e38, needed): pa demo and the
# whole CTest suite on the NVIDIA device; the defaults once more (Llama-3-8B layer 16K / 32K).
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c4
OUT=/tmp/c4 PA_BUILD_DIR=$B bash bench/gpu_session.sh check > /tmp/c4/out.log 2>&1
grep -E "rel diff|proxy keeps|tests passed|tests failed|\*\*\*Failed|Exception|!!!" /tmp/c4/check.log | tail -12
echo "check done $(date -u +%T)"
PA_KERNEL_CACHE=/tmp/kc-def timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b --n-list 16384,32768 --reps 3 \
  --portable-max 32768 --sgemm 8192 --no-quality --no-stages --out /tmp/c4/p-default.json > /tmp/c4/p-default.txt 2>&1 || echo "!!! bench"
grep -E "portable|SGEMM" /tmp/c4/p-default.txt | head -6
cp /tmp/c4/check.log /tmp/c4/ctest.txt /tmp/c4/p-default.json /tmp/c4/p-default.txt $OUT/ 2>/dev/null
echo "done $(date -u +%T)"
