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
# A, B, A, B; then one PA_OPENCL_PROFILE=device run of each build. AB_SHAPES picks the random
# models ("shape:type ...", default "smollm2-135m:q4_1 llama3-8b:q4_0"); AB_CHECK=1 first builds
# all of B and runs pa demo and the whole CTest suite with it on the NVIDIA device (ctest-b.txt). JSON and logs go to $OUT (at most 8 files come back: they are put in two tarballs).
# AB_KIND=attn compares attention nodes instead of models (no MODEL arguments): `pa bench attn`
# on AB_ATTN_SHAPES (default smollm2-135m) at AB_ATTN_N (default 8192,16384), dense and proxy at
# the default settings, times only, medians of AB_REPS (default 5 here), for A, B, A, B; then one
# PA_OPENCL_PROFILE=device run of each at the first size (the estimate's kernels and the gaps
# between them), e.g. the 8K node whose launches outnumber its work.
set -uo pipefail
patch_file=$(realpath "${1:?usage: ab_gpu.sh PATCH [MODEL.gguf ...]}")
shift
OUT=${OUT:-/tmp/pa-ab-out}
KIND=${AB_KIND:-model}
REPS=${AB_REPS:-$([ "$KIND" = attn ] && echo 5 || echo 3)}
read -r -a BENCH <<<"${AB_BENCH:--p 512 -n 128 --tg-after 512}" # pa bench model's sizes
work=/tmp/pa-ab
mkdir -p "$OUT" "$work"
source "$(dirname "$0")/gpu_steps.sh" # step, run
export PA_OPENCL_DEVICE=${PA_OPENCL_DEVICE:-NVIDIA} PA_KERNEL_CACHE=$work/kernel-cache

if [ "${AB_REUSE:-0}" = 1 ] && [ -x "$work/build-a/bin/pa" ] && [ -x "$work/build-b/bin/pa" ]; then
  step "reusing the builds in $work (AB_REUSE=1)"
else
  step "the two trees: A as sent, B with $patch_file"
  rm -rf "$work/a" "$work/b" && mkdir -p "$work/a" "$work/b"
  tar --exclude='./.gpu*' --exclude='./build*' -cf - . | tar -xf - -C "$work/a"
  cp -r "$work/a/." "$work/b/"
  if command -v patch >/dev/null; then
    (cd "$work/b" && patch -p1 --quiet <"$patch_file")
  else
    (cd "$work/b" && git apply "$patch_file")
  fi || { echo "!!! the patch does not apply"; exit 1; }

  builds=(a b)
  [ -s "$patch_file" ] || builds=(a) # no patch: one build, its runs told apart by AB_RUNS' variables
  step "build ${builds[*]} (side by side)"
  for v in "${builds[@]}"; do
    (cmake -S "$work/$v" -B "$work/build-$v" -DCMAKE_BUILD_TYPE=Release -DPA_TEST_PROGRAM_CACHE=ON >"$OUT/build-$v.txt" 2>&1 &&
       cmake --build "$work/build-$v" -j"$(($(nproc) / 2))" --target pa_cli pa-opencl >>"$OUT/build-$v.txt" 2>&1 ||
       echo "!!! build $v failed") &
  done
  wait
  [ -s "$patch_file" ] || ln -sfn "$work/build-a" "$work/build-b"
fi
[ -x "$work/build-a/bin/pa" ] && [ -x "$work/build-b/bin/pa" ] || { tail -20 "$OUT"/build-*.txt; exit 1; }

if [ "${AB_CHECK:-0}" = 1 ]; then
  step "B: all targets, pa demo, the whole CTest suite on the NVIDIA device"
  cmake --build "$work/build-b" -j"$(nproc)" >>"$OUT/build-b.txt" 2>&1 || { tail -20 "$OUT/build-b.txt"; exit 1; }
  run 120 "$work/build-b/bin/pa" demo --device 0 | tail -4
  run 420 ctest --test-dir "$work/build-b" -j8 --output-on-failure --timeout 300 >"$OUT/ctest-b.txt" 2>&1
  grep -E "tests passed|tests failed|Failed|\*\*\*" "$OUT/ctest-b.txt" | tail -30
fi

models=("$@")
[ "$KIND" = attn ] && models=(attn)
if [ ${#models[@]} -eq 0 ]; then
  step "random models"
  for st in ${AB_SHAPES:-smollm2-135m:q4_1 llama3-8b:q4_0}; do
    m="$work/${st%%:*}-${st##*:}.gguf"
    [ -s "$m" ] || run 200 "$work/build-a/bin/pa" bench random-model --shape "${st%%:*}" --type "${st##*:}" -o "$m"
    models+=("$m")
  done
fi

# The runs, each LABEL=BUILD[:VAR=VALUE] (one environment variable for that run, e.g. a tuning
# override: AB_RUNS="a=a b=b b32=b:PA_OPENCL_TUNING=mvq_chunk=32"); labels without '-'. AB_PIN=CPUS
# runs every pa under `taskset -c CPUS`; AB_PROFILE=0 skips the device profiles; AB_REUSE=1 keeps
# the builds of an earlier call on the same (warm) machine; AB_ROUNDS sets the rounds (default 2).
# An empty PATCH builds only A (runs differ by their variables).
read -r -a RUNS <<<"${AB_RUNS:-a=a b=b}"
pa_of() { # pa_of SPEC: PA=(env [VAR=VALUE] build/bin/pa), the spec's pa with its variable set
  local rest=${1#*=}
  local v=${rest%%:*}
  PA=(${AB_PIN:+taskset -c "$AB_PIN"} env)
  [ "$rest" != "$v" ] && PA+=("${rest#*:}")
  PA+=("$work/build-$v/bin/pa")
}
mkdir -p "$OUT/json" "$OUT/profiles"
attn_n=${AB_ATTN_N:-8192,16384}
attn_args=(bench attn --device 0 --shapes "${AB_ATTN_SHAPES:-smollm2-135m}" --portable-max 0 --sgemm 0 --no-quality
  --no-stages)
[ "$KIND" = attn ] && for round in $(seq "${AB_ROUNDS:-2}"); do
  for spec in "${RUNS[@]}"; do
    step "attention, ${spec}, round $round"
    pa_of "$spec"
    run 300 "${PA[@]}" "${attn_args[@]}" --n-list "$attn_n" --reps "$REPS" \
      --out "$OUT/json/attn-${spec%%=*}-$round.json" >"$work/run.log" 2>&1
    grep -E "^\S+ +[0-9]+ (dense|proxy) |error|!!!" "$work/run.log" | awk '!seen[$0]++' # rows once (also in the closing table)
  done
done
[ "$KIND" = attn ] && [ "${AB_PROFILE:-1}" = 1 ] && for spec in "${RUNS[@]}"; do
  pa_of "$spec"
  PA_OPENCL_PROFILE=device run 240 "${PA[@]}" "${attn_args[@]}" --n-list "${attn_n%%,*}" --reps 20 \
    --out /dev/null >"$OUT/profiles/attn-${spec%%=*}.txt" 2>&1
done
[ "$KIND" = attn ] && models=()
for m in "${models[@]}"; do
  name=$(basename "$m" .gguf)
  for round in $(seq "${AB_ROUNDS:-2}"); do
    for spec in "${RUNS[@]}"; do
      step "$name, ${spec}, round $round"
      pa_of "$spec"
      run 240 "${PA[@]}" bench model --device 0 -m "$m" "${BENCH[@]}" -r "$REPS" \
        --out "$OUT/json/$name-${spec%%=*}-$round.json" >"$work/run.log" 2>&1
      grep -E "^(pp|tg)|error|!!!" "$work/run.log"
    done
  done
  [ "${AB_PROFILE:-1}" = 1 ] && for spec in "${RUNS[@]}"; do
    pa_of "$spec"
    PA_OPENCL_PROFILE=device run 240 "${PA[@]}" bench model --device 0 -m "$m" -p 16 -n 64 \
      --tg-after 0 -r 1 --out /dev/null >"$OUT/profiles/$name-${spec%%=*}.txt" 2>&1
  done
done

step "A and B in turn (the median of each run: tokens/s of models, ms of attention nodes)"
python3 - "$OUT/json" <<'PY' || true
import json, sys, glob, os, collections
rows = collections.defaultdict(list)
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    name, v, _ = os.path.basename(f)[:-5].rsplit("-", 2)
    for r in json.load(open(f)):
        if name == "attn":
            rows[(f"{r['shape']} {r['n']}", r["mode"], v)].append(r["time_ms"])
        else:
            rows[(name, r["test"], v)].append(r["tok_s"])
for (name, test, v), vals in sorted(rows.items()):
    print(f"{name:28} {test:12} {v.upper()}  " + "  ".join(f"{x:10.3f}" for x in vals))
PY
tar -C "$OUT" -czf "$OUT/profiles.tgz" profiles && rm -rf "$OUT/profiles"
tar -C "$OUT" -czf "$OUT/json.tgz" json && rm -rf "$OUT/json"
echo; echo "=== done ab ($(date -u +%H:%M:%S))"
