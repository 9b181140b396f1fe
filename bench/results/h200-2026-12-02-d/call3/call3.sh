#!/usr/bin/env bash
# call 3 (eleventh session, the machine still warm: call 2's build tree in /tmp): O += P V's loop
# over keys unrolled fully (fat_unroll_pv=32: 32.3 / 32.5 TFLOP/s at cap 168 in call 2) at caps
# around 168, and 16 keys at 168.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c3
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') in ('sgemm', 'portable'): print('$2', r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 3), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s')
" 2>&1 | tr '\n' ' '; echo; }
llama() { # tag tuning
  PA_OPENCL_BUILD_LOG=1 PA_OPENCL_TUNING=$2 PA_KERNEL_CACHE=/tmp/kc-sweep timeout 90 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/c3/p-$1.json > /tmp/c3/p-$1.txt 2>&1 \
    || { echo "!!! $1"; tail -3 /tmp/c3/p-$1.txt; }
  row /tmp/c3/p-$1.json $1
  grep -E 'SGEMM' /tmp/c3/p-$1.txt | head -1 | cut -c1-50
  sg=0
}
sg=8192
for cfg in fat_unroll_pv=32,fat_maxrreg=168 fat_unroll_pv=32,fat_maxrreg=0 fat_unroll_pv=32,fat_maxrreg=164 fat_unroll_pv=32,fat_maxrreg=172 \
           fat_unroll_pv=16,fat_maxrreg=168 fat_unroll_pv=32,fat_maxrreg=166 fat_unroll_pv=32,fat_maxrreg=168,fat_unroll_s=4 fat_unroll_pv=32,fat_maxrreg=168-again; do
  llama "$(echo $cfg | tr ',=' '-_')" "${cfg%-again}"
done
mkdir -p /tmp/c3/ptx
for f in /tmp/kc-sweep/*.bin; do grep -aq "k_flash_attn_tiled_q" "$f" && cp "$f" /tmp/c3/ptx/; done
(cd /tmp && tar czf $OUT/c3.tgz c3)
echo "done $(date -u +%T)"
