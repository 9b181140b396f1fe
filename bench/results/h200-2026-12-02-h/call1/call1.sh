#!/usr/bin/env bash
# call 1 (fifteenth session): NVIDIA's entry mmq_wreg 2 (Q8_0 in registers with mbarriers): build,
# pa demo, the whole suite; the prep kernel's 32-bit index; pa bench gemm node and queued rates of
# every type; the product kernels' own device times (PA_OPENCL_PROFILE=device) per Q4_0 shape.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c1
mkdir -p $R
B=/tmp/pa-build
OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh check > $R/check.log 2>&1
grep -E "passed|failed|differ|!!!" $R/check.log | tail -6
echo "check done $(date -u +%T)"
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
g() { # tag types nlist queue
  timeout 150 $P bench gemm --device 0 --shapes llama3-8b --types $2 --n-list $3 --reps 5 --blas-max-n 0 \
    --copy-mib 256 --queue $4 --out $R/gemm-$1.json > $R/gemm-$1.txt 2>&1 || echo "!!! gemm $1"
  grep -h "copy\|tensor_cores" $R/gemm-$1.txt | cut -c1-150
}
g q4 q4_0,q4_1 8192,32768 4
echo "q4 done $(date -u +%T)"
g q8f16 q8_0,f16 8192,32768 4
echo "q8f16 done $(date -u +%T)"
for n in 8192 32768; do
  for s in 4096x4096 1024x4096 14336x4096 4096x14336; do
    PA_OPENCL_PROFILE=device timeout 60 $P bench gemm --device 0 --shapes $s --types q4_0 --n-list $n --reps 5 \
      --blas-max-n 0 --copy-mib 0 --out $R/prof-$s-$n.json > $R/prof-$s-$n.txt 2>&1 || echo "!!! prof $s $n"
    echo "$s $n: $(grep -h tensor_cores $R/prof-$s-$n.txt | awk '{print $7}') | $(grep -E 'k_mmq' $R/prof-$s-$n.txt | tr -s ' ' | cut -c1-120 | tr '\n' ';')"
  done
done
echo "prof done $(date -u +%T)"
cd $R && tar czf $OUT/c1.tgz . 2>/dev/null
