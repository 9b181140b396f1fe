#!/usr/bin/env bash
# bench/portable_gpu.sh - the portable FP32 attention kernel's variants (opencl/flash_attn_tiled.cpp,
# tuning key fat_variant; issue 13, target 4) side by side on an NVIDIA GPU in one device call:
# every variant checked against the CPU on the device first, then timed at the Llama-3-8B layer shape.
#
# Needs a build dir with pa, test_backend_ops and test_opencl_flash_attn_tiled ($PA_BUILD_DIR,
# default build; the script builds those targets there if cmake is configured, quietly). The call:
#   run(command="source .gpu/gpu-env && bash bench/portable_gpu.sh", carry=[".gpu"], timeout_s=600)
# $FAT_VARIANTS: the variants, each N or N:R (fat_maxrreg=R: -cl-nv-maxrregcount), default
# "0 1 2 3 4"; $PORTABLE_N the sizes (default 16384,32768). Per variant ($OUT, default
# /tmp/pa-portable-out):
#   fa-ops-vN.txt        BackendOps.FlashAttnExt with PA_MMA=0 (the tiled kernel on the op table)
#   portable-vN.json     pa bench attn: the portable dense kernel at 16K and 32K (dense_portable
#                        records: time_ms, tflops, rel_l2_mma_vs_portable against the tensor cores)
#   ptxas-vN.txt         registers, spills and local memory of the timed kernel (d 128, f16 K / V) as
#                        NVIDIA's compiler made it (the bench's own program cache, ptxas -v)
# and portable_gpu.log, with a table last. A failing step is reported and the next one runs.
set -uo pipefail
OUT=${OUT:-/tmp/pa-portable-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/portable_gpu.log") 2>&1
build=${PA_BUILD_DIR:-build}
pa="$build/bin/pa"
source "$(dirname "$0")/gpu_steps.sh" # step, run, device_info

device_info

step "build (pa, test_backend_ops, test_opencl_flash_attn_tiled in $build)"
if [ -f "$build/CMakeCache.txt" ]; then
  run 400 cmake --build "$build" -j"$(nproc)" --target pa_cli pa-opencl test_backend_ops \
    test_opencl_flash_attn_tiled >"$OUT/build.txt" 2>&1 || true
  tail -3 "$OUT/build.txt"
fi
[ -x "$pa" ] || { echo "!!! no $pa"; exit 1; }

if [ -x "$build/bin/test_opencl_flash_attn_tiled" ]; then
  step "every variant against a double-precision reference (odd shapes, masks; one process)"
  run 120 "$build/bin/test_opencl_flash_attn_tiled" 2>&1 | tail -8
fi

for item in ${FAT_VARIANTS:-0 1 2 3 4}; do
  n=${item%%:*}
  tuning="fat_variant=$n"
  tag="v$n"
  if [ "$item" != "$n" ]; then
    tuning="$tuning,fat_maxrreg=${item#*:}"
    tag="v$n-r${item#*:}"
  fi
  cache="$build/kernel-cache-portable-$tag"
  rm -rf "$cache"
  if [ -x "$build/bin/test_backend_ops" ]; then
    step "$tag: BackendOps.FlashAttnExt on the device, PA_MMA=0, PA_OPENCL_TUNING=$tuning"
    run 150 env PA_MMA=0 PA_OPENCL_TUNING="$tuning" PA_KERNEL_CACHE=off "$build/bin/test_backend_ops" \
      --gtest_filter='BackendOps.FlashAttnExt' >"$OUT/fa-ops-$tag.txt" 2>&1
    grep -E "\[ flash_attn_ext \]|OK \]|FAILED|Failure" "$OUT/fa-ops-$tag.txt" | head -8
  fi
  step "$tag: the portable kernel at 16K and 32K, Llama-3-8B layer (pa bench attn --portable-max 32768)"
  run 150 env PA_OPENCL_TUNING="$tuning" PA_KERNEL_CACHE="$cache" "$pa" bench attn --device 0 \
    --shapes llama3-8b --n-list "${PORTABLE_N:-16384,32768}" --reps 3 --portable-max 32768 --sgemm 0 --no-quality \
    --no-stages --out "$OUT/portable-$tag.json"
  step "$tag: registers (ptxas -v on the cached PTX)"
  kernel=k_flash_attn_tiled_q
  [ "$n" = 0 ] && kernel=k_flash_attn_tiled
  run 60 bash bench/tools/ptxas_from_cache.sh "$cache" "$kernel" | grep -E "registers|no program" |
    sed -e 's/ f16 b X16//' -e 's/ f16 b F32//' | tee "$OUT/ptxas-$tag.txt"
done

step "summary (TFLOP/s of the portable dense kernel, 4 d N^2 H / 2 causal flops; rel L2 against the tensor cores)"
python3 - "$OUT" <<'EOF' || true
import glob, json, os, sys
out = sys.argv[1]
sizes = sorted({r["n"] for p in glob.glob(os.path.join(out, "portable-v*.json")) for r in json.load(open(p))})[-2:]
print(f"{'variant':10} " + " ".join(f"{str(n) + ' TFLOP/s':>14}" for n in sizes) + f" {'ms':>8} {'rel_l2':>9}  registers")
for p in sorted(glob.glob(os.path.join(out, "portable-v*.json"))):
    tag = os.path.basename(p)[len("portable-"):-len(".json")]
    try:
        recs = json.load(open(p))
        # dense_portable beside the tensor cores; without them (not NVIDIA) the dense run is portable
        recs = [r for r in recs if r.get("mode") == "dense_portable"] or \
               [r for r in recs if r.get("mode") == "dense" and r.get("kernel") == "portable"]
    except Exception as e:
        print(f"{tag:10} unreadable: {e}")
        continue
    by = {r["n"]: r for r in recs}
    def f(n, key, fmt):
        return format(by[n][key], fmt) if n in by and key in by[n] else "-"
    regs = ""
    px = os.path.join(out, f"ptxas-{tag}.txt")
    if os.path.exists(px):
        regs = "; ".join(sorted({l.split(": ", 1)[-1].strip() for l in open(px) if "registers" in l}))
    last = sizes[-1] if sizes else 0
    print(f"{tag:10} " + " ".join(f"{f(n, 'tflops', '14.2f'):>14}" for n in sizes) +
          f" {f(last, 'time_ms', '8.1f'):>8} {f(last, 'rel_l2_mma_vs_portable', '9.2e'):>9}  {regs}")
EOF
