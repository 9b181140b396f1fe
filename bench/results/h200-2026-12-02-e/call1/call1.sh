#!/usr/bin/env bash
# call 1 (twelfth session): build; baseline of the tensor-core kernels (dense attention, the
# estimate with g = 1 and g = 4, the block-sparse kernel, the GEMM per Llama-3-8B shape and type,
# the SmolLM2 attention shape at 8K) with a fresh kernel cache, whose entries (PTX) come back for
# bench/tools/ptx_loops.py.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
R=/tmp/c1
mkdir -p $R
OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $R/build-out.log 2>&1
grep -E "proxy keeps|error|!!!|PASS|pass" $R/build-out.log | tail -4
echo "build done $(date -u +%T)"
export PA_KERNEL_CACHE=/tmp/kc1
timeout 200 $B/bin/pa bench attn --device 0 --shapes llama3-8b --n-list 32768 --reps 3 --portable-max 0 \
  --no-quality --out $R/attn-llama.json > $R/attn-llama.txt 2>&1 || echo "!!! attn llama"
tail -12 $R/attn-llama.txt
echo "attn llama done $(date -u +%T)"
timeout 150 $B/bin/pa bench attn --device 0 --shapes qwen2.5-7b --n-list 32768 --reps 3 --portable-max 0 \
  --no-quality --proxy-heads 4 --out $R/attn-qwen4.json > $R/attn-qwen4.txt 2>&1 || echo "!!! attn qwen"
tail -8 $R/attn-qwen4.txt
timeout 100 $B/bin/pa bench attn --device 0 --shapes smollm2-135m --n-list 8192 --reps 5 --portable-max 0 \
  --no-quality --out $R/attn-smol.json > $R/attn-smol.txt 2>&1 || echo "!!! attn smol"
tail -8 $R/attn-smol.txt
timeout 150 $B/bin/pa bench gemm --device 0 --shapes 4096x4096,1024x4096,14336x4096,4096x14336 \
  --types q4_0,q8_0,f16 --n-list 8192 --reps 5 --blas-max-n 0 --copy-mib 0 --out $R/gemm.json > $R/gemm.txt 2>&1 || echo "!!! gemm"
tail -16 $R/gemm.txt
echo "benches done $(date -u +%T)"
mkdir -p $R/kc && cp /tmp/kc1/*.bin $R/kc/ 2>/dev/null; ls -la /tmp/kc1 | head -40
(cd /tmp && tar czf $OUT/c1.tgz c1)
ls -la $OUT
echo "done $(date -u +%T)"
