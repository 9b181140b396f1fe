#!/usr/bin/env bash
# call 2: the portable kernel (fat_variant 4 base) with its work-group order (PA_FQ_ORDER: 0 tiles
# ascending per head, 1 heads fastest heavy first, 2 heavy first per head, 3 KV-group major heavy
# first) and the lazy max (PA_FQ_LAZY), two rounds; registers from NVIDIA's build log.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c2; OUT=/tmp/c2 PA_BUILD_DIR=$B bash bench/gpu_session.sh build > /tmp/c2/out.log 2>&1
grep -E "!!!|error" /tmp/c2/out.log | tail -4
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable',): print('$2', r.get('shape', ''), r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 2), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s', r.get('rel_l2_mma_vs_portable', ''))
" 2>&1; }
for round in 1 2; do
for c in 0:0 0:1 1:1 2:0 2:1 3:0 3:1; do
  o=${c%%:*}; l=${c#*:}; tag=o$o-l$l-r$round
  PA_OPENCL_BUILD_LOG=1 PA_FQ_ORDER=$o PA_FQ_LAZY=$l PA_OPENCL_TUNING=fat_variant=4 PA_KERNEL_CACHE=/tmp/kc-$o-$l timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm 0 --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  row /tmp/p-$tag.json $tag; awk '/built flash_attn_tiled_q.cl/{f=1} f&&/registers|spill/{print; n++} n>=2{exit}' /tmp/p-$tag.txt
done
done
for c in 0:0 3:1 2:1; do
  o=${c%%:*}; l=${c#*:}
  PA_FQ_ORDER=$o PA_FQ_LAZY=$l PA_OPENCL_TUNING=fat_variant=4 PA_KERNEL_CACHE=/tmp/kc-d$o-$l timeout 90 $B/bin/pa bench attn --device 0 --shapes smollm2-135m \
    --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/p-d64-$o-$l.json > /tmp/p-d64-$o-$l.txt 2>&1 || echo "!!! d64 $c"
  row /tmp/p-d64-$o-$l.json d64-o$o-l$l
done
(cd /tmp && tar czf $OUT/portable2.tgz p-*.json p-*.txt c2)
echo "done $(date -u +%T)"
