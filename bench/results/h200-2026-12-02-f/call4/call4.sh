#!/usr/bin/env bash
# call 4 (thirteenth session): the final tree (NVIDIA: Q4_0 / Q4_1 weights through
# mul_mat_mma_rq.cl, three stages; Q8_0 on mul_mat_mma.cl; the rope kernels sharing
# rope_token_pair): build, pa demo, the whole CTest suite on the NVIDIA device; then, same call,
# the entry against mmq_wreg=0 (every quantized type on mul_mat_mma.cl): pa bench gemm at 8K
# (Q4_0, Q4_1, Q8_0) and the SmolLM2-shaped 30-layer prefill at 8K.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c4
mkdir -p $R
OUT=$R PA_BUILD_DIR=/tmp/pa-build bash bench/gpu_session.sh check > $R/check-out.log 2>&1
grep -E "proxy keeps|tests passed|tests failed|Failed|!!!|differ" $R/check-out.log | tail -8
echo "check done $(date -u +%T)"
P=/tmp/pa-build/bin/pa
export PA_KERNEL_CACHE=/tmp/pa-build/kernel-cache
g() { # tag tuning
  PA_OPENCL_TUNING=$2 timeout 120 $P bench gemm --device 0 --shapes llama3-8b --types q4_0,q4_1,q8_0 --n-list 8192 --reps 5 \
    --blas-max-n 0 --copy-mib 0 --out $R/gemm-$1.json > $R/gemm-$1.txt 2>&1 || echo "!!! gemm $1"
  echo "$1: $(grep -h tensor_cores $R/gemm-$1.txt | awk '{print $1"/"$4":"$7}' | tr '\n' ' ')"
}
g entry ""
g old mmq_wreg=0
pf() { # tag tuning
  PA_OPENCL_TUNING=$2 timeout 100 $P bench prefill --device 0 --shape smollm2-135m --layers 30 --n-list 8192 \
    --pattern needle --reps 5 --out $R/pf-$1.json > $R/pf-$1.txt 2>&1 || echo "!!! pf $1"
  grep -E "^prefill" $R/pf-$1.txt | sed "s/^/$1 /" | cut -c1-160
}
pf entry ""
pf old mmq_wreg=0
(cd /tmp && tar czf $OUT/c4.tgz c4)
echo "done $(date -u +%T)"
