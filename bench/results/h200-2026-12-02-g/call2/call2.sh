#!/usr/bin/env bash
# call 2: the warp-specialized GEMM's variants (per-warp arrival on "empty", test_wait spin, one
# work-group of 8 + 1 warps a multiprocessor), the base kernel held to 200 registers, A/B at 8K.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c2
mkdir -p $R
B=/tmp/pa-build
if [ -d $B ]; then cmake --build $B -j16 --target pa_cli pa-opencl test_mul_mat_mma > $R/build.txt 2>&1 || { tail -30 $R/build.txt; exit 1; }
else OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $R/build-out.log 2>&1; grep -E "error|!!!" $R/build-out.log | tail -4; fi
echo "build done $(date -u +%T)"
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
PA_MMA=1 timeout 150 $B/bin/test_mul_mat_mma --gtest_filter='*WarpSpecialized*' > $R/test-ws.txt 2>&1
echo "test ws rc=$? $(grep -cE '^\[       OK' $R/test-ws.txt) ok, $(grep -cE 'Failure' $R/test-ws.txt) failures"
PA_OPENCL_DEFINES=-DRQ_WS_ARRIVE=0 PA_MMA=1 timeout 150 $B/bin/test_mul_mat_mma --gtest_filter='*WarpSpecialized*' > $R/test-ws0.txt 2>&1
echo "test ws arrive0 rc=$? $(grep -cE '^\[       OK' $R/test-ws0.txt) ok"
PA_OPENCL_DEFINES=-DMBAR_TEST_WAIT=1 PA_MMA=1 timeout 150 $B/bin/test_mul_mat_mma --gtest_filter='*WarpSpecialized*' > $R/test-wst.txt 2>&1
echo "test ws test_wait rc=$? $(grep -cE '^\[       OK' $R/test-wst.txt) ok"
for v in "mmq_ws=1,mmq_wn=2,mmq_wm=4,mmq_stages=2" "mmq_wreg=1,mmq_maxrreg=200"; do
PA_OPENCL_BUILD_LOG=1 PA_KERNEL_CACHE=/tmp/kc-log-$RANDOM PA_OPENCL_TUNING=$v timeout 100 $P bench gemm --device 0 \
  --shapes 256x256 --types q4_0 --n-list 256 --reps 1 --blas-max-n 0 --copy-mib 0 --out $R/log.json > $R/buildlog-$v.txt 2>&1
echo "$v: $(grep -iE "registers|spill" $R/buildlog-$v.txt | head -4 | cut -c1-160 | tr '\n' '|')"
done
g() { # tag defines tuning nlist
  PA_OPENCL_DEFINES="$2" PA_OPENCL_TUNING=$3 timeout 120 $P bench gemm --device 0 --shapes llama3-8b --types q4_0 --n-list $4 --reps 5 --blas-max-n 0 \
    --copy-mib 0 --out $R/gemm-$1.json > $R/gemm-$1.txt 2>&1 || echo "!!! gemm $1"
  echo "$1: $(grep -h tensor_cores $R/gemm-$1.txt | awk '{print $1"/"$5":"$7" "$NF}' | tr '\n' ' ')"
}
g base-1 "" mmq_wreg=1 8192
g base200 "" mmq_wreg=1,mmq_maxrreg=200 8192
g ws-warp "" mmq_ws=1 8192
g ws-all -DRQ_WS_ARRIVE=0 mmq_ws=1 8192
g ws-spin -DMBAR_TEST_WAIT=1 mmq_ws=1 8192
g ws24s3 "" mmq_ws=1,mmq_wn=2,mmq_wm=4,mmq_stages=2,mmq_rq_stages=3 8192
g ws24s2 "" mmq_ws=1,mmq_wn=2,mmq_wm=4,mmq_stages=2,mmq_rq_stages=2 8192
g ws42s2 "" mmq_ws=1,mmq_wn=4,mmq_wm=2,mmq_stages=2,mmq_rq_stages=2 8192
g rq24s3 "" mmq_wreg=1,mmq_wn=2,mmq_wm=4,mmq_stages=2,mmq_rq_stages=3 8192
g ws-warp4 "" mmq_ws=1,mmq_rq_stages=4 8192
g base-2 "" mmq_wreg=1 8192
echo "gemm done $(date -u +%T)"
cd $R && tar czf $OUT/c2.tgz . 2>/dev/null
