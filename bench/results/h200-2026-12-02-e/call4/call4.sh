#!/usr/bin/env bash
# call 4 (twelfth session): the final tree (float4 elementwise kernels, rope per token, the 2 x 4
# two-stage tile for K <= mmq_small_k, norm_wg 64 on NVIDIA): build, pa demo, the whole CTest
# suite on the NVIDIA device; then, same call, A/B through PA_OPENCL_TUNING ("before" =
# mmq_small_k=0,norm_wg=128: the tree of call 2's "new"): SmolLM2-shaped prefill (30 layers,
# 8K) and pa bench model (random SmolLM2-shaped Q4_1, pp512, pp8192), Llama-3-8B shape (2 layers,
# 8K), and K = 2048 products (Llama-3.2-1B shapes) with the small-K tile or not.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c4
mkdir -p $R
OUT=$R PA_BUILD_DIR=/tmp/pa-build bash bench/gpu_session.sh check > $R/check-out.log 2>&1
grep -E "proxy keeps|tests passed|tests failed|Failed|!!!" $R/check-out.log | tail -8
echo "check done $(date -u +%T)"
P=/tmp/pa-build/bin/pa
export PA_KERNEL_CACHE=/tmp/pa-build/kernel-cache
BEFORE=mmq_small_k=0,norm_wg=128
pf() { # tag tuning shape layers
  PA_OPENCL_TUNING=$2 timeout 100 $P bench prefill --device 0 --shape $3 --layers $4 --n-list 8192 \
    --pattern needle --reps 5 --out $R/pf-$1.json > $R/pf-$1.txt 2>&1 || echo "!!! pf $1"
  grep -E "^prefill" $R/pf-$1.txt | sed "s/^/$1 /" | cut -c1-160
}
pf smol-after-1 "" smollm2-135m 30
pf smol-before-1 $BEFORE smollm2-135m 30
pf smol-before-2 $BEFORE smollm2-135m 30
pf smol-after-2 "" smollm2-135m 30
pf llama-after "" llama3-8b 2
pf llama-before $BEFORE llama3-8b 2
$P bench random-model --shape smollm2-135m --type q4_1 -o /tmp/smol-q41.gguf > $R/random-model.txt 2>&1 || echo "!!! random model"
for t in after before after before; do
  tu=""; [ $t = before ] && tu=$BEFORE
  PA_OPENCL_TUNING=$tu timeout 100 $P bench model --device 0 -m /tmp/smol-q41.gguf -p 512,8192 -n 0 --tg-after 0 -r 3 \
    --out $R/model-$t.json > $R/model-$t.txt 2>&1 || echo "!!! model $t"
  grep -E "pp512|pp8192" $R/model-$t.txt | sed "s/^/$t /"
done
for k in 0 2048; do
  PA_OPENCL_TUNING=mmq_small_k=$k timeout 100 $P bench gemm --device 0 --shapes 2048x2048,512x2048,8192x2048,2048x8192 \
    --types q4_0 --n-list 8192 --reps 5 --blas-max-n 0 --copy-mib 0 --out $R/gemm-k2048-$k.json > $R/gemm-k2048-$k.txt 2>&1 || echo "!!! gemm $k"
  echo "mmq_small_k=$k: $(grep -h tensor_cores $R/gemm-k2048-$k.txt | awk '{print $1":"$6"ms/"$7}' | tr '\n' ' ')"
done
PA_OPENCL_PROFILE=device timeout 100 $P bench prefill --device 0 --shape smollm2-135m --layers 30 --n-list 8192 \
  --pattern needle --reps 3 > $R/profile-smol-after.txt 2>&1 || echo "!!! profile"
(cd /tmp && tar czf $OUT/c4.tgz c4)
echo "done $(date -u +%T)"
