#!/usr/bin/env bash
# call 3 (seventeenth session): the final tree: build, pa demo, the whole CTest suite on the NVIDIA device.
set -u
export PA_OPENCL_DEVICE=NVIDIA
OUT=$OUT PA_BUILD_DIR=/tmp/pa-build bash bench/gpu_session.sh check > /dev/null 2>&1
grep -E "tests passed|tests failed|rel diff|flash_attn|proxy_sparse|keeps|error" $OUT/check.log | head -12
grep -E "\(Failed\)|Timeout" $OUT/ctest.txt | head
