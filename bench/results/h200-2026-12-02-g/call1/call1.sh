#!/usr/bin/env bash
# call 1 (fourteenth session): build; PTX probes (named barriers, mbarriers); the warp-specialized
# GEMM (k_mmq_rq_ws, mmq_ws=1) tests on the device; its registers; A/B at 8K / 32K Q4_0.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c1
mkdir -p $R
OUT=$R PA_BUILD_DIR=/tmp/pa-build bash bench/gpu_session.sh build > $R/build-out.log 2>&1
grep -E "error|!!!|passed|differ" $R/build-out.log | tail -4
echo "build done $(date -u +%T)"
B=/tmp/pa-build
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
timeout 60 $B/bin/pa_mma_check --probe > $R/probe.txt 2>&1; echo "probe rc=$?"; grep -i "probe" $R/probe.txt | cut -c1-200
PA_MMA=1 PA_TEST_VERBOSE=1 timeout 150 $B/bin/test_mul_mat_mma --gtest_filter='*WarpSpecialized*:*Registers*' > $R/test-ws.txt 2>&1
echo "test ws rc=$? $(grep -cE '^\[       OK' $R/test-ws.txt) ok, $(grep -cE 'Failure' $R/test-ws.txt) failures"
grep -E "mul_mat_mma \]|FAILED" $R/test-ws.txt | cut -c1-150 | tail -10
echo "tests done $(date -u +%T)"
for v in "mmq_ws=1" "mmq_ws=1,mmq_maxrreg=200" "mmq_ws=1,mmq_wn=2,mmq_wm=4"; do
PA_OPENCL_BUILD_LOG=1 PA_KERNEL_CACHE=/tmp/kc-log-$RANDOM PA_OPENCL_TUNING=$v timeout 100 $P bench gemm --device 0 \
  --shapes 256x256 --types q4_0 --n-list 256 --reps 1 --blas-max-n 0 --copy-mib 0 --out $R/log.json > $R/buildlog-$v.txt 2>&1
echo "$v: $(grep -iE "registers|spill" $R/buildlog-$v.txt | grep -i -B0 "" | head -4 | cut -c1-160 | tr '\n' '|')"
done
g() { # tag tuning shapes types nlist
  PA_OPENCL_TUNING=$2 timeout 120 $P bench gemm --device 0 --shapes $3 --types $4 --n-list $5 --reps 5 --blas-max-n 0 \
    --copy-mib 0 --out $R/gemm-$1.json > $R/gemm-$1.txt 2>&1 || echo "!!! gemm $1"
  echo "$1: $(grep -h tensor_cores $R/gemm-$1.txt | awk '{print $1"/"$5"/"$4":"$7" "$NF}' | tr '\n' ' ')"
}
g base-1 mmq_wreg=1 llama3-8b q4_0 8192,32768
g ws3 mmq_ws=1,mmq_rq_stages=3 llama3-8b q4_0 8192,32768
g ws4 mmq_ws=1,mmq_rq_stages=4 llama3-8b q4_0 8192,32768
g ws3r200 mmq_ws=1,mmq_rq_stages=3,mmq_maxrreg=200 llama3-8b q4_0 8192,32768
g ws4r200 mmq_ws=1,mmq_rq_stages=4,mmq_maxrreg=200 llama3-8b q4_0 8192,32768
g ws24 mmq_ws=1,mmq_wn=2,mmq_wm=4,mmq_rq_stages=3 llama3-8b q4_0 8192,32768
g ws42 mmq_ws=1,mmq_wn=4,mmq_wm=2,mmq_rq_stages=2 llama3-8b q4_0 8192
g base-2 mmq_wreg=1 llama3-8b q4_0 8192,32768
echo "gemm done $(date -u +%T)"
cd $R && tar czf $OUT/c1.tgz . 2>/dev/null
