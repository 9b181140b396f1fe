#!/usr/bin/env bash
# call 7: where the 8K SmolLM2-shape proxy node's time goes (target 5): kernel device times and the
# gaps between them (PA_OPENCL_PROFILE=device) for dense and proxy, 20 runs each.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=/tmp/kc
timeout 60 $B/bin/pa bench attn --device 0 --shapes smollm2-135m --n-list 8192 --reps 20 --portable-max 0 --sgemm 0 --no-quality --no-stages --out /tmp/warm.json > /dev/null 2>&1
PA_OPENCL_PROFILE=device timeout 100 $B/bin/pa bench attn --device 0 --shapes smollm2-135m --n-list 8192 --reps 20 --portable-max 0 --sgemm 0 --no-quality --no-stages --out $OUT/smol8k.json > $OUT/prof-smol8k.txt 2>&1
grep -E "dense|proxy" $OUT/prof-smol8k.txt | head -4
sed -n '/PA_OPENCL_PROFILE/,$p' $OUT/prof-smol8k.txt | head -40
echo "done $(date -u +%T)"
