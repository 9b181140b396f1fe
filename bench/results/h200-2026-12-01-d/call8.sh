#!/usr/bin/env bash
# call 8: the pooled rows back to the pool after quantization (host change in ocl/lowering.cpp):
# test_proxy_ocl on the NVIDIA device (tensor cores and PA_MMA=0), the estimate at 32K against the
# CPU reference (bit-identical) and at 128K.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa-opencl pa_estimate_time test_proxy_ocl > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=/tmp/kc
timeout 120 $B/bin/test_proxy_ocl --gtest_brief=1 > $OUT/test_proxy_ocl.txt 2>&1; tail -2 $OUT/test_proxy_ocl.txt
PA_MMA=0 timeout 120 $B/bin/test_proxy_ocl --gtest_brief=1 > $OUT/test_proxy_ocl_mma0.txt 2>&1; tail -2 $OUT/test_proxy_ocl_mma0.txt
timeout 150 $B/bin/pa_estimate_time --device NVIDIA --reps 5 --shapes llama3-8b,qwen2.5-7b --n-list 32768,131072 --check 32768 --json $OUT/est.json 2>&1 | tail -6
echo "done $(date -u +%T)"
