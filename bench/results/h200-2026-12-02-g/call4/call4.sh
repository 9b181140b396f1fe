#!/usr/bin/env bash
# call 4: the tree with NVIDIA's entry mmq_rq_sync 1 (mul_mat_mma_rq.cl's stages handed over by
# mbarriers): build, pa demo, the whole suite; then A/B against mmq_rq_sync=0 (Q4_0 / Q4_1 8K and
# 32K, Q8_0 through mul_mat_mma_rq.cl with mbarriers against mul_mat_mma.cl), one arrival an item,
# and a 30-layer SmolLM2-shaped prefill.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c4
mkdir -p $R
B=/tmp/pa-build
OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh check > $R/check.log 2>&1
grep -E "passed|failed|differ|!!!" $R/check.log | tail -6
echo "check done $(date -u +%T)"
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
g() { # tag defines tuning types nlist
  PA_OPENCL_DEFINES="$2" PA_OPENCL_TUNING=$3 timeout 100 $P bench gemm --device 0 --shapes llama3-8b --types $4 --n-list $5 --reps 5 --blas-max-n 0 \
    --copy-mib 0 --out $R/gemm-$1.json > $R/gemm-$1.txt 2>&1 || echo "!!! gemm $1"
  echo "$1: $(grep -h tensor_cores $R/gemm-$1.txt | awk '{print $1"/"$3"/"$4":"$7}' | tr '\n' ' ')"
}
g sync1 "" "" q4_0,q4_1 8192,32768
g sync0 "" mmq_rq_sync=0 q4_0,q4_1 8192,32768
g items "-DRQ_ARRIVE_ITEMS=1" "" q4_0 8192
g q8rq "" mmq_wreg=2 q8_0 8192
g q8old "" "" q8_0 8192
g sync1b "" "" q4_0 8192
echo "gemm done $(date -u +%T)"
pf() { # tag tuning
  PA_OPENCL_TUNING=$2 timeout 60 $P bench prefill --device 0 --shape smollm2-135m --layers 30 --n-list 8192 \
    --pattern needle --reps 5 --out $R/pf-$1.json > $R/pf-$1.txt 2>&1 || echo "!!! pf $1"
  grep -E "^prefill" $R/pf-$1.txt | sed "s/^/$1 /" | cut -c1-160
}
pf sync1 ""
pf sync0 mmq_rq_sync=0
echo "prefill done $(date -u +%T)"
timeout 60 $P bench gemm --device 0 --shapes llama3-8b --types q4_0 --n-list 131072 --reps 2 --blas-max-n 0 --copy-mib 0 \
  --out $R/gemm-128k.json > $R/gemm-128k.txt 2>&1 || echo "!!! 128k"
echo "128k: $(grep -h tensor_cores $R/gemm-128k.txt | awk '{print $1":"$7}' | tr '\n' ' ')"
cd $R && tar czf $OUT/c4.tgz . 2>/dev/null
