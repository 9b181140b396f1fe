#!/usr/bin/env bash
# call 5 (seventh session): the K / V prep kernels with explicit work-groups (A) against the
# driver's choice (B), attention nodes of the SmolLM2 and Llama-3-8B shapes at 8K / 32K, device
# profiles at 8K.
set -u
export PA_OPENCL_DEVICE=NVIDIA
OUT_FINAL=$OUT
OUT=/tmp/c5 AB_KIND=attn AB_ATTN_SHAPES=smollm2-135m,llama3-8b AB_ATTN_N=8192,32768 AB_REPS=9 AB_ROUNDS=2 \
  bash bench/ab_gpu.sh .gpu-ab/b5.patch
tar czf $OUT_FINAL/call5.tgz -C /tmp/c5 .
