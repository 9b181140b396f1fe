#!/usr/bin/env bash
# call 3 (tenth session): the final tree (NVIDIA's portable entry: fat_variant 7 = 6 + the scale
# folded into Q and unmasked tiles not masked, fat_maxrreg 160): pa demo and the whole CTest suite on
# the NVIDIA device; then the defaults beside variant 6 at 168 (the entry before) and again, CLBlast
# SGEMM 8192^3 in the same call (Llama-3-8B layer 16K / 32K); a cap of 156; variant 7 with S's loop
# unrolled 4 and 1 times (a patch of the geometry on the device only, rebuilt, then restored);
# SmolLM2's d = 64 and the block-sparse portable path (PA_MMA=0, 32K) for the defaults and 6.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c3
OUT=/tmp/c3 PA_BUILD_DIR=$B bash bench/gpu_session.sh check > /tmp/c3/out.log 2>&1
grep -E "rel diff|proxy keeps|tests passed|tests failed|\*\*\*Failed|Exception|!!!" /tmp/c3/check.log | tail -12
echo "check done $(date -u +%T)"
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') == 'sgemm': print('$2', r.get('shape', ''), r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 2), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s', r.get('rel_l2_mma_vs_portable', ''))
" 2>&1; }
llama() { # tag tuning
  PA_OPENCL_BUILD_LOG=1 PA_OPENCL_TUNING=$2 PA_KERNEL_CACHE=/tmp/kc-$1 timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/p-$1.json > /tmp/p-$1.txt 2>&1 \
    || { echo "!!! $1"; tail -5 /tmp/p-$1.txt; }
  row /tmp/p-$1.json $1; grep -i "sgemm" /tmp/p-$1.txt | head -1
  grep -E 'flash_attn_tiled_q.cl|Used [0-9]+ registers' /tmp/p-$1.txt | grep -A1 tiled_q | grep -E 'tiled_q|Used' | cut -c1-90 | head -4
  sg=0
}
sg=8192
llama default ""
llama v6-c168 fat_variant=6,fat_maxrreg=168
llama default-again ""
llama c156 fat_maxrreg=156
G=opencl/flash_attn_tiled.cpp
cp $G /tmp/fat.cpp
for u in 4 1; do
  sed -i "s/128, 32, true, 2, true, true, true}/128, 32, true, $u, true, true, true}/" $G
  grep -c "true, $u, true, true, true}" $G
  cmake --build $B --target pa -j16 > /tmp/c3/u$u.log 2>&1 || { echo "!!! build u$u"; tail -5 /tmp/c3/u$u.log; }
  llama u$u ""
  cp /tmp/fat.cpp $G
done
cmake --build $B --target pa -j16 > /tmp/c3/u-restore.log 2>&1 || echo "!!! restore build"
for t in default v6; do
  tu=""; [ $t = v6 ] && tu=fat_variant=6,fat_maxrreg=168
  PA_OPENCL_TUNING=$tu PA_KERNEL_CACHE=/tmp/kc-d-$t timeout 90 $B/bin/pa bench attn --device 0 --shapes smollm2-135m \
    --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/p-d64-$t.json > /tmp/p-d64-$t.txt 2>&1 || echo "!!! d64 $t"
  row /tmp/p-d64-$t.json d64-$t
  PA_MMA=0 PA_OPENCL_TUNING=$tu PA_KERNEL_CACHE=/tmp/kc-s-$t timeout 100 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 32768 --reps 3 --no-quality --no-stages --sgemm 0 --out /tmp/s-$t.json > /tmp/s-$t.txt 2>&1 || { echo "!!! s $t"; tail -5 /tmp/s-$t.txt; }
  echo "PA_MMA=0 $t"; grep -E " dense | proxy " /tmp/s-$t.txt | tail -2
done
cp /tmp/c3/check.log /tmp/c3/ctest.txt $OUT/ 2>/dev/null
(cd /tmp && tar czf $OUT/portable3.tgz p-*.json p-*.txt s-*.json s-*.txt c3)
echo "done $(date -u +%T)"
