#!/usr/bin/env bash
# call 6 (fifteenth session): the tree with mmq_rq_tile_types (NVIDIA: Q4_0 weights with rows in
# whole tiles of 256 on 2 x 4 warps, the rest 2 x 2): build, pa demo, the whole suite; then the
# three quantized types per shape at 8K and one layer at 8K / 32K. Results straight into $OUT.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=$OUT
B=/tmp/pa-build
OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh check > $R/check.log 2>&1
grep -E "passed|failed|differ|!!!" $R/check.log | tail -6
grep -E "Failed|\*\*\*" $R/ctest.txt | head -5
rm -f $R/build.txt
echo "check done $(date -u +%T)"
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
timeout 40 $P bench gemm --device 0 --layer --types q4_0,q4_1,q8_0 --n-list 8192,32768 --reps 3 --copy-mib 0 \
  --out $R/layer.json > $R/layer.txt 2>&1 || echo "!!! layer"
grep -h "^layer" $R/layer.txt | cut -c1-200
timeout 30 $P bench gemm --device 0 --shapes llama3-8b --types q4_0,q4_1,q8_0 --n-list 8192 --reps 3 --blas-max-n 0 \
  --copy-mib 0 --out $R/gemm.json > $R/gemm.txt 2>&1 || echo "!!! gemm"
grep -h tensor_cores $R/gemm.txt | cut -c1-100
