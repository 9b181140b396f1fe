#!/usr/bin/env bash
# call 2 (seventeenth session): the tree with the degree-4 exp (the test's bound at 6e-6) beside
# PyTorch: gpu_session.sh speed (pa bench attn, Llama and Qwen layers at 32K / 128K, masks saved;
# SDPA and FlexAttention on the Llama masks), SDPA / Flex on the Qwen masks (Hkv 4), and the Qwen
# layer at 128K with g = 1 and g = 4 proxy heads (recall on 32 rows a head).
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=$OUT
B=/tmp/pa-build
O=/tmp/c2; mkdir -p $O
OUT=$O PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $O/build-run.txt 2>&1; tail -3 $O/build-run.txt
OUT=$O PA_BUILD_DIR=$B bash bench/gpu_session.sh speed > $O/speed-run.txt 2>&1
cp $O/attn.json $O/torch.json $O/speed.log $R/ 2>/dev/null
grep -E "^(dense|proxy|llama|qwen)|density|recall" $O/speed.log | head -40
export PA_KERNEL_CACHE=$B/kernel-cache
timeout 120 python3 bench/anchors/torch_attn.py --hkv 4 --dim 128 --out $R/torch-qwen.json /tmp/masks/qwen2.5-7b-*.mask > $O/torch-qwen.txt 2>&1; tail -8 $O/torch-qwen.txt
timeout 200 $B/bin/pa bench attn --device 0 --shapes qwen2.5-7b --n-list 131072 --reps 3 --portable-max 0 --sgemm 0 \
  --threads "$(nproc)" --recall-rows 32 --variants "proxy-heads=1;proxy-heads=4" --out $R/est-qwen-128k.json > $O/est-qwen.txt 2>&1
tail -12 $O/est-qwen.txt
cp $O/est-qwen.txt $O/torch-qwen.txt $R/ 2>/dev/null
echo "all done $(date -u +%T)"
