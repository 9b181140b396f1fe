#!/usr/bin/env bash
# call 5 (fifteenth session): the tree with NVIDIA's entry mmq_rq_wn 2 x mmq_rq_wm 4 (the
# register-dequantizing GEMM's 128 x 256 tile): build, pa demo, the whole suite; pa bench gemm per
# shape (Q4_0, Q4_1, Q8_0, 8K / 32K) and --layer (8K / 32K / 128K). Results straight into $OUT.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=$OUT
B=/tmp/pa-build
OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh check > $R/check.log 2>&1
grep -E "passed|failed|differ|!!!" $R/check.log | tail -6
rm -f $R/build.txt
echo "check done $(date -u +%T)"
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
timeout 100 $P bench gemm --device 0 --shapes llama3-8b --types q4_0,q4_1,q8_0 --n-list 8192,32768 --reps 3 --blas-max-n 0 \
  --copy-mib 0 --out $R/gemm.json > $R/gemm.txt 2>&1 || echo "!!! gemm"
grep -h tensor_cores $R/gemm.txt | cut -c1-100
echo "gemm done $(date -u +%T)"
timeout 90 $P bench gemm --device 0 --layer --types q4_0,q4_1,q8_0 --n-list 8192,32768 --reps 3 --copy-mib 0 \
  --out $R/layer.json > $R/layer.txt 2>&1 || echo "!!! layer"
grep -h "^layer" $R/layer.txt | cut -c1-200
echo "layer done $(date -u +%T)"
timeout 50 $P bench gemm --device 0 --layer --types q4_0 --n-list 131072 --reps 2 --copy-mib 0 \
  --out $R/layer-128k.json > $R/layer-128k.txt 2>&1 || echo "!!! layer 128k"
grep -h "^layer" $R/layer-128k.txt | cut -c1-200
