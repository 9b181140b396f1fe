#!/usr/bin/env bash
# call 1 (seventh session): the whole suite on the H200 (the sixth session's estimate kernels and
# the new register caps), then register caps written into the PTX (.maxnreg) for the portable
# attention kernel, the tensor-core attention, the decode products and the tensor-core GEMM.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
O=/tmp/c1; mkdir -p $O
OUT_FINAL=$OUT
OUT=$O PA_BUILD_DIR=$B bash bench/gpu_session.sh check
cp $O/check.log $O/ctest.txt $OUT_FINAL/ 2>/dev/null
pa=$B/bin/pa
echo "=== caps $(date -u +%T)"
for r in 0 152 128; do
  c=/tmp/kc-fat-$r; rm -rf $c
  PA_OPENCL_TUNING=fat_maxrreg=$r PA_KERNEL_CACHE=$c timeout 150 $pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm 0 --no-quality --no-stages --out $O/fat-$r.json > $O/fat-$r.txt 2>&1 || echo "!!! fat $r"
  echo "== fat_maxrreg=$r"; grep -E "dense_portable|portable" $O/fat-$r.txt | head -4
  bash bench/tools/ptxas_from_cache.sh $c k_flash_attn_tiled_q 2>&1 | grep registers | head -3
done
for r in 0 200 168; do
  c=/tmp/kc-mma-$r; rm -rf $c
  PA_OPENCL_TUNING=mma_maxrreg=$r PA_KERNEL_CACHE=$c timeout 120 $pa bench attn --device 0 --shapes llama3-8b \
    --n-list 32768 --reps 3 --portable-max 0 --sgemm 0 --no-quality --no-stages --out $O/mma-$r.json > $O/mma-$r.txt 2>&1 || echo "!!! mma $r"
  echo "== mma_maxrreg=$r"; grep -E " (dense|proxy) " $O/mma-$r.txt | head -4
  bash bench/tools/ptxas_from_cache.sh $c fa_mma 2>&1 | grep registers | head -3
done
for r in 0 96 80 64; do
  c=/tmp/kc-mvq-$r; rm -rf $c
  PA_OPENCL_TUNING=mvq_maxrreg=$r PA_KERNEL_CACHE=$c timeout 100 $pa bench gemm --device 0 --shapes llama3-8b --types q4_0,q8_0 \
    --n-list 1 --reps 9 --blas-max-n 0 --copy-mib 1024 --out $O/mvq-$r.json > $O/mvq-$r.txt 2>&1 || echo "!!! mvq $r"
  echo "== mvq_maxrreg=$r"; grep -E "device copy|^(q/o|k/v|gate|down)" $O/mvq-$r.txt
  bash bench/tools/ptxas_from_cache.sh $c k_mul_mv_q 2>&1 | grep registers | head -3
done
for r in 0 168; do
  c=/tmp/kc-mmq-$r; rm -rf $c
  PA_OPENCL_TUNING=mmq_maxrreg=$r PA_KERNEL_CACHE=$c timeout 100 $pa bench gemm --device 0 --shapes llama3-8b --types q4_0,q8_0 \
    --n-list 32768 --reps 3 --blas-max-n 0 --copy-mib 0 --out $O/mmq-$r.json > $O/mmq-$r.txt 2>&1 || echo "!!! mmq $r"
  echo "== mmq_maxrreg=$r"; grep -E "^(q/o|k/v|gate|down)" $O/mmq-$r.txt
  bash bench/tools/ptxas_from_cache.sh $c k_mmq 2>&1 | grep registers | head -3
done
echo "=== done $(date -u +%T)"
tar czf $OUT_FINAL/call1.tgz -C $O .
