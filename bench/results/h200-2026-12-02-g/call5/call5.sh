#!/usr/bin/env bash
# call 5: the new test binaries (call 4's device run used test_mul_mat_mma from call 3's build):
# test_mul_mat_mma (every hand-over of the stages) and test_opencl_tuning on the NVIDIA device.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c5
mkdir -p $R
B=/tmp/pa-build
touch tests/test_mul_mat_mma.cpp tests/test_opencl_tuning.cpp
if [ ! -d $B ]; then cmake -B $B -DCMAKE_BUILD_TYPE=Release > $R/cfg.txt 2>&1; fi
timeout 200 cmake --build $B -j16 --target test_mul_mat_mma test_opencl_tuning > $R/build.txt 2>&1 || { tail -20 $R/build.txt; echo "!!! build"; }
echo "build done $(date -u +%T)"
export PA_KERNEL_CACHE=$B/kernel-cache
PA_TEST_VERBOSE=1 timeout 120 $B/bin/test_mul_mat_mma > $R/test-mmq.txt 2>&1
echo "test_mul_mat_mma rc=$? $(grep -cE '^\[       OK' $R/test-mmq.txt) ok, $(grep -cE 'Failure' $R/test-mmq.txt) failures"
grep -E "rq_sync" $R/test-mmq.txt | grep "mul_mat_mma \]" | cut -c1-150
timeout 30 $B/bin/test_opencl_tuning > $R/test-tuning.txt 2>&1
echo "test_opencl_tuning rc=$? $(grep -E 'PASSED|FAILED' $R/test-tuning.txt | head -2 | tr '\n' ' ')"
cd $R && tar czf $OUT/c5.tgz . 2>/dev/null
