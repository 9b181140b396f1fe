#!/usr/bin/env bash
# call 5 (thirteenth session): the final tree after the review's refactor (the GEMM kernels' place
# and accumulators from mmq_common.cl): build, pa demo, the whole CTest suite on the NVIDIA device.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c5
mkdir -p $R
OUT=$R PA_BUILD_DIR=/tmp/pa-build bash bench/gpu_session.sh check > $R/check-out.log 2>&1
grep -E "proxy keeps|tests passed|tests failed|Failed|!!!|differ" $R/check-out.log | tail -8
P=/tmp/pa-build/bin/pa
PA_KERNEL_CACHE=/tmp/pa-build/kernel-cache timeout 60 $P bench gemm --device 0 --shapes llama3-8b --types q4_0 --n-list 8192 \
  --reps 5 --blas-max-n 0 --copy-mib 0 --out $R/gemm.json > $R/gemm.txt 2>&1 || echo "!!! gemm"
echo "gemm: $(grep -h tensor_cores $R/gemm.txt | awk '{print $1"/"$4":"$7}' | tr '\n' ' ')"
(cd /tmp && tar czf $OUT/c5.tgz c5)
echo "done $(date -u +%T)"
