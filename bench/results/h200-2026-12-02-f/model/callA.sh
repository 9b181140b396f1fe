#!/usr/bin/env bash
# calls A-C (thirteenth session): SmolLM2-135M Q4_1 on the H200 with the final tree (target 5 of
# issue 13). A: the first of the GGUF's three parts, and the build (kept in /tmp while warm).
set -u
export PA_OPENCL_DEVICE=NVIDIA
bash bench/gpu_model_parts.sh take .gpu-xa
OUT=/tmp/ca PA_BUILD_DIR=/tmp/pa-build bash bench/gpu_session.sh build > /tmp/ca-build.log 2>&1
grep -E "proxy keeps|!!!|error" /tmp/ca-build.log | tail -3
echo "A done $(date -u +%T)"
