#!/usr/bin/env bash
# call 4 (seventh session): the final tree: the whole suite on the H200, F16 weights' two stages
# against three (mmq_f16_stages=0, the table before), then targets 1-3 beside PyTorch (speed phase:
# pa bench attn Llama-3-8B / Qwen2.5-7B layers at 32K / 128K with recall and the estimate's stages,
# SDPA and FlexAttention on the same masks).
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
O=/tmp/c4; mkdir -p $O
OUT_FINAL=$OUT
OUT=$O PA_BUILD_DIR=$B bash bench/gpu_session.sh check
cp $O/check.log $O/ctest.txt $OUT_FINAL/ 2>/dev/null
for t in "" "mmq_f16_stages=0"; do
  PA_OPENCL_TUNING=$t PA_KERNEL_CACHE=$B/kernel-cache timeout 120 $B/bin/pa bench gemm --device 0 --shapes llama3-8b --types f16 \
    --n-list 8192,32768 --reps 5 --blas-max-n 0 --copy-mib 0 --out $O/gemm-f16-${t:-default}.json > $O/gemm-f16-${t:-default}.txt 2>&1 || echo "!!! $t"
  echo "== gemm f16 ${t:-default}"; grep -E " f16 " $O/gemm-f16-${t:-default}.txt
done
OUT=$O PA_BUILD_DIR=$B bash bench/gpu_session.sh speed
cp $O/attn.json $O/torch.json $O/speed.log $OUT_FINAL/ 2>/dev/null
echo "=== done $(date -u +%T)"
tar czf $OUT_FINAL/call4.tgz -C $O .
