#!/usr/bin/env bash
# call 3 (thirteenth session): NVIDIA's entry now takes mul_mat_mma_rq.cl with three stages
# (mmq_wreg 1); build; the GEMM tests on the device (PA_MMA=1: both kernels, two k-steps a
# barrier); A/B through PA_OPENCL_TUNING: old = mmq_wreg=0, rq3 = the entry, b2 = mmq_rq_batch=2
# (four stages, one barrier a pair of k-steps), rq4 = four stages: pa bench gemm (Llama-3-8B
# shapes, Q4_0 8K / 32K; Q4_1, Q8_0 8K), SmolLM2-shaped prefill 30 layers 8K, random SmolLM2 Q4_1.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c3
mkdir -p $R
OUT=$R PA_BUILD_DIR=/tmp/pa-build bash bench/gpu_session.sh build > $R/build-out.log 2>&1
grep -E "error|!!!|passed|differ" $R/build-out.log | tail -4
echo "build done $(date -u +%T)"
B=/tmp/pa-build
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
PA_MMA=1 timeout 200 $B/bin/test_mul_mat_mma > $R/test-mmq.txt 2>&1
echo "test_mul_mat_mma rc=$? $(grep -cE '^\[       OK' $R/test-mmq.txt) ok, $(grep -cE 'Failure' $R/test-mmq.txt) failures"
grep "mul_mat_mma \]" $R/test-mmq.txt | cut -c1-110
g() { # tag tuning types nlist
  PA_OPENCL_TUNING=$2 timeout 120 $P bench gemm --device 0 --shapes llama3-8b --types $3 --n-list $4 --reps 5 --blas-max-n 0 \
    --copy-mib 0 --out $R/gemm-$1.json > $R/gemm-$1.txt 2>&1 || echo "!!! gemm $1"
  echo "$1: $(grep -h tensor_cores $R/gemm-$1.txt | awk '{print $1"/"$5"/"$4":"$7}' | tr '\n' ' ')"
}
g old-1 mmq_wreg=0 q4_0 8192,32768
g rq3-1 "" q4_0 8192,32768
g b2-1 mmq_rq_batch=2 q4_0 8192,32768
g rq4 mmq_rq_stages=4 q4_0 8192,32768
g b2-2 mmq_rq_batch=2 q4_0 8192,32768
g rq3-2 "" q4_0 8192,32768
g old-2 mmq_wreg=0 q4_0 8192,32768
g old-t mmq_wreg=0 q4_1,q8_0 8192
g rq3-t "" q4_1,q8_0 8192
g b2-t mmq_rq_batch=2 q4_1,q8_0 8192
echo "gemm done $(date -u +%T)"
pf() { # tag tuning
  PA_OPENCL_TUNING=$2 timeout 100 $P bench prefill --device 0 --shape smollm2-135m --layers 30 --n-list 8192 \
    --pattern needle --reps 5 --out $R/pf-$1.json > $R/pf-$1.txt 2>&1 || echo "!!! pf $1"
  grep -E "^prefill" $R/pf-$1.txt | sed "s/^/$1 /" | cut -c1-160
}
pf old-1 mmq_wreg=0
pf rq3-1 ""
pf b2-1 mmq_rq_batch=2
pf old-2 mmq_wreg=0
pf rq3-2 ""
pf b2-2 mmq_rq_batch=2
$P bench random-model --shape smollm2-135m --type q4_1 -o /tmp/smol-q41.gguf > $R/random-model.txt 2>&1 || echo "!!! random model"
for t in old rq3 b2 old rq3 b2; do
  tu=""; [ $t = old ] && tu=mmq_wreg=0; [ $t = b2 ] && tu=mmq_rq_batch=2
  PA_OPENCL_TUNING=$tu timeout 100 $P bench model --device 0 -m /tmp/smol-q41.gguf -p 512,8192 -n 0 --tg-after 0 -r 3 \
    --out $R/model-$t.json > $R/model-$t.txt 2>&1 || echo "!!! model $t"
  grep -E "pp512|pp8192" $R/model-$t.txt | sed "s/^/$t /" | cut -c1-150
done
(cd /tmp && tar czf $OUT/c3.tgz c3)
echo "done $(date -u +%T)"
