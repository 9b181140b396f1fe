#!/usr/bin/env bash
# call 7 (fifth session): issue 13's targets 1 and 2 on the final tree at the default settings:
# pa bench attn (Llama-3-8B layer, 32K / 128K, density and recall from the CPU reference), the
# masks saved, then PyTorch SDPA dense and FlexAttention with the same masks in the same call.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=/tmp/kc-speed
timeout 300 $B/bin/pa bench attn --device 0 --shapes llama3-8b --n-list 32768,131072 --reps 3 --portable-max 0 --sgemm 0 \
  --save-masks /tmp/masks --out $OUT/attn.json > $OUT/attn.txt 2>&1 || echo "!!! attn"
grep -E "(dense|proxy) " $OUT/attn.txt | tail -4
echo "attn done $(date -u +%T)"
timeout 200 python3 bench/anchors/torch_attn.py --hkv 8 --dim 128 --out $OUT/torch.json /tmp/masks/llama3-8b-*.mask > $OUT/torch.txt 2>&1 || echo "!!! torch"
tail -8 $OUT/torch.txt
echo "done $(date -u +%T)"
