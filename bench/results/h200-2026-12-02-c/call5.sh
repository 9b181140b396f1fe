#!/usr/bin/env bash
# call 5 (tenth session): variant 7 (NVIDIA's entry, cap 160) beside caps 158 / 162 (tuning only)
# and S's loop unrolled once at the cap 160 (the geometry patched on the device, the whole
# build tree rebuilt so the plugin takes it, then restored); Llama-3-8B layer 16K / 32K; the
# variants' test under the best cap. Results go to $OUT as they come.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
mkdir -p /tmp/c5
OUT=/tmp/c5 PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $OUT/build-out.log 2>&1
grep -E "proxy keeps|error|!!!" $OUT/build-out.log | tail -4
echo "build done $(date -u +%T)"
llama() { # tag tuning
  PA_OPENCL_BUILD_LOG=1 PA_OPENCL_TUNING=$2 PA_KERNEL_CACHE=/tmp/kc-$1 timeout 60 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out $OUT/p-$1.json > /tmp/c5/p-$1.txt 2>&1 \
    || { echo "!!! $1"; tail -3 /tmp/c5/p-$1.txt; }
  echo "$1: $(grep -E 'dense_portable|SGEMM' /tmp/c5/p-$1.txt | sed 's/  */ /g' | cut -c1-60 | tr '\n' '|')"
  grep -o 'FQ_UNROLL_S=[0-9]' /tmp/c5/p-$1.txt | head -1
  sg=0
}
sg=8192
llama default ""
llama c162 fat_maxrreg=162
llama c158 fat_maxrreg=158
G=opencl/flash_attn_tiled.cpp
cp $G /tmp/fat.cpp
for u in 1; do
  sed -i "s/128, 32, true, 2, true, true, true}/128, 32, true, $u, true, true, true}/" $G
  cmake --build $B -j16 > /tmp/c5/u$u.log 2>&1 || { echo "!!! build u$u"; tail -5 /tmp/c5/u$u.log; }
  llama u$u ""
  cp /tmp/fat.cpp $G
done
echo "done $(date -u +%T)"
(cd /tmp && tar czf $OUT/c5-logs.tgz c5/p-*.txt c5/u*.log)
