#!/usr/bin/env bash
# call 2 (sixteenth session): the PTX that NVIDIA's OpenCL compiler makes of the estimate's block
# statistics (the program cache's binaries, for an offline ptxas + cuobjdump count of the inner
# loop), and per-kernel device times of the estimate at 128K (Llama, Qwen g = 4) and 8K (SmolLM2).
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=$OUT
B=/tmp/pa-build
[ -x $B/bin/pa_estimate_time ] || { OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $R/build.log 2>&1; tail -2 $R/build.log; }
echo "build done $(date -u +%T)"
E=$B/bin/pa_estimate_time
mkdir -p $R/kc
PA_KERNEL_CACHE=$R/kc timeout 100 $E --device 0 --shapes smollm2-135m --n-list 8192 --reps 2 > $R/kc-run.txt 2>&1
ls -la $R/kc | head; du -sh $R/kc
export PA_KERNEL_CACHE=$B/kernel-cache
for s in llama3-8b qwen2.5-7b; do
  PA_OPENCL_PROFILE=device timeout 100 $E --device 0 --shapes $s --n-list 131072 --reps 3 > $R/prof-$s.txt 2>&1
  grep -E "stats|merge|mass|budgets|exact|rank|mask|pool|quantize|blockmax|busy" $R/prof-$s.txt | head -16
done
PA_OPENCL_PROFILE=device timeout 100 $E --device 0 --shapes smollm2-135m,llama3-8b --n-list 8192 --reps 10 > $R/prof-8k.txt 2>&1
grep -E "stats|merge|mass|budgets|exact|rank|mask|pool|quantize|blockmax|busy" $R/prof-8k.txt | head -16
echo "all done $(date -u +%T)"
