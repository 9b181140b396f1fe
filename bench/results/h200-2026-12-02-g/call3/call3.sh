#!/usr/bin/env bash
# call 3: the warp-specialized GEMM with three consumer warps (1 x 3 tile, 64 tokens x 192 rows)
# and a producer: 8 warps a multiprocessor in two work-groups (the register budget of 2 x 4 warps).
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c3
mkdir -p $R
B=/tmp/pa-build
if [ -d $B ]; then cmake --build $B -j16 --target pa_cli pa-opencl test_mul_mat_mma > $R/build.txt 2>&1 || { tail -30 $R/build.txt; exit 1; }
else OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $R/build-out.log 2>&1; grep -E "error|!!!" $R/build-out.log | tail -4; fi
echo "build done $(date -u +%T)"
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
PA_MMA=1 PA_TEST_VERBOSE=1 timeout 150 $B/bin/test_mul_mat_mma --gtest_filter='*WarpSpecialized*' > $R/test-ws.txt 2>&1
echo "test ws rc=$? $(grep -cE '^\[       OK' $R/test-ws.txt) ok, $(grep -cE 'Failure' $R/test-ws.txt) failures"
PA_OPENCL_DEFINES="-DRQ_MBAR=1 -DMMA_MBARRIER=1" PA_MMA=1 PA_TEST_VERBOSE=1 timeout 150 $B/bin/test_mul_mat_mma --gtest_filter='*InRegisters*' > $R/test-mbar.txt 2>&1
echo "test rq mbar rc=$? $(grep -cE '^\[       OK' $R/test-mbar.txt) ok, $(grep -cE 'Failure' $R/test-mbar.txt) failures"
for v in "mmq_ws=1,mmq_wn=1,mmq_wm=3" "mmq_wreg=1,mmq_rq_stages=4"; do
PA_OPENCL_DEFINES="-DRQ_MBAR=1 -DMMA_MBARRIER=1" PA_OPENCL_BUILD_LOG=1 PA_KERNEL_CACHE=/tmp/kc-log-$RANDOM PA_OPENCL_TUNING=$v timeout 100 $P bench gemm --device 0 \
  --shapes 256x256 --types q4_0 --n-list 256 --reps 1 --blas-max-n 0 --copy-mib 0 --out $R/log.json > $R/buildlog-$v.txt 2>&1
echo "$v: $(grep -iE "registers|spill" $R/buildlog-$v.txt | head -4 | cut -c1-160 | tr '\n' '|')"
done
g() { # tag defines tuning nlist
  PA_OPENCL_DEFINES="$2" PA_OPENCL_TUNING=$3 timeout 120 $P bench gemm --device 0 --shapes llama3-8b --types q4_0 --n-list $4 --reps 5 --blas-max-n 0 \
    --copy-mib 0 --out $R/gemm-$1.json > $R/gemm-$1.txt 2>&1 || echo "!!! gemm $1"
  echo "$1: $(grep -h tensor_cores $R/gemm-$1.txt | awk '{print $1"/"$5":"$7" "$NF}' | tr '\n' ' ')"
}
g base-1 "" mmq_wreg=1 8192
g ws13s3 "" mmq_ws=1,mmq_wn=1,mmq_wm=3 8192
g ws13s4 "" mmq_ws=1,mmq_wn=1,mmq_wm=3,mmq_stages=2,mmq_rq_stages=4 8192
g ws13s5 "" mmq_ws=1,mmq_wn=1,mmq_wm=3,mmq_stages=2,mmq_rq_stages=5 8192
g ws13s4a0 -DRQ_WS_ARRIVE=0 mmq_ws=1,mmq_wn=1,mmq_wm=3,mmq_stages=2,mmq_rq_stages=4 8192
g base-2 "" mmq_wreg=1 8192
g mbar3 "-DRQ_MBAR=1 -DMMA_MBARRIER=1" mmq_wreg=1,mmq_rq_stages=3 8192
g mbar4 "-DRQ_MBAR=1 -DMMA_MBARRIER=1" mmq_wreg=1,mmq_rq_stages=4 8192
g mbar5 "-DRQ_MBAR=1 -DMMA_MBARRIER=1" mmq_wreg=1,mmq_rq_stages=5 8192
g base-3 "" mmq_wreg=1 8192
g ws13s4-32k "" mmq_ws=1,mmq_wn=1,mmq_wm=3,mmq_stages=2,mmq_rq_stages=4 32768
g base-32k "" mmq_wreg=1 32768
echo "gemm done $(date -u +%T)"
OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh check > $R/check.log 2>&1
grep -E "passed|failed|differ|!!!" $R/check.log | tail -6
echo "check done $(date -u +%T)"
cd $R && tar czf $OUT/c3.tgz . 2>/dev/null
