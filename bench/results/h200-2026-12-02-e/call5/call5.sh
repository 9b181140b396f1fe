#!/usr/bin/env bash
# call 5 (twelfth session): the final tree against ecaa124 (the session's start: this tree with
# .gpu-ab/s12/final.patch reversed), same call: generation and prompts of a random SmolLM2-shaped
# Q4_1 model (pa bench model: pp512, pp8192, tg128 from 0 and after 512), two rounds each, and the
# SmolLM2-shaped 30-layer prefill at 8K.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c5
mkdir -p $R
rm -rf /tmp/base && mkdir -p /tmp/base && tar --exclude=./build --exclude=./.gpu-ab -cf - . | tar -xf - -C /tmp/base
(cd /tmp/base && patch -s -R -p1 < "$OLDPWD/.gpu-ab/s12/final.patch") || echo "!!! patch"
OUT=$R PA_BUILD_DIR=/tmp/pa-new bash bench/gpu_session.sh build > $R/build-new.log 2>&1
grep -E "proxy keeps|error|!!!" $R/build-new.log | tail -3
(cd /tmp/base && cmake -B /tmp/pa-base -DCMAKE_BUILD_TYPE=Release > $R/build-base.txt 2>&1 && cmake --build /tmp/pa-base -j16 >> $R/build-base.txt 2>&1) || { echo "!!! base build"; tail -5 $R/build-base.txt; }
echo "builds done $(date -u +%T)"
/tmp/pa-new/bin/pa bench random-model --shape smollm2-135m --type q4_1 -o /tmp/smol-q41.gguf > $R/random-model.txt 2>&1 || echo "!!! random model"
for t in base new new base; do
  PA_KERNEL_CACHE=/tmp/kc-$t timeout 120 /tmp/pa-$t/bin/pa bench model --device 0 -m /tmp/smol-q41.gguf -p 512,8192 -n 128 --tg-after 512 -r 3 \
    --out $R/model-$t.json > $R/model-$t.txt 2>&1 || echo "!!! model $t"
  grep -E "^ *(pp|tg)[0-9]" $R/model-$t.txt | sed "s/^/$t /"
done
for t in base new; do
  PA_KERNEL_CACHE=/tmp/kc-$t timeout 100 /tmp/pa-$t/bin/pa bench prefill --device 0 --shape smollm2-135m --layers 30 --n-list 8192 \
    --pattern needle --reps 5 --out $R/pf-$t.json > $R/pf-$t.txt 2>&1 || echo "!!! pf $t"
  grep -E "^prefill" $R/pf-$t.txt | sed "s/^/$t /" | cut -c1-160
done
(cd /tmp && tar czf $OUT/c5.tgz c5)
echo "done $(date -u +%T)"
