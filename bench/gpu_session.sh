#!/usr/bin/env bash
# bench/gpu_session.sh - what one lent GPU session runs, in phases that each fit one device call
# (10 minutes; the device README). From the repository root, after `source .gpu/gpu-env`:
#   bash bench/gpu_session.sh build     build, pa devices, pa demo on the NVIDIA device
#   bash bench/gpu_session.sh check     build, pa demo, the whole CTest suite on the NVIDIA device
#   bash bench/gpu_session.sh quality   SmolLM2-135M: needle retrieval, perplexity and KL, per-layer
#                                       attention analysis, dense vs proxy (needs the model: MODEL=)
#   bash bench/gpu_session.sh speed     pa bench attn beside PyTorch (SDPA, FlexAttention with the
#                                       same masks), the estimator's stages, prefill
# Results go to $OUT (at most 8 files come back from the device machine); every step runs on its
# own (a failing step is reported and the next one runs); a summary table comes last.
set -uo pipefail
phase=${1:?usage: gpu_session.sh build|check|quality|speed}
OUT=${OUT:-/tmp/pa-gpu-out}
mkdir -p "$OUT"
build=${PA_BUILD_DIR:-/tmp/pa-build}
pa="$build/bin/pa"
log="$OUT/$phase.log"
exec > >(tee -a "$log") 2>&1
export PA_OPENCL_DEVICE=${PA_OPENCL_DEVICE:-NVIDIA} # the default OpenCL device of every test and run
export PA_KERNEL_CACHE="$build/kernel-cache"
source "$(dirname "$0")/gpu_steps.sh" # step, run, device_info

build() {
  step "build ($build)"
  if ! { cmake -B "$build" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 &&
         cmake --build "$build" -j"$(nproc)" >>"$OUT/build.txt" 2>&1; }; then
    tail -40 "$OUT/build.txt"; echo "!!! build failed"; exit 1
  fi
}

case "$phase" in
build|check)
  device_info
  build
  "$pa" devices | head -20
  step "pa demo (the README's main job) on the NVIDIA device"
  run 120 "$pa" demo --device 0
  [ "$phase" = build ] && { echo; echo "=== done build ($(date -u +%H:%M:%S))"; exit 0; }
  step "the whole CTest suite, the NVIDIA device as the default OpenCL device"
  run 420 ctest --test-dir "$build" -j8 --output-on-failure --timeout 300 >"$OUT/ctest.txt" 2>&1
  grep -E "tests passed|tests failed|Failed|\*\*\*" "$OUT/ctest.txt" | tail -30
  ;;
quality)
  model=${MODEL:?MODEL=path/to/SmolLM2-135M-Instruct.Q4_1.gguf}
  texts=${TEXTS:-.gpu-xc} # the last of the model's three parts travels with the texts (bench/NOTES.md)
  [ -x "$pa" ] || build
  step "needle in a haystack, SmolLM2 at ~8K tokens, two real texts, 10 depths x 4 trials"
  settings=${SETTINGS:-"dense;proxy;proxy-heads=3;gamma=0.99;budget=last"}
  for t in sherlock bible-kjv; do
    run 190 "$pa" eval niah --device 0 -m "$model" -f "$texts/$t.txt" -c 8192 --depths 10 --trials 4 \
      --settings "$settings" --out "$OUT/niah-$t.json"
  done
  step "perplexity at 8K, dense vs proxy: KL(dense || proxy), top-1 agreement"
  run 100 "$pa" perplexity --device 0 -m "$model" -f "$texts/sherlock.txt" -c 8192 --chunks 4 --attn both \
    --json >"$OUT/ppl-8k.json"
  [ -n "${SKIP_ATTN:-}" ] && exit 0
  step "per-layer attention analysis at 8K (recall, density, oracle density, head similarity)"
  run 200 "$pa" eval attn --device 0 -m "$model" -f "$texts/sherlock.txt" -c 8192 --layers all \
    --needle-depth 50% --out "$OUT/eval-attn.json" --quiet
  ;;
speed)
  [ -x "$pa" ] || build
  step "pa bench attn (masks saved for PyTorch)"
  run 300 "$pa" bench attn --device 0 --shapes llama3-8b,qwen2.5-7b --n-list 32768,131072 --reps 3 \
    --portable-max 0 --save-masks /tmp/masks --out "$OUT/attn.json"
  step "PyTorch: SDPA dense and FlexAttention with the same masks"
  run 200 python3 bench/anchors/torch_attn.py --hkv 8 --dim 128 --out "$OUT/torch.json" /tmp/masks/llama3-8b-*.mask
  ;;
*) echo "unknown phase $phase"; exit 2 ;;
esac
echo; echo "=== done $phase ($(date -u +%H:%M:%S))"
