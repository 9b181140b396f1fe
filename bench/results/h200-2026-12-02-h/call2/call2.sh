#!/usr/bin/env bash
# call 2 (fifteenth session): one Llama-3-8B layer's seven weight products as a model runs them
# (pa bench gemm --layer, new) at 8K / 32K / 128K; the product kernels' own device times at 128K;
# first the whole suite on the tree with k_mmq_rq's copy_stage and mma_ptx.cl's shared_addr.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c2
mkdir -p $R
B=/tmp/pa-build
OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh check > $R/check.log 2>&1
grep -E "passed|failed|differ|!!!" $R/check.log | tail -6
echo "check done $(date -u +%T)"
timeout 60 $B/bin/pa_mma_check --probe > $R/probe.txt 2>&1; grep -h "probe" $R/probe.txt | cut -c1-120
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
L() { # tag types nlist reps
  timeout 200 $P bench gemm --device 0 --layer --types $2 --n-list $3 --reps $4 --copy-mib 0 \
    --out $R/layer-$1.json > $R/layer-$1.txt 2>&1 || echo "!!! layer $1"
  grep -h "^layer" $R/layer-$1.txt | cut -c1-200
}
L a q4_0,q4_1,q8_0 8192,32768 3
echo "layer 8K/32K done $(date -u +%T)"
L b q4_0 131072 2
echo "layer 128K done $(date -u +%T)"
for s in 4096x4096 1024x4096 14336x4096 4096x14336; do
  PA_OPENCL_PROFILE=device timeout 80 $P bench gemm --device 0 --shapes $s --types q4_0 --n-list 131072 --reps 2 \
    --blas-max-n 0 --copy-mib 0 --out $R/prof-$s-131072.json > $R/prof-$s-131072.txt 2>&1 || echo "!!! prof $s"
  echo "$s 131072: $(grep -h tensor_cores $R/prof-$s-131072.txt | awk '{print $7}') | $(grep -E 'k_mmq' $R/prof-$s-131072.txt | tr -s ' ' | cut -c1-120 | tr '\n' ';')"
done
echo "prof done $(date -u +%T)"
L c f16 8192 3
cd $R && tar czf $OUT/c2.tgz . 2>/dev/null
