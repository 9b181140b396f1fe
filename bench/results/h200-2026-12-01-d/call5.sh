#!/usr/bin/env bash
# call 5: the final tree (proxy_estimate.cl's geometry from the host's options): pa demo and the
# whole CTest suite on the NVIDIA device; the estimate at 32K against the CPU reference (--check,
# bit-identical) and at 128K (Llama-3-8B, Qwen2.5-7B) as a sanity check of its time; then the
# tensor-core GEMM's tiles at 32K tokens (information for issue 16).
set -u
export PA_BUILD_DIR=/tmp/pa-build PA_OPENCL_DEVICE=NVIDIA
bash bench/gpu_session.sh check >/dev/null 2>&1
grep -E "rel diff|tolerance|proxy keeps|tests passed|tests failed|\*\*\*Failed|Exception|done" $OUT/check.log | tail -12
echo "check done $(date -u +%T)"
B=/tmp/pa-build
cmake --build $B -j16 --target pa_estimate_time > /tmp/b2.txt 2>&1 || tail -5 /tmp/b2.txt
timeout 150 $B/bin/pa_estimate_time --device NVIDIA --reps 5 --shapes llama3-8b,qwen2.5-7b --n-list 32768,131072 --check 32768 --json $OUT/est.json 2>&1 | tail -8
echo "est done $(date -u +%T)"
GEMM_N=32768 GEMM_TYPES=q4_0,f16 GEMM_VARIANTS="mmq_wn=2,mmq_wm=2,mmq_stages=3 mmq_wn=2,mmq_wm=4,mmq_stages=2 mmq_wn=4,mmq_wm=2,mmq_stages=2" \
  PA_BUILD_DIR=$B timeout 200 bash bench/gemm_gpu.sh variants > /dev/null 2>&1
tail -12 $OUT/gemm_gpu.log
echo "done $(date -u +%T)"
