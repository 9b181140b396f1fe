#!/usr/bin/env bash
# call 3 (twelfth session): sweeps through PA_OPENCL_TUNING on the committed tree 0ceae22 (no
# rebuild between rows): rms_norm's work-group size (norm_wg) in a SmolLM2-shaped 8K prefill
# under the device profile; the tensor-core GEMM's tile (mmq_wn x mmq_wm warps, stages) on the
# SmolLM2 shapes (Q4_1, 8K tokens) and Llama-3-8B's k/v (Q4_0, 8K).
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c3
mkdir -p $R
OUT=$R PA_BUILD_DIR=/tmp/pa-new bash bench/gpu_session.sh build > $R/build-new.log 2>&1
grep -E "proxy keeps|error|!!!" $R/build-new.log | tail -3
echo "build done $(date -u +%T)"
P=/tmp/pa-new/bin/pa
export PA_KERNEL_CACHE=/tmp/kc3
for w in 128 64 32 256 128; do
  PA_OPENCL_TUNING=norm_wg=$w PA_OPENCL_PROFILE=device timeout 100 $P bench prefill --device 0 --shape smollm2-135m \
    --layers 30 --n-list 8192 --pattern needle --reps 2 > $R/norm-$w.txt 2>&1 || echo "!!! norm $w"
  grep -E "k_rms|^prefill dense" $R/norm-$w.txt | sed "s/^/norm_wg=$w /" | cut -c1-150
done
echo "norm done $(date -u +%T)"
for v in "" mmq_wn=1,mmq_wm=2,mmq_stages=3 mmq_wn=2,mmq_wm=2,mmq_stages=2 mmq_wn=1,mmq_wm=4,mmq_stages=2 mmq_wn=4,mmq_wm=2,mmq_stages=2 mmq_wn=2,mmq_wm=4,mmq_stages=2; do
  tag=${v:-default}
  PA_OPENCL_TUNING=$v timeout 100 $P bench gemm --device 0 --shapes 576x576,192x576,1536x576,576x1536 --types q4_1 \
    --n-list 8192 --reps 5 --blas-max-n 0 --copy-mib 0 --out $R/gemm-smol-$tag.json > $R/gemm-smol-$tag.txt 2>&1 || echo "!!! gemm smol $tag"
  PA_OPENCL_TUNING=$v timeout 100 $P bench gemm --device 0 --shapes 1024x4096,4096x4096 --types q4_0 \
    --n-list 8192 --reps 5 --blas-max-n 0 --copy-mib 0 --out $R/gemm-llama-$tag.json > $R/gemm-llama-$tag.txt 2>&1 || echo "!!! gemm llama $tag"
  echo "$tag: $(grep -h tensor_cores $R/gemm-smol-$tag.txt $R/gemm-llama-$tag.txt | awk '{print $1":"$6"ms/"$7}' | tr '\n' ' ')"
done
(cd /tmp && tar czf $OUT/c3.tgz c3)
echo "done $(date -u +%T)"
