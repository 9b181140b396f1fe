#!/usr/bin/env bash
# call 2 (twelfth session): the elementwise float4 kernels (add, mul, swiglu), float4 stores of
# rms_norm, rope's angle once per token (all heads) -- against the tree before them (base = this
# tree with .gpu-ab/s12/new.patch reversed), same call: pa bench prefill (SmolLM2 shape 30 layers
# 8K, Llama-3-8B shape 2 layers 8K), a device profile of each, pa bench model on a random
# SmolLM2-shaped Q4_1 model (pp512, pp8192), the changed ops' tests on the device (new tree).
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c2
mkdir -p $R
rm -rf /tmp/base && mkdir -p /tmp/base && tar --exclude=./build --exclude=./.gpu-ab -cf - . | tar -xf - -C /tmp/base
(cd /tmp/base && patch -s -R -p1 < "$OLDPWD/.gpu-ab/s12/new.patch") || echo "!!! patch"
OUT=$R PA_BUILD_DIR=/tmp/pa-new bash bench/gpu_session.sh build > $R/build-new.log 2>&1
grep -E "proxy keeps|error|!!!" $R/build-new.log | tail -3
(cd /tmp/base && cmake -B /tmp/pa-base -DCMAKE_BUILD_TYPE=Release > $R/build-base.txt 2>&1 && cmake --build /tmp/pa-base -j16 >> $R/build-base.txt 2>&1) || { echo "!!! base build"; tail -5 $R/build-base.txt; }
echo "builds done $(date -u +%T)"
pf() { # tag tree shape layers
  PA_KERNEL_CACHE=/tmp/kc-$2 timeout 120 /tmp/pa-$2/bin/pa bench prefill --device 0 --shape $3 --layers $4 --n-list 8192 \
    --pattern needle --reps 5 --out $R/pf-$1.json > $R/pf-$1.txt 2>&1 || echo "!!! pf $1"
  grep -E "^prefill" $R/pf-$1.txt | sed "s/^/$1 /"
}
pf smol-base-1 base smollm2-135m 30
pf smol-new-1 new smollm2-135m 30
pf smol-new-2 new smollm2-135m 30
pf smol-base-2 base smollm2-135m 30
pf llama-base base llama3-8b 2
pf llama-new new llama3-8b 2
echo "prefill done $(date -u +%T)"
for t in base new; do
  PA_OPENCL_PROFILE=device PA_KERNEL_CACHE=/tmp/kc-$t timeout 100 /tmp/pa-$t/bin/pa bench prefill --device 0 --shape smollm2-135m \
    --layers 30 --n-list 8192 --pattern needle --reps 3 > $R/profile-smol-$t.txt 2>&1 || echo "!!! profile $t"
  grep -E "k_add|k_mul |k_mul4|k_swiglu|k_rope|k_rms|busy" $R/profile-smol-$t.txt | sed "s/^/$t /"
done
/tmp/pa-new/bin/pa bench random-model --shape smollm2-135m --type q4_1 -o /tmp/smol-q41.gguf > $R/random-model.txt 2>&1 || echo "!!! random model"
for t in base new new base; do
  PA_KERNEL_CACHE=/tmp/kc-$t timeout 100 /tmp/pa-$t/bin/pa bench model --device 0 -m /tmp/smol-q41.gguf -p 512,8192 -n 0 --tg-after 0 -r 3 \
    --out $R/model-$t.json > $R/model-$t.txt 2>&1 || echo "!!! model $t"
  grep -E "pp512|pp8192" $R/model-$t.txt | sed "s/^/$t /"
done
echo "model done $(date -u +%T)"
timeout 200 ctest --test-dir /tmp/pa-new -j8 -R "BackendOps|Fused|Rope|rope|OpenclPlugin|model_opencl|model_decode|Elementwise|Norm" \
  --timeout 150 > $R/ctest-ops.txt 2>&1
grep -E "tests passed|tests failed|Failed|\*\*\*" $R/ctest-ops.txt | tail -12
(cd /tmp && tar czf $OUT/c2.tgz c2)
echo "done $(date -u +%T)"
