#!/usr/bin/env bash
# call 6 (eleventh session): pa bench prefill with its new queued pass (the nodes queued back to
# back, as a model runs them) and --shape smollm2-135m: SmolLM2-135M-shaped layers (30, random Q4_0
# weights, attention on the synthetic needle pattern's Q/K) at 8K / 16K, dense vs proxy at the
# defaults; the Llama-3-8B shape at 32K (2 layers) for comparison with the earlier rows.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c6
OUT=/tmp/c6 PA_BUILD_DIR=$B bash bench/gpu_session.sh build > /tmp/c6/build-out.log 2>&1
grep -E "proxy keeps|error|!!!" /tmp/c6/build-out.log | tail -4
echo "build done $(date -u +%T)"
for r in 1 2; do
  timeout 150 $B/bin/pa bench prefill --device 0 --shape smollm2-135m --layers 30 --n-list 8192,16384 --pattern needle \
    --reps 5 --out /tmp/c6/prefill-smollm2-$r.json 2>&1 | grep -E "prefill|error" || echo "!!! smollm2 $r"
done
timeout 150 $B/bin/pa bench prefill --device 0 --shape llama3-8b --layers 2 --n-list 32768 --pattern needle \
  --reps 2 --out /tmp/c6/prefill-llama.json 2>&1 | grep -E "prefill|error" || echo "!!! llama"
(cd /tmp && tar czf $OUT/c6.tgz c6/*.json c6/build.txt)
echo "done $(date -u +%T)"
