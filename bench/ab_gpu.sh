#!/usr/bin/env bash
# bench/ab_gpu.sh - two builds of pa compared in one device call, their runs interleaved.
# Decoding through NVIDIA's OpenCL is bound by the host thread that enqueues the kernels, and
# device calls land on hosts that differ by up to 1.5x (one machine also drifted by ~25% within
# minutes, docs/benchmarks.md): only runs of both builds taken in turn on the same machine compare
# them. A is the tree as sent; B is that tree with PATCH applied (made where git is, e.g.
# `git diff main my-branch > .gpu-ab/b.patch`, the folder excluded from git and carried).
#   source .gpu/gpu-env && bash bench/ab_gpu.sh PATCH [MODEL.gguf ...]
# Without models, a random SmolLM2-shaped Q4_1 and a Llama-3-8B-shaped Q4_0 model are written
# on the device (pa bench random-model). Per model: pp512, tg128 and tg128 after 512
# (`pa bench model`, medians of $AB_REPS, default 3; other sizes: AB_BENCH="-p 64 -n 16 ...") for
# A, B, A, B; then one PA_OPENCL_PROFILE=device run of each build. JSON and logs go to $OUT (at most 8 files come back: they are put in two tarballs).
set -uo pipefail
patch_file=$(realpath "${1:?usage: ab_gpu.sh PATCH [MODEL.gguf ...]}")
shift
OUT=${OUT:-/tmp/pa-ab-out}
REPS=${AB_REPS:-3}
read -r -a BENCH <<<"${AB_BENCH:--p 512 -n 128 --tg-after 512}" # pa bench model's sizes
work=/tmp/pa-ab
mkdir -p "$OUT" "$work"
source "$(dirname "$0")/gpu_steps.sh" # step, run
export PA_OPENCL_DEVICE=${PA_OPENCL_DEVICE:-NVIDIA} PA_KERNEL_CACHE=$work/kernel-cache

step "the two trees: A as sent, B with $patch_file"
rm -rf "$work/a" "$work/b" && mkdir -p "$work/a" "$work/b"
tar --exclude='./.gpu*' --exclude='./build*' -cf - . | tar -xf - -C "$work/a"
cp -r "$work/a/." "$work/b/"
if command -v patch >/dev/null; then
  (cd "$work/b" && patch -p1 --quiet <"$patch_file")
else
  (cd "$work/b" && git apply "$patch_file")
fi || { echo "!!! the patch does not apply"; exit 1; }

step "build both (side by side)"
for v in a b; do
  (cmake -S "$work/$v" -B "$work/build-$v" -DCMAKE_BUILD_TYPE=Release >"$OUT/build-$v.txt" 2>&1 &&
     cmake --build "$work/build-$v" -j"$(($(nproc) / 2))" --target pa_cli pa-opencl >>"$OUT/build-$v.txt" 2>&1 ||
     echo "!!! build $v failed") &
done
wait
[ -x "$work/build-a/bin/pa" ] && [ -x "$work/build-b/bin/pa" ] || { tail -20 "$OUT"/build-*.txt; exit 1; }

models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  step "random models"
  run 200 "$work/build-a/bin/pa" bench random-model --shape smollm2-135m --type q4_1 -o "$work/smollm2-135m-q4_1.gguf"
  run 200 "$work/build-a/bin/pa" bench random-model --shape llama3-8b --type q4_0 -o "$work/llama3-8b-q4_0.gguf"
  models=("$work/smollm2-135m-q4_1.gguf" "$work/llama3-8b-q4_0.gguf")
fi

mkdir -p "$OUT/json" "$OUT/profiles"
for m in "${models[@]}"; do
  name=$(basename "$m" .gguf)
  for round in 1 2; do
    for v in a b; do
      step "$name, build $v, round $round"
      run 240 "$work/build-$v/bin/pa" bench model --device 0 -m "$m" "${BENCH[@]}" -r "$REPS" \
        --out "$OUT/json/$name-$v-$round.json" >"$work/run.log" 2>&1
      grep -E "^(pp|tg)|error|!!!" "$work/run.log"
    done
  done
  for v in a b; do
    PA_OPENCL_PROFILE=device run 240 "$work/build-$v/bin/pa" bench model --device 0 -m "$m" -p 16 -n 64 \
      --tg-after 0 -r 1 --out /dev/null >"$OUT/profiles/$name-$v.txt" 2>&1
  done
done

step "tokens/s, A and B in turn (the median of each run)"
python3 - "$OUT/json" <<'PY' || true
import json, sys, glob, os, collections
rows = collections.defaultdict(list)
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    name, v, _ = os.path.basename(f)[:-5].rsplit("-", 2)
    for r in json.load(open(f)):
        rows[(name, r["test"], v)].append(r["tok_s"])
for (name, test, v), vals in sorted(rows.items()):
    print(f"{name:28} {test:12} {v.upper()}  " + "  ".join(f"{x:10.1f}" for x in vals))
PY
tar -C "$OUT" -czf "$OUT/profiles.tgz" profiles && rm -rf "$OUT/profiles"
tar -C "$OUT" -czf "$OUT/json.tgz" json && rm -rf "$OUT/json"
echo; echo "=== done ab ($(date -u +%H:%M:%S))"
