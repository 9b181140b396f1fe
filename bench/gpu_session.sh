#!/usr/bin/env bash
# bench/gpu_session.sh - what one lent GPU session runs, in phases that each fit one device call
# (10 minutes; the device README). From the repository root, after `source .gpu/gpu-env`:
#   bash bench/gpu_session.sh build     build, pa devices, pa demo on the NVIDIA device
#   bash bench/gpu_session.sh check     build, pa demo, the whole CTest suite on the NVIDIA device
#   bash bench/gpu_session.sh quality   SmolLM2-135M: needle retrieval, perplexity and KL, per-layer
#                                       attention analysis, dense vs proxy (needs the model: MODEL=)
#   bash bench/gpu_session.sh speed     pa bench attn beside PyTorch (SDPA, FlexAttention with the
#                                       same masks), the estimator's stages, prefill
#   bash bench/gpu_session.sh synthetic   needle / sink-local / diffuse-focused at gamma 0.95, 32K
#                                       and 128K: recall, density, oracle density
#   bash bench/gpu_session.sh model     SmolLM2-135M (MODEL=): needles dense vs proxy, perplexity,
#                                       generation speed (decode_gpu.sh), needles with xattn / flex,
#                                       prefill with structured attention
#   bash bench/gpu_session.sh estimators  proxy / xattn / flex at three thresholds on the same
#                                       inputs (32K, 128K), fixed-budget masks at density ~0.10 /
#                                       0.30, PyTorch SDPA and FlexAttention on every mask
#   bash bench/gpu_session.sh anchor    pa bench model beside llama.cpp's llama-bench (CUDA) on
#                                       SmolLM2 (MODEL=) and a random Llama-3-8B-shaped Q4_0 GGUF
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
  # PA_TEST_PROGRAM_CACHE: on the GPU the tests keep pa's program binaries (a test process would
  # otherwise build every program it uses from source again)
  if ! { cmake -B "$build" -DCMAKE_BUILD_TYPE=Release -DPA_TEST_PROGRAM_CACHE=ON >"$OUT/build.txt" 2>&1 &&
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
  texts=${TEXTS:-.gpu-xe} # the last of the model's five parts travels with the texts (bench/gpu_model_parts.sh)
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
estimators)
  # every estimator on the same inputs (pa bench attn --variants: one dense run, then each setting),
  # the masks timed by FlexAttention in the same call; fixed budgets give densities ~0.10 / 0.30
  [ -x "$pa" ] || build
  T=(gamma=0.9 gamma=0.95 gamma=0.99)
  curve=""
  for e in proxy xattn flex; do for t in "${T[@]}"; do curve+="estimator=$e,$t;"; done; done
  step "Llama-3-8B layer, 32K: three estimators x three thresholds, fixed budgets at density ~0.10 / 0.30"
  run 240 "$pa" bench attn --device 0 --shapes llama3-8b --n-list 32768 --reps 3 --portable-max 0 --sgemm 0 \
    --threads "$(nproc)" --variants "${curve}budget=fixed,min-tokens=1664;budget=fixed,min-tokens=5504" \
    --save-masks /tmp/masks32 --out "$OUT/est-32k.json"
  step "Llama-3-8B layer, 128K: each estimator at its default threshold, fixed budgets at ~0.10 / 0.30"
  run 260 "$pa" bench attn --device 0 --shapes llama3-8b --n-list 131072 --reps 3 --portable-max 0 --sgemm 0 \
    --threads "$(nproc)" --recall-rows 64 \
    --variants "estimator=proxy;estimator=flex;budget=fixed,min-tokens=6784;budget=fixed,min-tokens=21504;estimator=xattn" \
    --save-masks /tmp/masks128 --out "$OUT/est-128k.json"
  step "Qwen2.5-7B layer, 128K: the estimate with g = 1 and g = 4 proxy heads"
  run 150 "$pa" bench attn --device 0 --shapes qwen2.5-7b --n-list 131072 --reps 3 --portable-max 0 --sgemm 0 \
    --threads "$(nproc)" --recall-rows 32 --variants "proxy-heads=1;proxy-heads=4" --out "$OUT/est-qwen-128k.json"
  step "PyTorch: SDPA dense and FlexAttention with the same masks"
  run 200 python3 bench/anchors/torch_attn.py --hkv 8 --dim 128 --out "$OUT/torch-est.json" \
    /tmp/masks32/*.mask /tmp/masks128/*.mask
  ;;
synthetic)
  # issue 12's synthetic criterion: recall mean / p5 and density over the oracle at gamma 0.95
  [ -x "$pa" ] || build
  for pat in needle sink-local diffuse-focused; do
    step "synthetic $pat, gamma 0.95, Llama-3-8B layer, 32K and 128K (recall on 128 rows a head)"
    run 150 "$pa" bench attn --device 0 --shapes llama3-8b --n-list 32768,131072 --reps 3 --portable-max 0 \
      --sgemm 0 --no-stages --threads "$(nproc)" --recall-rows 128 --pattern "$pat" --gamma 0.95 \
      --out "$OUT/synthetic-$pat.json" | grep -E "proxy|dense" | tail -4
  done
  ;;
model)
  # the real-model runs of one session, most important first (needs the model: MODEL=)
  model=${MODEL:?MODEL=path/to/SmolLM2-135M-Instruct.Q4_1.gguf}
  texts=${TEXTS:-.gpu-xe}
  [ -x "$pa" ] || build
  step "needle in a haystack at ~8K, dense vs proxy at the defaults, two texts, 10 depths x 4 trials"
  for t in sherlock bible-kjv; do
    run 150 "$pa" eval niah --device 0 -m "$model" -f "$texts/$t.txt" -c 8192 --depths 10 --trials 4 \
      --settings "dense;proxy" --out "$OUT/niah-$t.json" --quiet | tail -3
  done
  step "perplexity at 8K, dense vs proxy: KL(dense || proxy), top-1 agreement"
  run 100 "$pa" perplexity --device 0 -m "$model" -f "$texts/sherlock.txt" -c 8192 --chunks 4 --attn both \
    --json >"$OUT/ppl-8k.json"
  tail -c 600 "$OUT/ppl-8k.json"; echo
  step "generation: pp512 and tg64 (bench/decode_gpu.sh)"
  OUT="$OUT/decode" PA_BUILD_DIR="$build" MODEL="$model" run 200 bash "$(dirname "$0")/decode_gpu.sh" | tail -15
  step "needle in a haystack with the other estimators (xattn, flex), same prompts, 10 depths x 2 trials"
  for t in sherlock bible-kjv; do
    run 120 "$pa" eval niah --device 0 -m "$model" -f "$texts/$t.txt" -c 8192 --depths 10 --trials 2 \
      --settings "dense;estimator=xattn;estimator=flex" --out "$OUT/niah-estimators-$t.json" --quiet | tail -4
  done
  step "prefill of Llama-3-8B-shaped layers with structured attention (--pattern needle)"
  run 150 "$pa" bench prefill --device 0 --n-list 32768,131072 --layers 1 --pattern needle \
    --out "$OUT/prefill-needle.json" | grep prefill
  ;;
anchor)
  # llama.cpp with CUDA beside pa, same files, llama-bench's way: SmolLM2 (MODEL=) and a random
  # Llama-3-8B-shaped Q4_0 model both programs load (pa bench random-model). Needs llama-bench
  # built by bench/anchors/llama_cpp_cuda.sh build (LLAMA_BUILD=, default /tmp/lcb).
  model=${MODEL:?MODEL=path/to/SmolLM2-135M-Instruct.Q4_1.gguf}
  lcb=${LLAMA_BUILD:-/tmp/lcb}
  anchor="$(dirname "$0")/anchors/llama_cpp_cuda.sh"
  [ -x "$pa" ] || build
  step "a random Llama-3-8B-shaped Q4_0 model"
  big=/tmp/llama3-8b-random-q4_0.gguf
  [ -s "$big" ] || run 200 "$pa" bench random-model --shape llama3-8b --type q4_0 -o "$big"
  for m in "$model" "$big"; do
    name=$(basename "$m" .gguf)
    step "$name: pa bench model (pp512, pp8192, tg128 from 0 and after 512)"
    run 240 "$pa" bench model --device 0 -m "$m" -p 512,8192 -n 128 --tg-after 512 -r 3 --out "$OUT/pa-$name.json"
    step "$name: llama-bench -ngl 99 -fa 1 (pp512, pp8192, tg128 at depth 0 and 512)"
    run 240 bash "$anchor" bench "$lcb" "$m" -p 512,8192 -n 128 -d 0,512 -r 3 >"$OUT/llama-$name.json"
    grep -E '"n_prompt"|"n_gen"|"n_depth"|"avg_ts"' "$OUT/llama-$name.json" | paste - - - - | head
  done
  step "side by side (tokens/s; pa / llama.cpp)"
  python3 - "$OUT" <<'PY' || true
import json, sys, glob, os
out = sys.argv[1]
for pa_file in sorted(glob.glob(os.path.join(out, "pa-*.json"))):
    name = os.path.basename(pa_file)[3:-5]
    try:
        ours = json.load(open(pa_file)); theirs = json.load(open(os.path.join(out, f"llama-{name}.json")))
    except Exception as e:
        print(name, "missing:", e); continue
    def ll(n_prompt, n_gen, depth):
        for r in theirs:
            if r["n_prompt"] == n_prompt and r["n_gen"] == n_gen and r.get("n_depth", 0) == depth:
                return r["avg_ts"]
    for r in ours:
        t = r["test"]
        if t.startswith("pp"): ref = ll(r["tokens"], 0, 0)
        else: ref = ll(0, r["tokens"], r["after"])
        ratio = r["tok_s"] / ref if ref else float("nan")
        print(f"{name:36} {t:10} pa {r['tok_s']:10.1f}  llama.cpp {ref or float('nan'):10.1f}  ratio {ratio:5.2f}")
PY
  ;;
*) echo "unknown phase $phase"; exit 2 ;;
esac
echo; echo "=== done $phase ($(date -u +%H:%M:%S))"
