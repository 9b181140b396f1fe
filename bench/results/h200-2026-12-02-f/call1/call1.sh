#!/usr/bin/env bash
# call 1 (thirteenth session): build the tree with mul_mat_mma_rq.cl (quantized weights
# dequantized in registers, tuning mmq_wreg, default 0) and the merged rope kernels; the GEMM
# tests on the device (PA_MMA=1); registers of k_mmq_rq from NVIDIA's build log; then A/B
# through PA_OPENCL_TUNING: pa bench gemm (Llama-3-8B shapes, Q4_0 8K / 32K; Q4_1, Q8_0 8K;
# other tiles), a SmolLM2-shaped 30-layer prefill at 8K and a random SmolLM2-shaped Q4_1 model.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c1
mkdir -p $R
OUT=$R PA_BUILD_DIR=/tmp/pa-build bash bench/gpu_session.sh build > $R/build-out.log 2>&1
grep -E "error|!!!|passed|differ" $R/build-out.log | tail -4
echo "build done $(date -u +%T)"
B=/tmp/pa-build
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
PA_MMA=1 timeout 200 $B/bin/test_mul_mat_mma > $R/test-mmq.txt 2>&1
echo "test_mul_mat_mma rc=$? $(grep -cE '^\[       OK' $R/test-mmq.txt) ok, $(grep -cE 'Failure' $R/test-mmq.txt) failures"
grep "mul_mat_mma \]" $R/test-mmq.txt | cut -c1-120 | tail -7
echo "tests done $(date -u +%T)"
PA_OPENCL_BUILD_LOG=1 PA_KERNEL_CACHE=/tmp/kc-log PA_OPENCL_TUNING=mmq_wreg=1 timeout 100 $P bench gemm --device 0 \
  --shapes 256x256 --types q4_0,q4_1,q8_0 --n-list 256 --reps 1 --blas-max-n 0 --copy-mib 0 --out $R/log.json > $R/buildlog.txt 2>&1
grep -iE "k_mmq_rq|registers|spill" $R/buildlog.txt | head -12 | cut -c1-200
g() { # tag tuning shapes types nlist
  PA_OPENCL_TUNING=$2 timeout 120 $P bench gemm --device 0 --shapes $3 --types $4 --n-list $5 --reps 5 --blas-max-n 0 \
    --copy-mib 0 --out $R/gemm-$1.json > $R/gemm-$1.txt 2>&1 || echo "!!! gemm $1"
  echo "$1: $(grep -h tensor_cores $R/gemm-$1.txt | awk '{print $1"/"$5"/"$4":"$7" "$NF}' | tr '\n' ' ')"
}
g old-1 mmq_wreg=0 llama3-8b q4_0 8192,32768
g rq4-1 mmq_wreg=1,mmq_rq_stages=4 llama3-8b q4_0 8192,32768
g rq3 mmq_wreg=1,mmq_rq_stages=3 llama3-8b q4_0 8192,32768
g rq5 mmq_wreg=1,mmq_rq_stages=5 llama3-8b q4_0 8192,32768
g old-2 mmq_wreg=0 llama3-8b q4_0 8192,32768
g rq4-2 mmq_wreg=1,mmq_rq_stages=4 llama3-8b q4_0 8192,32768
g rq-24 mmq_wreg=1,mmq_wn=2,mmq_wm=4,mmq_stages=2 llama3-8b q4_0 8192
g rq-42 mmq_wreg=1,mmq_wn=4,mmq_wm=2,mmq_stages=2 llama3-8b q4_0 8192
g old-t mmq_wreg=0 llama3-8b q4_1,q8_0 8192
g rq-t mmq_wreg=1 llama3-8b q4_1,q8_0 8192
echo "gemm done $(date -u +%T)"
pf() { # tag tuning
  PA_OPENCL_TUNING=$2 timeout 100 $P bench prefill --device 0 --shape smollm2-135m --layers 30 --n-list 8192 \
    --pattern needle --reps 5 --out $R/pf-$1.json > $R/pf-$1.txt 2>&1 || echo "!!! pf $1"
  grep -E "^prefill" $R/pf-$1.txt | sed "s/^/$1 /" | cut -c1-160
}
pf old-1 mmq_wreg=0
pf rq-1 mmq_wreg=1
pf old-2 mmq_wreg=0
pf rq-2 mmq_wreg=1
$P bench random-model --shape smollm2-135m --type q4_1 -o /tmp/smol-q41.gguf > $R/random-model.txt 2>&1 || echo "!!! random model"
for t in old rq old rq; do
  tu=mmq_wreg=0; [ $t = rq ] && tu=mmq_wreg=1
  PA_OPENCL_TUNING=$tu timeout 100 $P bench model --device 0 -m /tmp/smol-q41.gguf -p 512,8192 -n 0 --tg-after 0 -r 3 \
    --out $R/model-$t.json > $R/model-$t.txt 2>&1 || echo "!!! model $t"
  grep -E "pp512|pp8192" $R/model-$t.txt | sed "s/^/$t /" | cut -c1-150
done
(cd /tmp && tar czf $OUT/c1.tgz c1)
echo "done $(date -u +%T)"
