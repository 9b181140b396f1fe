#!/usr/bin/env bash
# call 4 (eleventh session): the final tree (NVIDIA's portable entry: variant 7, O += P V's loop
# over keys unrolled fully, cap 168): pa demo and the whole CTest suite on the NVIDIA device; then
# the defaults at 16K / 32K beside CLBlast SGEMM 8192^3 (Llama-3-8B layer), SmolLM2's d = 64 and
# the block-sparse portable path (PA_MMA=0, 32K synthetic needle).
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c4
OUT=/tmp/c4 PA_BUILD_DIR=$B bash bench/gpu_session.sh check > /tmp/c4/out.log 2>&1
grep -E "rel diff|proxy keeps|tests passed|tests failed|\*\*\*Failed|Exception|!!!" /tmp/c4/check.log | tail -12
echo "check done $(date -u +%T)"
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') in ('sgemm', 'portable'): print('$2', r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 3), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s')
" 2>&1 | tr '\n' ' '; echo; }
PA_OPENCL_BUILD_LOG=1 PA_KERNEL_CACHE=/tmp/kc-final timeout 90 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
  --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm 8192 --no-quality --no-stages --out /tmp/c4/p-default.json > /tmp/c4/p-default.txt 2>&1 || echo "!!! default"
row /tmp/c4/p-default.json default
grep -A3 'flash_attn_tiled_q.cl' /tmp/c4/p-default.txt | grep -oE 'Used [0-9]+ registers|spill[^,]*|-cl-nv-maxrregcount=[0-9]+|FQ_UNROLL_PV=[0-9]+' | head -4 | tr '\n' ' '; echo
PA_KERNEL_CACHE=/tmp/kc-final timeout 60 $B/bin/pa bench attn --device 0 --shapes smollm2-135m \
  --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/c4/d64.json > /tmp/c4/d64.txt 2>&1 || echo "!!! d64"
row /tmp/c4/d64.json d64
PA_MMA=0 PA_KERNEL_CACHE=/tmp/kc-final timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
  --n-list 32768 --reps 3 --no-quality --no-stages --sgemm 0 --out /tmp/c4/s.json > /tmp/c4/s.txt 2>&1 || echo "!!! s"
echo "PA_MMA=0"; grep -E " dense | proxy " /tmp/c4/s.txt | tail -2
cp /tmp/c4/check.log /tmp/c4/ctest.txt $OUT/ 2>/dev/null
(cd /tmp && tar czf $OUT/c4.tgz c4/p-* c4/d64* c4/s.* c4/build.txt)
echo "done $(date -u +%T)"
