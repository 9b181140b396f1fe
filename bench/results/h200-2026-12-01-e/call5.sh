#!/usr/bin/env bash
# call 5 (fifth session): SmolLM2-shaped decoding (random Q4_1 weights), the decode products new
# (mvq_aligned=1, mvq_nib=1) against old (both 0), four alternating rounds of tg128 / tg128 after
# 512 (host-bound and noisy from one process to the next: docs/benchmarks.md), then each kernel's
# device time a token (PA_OPENCL_PROFILE=device), which does not depend on the host.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=/tmp/kc-dec
[ -s /tmp/sm.gguf ] || timeout 60 $B/bin/pa bench random-model -o /tmp/sm.gguf --shape smollm2-135m --type q4_1 > /tmp/rm2.txt 2>&1
[ -s /tmp/l8.gguf ] || timeout 120 $B/bin/pa bench random-model -o /tmp/l8.gguf --shape llama3-8b --type q4_0 > /tmp/rm1.txt 2>&1
tun() { case $1 in new) echo "mvq_aligned=1,mvq_nib=1";; old) echo "mvq_aligned=0,mvq_nib=0";; esac; }
for c in old new old new old new old new; do
  tag=$c-$RANDOM
  PA_OPENCL_TUNING=$(tun $c) timeout 60 $B/bin/pa bench model --device 0 -m /tmp/sm.gguf -p 512 -n 128 --tg-after 512 -r 3 \
    --out /tmp/ms-$tag.json > /tmp/ms-$tag.txt 2>&1 || { echo "!!! smol $tag"; tail -3 /tmp/ms-$tag.txt; }
  echo "== smollm2 q4_1 $c: $(grep -E '^(tg128)' /tmp/ms-$tag.txt | awk '{printf "%s %s  ", $1, $4}')"
done
for m in sm l8; do
  for c in new old; do
    PA_OPENCL_PROFILE=device PA_OPENCL_TUNING=$(tun $c) timeout 90 $B/bin/pa bench model --device 0 -m /tmp/$m.gguf -p 16 -n 64 --tg-after 0 -r 1 \
      --out /tmp/prof-$m-$c.json > /tmp/prof-$m-$c.txt 2>&1 || echo "!!! prof $m $c"
    echo "== profile $m $c"; grep -E "k_mul_mv_q|k_fa_decode" /tmp/prof-$m-$c.txt | head -6
  done
done
(cd /tmp && tar czf $OUT/decode5.tgz ms-*.json ms-*.txt prof-*.txt)
echo "done $(date -u +%T)"
