#!/usr/bin/env bash
# call 2 (fifth session): the scale folded into the exponent as a compile-time form (no branches;
# call 1's lazy rescale and mask skipping cost more than they saved), side by side with the
# previous kernels in one call: tensor cores (MMA_FOLD_SCALE against PA_MMA=...F0), portable
# (fat_variant 5 = 4 + FQ_FOLD_SCALE against 4), and variant 4 under -cl-nv-maxrregcount=128 with
# NVIDIA's build log (registers, spills), beside PyTorch SDPA and CLBlast SGEMM.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl pa_mma_check > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
timeout 150 $B/bin/pa_mma_check --time-only --n-list 32768 --reps 5 --variants W4B32A1M2,W4B32A1M2F0,W4B32A1M2,W4B32A1M2F0 --json $OUT/mma-check.json 2>&1 | grep -E "^dense|variant" | cut -c1-100 | head -6
echo "mma_check done $(date -u +%T)"
for m in F1 F0 F1 F0; do
  env=""; [ $m = F0 ] && env="PA_MMA=W4B32A1M2F0"
  tag=$m; [ -f /tmp/a-$m.json ] && tag=$m-again
  env $env PA_KERNEL_CACHE=/tmp/kc-$m timeout 150 $B/bin/pa bench attn --device 0 --shapes llama3-8b --n-list 32768,131072 --reps 3 \
    --portable-max 0 --sgemm 0 --no-quality --no-stages --out /tmp/a-$tag.json > /tmp/a-$tag.txt 2>&1 || { echo "!!! $tag"; tail -5 /tmp/a-$tag.txt; }
  echo "== llama $tag"; grep -E "(dense|proxy) " /tmp/a-$tag.txt | tail -n 4
done
for m in F1 F0 F1; do
  env=""; [ $m = F0 ] && env="PA_MMA=W4B64A1M2F0"
  tag=$m; [ -f /tmp/s-$m.json ] && tag=$m-again
  env $env PA_KERNEL_CACHE=/tmp/kc-$m timeout 100 $B/bin/pa bench attn --device 0 --shapes smollm2-135m --n-list 8192,16384 --reps 5 \
    --portable-max 0 --sgemm 0 --no-quality --no-stages --out /tmp/s-$tag.json > /tmp/s-$tag.txt 2>&1 || { echo "!!! s$tag"; tail -5 /tmp/s-$tag.txt; }
  echo "== smollm2 $tag"; grep -E "(dense|proxy) " /tmp/s-$tag.txt | tail -n 4
done
echo "attn done $(date -u +%T)"
timeout 100 python3 - <<'PY' 2>&1 | tee $OUT/sdpa.txt
import torch
import torch.nn.functional as F
for name, h, hkv, d, ns in (("llama3-8b", 32, 8, 128, (32768, 131072)), ("smollm2-135m", 9, 3, 64, (8192, 16384))):
    for n in ns:
        q = torch.randn(1, h, n, d, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(1, hkv, n, d, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(1, hkv, n, d, device="cuda", dtype=torch.bfloat16)
        ts = []
        for i in range(8):
            s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
            s.record(); F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True); e.record()
            torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
        ts = sorted(ts[1:]); med = ts[len(ts)//2]
        fl = 4 * h * n * n * d / 2
        print(f"sdpa bf16 causal {name} n={n}: median {med:.3f} ms ({fl/med/1e9:.0f} TFLOP/s), runs {[round(t,3) for t in ts]}")
        del q, k, v
PY
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') == 'sgemm': print('$2', r.get('shape', ''), r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 2), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s')
" 2>&1; }
sg=8192
for v in 5 4 5 4 4:128; do
  n=${v%%:*}; tun="fat_variant=$n"; tag=v$n; [ "$v" != "$n" ] && { tun="$tun,fat_maxrreg=${v#*:}"; tag="v$n-r${v#*:}"; }
  [ -f /tmp/p-$tag.json ] && tag=$tag-again
  PA_OPENCL_BUILD_LOG=1 PA_OPENCL_TUNING=$tun PA_KERNEL_CACHE=off timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  row /tmp/p-$tag.json $tag; grep -i "sgemm" /tmp/p-$tag.txt | head -1 | cut -c1-60
  grep -A3 "k_flash_attn_tiled_q" /tmp/p-$tag.txt | grep -E "Used|spill" | sort | uniq -c | head -4
  sg=0
done
(cd /tmp && tar czf $OUT/call2.tgz a-*.json a-*.txt s-*.json s-*.txt p-*.json p-*.txt)
echo "done $(date -u +%T)"
