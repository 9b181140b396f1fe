#!/usr/bin/env bash
# call 8 (eleventh session, the last of its device time): S's loop over dims unrolled 8 and 16
# times (fully: 16 steps of 4 dims a K stage) beside NVIDIA's entry (S unrolled twice, P V fully,
# cap 168), Llama-3-8B layer 16K / 32K; the portable kernel's tests on the device under the
# best of them.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c8
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_TEST_PROGRAM_CACHE=ON > /tmp/c8/build.txt 2>&1 && cmake --build $B -j16 >> /tmp/c8/build.txt 2>&1 || { tail -20 /tmp/c8/build.txt; echo "!!! build"; }
echo "build done $(date -u +%T)"
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') in ('sgemm', 'portable'): print('$2', r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 3), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s')
" 2>&1 | tr '\n' ' '; echo; }
best=""
for cfg in "" fat_unroll_s=16 fat_unroll_s=8; do
  tag=${cfg:-entry}
  PA_OPENCL_TUNING=$cfg PA_KERNEL_CACHE=/tmp/kc-8 timeout 60 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm 0 --no-quality --no-stages --out /tmp/c8/p-$tag.json > /tmp/c8/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -3 /tmp/c8/p-$tag.txt; }
  row /tmp/c8/p-$tag.json $tag
done
echo "runs done $(date -u +%T)"
PA_OPENCL_TUNING=fat_unroll_s=16 timeout 60 ctest --test-dir $B -R "FlashAttnTiled" -j8 > /tmp/c8/ctest-s16.txt 2>&1; grep -E "tests passed|tests failed" /tmp/c8/ctest-s16.txt
(cd /tmp && tar czf $OUT/c8.tgz c8)
echo "done $(date -u +%T)"
