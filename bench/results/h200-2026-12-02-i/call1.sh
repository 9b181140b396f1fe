#!/usr/bin/env bash
# call 1 (sixteenth session): the estimate's block statistics in two sweeps (BS_SWEEPS 2, products
# computed twice, ~100 registers offline) against the default (W8R128, one sweep): build;
# pa_estimate_time --variants at 128K (Llama, Qwen g = 4) and 8K / 16K (SmolLM2, Llama);
# bit identity of S2 on the tensor cores (test_proxy_ocl Shapes/*) and against the CPU at 8K.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=$OUT
B=/tmp/pa-build
OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $R/build.log 2>&1
tail -3 $R/build.log; echo "build done $(date -u +%T)"
export PA_KERNEL_CACHE=$B/kernel-cache
E=$B/bin/pa_estimate_time
V=default,W8R80A0S2,W8R64A0S2,W8R96A0S2,W4R64A0S2,W8R128A0S2
timeout 200 $E --device 0 --shapes llama3-8b,qwen2.5-7b --n-list 131072 --reps 5 --variants $V \
  --json $R/est-128k.jsonl > $R/est-128k.txt 2>&1 || echo "!!! est 128k"
head -30 $R/est-128k.txt
echo "128k done $(date -u +%T)"
timeout 120 $E --device 0 --shapes smollm2-135m,llama3-8b --n-list 8192,16384 --reps 7 --variants $V \
  --json $R/est-small.jsonl > $R/est-small.txt 2>&1 || echo "!!! est small"
head -40 $R/est-small.txt
echo "small done $(date -u +%T)"
PA_PROXY_STATS=W8R80A0S2 timeout 150 $B/bin/test_proxy_ocl --gtest_brief=1 --gtest_filter='Shapes/*:Estimators/*' > $R/test-s2.txt 2>&1; echo "test_proxy_ocl S2 rc $?"; tail -3 $R/test-s2.txt
PA_PROXY_STATS=W8R64A0S2 timeout 100 $E --device 0 --shapes smollm2-135m --n-list 8192 --reps 2 --check 8192 > $R/check-s2.txt 2>&1; echo "check S2 rc $?"; tail -3 $R/check-s2.txt
echo "all done $(date -u +%T)"
