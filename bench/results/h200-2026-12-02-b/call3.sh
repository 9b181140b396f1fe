#!/usr/bin/env bash
# call 3: the portable kernel (fat_variant 4 base): order 1 (KV group by KV group, heavy first) and
# the lazy max, with and without a 168-register cap, two rounds; SmolLM2 shape; the portable proxy;
# the tensor-core GEMM's kernels at 8K and 32K tokens under the device profiler (q/o, Q4_0).
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c3; OUT=/tmp/c3 PA_BUILD_DIR=$B bash bench/gpu_session.sh build > /tmp/c3/out.log 2>&1
grep -E "!!!|error" /tmp/c3/out.log | tail -4
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable',): print('$2', r.get('shape', ''), r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 2), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s', r.get('rel_l2_mma_vs_portable', ''))
" 2>&1; }
for round in 1 2; do
for c in 0:0:0 1:0:0 1:1:0 1:1:168 0:1:168; do
  IFS=: read o l r <<<"$c"; tag=o$o-l$l-c$r-r$round
  PA_OPENCL_BUILD_LOG=1 PA_FQ_ORDER=$o PA_FQ_LAZY=$l PA_OPENCL_TUNING=fat_variant=4,fat_maxrreg=$r PA_KERNEL_CACHE=/tmp/kc-$o-$l-$r timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm 0 --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  row /tmp/p-$tag.json $tag; awk '/flash_attn_tiled_q.cl/{f=1} f&&/registers|spill/{print; n++} n>=2{exit}' /tmp/p-$tag.txt
done
done
for c in 0:0 1:0 1:1; do
  o=${c%%:*}; l=${c#*:}
  PA_FQ_ORDER=$o PA_FQ_LAZY=$l PA_OPENCL_TUNING=fat_variant=4 PA_KERNEL_CACHE=/tmp/kc-d$o-$l timeout 90 $B/bin/pa bench attn --device 0 --shapes smollm2-135m \
    --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/p-d64-$o-$l.json > /tmp/p-d64-$o-$l.txt 2>&1 || echo "!!! d64 $c"
  row /tmp/p-d64-$o-$l.json d64-o$o-l$l
  PA_MMA=0 PA_FQ_ORDER=$o PA_FQ_LAZY=$l PA_OPENCL_TUNING=fat_variant=4 PA_KERNEL_CACHE=/tmp/kc-s$o-$l timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 32768 --reps 3 --no-quality --no-stages --sgemm 0 --out /tmp/s-$o-$l.json > /tmp/s-$o-$l.txt 2>&1 || { echo "!!! s$c"; tail -5 /tmp/s-$o-$l.txt; }
  echo "PA_MMA=0 o$o l$l"; grep -E " dense | proxy " /tmp/s-$o-$l.txt | tail -2
done
for n in 8192 32768; do
  PA_OPENCL_PROFILE=device PA_KERNEL_CACHE=/tmp/kc-g timeout 100 $B/bin/pa bench gemm --device 0 --shapes 4096x4096 --types q4_0 \
    --n-list $n --reps 5 --blas-max-n 0 --copy-mib 0 --out /tmp/g-$n.json > /tmp/g-$n.txt 2>&1 || echo "!!! gemm $n"
  echo "== gemm q/o Q4_0 N=$n"; grep -E "k_mmq|TFLOP|tflops|gap|idle" /tmp/g-$n.txt | head -14
done
(cd /tmp && tar czf $OUT/portable3.tgz p-*.json p-*.txt s-*.json s-*.txt g-*.json g-*.txt c3)
echo "done $(date -u +%T)"
