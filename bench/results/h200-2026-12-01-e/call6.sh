#!/usr/bin/env bash
# call 6 (fifth session): the decode products' launch geometry swept again on the new inner loop
# (aligned local loads, nibbles from bits), side by side: pa bench gemm at N = 1 (Llama-3-8B
# shapes, Q4_0 / Q4_1) and tg128 of a random-weight Llama-3-8B-shaped Q4_0 model per tuning
# string; NVIDIA's build log of mul_mv_q.cl (registers) for the default.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
[ -s /tmp/l8.gguf ] || timeout 120 $B/bin/pa bench random-model -o /tmp/l8.gguf --shape llama3-8b --type q4_0 > /tmp/rm1.txt 2>&1
PA_OPENCL_BUILD_LOG=1 PA_KERNEL_CACHE=off timeout 60 $B/bin/pa bench model --device 0 -m /tmp/l8.gguf -p 16 -n 4 --tg-after 0 -r 1 --out /tmp/bl.json > /tmp/buildlog.txt 2>&1
grep -A8 "built mul_mv_q.cl" /tmp/buildlog.txt | grep -E "built mul_mv_q|Compiling entry|Used" | cut -c1-160 | head -16
export PA_KERNEL_CACHE=/tmp/kc-sweep
for t in "" mvq_wg=256 mvq_lanes=16 mvq_lanes=4 mvq_chunk=32 mvq_chunk=8 mvq_lanes=16,mvq_wg=256 ""; do
  tag=$(echo "x$t" | tr ',=' '__')-$RANDOM
  PA_OPENCL_TUNING=$t timeout 60 $B/bin/pa bench gemm --device 0 --shapes llama3-8b --types q4_0,q4_1 --n-list 1 --reps 7 \
    --blas-max-n 0 --out /tmp/g-$tag.json > /tmp/g-$tag.txt 2>&1 || { echo "!!! gemm $tag"; tail -3 /tmp/g-$tag.txt; }
  PA_OPENCL_TUNING=$t timeout 90 $B/bin/pa bench model --device 0 -m /tmp/l8.gguf -p 64 -n 128 --tg-after 0 -r 3 \
    --out /tmp/m8-$tag.json > /tmp/m8-$tag.txt 2>&1 || { echo "!!! model8 $tag"; tail -3 /tmp/m8-$tag.txt; }
  echo "== '$t': $(grep -E 'q4_' /tmp/g-$tag.txt | awk '{printf "%s/%s %s ", $1, $4, $6}') | $(grep -E '^tg128' /tmp/m8-$tag.txt | awk '{printf "%s %s", $1, $4}')"
done
(cd /tmp && tar czf $OUT/sweep.tgz g-*.json g-*.txt m8-*.json m8-*.txt buildlog.txt)
echo "done $(date -u +%T)"
