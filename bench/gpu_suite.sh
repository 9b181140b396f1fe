#!/usr/bin/env bash
# bench/gpu_suite.sh - the one script the GPU machine runs: build, tensor-core kernel checks,
# the benchmarks, plots. From the repository root, after `source .gpu/gpu-env`:
#   bash bench/gpu_suite.sh [full|quick]        (results in $OUT, default /tmp/pa-gpu-out)
# quick: checks, kernel variants, attention up to 32K, prefill at 32K (to tune and catch bugs);
# full:  checks, attention 4K..128K on both shapes, prefill 32K..128K, model runs, plots.
# Every step runs on its own (a failing step is reported and the next one runs); the summary
# table comes last. Files in $OUT (at most 8 come back from the device machine):
#   suite.log  attn.json  prefill.json  mma.jsonl  portable.json  bench.png  models.tgz
set -uo pipefail
mode=${1:-full}
OUT=${OUT:-/tmp/pa-gpu-out}
mkdir -p "$OUT"
log="$OUT/suite.log"
exec > >(tee -a "$log") 2>&1
build=${PA_BUILD_DIR:-build-gpu-dev}
pa="$build/bin/pa"
source "$(dirname "$0")/gpu_steps.sh" # step, run, device_info

device_info

step "build"
if ! { cmake -B "$build" -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF >"$OUT/build.txt" 2>&1 &&
       cmake --build "$build" -j"$(nproc)" --target pa_cli pa-opencl pa_mma_check >>"$OUT/build.txt" 2>&1; }; then
  tail -40 "$OUT/build.txt"; echo "!!! build failed"; exit 1
fi
echo "built $(ls "$build"/bin)"
export PA_KERNEL_CACHE="$build/kernel-cache"

if [ "$mode" = quick ]; then dv=W8B64A1,W8B64A0,W4B64A1,W4B32A1,W8B32A1; else dv=W8B64A0,W8B64A1; fi
variants=${PA_MMA_VARIANTS:-$dv}
if [ "$mode" = quick ]; then nl=4096,8192,16384,32768; sn=32768; else nl=4096,8192,16384,32768,65536,131072; sn=131072; fi

step "tensor-core kernels: checks against a CPU reference (one process per variant)"
for v in ${variants//,/ }; do run 120 "$build/bin/pa_mma_check" --check-only --variants "$v"; done

step "product path: pa attn on the device (small N; tensor cores, then the portable kernels)"
run 120 "$pa" attn --device 0 --n 1024 --heads 8 --kv-heads 2 --dim 128 --min-tokens 0 --gamma 0.9
run 120 env PA_MMA=0 "$pa" attn --device 0 --n 1024 --heads 8 --kv-heads 2 --dim 128 --min-tokens 0 --gamma 0.9 --no-recall

# (the call that runs this has 10 minutes: the most important results first; JSON files are
# written as they grow, so a cut-off run still returns what it measured)
step "pa bench attn"
if [ "$mode" = quick ]; then
  run 400 "$pa" bench attn --device 0 --n-list 4096,16384,32768 --shapes llama3-8b,qwen2.5-7b --reps 3 \
    --out "$OUT/attn.json"
else
  run 330 "$pa" bench attn --device 0 --out "$OUT/attn.json"
fi

step "tensor-core kernels: variants at 32K, dense N sweep, block-sparse at density 0.3 / 0.1"
# the first variant twice: the spread between two runs of one version is the noise
run 120 "$build/bin/pa_mma_check" --time-only --variants "$variants,${variants%%,*}" --n-list "$nl" --sparse-n "$sn" \
  --reps 3 --json "$OUT/mma.jsonl"

step "pa bench prefill"
if [ "$mode" = quick ]; then
  run 300 "$pa" bench prefill --device 0 --n-list 32768 --layers 1 --out "$OUT/prefill.json"
else
  run 150 "$pa" bench prefill --device 0 --n-list 32768,131072 --layers 2 --out "$OUT/prefill.json"
fi

if [ "$mode" = full ]; then
  step "portable dense kernel (flash_attn.cl) work-group sizes at 16K (PA_MMA=0, PA_OPENCL_TUNING)"
  for t in 64 128 256 512; do
    run 40 env PA_MMA=0 PA_OPENCL_TUNING=fa_threads=$t "$pa" bench attn --device 0 --shapes llama3-8b \
      --n-list 16384 --reps 3 --no-stages --recall-rows 0 --sgemm 0 --portable-max 0 --out "/tmp/portable-$t.json"
  done
  python3 - "$OUT/portable.json" /tmp/portable-*.json <<'EOF2' || true
import json, re, sys
out = []
for p in sys.argv[2:]:
    t = int(re.search(r"portable-(\d+)", p).group(1))
    for r in json.load(open(p)):
        if r.get("mode") == "dense":
            r["mode"], r["fa_threads"] = "dense_portable_tuning", t
            out.append(r)
json.dump(out, open(sys.argv[1], "w"), indent=1)
for r in out:
    print(f"portable dense fa_threads={r['fa_threads']}: {r['time_ms']:.1f} ms {r['tflops']:.2f} TFLOP/s")
EOF2
fi

if [ "$mode" = full ] && [ -f scripts/gpu_models.sh ]; then
  step "model runs (scripts/gpu_models.sh)"
  model=${PA_GPU_MODEL:-$(ls models/*.gguf .gpu/models/*.gguf 2>/dev/null | head -1)}
  text=${PA_GPU_TEXT:-$(ls texts/*.txt .gpu/texts/*.txt 2>/dev/null | head -1)}
  if [ -n "$model" ] && [ -n "$text" ]; then
    mkdir -p /tmp/pa-models
    run 600 bash scripts/gpu_models.sh "$model" "$text" /tmp/pa-models "$pa"
    tar czf "$OUT/models.tgz" -C /tmp pa-models
  else
    echo "skipped: no model (models/*.gguf) or text (texts/*.txt) on this machine"
  fi
fi

if [ "$mode" = quick ]; then
  step "inline-PTX probes (own process)"
  run 60 "$build/bin/pa_mma_check" --probe
fi

step "plots"
run 120 python3 bench/plot.py "$OUT"/attn.json "$OUT"/prefill.json -o "$OUT/bench.png"

step "summary"
python3 - "$OUT" <<'EOF' || true
import json, os, sys
out = sys.argv[1]
for name in ("attn.json", "prefill.json"):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        print(f"{name}: missing"); continue
    for r in json.load(open(p)):
        extra = ""
        if "t_estimate_ms" in r:
            extra = f" est {r['t_estimate_ms']:.2f} ms attn {r.get('t_attn_ms', 0):.2f} ms"
        if "attn_share" in r:
            extra = f" attention {100 * r['attn_share']:.1f}%"
        print(f"{r.get('shape',''):16s} {r.get('n',0):>7} {r.get('mode',''):15s} {r.get('time_ms',0):10.2f} ms "
              f"{r.get('tflops',0) or 0:7.1f} TF/s x{r.get('speedup',1) or 1:5.2f} dens {r.get('density',1) or 1:.3f} "
              f"rec {r.get('recall_mean',1) or 1:.4f}{extra}")
EOF
