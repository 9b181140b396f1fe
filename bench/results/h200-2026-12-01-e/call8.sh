#!/usr/bin/env bash
# call 8 (fifth session): the decode products against the device's copy rate, same run
# (pa bench gemm --n-list 1,8: k_mul_mv_q for the quantized types, k_mul_mv for F16; Llama-3-8B
# shapes), the final tree (new loop) and mvq_aligned=0,mvq_nib=0 (the loop before) side by side.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=/tmp/kc-bw
for c in new old; do
  t=""; [ $c = old ] && t="mvq_aligned=0,mvq_nib=0"
  PA_OPENCL_TUNING=$t timeout 120 $B/bin/pa bench gemm --device 0 --shapes llama3-8b --types q4_0,q4_1,q8_0,f16 --n-list 1,8 \
    --reps 9 --blas-max-n 0 --copy-mib 1024 --out $OUT/bw-$c.json > $OUT/bw-$c.txt 2>&1 || { echo "!!! $c"; tail -3 $OUT/bw-$c.txt; }
  echo "== $c"; grep -E "device copy|^(q/o|k/v|gate|down)" $OUT/bw-$c.txt
done
echo "done $(date -u +%T)"
