#!/usr/bin/env bash
# bench/gemm_gpu.sh - the tensor-core GEMM of mul_mat (opencl/mul_mat_mma.*) on an NVIDIA GPU in
# one device call: build, correctness on the device, registers, timings, a table last.
#
# Here, before the call (once): ../shared/gpu/prepare && (cd .gpu && apt-get download libgtest-dev)
# The call:  run(command="source .gpu/gpu-env && bash bench/gemm_gpu.sh", carry=[".gpu"], timeout_s=600)
#   bash bench/gemm_gpu.sh [main|variants]
#   main (default, ~10 minutes): build, the tests on the device, registers, 8K and 32K tokens (every
#        type, tensor cores and CLBlast), 128K (tensor cores alone), one layer's products as a model
#        runs them beside PyTorch's (bench/anchors/torch_gemm.py, where torch is installed)
#   variants (~5 minutes, a second call if wanted): build, other tiles and the X16 path at 32K
#        ($GEMM_VARIANTS: PA_OPENCL_TUNING strings, the default tile first; $GEMM_TYPES; $GEMM_N
#        tokens; GEMM_TESTS=1 runs test_mul_mat_mma on the device first), their registers, then
#        whether Nsight Compute (ncu) profiles an OpenCL kernel (ncu.txt: it did not, 2026-11-30)
# Results in $OUT (default /tmp/pa-gemm-out): gemm_gpu.log, gemm.json, gemm-128k.json,
# gemm-layer.json, torch-gemm.json, gemm-variants.json, ptxas.txt (registers of the PTX NVIDIA's
# compiler made), build.txt.
# Each step runs on its own (a failing step is reported, the next one runs); the steps that matter
# most come first, and JSON files grow as points are measured, so a cut-off run returns them.
set -uo pipefail
mode=${1:-main}
OUT=${OUT:-/tmp/pa-gemm-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gemm_gpu.log") 2>&1
build=${PA_BUILD_DIR:-build-gpu-gemm}
pa="$build/bin/pa"
source "$(dirname "$0")/gpu_steps.sh" # step, run, device_info

device_info

step "build"
tests=ON
if [ "$mode" != main ] && [ "${GEMM_TESTS:-0}" != 1 ]; then tests=OFF
elif ! ls .gpu/libgtest-dev_*.deb >/dev/null 2>&1; then tests=OFF; echo "no .gpu/libgtest-dev_*.deb: tests not built"; fi
targets="pa_cli pa-opencl pa_mma_check"
[ "$tests" = ON ] && targets="$targets test_mul_mat_mma test_backend_ops"
if ! { cmake -B "$build" -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=$tests >"$OUT/build.txt" 2>&1 &&
       cmake --build "$build" -j"$(nproc)" --target $targets >>"$OUT/build.txt" 2>&1; }; then
  tail -40 "$OUT/build.txt"; echo "!!! build failed"; exit 1
fi
export PA_KERNEL_CACHE="$build/kernel-cache"

step "smoke: the default tile (48 KiB of local memory) builds and launches"
if ! timeout 120 "$pa" bench gemm --device 0 --shapes tiny --types q4_0,f16 --n-list 512 --reps 1 --blas-max-n 0 \
     --out /tmp/gemm-smoke.json; then
  echo "!!! the default tile failed; the steps below run with PA_OPENCL_TUNING=mmq_wn=2,mmq_wm=2,mmq_stages=2 (32 KiB)"
  export PA_OPENCL_TUNING=mmq_wn=2,mmq_wm=2,mmq_stages=2
fi

if [ "$mode" = main ]; then
if [ "$tests" = ON ]; then
  step "correctness on the device: the tensor-core path against the CPU and an f16 reference (PA_MMA=1)"
  run 240 env PA_TEST_VERBOSE=1 PA_MMA=1 "$build/bin/test_mul_mat_mma"
  step "correctness: BackendOps.MulMat with PA_MMA unset (what a model gets)"
  run 240 "$build/bin/test_backend_ops" --gtest_filter='BackendOps.MulMat*'
fi
step "flash attention after the PTX helpers moved to mma_ptx.cl (pa_mma_check, one variant)"
run 90 "$build/bin/pa_mma_check" --check-only --variants W8B64A0

step "pa bench gemm: Llama-3-8B projections, 8K and 32K tokens, every type, tensor cores and CLBlast"
run 270 "$pa" bench gemm --device 0 --shapes llama3-8b --n-list 8192,32768 --reps 3 --out "$OUT/gemm.json"

step "registers of k_mmq as NVIDIA's OpenCL compiler emitted it (ptxas -v on the cached PTX)"
run 60 bash bench/tools/ptxas_from_cache.sh "$PA_KERNEL_CACHE" k_mmq | tee "$OUT/ptxas.txt"

step "pa bench gemm: 128K tokens, tensor cores alone"
run 150 "$pa" bench gemm --device 0 --shapes llama3-8b --types q4_0,q8_0,f16 --n-list 131072 --reps 2 \
  --blas-max-n 0 --out "$OUT/gemm-128k.json"

step "one Llama-3-8B layer's seven products as a model runs them (pa bench gemm --layer), and PyTorch's"
run 150 "$pa" bench gemm --device 0 --layer --types q4_0,q4_1,q8_0 --n-list 8192,32768 --reps 3 --copy-mib 0 \
  --out "$OUT/gemm-layer.json"
if python3 -c "import torch" 2>/dev/null; then
  run 150 python3 bench/anchors/torch_gemm.py --n-list 8192,32768 --out "$OUT/torch-gemm.json"
else echo "no PyTorch here: the anchor skipped"; fi

fi # main

if [ "$mode" = variants ]; then
if [ "$tests" = ON ]; then
  step "correctness on the device: test_mul_mat_mma (every tile and stage count the tests name, PA_MMA=1)"
  run 240 env PA_TEST_VERBOSE=1 PA_MMA=1 "$build/bin/test_mul_mat_mma"
fi
step "variants at ${GEMM_N:-32768} tokens: other tiles and stages (PA_OPENCL_TUNING) and b through X16"
for v in ${GEMM_VARIANTS:-mmq_wn=2,mmq_wm=2,mmq_stages=3 mmq_wn=2,mmq_wm=4,mmq_stages=2 mmq_wn=2,mmq_wm=4,mmq_stages=2,mmq_x16_min_m=1 mmq_wn=2,mmq_wm=2,mmq_stages=2,mmq_x16_min_m=1 mmq_wn=1,mmq_wm=2,mmq_stages=3}; do
  run 90 env PA_OPENCL_TUNING=$v "$pa" bench gemm --device 0 --shapes llama3-8b --types ${GEMM_TYPES:-q4_0,f16} --n-list ${GEMM_N:-32768} \
    --reps 3 --blas-max-n 0 --out "/tmp/gemm-var-$v.json"
done
python3 - "$OUT/gemm-variants.json" /tmp/gemm-var-*.json <<'EOF' || true
import json, sys
out = []
for p in sys.argv[2:]:
    variant = p.split("gemm-var-")[1][:-5]
    for r in json.load(open(p)):
        r["variant"] = variant
        out.append(r)
json.dump(out, open(sys.argv[1], "w"), indent=1)
EOF
step "registers of the variants' k_mmq (ptxas -v on the cached PTX)"
run 60 bash bench/tools/ptxas_from_cache.sh "$PA_KERNEL_CACHE" k_mmq | tee "$OUT/ptxas.txt"
if [ "${GEMM_NCU:-0}" = 1 ]; then
step "Nsight Compute on an OpenCL kernel (does ncu see NVIDIA OpenCL launches?)"
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -n "$ncu" ]; then
  run 120 "$ncu" --clock-control none --kernel-name regex:k_mmq --launch-count 1 --section SpeedOfLight \
    --section WarpStateStats --section Occupancy "$pa" bench gemm --device 0 --shapes llama3-8b --types q4_0 \
    --n-list 8192 --reps 1 --blas-max-n 0 --out /tmp/gemm-ncu.json 2>&1 | tail -80 | tee "$OUT/ncu.txt"
else echo "no ncu"; fi
fi
if [ -n "${GEMM_PROFILE:-}" ]; then
  step "device time per kernel of one variant (PA_OPENCL_PROFILE=device, PA_OPENCL_TUNING=$GEMM_PROFILE)"
  run 90 env PA_OPENCL_PROFILE=device PA_OPENCL_TUNING=$GEMM_PROFILE "$pa" bench gemm --device 0 --shapes llama3-8b \
    --types q4_0 --n-list ${GEMM_N:-32768} --reps 3 --blas-max-n 0 --out /tmp/gemm-prof.json 2>&1 | tail -30
fi
fi # variants

step "summary (TFLOP/s = 2 M N K / time of the mul_mat node, conversions included)"
python3 - "$OUT" <<'EOF' || true
import json, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else []
rows = {}
for r in load("gemm.json") + load("gemm-128k.json"):
    key = (r["n"], r["shape"], r["type"])
    rows.setdefault(key, {})[r["path"]] = r
print(f"{'N':>7} {'shape':8} {'M x K':12} {'type':5} {'tensor cores':>13} {'CLBlast':>8} {'x':>6} {'nmse':>9}")
for (n, shape, t), p in sorted(rows.items()):
    tc, cb = p.get("tensor_cores") or p.get("tensor_cores_emulated"), p.get("clblast")
    any_r = tc or cb
    x = f"{cb['time_ms'] / tc['time_ms']:6.1f}" if tc and cb else ""
    e = f"{tc['nmse_vs_clblast']:.1e}" if tc and "nmse_vs_clblast" in tc else ""
    print(f"{n:>7} {shape:8} {str(any_r['m']) + 'x' + str(any_r['k']):12} {t:5} "
          f"{tc['tflops'] if tc else 0:13.2f} {cb['tflops'] if cb else 0:8.2f} {x:>6} {e:>9}")
for r in load("gemm-layer.json"):
    print(f"layer {r['n']:>7} {r['type']:5} {r['tflops']:8.1f} TFLOP/s (one Llama-3-8B layer's products, queued)")
for r in load("torch-gemm.json"):
    if r["what"] == "layer":
        print(f"torch {r['n']:>7} {r['dtype']:8} {r['tflops']:8.1f} TFLOP/s (the same layer, cuBLAS)")
var = load("gemm-variants.json")
if var:
    print("\nvariants at 32K (TFLOP/s):")
    by = {}
    for r in var:
        by.setdefault((r["shape"], r["type"]), {})[r["variant"]] = r["tflops"]
    names = sorted({r["variant"] for r in var})
    print(f"{'shape':8} {'type':5} " + " ".join(f"{v:>18}" for v in names))
    for (s, t), d in sorted(by.items()):
        print(f"{s:8} {t:5} " + " ".join(f"{d.get(v, 0):18.1f}" for v in names))
EOF
