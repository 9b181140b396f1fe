#!/usr/bin/env bash
# C: the last part (with the texts), joined and checked; perplexity at 8K dense vs proxy (prefill
# times of both: target 5; KL, top-1 agreement), needles at ~8K dense vs proxy (one text, 10
# depths x 2 trials).
set -u
export PA_OPENCL_DEVICE=NVIDIA
export PA_KERNEL_CACHE=/tmp/pa-build/kernel-cache
R=/tmp/cc
mkdir -p $R
bash bench/gpu_model_parts.sh take .gpu-xe && bash bench/gpu_model_parts.sh join /tmp/model.gguf || { echo "!!! join"; exit 1; }
P=/tmp/pa-build/bin/pa
timeout 150 $P perplexity --device 0 -m /tmp/model.gguf -f .gpu-xe/sherlock.txt -c 8192 --chunks 4 --attn both \
  --json > $R/ppl-8k.json 2> $R/ppl-8k.err || echo "!!! ppl"
tail -c 900 $R/ppl-8k.json; echo
timeout 200 $P eval niah --device 0 -m /tmp/model.gguf -f .gpu-xe/sherlock.txt -c 8192 --depths 10 --trials 2 \
  --settings "dense;proxy" --out $R/niah-sherlock.json --quiet 2>&1 | tail -4
(cd /tmp && tar czf $OUT/cc.tgz cc)
echo "C done $(date -u +%T)"
