#!/usr/bin/env bash
# call 2 (seventh session): the sixth session's estimate (12 kernels a node) against the tree
# before it (b5d692f: 19 kernels, a write, a fill), attention nodes A, B, A, B in one call.
set -u
export PA_OPENCL_DEVICE=NVIDIA
OUT_FINAL=$OUT
OUT=/tmp/c2/smol AB_KIND=attn AB_ATTN_SHAPES=smollm2-135m AB_ATTN_N=8192,16384 bash bench/ab_gpu.sh .gpu-ab/b.patch
OUT=/tmp/c2/llama AB_REUSE=1 AB_KIND=attn AB_ATTN_SHAPES=llama3-8b AB_ATTN_N=32768,131072 AB_REPS=3 AB_PROFILE=0 \
  bash bench/ab_gpu.sh .gpu-ab/b.patch
tar czf $OUT_FINAL/call2.tgz -C /tmp/c2 .
