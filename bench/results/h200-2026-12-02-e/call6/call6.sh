#!/usr/bin/env bash
# call 6 (twelfth session; the device budget left no room for the whole suite): the f16 copy of b
# shared by the products of one input (x16_copy.h): build, pa demo, the GEMM's and the model's
# tests on the NVIDIA device; A/B through PA_OPENCL_TUNING (mmq_keep_x16=0 = before):
# SmolLM2-shaped prefill (30 layers, 8K) and Llama-3-8B shape (2 layers, 8K), queued, alternating.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c6
mkdir -p $R
OUT=$R PA_BUILD_DIR=/tmp/pa-build bash bench/gpu_session.sh build > $R/build-out.log 2>&1
grep -E "proxy keeps|error|!!!" $R/build-out.log | tail -3
timeout 150 ctest --test-dir /tmp/pa-build -j8 -R "MulMatMma|mul_mat|BackendOps|model_opencl|OpenclPlugin|ProxyGraph|bench_prefill|bench_model" \
  --timeout 120 > $R/ctest-part.txt 2>&1
grep -E "tests passed|tests failed|Failed|\*\*\*" $R/ctest-part.txt | tail -8
echo "tests done $(date -u +%T)"
P=/tmp/pa-build/bin/pa
export PA_KERNEL_CACHE=/tmp/pa-build/kernel-cache
pf() { # tag tuning shape layers
  PA_OPENCL_TUNING=$2 timeout 60 $P bench prefill --device 0 --shape $3 --layers $4 --n-list 8192 \
    --pattern needle --reps 5 --out $R/pf-$1.json > $R/pf-$1.txt 2>&1 || echo "!!! pf $1"
  grep -E "^prefill" $R/pf-$1.txt | sed "s/^/$1 /" | cut -c1-160
}
pf smol-keep-1 mmq_keep_x16=1 smollm2-135m 30
pf smol-nokeep-1 mmq_keep_x16=0 smollm2-135m 30
pf smol-nokeep-2 mmq_keep_x16=0 smollm2-135m 30
pf smol-keep-2 mmq_keep_x16=1 smollm2-135m 30
pf llama-keep mmq_keep_x16=1 llama3-8b 2
pf llama-nokeep mmq_keep_x16=0 llama3-8b 2
(cd /tmp && tar czf $OUT/c6.tgz c6)
echo "done $(date -u +%T)"
