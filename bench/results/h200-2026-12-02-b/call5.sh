#!/usr/bin/env bash
# call 5 (short: the session's last device seconds): the final kernel source (the row group's max
# read through one macro in both softmax forms, same program up to names) built on the NVIDIA
# device: the portable variants' test, the tuning and tensor-core attention tests, pa demo, and
# the default portable kernel at 16K beside variant 4.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_TEST_PROGRAM_CACHE=ON > /tmp/b.txt 2>&1 &&
  cmake --build $B -j16 --target pa_cli pa-opencl test_opencl_flash_attn_tiled test_opencl_tuning >> /tmp/b.txt 2>&1 || { tail -20 /tmp/b.txt; exit 1; }
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=/tmp/kc
timeout 60 $B/bin/test_opencl_flash_attn_tiled 2>&1 | grep -E "OK|FAILED|PASSED" | tail -8
timeout 20 $B/bin/test_opencl_tuning 2>&1 | tail -1
timeout 60 $B/bin/pa demo --device 0 2>&1 | tail -4; echo "demo rc ${PIPESTATUS[0]}"
for t in default fat_variant=4; do
  PA_OPENCL_TUNING=$( [ $t = default ] || echo $t ) timeout 60 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384 --reps 3 --portable-max 16384 --sgemm 0 --no-quality --no-stages --out /tmp/p-$t.json 2>&1 | grep -E "portable" | head -2
done
cp /tmp/p-*.json $OUT/ 2>/dev/null
echo "done $(date -u +%T)"
