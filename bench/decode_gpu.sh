#!/usr/bin/env bash
# bench/decode_gpu.sh - generation speed of a small real model on an NVIDIA GPU in one device
# call: build, then `pa run --json` on SmolLM2-135M: pp512 (a 512-token prompt) and tg (64
# tokens decoded after it), after a warm-up run that fills the kernel cache; the decode
# breakdown per token (graph build, plan, dispatch, wait) for the defaults ("after"), a graph per
# token ("span0": --decode-span 0) and the path before the decode work ("before": also
# PA_MUL_MV_Q=0 PA_FA_DECODE=0 PA_OPENCL_FUSE=0), and per-kernel times of a decoded token
# (PA_OPENCL_PROFILE: runs of 1 and 17 tokens, the difference); then `pa bench model` (pp512,
# pp8192, tg128 from position 0 and after the prompt, as llama-bench measures them: after a warm-up).
#
# From the repository root on the GPU machine, after ../shared/gpu/prepare here and with the
# model carried along (bench/NOTES.md: the GGUF travels in parts):
#   run(command="source .gpu/gpu-env && MODEL=... bash bench/decode_gpu.sh", carry=[".gpu"], timeout_s=600)
# Elsewhere (PoCL, a smoke test): PA_BUILD_DIR=build PA_DECODE_DEVICE=opencl MODEL=stories260K.gguf
#   PA_DECODE_PROMPT=200 PA_DECODE_TOKENS=16 bash bench/decode_gpu.sh
# Results in $OUT (default /tmp/pa-decode-out): decode.log, runs.jsonl (one pa run JSON a line,
# with a "label"), profile.txt (per token), profile-1.txt and profile-17.txt, bench-model.json,
# build.txt; a table last.
set -uo pipefail
OUT=${OUT:-/tmp/pa-decode-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/decode.log") 2>&1
build=${PA_BUILD_DIR:-build-decode}
pa="$build/bin/pa"
model=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
device=${PA_DECODE_DEVICE:-0}
n_gen=${PA_DECODE_TOKENS:-64}
n_prompt=${PA_DECODE_PROMPT:-512} # prompt tokens (at most)
source "$(dirname "$0")/gpu_steps.sh" # step, run, device_info

device_info

step "build"
if ! { cmake -B "$build" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 &&
       cmake --build "$build" -j"$(nproc)" --target pa_cli pa-opencl >>"$OUT/build.txt" 2>&1; }; then
  tail -40 "$OUT/build.txt"; echo "!!! build failed"; exit 1
fi
export PA_KERNEL_CACHE="$build/kernel-cache"
[ -s "$model" ] || { echo "!!! no model at $model (MODEL=)"; exit 1; }

step "a prompt of $n_prompt tokens (the most words of a fixed text that fit, by bisection)"
prompt="$OUT/prompt.txt"
n=$(python3 - "$pa" "$model" "$prompt" "$n_prompt" <<'EOF'
import subprocess, sys
pa, model, path, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
names = "river stone lantern orchard harbor meadow violin comet garden bridge".split()
words = " ".join(f"Note {i}: the {names[i % 10]} near the {names[(3 * i + 1) % 10]} was quiet on day {i}."
                 for i in range(4 * want // 10 + 20)).split(" ")
def count(k):
    open(path, "w").write(" ".join(words[:k]))
    out = subprocess.run([pa, "tokenize", "--device", "cpu", "-m", model, "-f", path, "--ids"],
                         capture_output=True, text=True, check=True).stdout
    return len(eval(out))
lo, hi = 1, len(words)  # the largest k with count(k) <= want
while lo < hi:
    mid = (lo + hi + 1) // 2
    if count(mid) <= want: lo = mid
    else: hi = mid - 1
print(count(lo))
EOF
)
echo "prompt: $n tokens"

# pa run --json with a label in front: one line of runs.jsonl
measure() { # measure <label> <args...>
  local label=$1; shift
  local j
  j=$(timeout 240 "$pa" run --device "$device" -m "$model" -f "$prompt" --temp 0 --ignore-eos --json "$@")
  [ $? -ne 0 ] && { echo "!!! failed: $label"; return 0; }
  python3 -c "import json, sys; r = json.loads(sys.argv[2]); r['label'] = sys.argv[1]; r.pop('text', None); print(json.dumps(r))" \
    "$label" "$j" | tee -a "$OUT/runs.jsonl"
}

step "warm-up (builds and caches the kernels of prefill and decode)"
run 300 "$pa" run --device "$device" -m "$model" -f "$prompt" --temp 0 -n 8 --json >/dev/null

step "pp512 and tg$n_gen: after (defaults), a graph per token (--decode-span 0), before (that and the old kernels)"
for rep in 1 2; do
  measure "after-$rep" -n "$n_gen"
  measure "span0-$rep" -n "$n_gen" --decode-span 0
  PA_MUL_MV_Q=0 PA_FA_DECODE=0 PA_OPENCL_FUSE=0 measure "before-$rep" -n "$n_gen" --decode-span 0
done

step "per-kernel times of a decoded token (PA_OPENCL_PROFILE, queue serialized: runs of 1 and 17 tokens, the difference / 16)"
for n in 1 17; do
  PA_OPENCL_PROFILE=1 timeout 150 "$pa" run --device "$device" -m "$model" -f "$prompt" --temp 0 --ignore-eos \
    -n $n >/dev/null 2>"$OUT/profile-$n.txt"
done
python3 - "$OUT/profile-1.txt" "$OUT/profile-17.txt" <<'EOF' | tee "$OUT/profile.txt" || true
import re, sys
def load(p):
    d = {}
    for line in open(p):
        m = re.match(r"\s+(\S+)\s+([\d.]+) ms\s+(\d+) launches", line)
        if m: d[m.group(1)] = (float(m.group(2)), int(m.group(3)))
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
rows = [((b[k][0] - a.get(k, (0, 0))[0]) / 16, (b[k][1] - a.get(k, (0, 0))[1]) / 16, k) for k in b]
for ms, n, k in sorted(rows, reverse=True):
    print(f"  {k:28} {ms:9.4f} ms {n:7.1f} launches  per token")
print(f"  {'total':28} {sum(r[0] for r in rows):9.4f} ms {sum(r[1] for r in rows):7.1f} launches")
EOF

step "llama-bench style (pa bench model: warm-up, then pp and tg, medians of ${PA_DECODE_REPS:-3} runs)"
"$pa" bench model -m "$model" --device "$device" -p "${PA_BENCH_PROMPTS:-512,8192}" -n "${PA_BENCH_GEN:-128}" \
  --tg-after "$n_prompt" -r "${PA_DECODE_REPS:-3}" --out "$OUT/bench-model.json" || echo "!!! pa bench model failed"

step "summary (tok/s; per token: first, median of the rest, and where the average went)"
python3 - "$OUT/runs.jsonl" <<'EOF' || true
import json, sys
print(f"{'run':14} {'prompt':>6} {'pp tok/s':>9} {'tg tok/s':>9} {'first ms':>9} {'median ms':>9} "
      f"{'build':>6} {'plan':>6} {'disp':>6} {'wait':>6} {'sample':>6} {'nodes':>6}")
for line in open(sys.argv[1]):
    r = json.loads(line)
    d = r.get("decode_per_token", {})
    print(f"{r['label']:14} {r['prompt_tokens']:6d} {r['prefill_tok_s']:9.0f} {r['decode_tok_s']:9.1f} "
          f"{d.get('first_ms', 0):9.2f} {d.get('steady_ms', 0):9.3f} {d.get('build_ms', 0):6.3f} "
          f"{d.get('plan_ms', 0):6.3f} {d.get('dispatch_ms', 0):6.3f} {d.get('wait_ms', 0):6.3f} "
          f"{d.get('sample_ms', 0):6.3f} {d.get('nodes', 0):6.0f}")
print("steady tok/s = 1000 / median ms; pp tok/s here is a process's first prompt (weights uploaded, kernels")
print("loaded): compare llama.cpp with the warmed-up figures of pa bench model above (bench-model.json)")
EOF
