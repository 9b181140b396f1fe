#!/usr/bin/env bash
# call G: decode A/B, the session's start (7b43f92: session.patch reversed) against the final tree
# (/tmp/pa-build), same machine: tg128 (and after 512) of the real SmolLM2 and a random one.
set -u
export PA_OPENCL_DEVICE=NVIDIA
rm -rf /tmp/base && mkdir /tmp/base && cp -r CMakeLists.txt analysis backend bench cmake common examples fuzz graph include model opencl plugin scripts tests /tmp/base/
(cd /tmp/base && patch -R -p1 -s < $OLDPWD/.gpu-ab/s13/session.patch) || echo "!!! patch"
(cmake -S /tmp/base -B /tmp/base-build -DCMAKE_BUILD_TYPE=Release > /tmp/bb.txt 2>&1 && cmake --build /tmp/base-build -j16 --target pa-opencl pa_cli >> /tmp/bb.txt 2>&1) || { tail -5 /tmp/bb.txt; echo "!!! build"; }
echo "built $(date -u +%T)"
for i in 1 2; do for b in /tmp/base-build /tmp/pa-build; do for m in /tmp/model.gguf /tmp/r.gguf; do
  PA_KERNEL_CACHE=$b/kernel-cache timeout 60 $b/bin/pa bench model --device 0 -m $m -p 512 -n 128 --tg-after 512 -r 5 > /tmp/g.txt 2>&1
  echo "$b $m $(grep -E 'pp512|tg128' /tmp/g.txt | awk '{print $1":"$NF}' | tr '\n' ' ')"
done; done; done
