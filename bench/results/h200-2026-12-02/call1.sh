#!/usr/bin/env bash
# call 1 (eighth session): the whole suite on the final tree of the seventh session (prep
# work-groups), the estimate's block statistics variants at 128K (pa_estimate_time, same inputs),
# and where the block-sparse kernel loses against its own dense kernel: fixed budgets from a full
# mask (every causal block) down, beside dense, Llama-3-8B layer at 32K and 128K.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
O=/tmp/c1; mkdir -p $O
OUT_FINAL=$OUT
OUT=$O PA_BUILD_DIR=$B bash bench/gpu_session.sh check
cp $O/check.log $O/ctest.txt $OUT_FINAL/ 2>/dev/null
export PA_KERNEL_CACHE=$B/kernel-cache
echo "=== stats variants $(date -u +%T)"
timeout 170 $B/bin/pa_estimate_time --device 0 --shapes llama3-8b,qwen2.5-7b --n-list 131072 --reps 5 \
  --variants default,W8R96,W8R112,W4R128,W16R64,W4R96 --json $O/est.jsonl > $O/est.txt 2>&1 || echo "!!! est"
tail -30 $O/est.txt
echo "=== sparse vs dense $(date -u +%T)"
timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b --n-list 32768 --reps 5 --portable-max 0 --sgemm 0 \
  --recall-rows 16 --variants "budget=fixed,min-tokens=31744;budget=fixed,min-tokens=16384;budget=fixed,min-tokens=8192;budget=fixed,min-tokens=2048" \
  --out $O/sp32.json > $O/sp32.txt 2>&1 || echo "!!! sp32"
cat $O/sp32.txt | tail -20
timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b --n-list 131072 --reps 3 --portable-max 0 --sgemm 0 \
  --no-quality --variants "budget=fixed,min-tokens=129024;budget=fixed,min-tokens=65536" \
  --out $O/sp128.json > $O/sp128.txt 2>&1 || echo "!!! sp128"
cat $O/sp128.txt | tail -12
echo "=== done $(date -u +%T)"
tar czf $OUT_FINAL/call1.tgz -C $O .
