#!/usr/bin/env bash
# call 4 (eighth session; call 3 again after its fix): the final tree (ba925d5): the whole suite on the H200, targets 1-3 beside
# PyTorch (speed phase), the block-sparse kernel's key read ahead A/B at the SmolLM2 shape (d = 64,
# 8K / 16K; B = the kernel before), and the estimate's block statistics W8R128 / W4R128 at the small
# shapes.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
O=/tmp/c4; mkdir -p $O
OUT_FINAL=$OUT
OUT=$O PA_BUILD_DIR=$B bash bench/gpu_session.sh check
cp $O/check.log $O/ctest.txt $OUT_FINAL/ 2>/dev/null
OUT=$O PA_BUILD_DIR=$B bash bench/gpu_session.sh speed
cp $O/attn.json $O/torch.json $O/speed.log $OUT_FINAL/ 2>/dev/null
OUT=$O/ab AB_KIND=attn AB_ATTN_SHAPES=smollm2-135m AB_ATTN_N=8192,16384 AB_REPS=15 AB_ROUNDS=2 AB_PROFILE=0 \
  bash bench/ab_gpu.sh .gpu-ab/s8/b3.patch
echo "=== done $(date -u +%T)"
tar czf $OUT_FINAL/call4.tgz -C $O .
