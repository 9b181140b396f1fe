#!/usr/bin/env bash
# call 1 (seventeenth session): the deterministic exp with a degree-4 polynomial and ln 2 in one
# part (A, this tree) against the degree-7 Taylor polynomial (B: proxy_det.cl as before, swapped
# in the device's copy only; the CPU reference is A's, so only B's times count). pa demo and the
# whole CTest suite with A on the NVIDIA device; pa_estimate_time at 128K (Llama g = 1, Qwen g = 4)
# and 8K / 16K (SmolLM2, Llama), A, B, A, B, A; the exp test on the device.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=$OUT
B=/tmp/pa-build
O=/tmp/c1; mkdir -p $O
OUT=$O PA_BUILD_DIR=$B bash bench/gpu_session.sh check > $O/check-run.txt 2>&1
cp $O/check.log $R/ ; cp $O/ctest.txt $R/ 2>/dev/null
grep -E "tests passed|tests failed" $O/ctest.txt; grep -A12 "pa demo" $O/check.log | grep -E "rel diff|flash|proxy_sparse|keeps|error" | head
echo "check done $(date -u +%T)"
export PA_KERNEL_CACHE=$B/kernel-cache
E=$B/bin/pa_estimate_time
F=plugin/proxy_sparse_attn/kernels/proxy_det.cl
est() { # label
  cmake --build $B --target pa_estimate_time -j16 > $O/build-$1.txt 2>&1 || { echo "!!! build $1"; tail -5 $O/build-$1.txt; }
  timeout 150 $E --device 0 --shapes llama3-8b,qwen2.5-7b --n-list 131072 --reps 9 >> $R/est-128k-$2.txt 2>&1
  timeout 90 $E --device 0 --shapes smollm2-135m,llama3-8b --n-list 8192,16384 --reps 9 >> $R/est-small-$2.txt 2>&1
  echo "== $1 $(date -u +%T)"; grep -E "^(llama|qwen|smol)" $R/est-128k-$2.txt | tail -2; grep -E "^(llama|qwen|smol)" $R/est-small-$2.txt | tail -4
}
for round in 1 2; do
  cp .gpu-ab/s17/proxy_det.deg4.cl $F; est A$round A
  cp .gpu-ab/s17/proxy_det.deg7.cl $F; est B$round B
done
cp .gpu-ab/s17/proxy_det.deg4.cl $F; est A3 A
timeout 60 $B/bin/test_proxy_ocl --gtest_filter='ProxyOclDetMath.*' 2>&1 | tail -3
timeout 60 $B/bin/test_proxy_ref --gtest_filter='*Deterministic*' 2>&1 | tail -3
echo "all done $(date -u +%T)"
