#!/usr/bin/env bash
# call 1 (fifth session): A/B of the softmax's shorter forms, side by side in one call.
# Tensor cores: MMA_LAZY (scale folded into the exponent, O rescaled only where a row's max grew)
# against the long form (L0), by pa_mma_check (32K, Llama-3-8B layer) and pa bench attn (dense and
# proxy, 32K / 128K, Llama; 8K / 16K SmolLM2 shape), with PyTorch SDPA in the same call.
# Portable: fat_variant 5 (4 + FQ_LEAN) against 4, beside CLBlast SGEMM 8192^3.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl pa_mma_check > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
timeout 150 $B/bin/pa_mma_check --time-only --n-list 32768 --reps 5 --variants W4B32A1M2,W4B32A1M2L0,W4B32A1M2,W4B32A1M2L0 --json $OUT/mma-check.json 2>&1 | grep -E "dense|variant" | head -8
echo "mma_check done $(date -u +%T)"
for m in L1 L0 L1; do
  env=""; [ $m = L0 ] && env="PA_MMA=W4B32A1M2L0"
  tag=$m; [ -f /tmp/a-$m.json ] && tag=$m-again
  env $env PA_KERNEL_CACHE=/tmp/kc-$m timeout 150 $B/bin/pa bench attn --device 0 --shapes llama3-8b --n-list 32768,131072 --reps 3 \
    --portable-max 0 --sgemm 0 --no-quality --no-stages --out /tmp/a-$tag.json > /tmp/a-$tag.txt 2>&1 || { echo "!!! $tag"; tail -5 /tmp/a-$tag.txt; }
  echo "== llama $tag"; tail -n 8 /tmp/a-$tag.txt
done
for m in L1 L0; do
  env=""; [ $m = L0 ] && env="PA_MMA=W4B64A1M2L0"
  env $env PA_KERNEL_CACHE=/tmp/kc-$m timeout 100 $B/bin/pa bench attn --device 0 --shapes smollm2-135m --n-list 8192,16384 --reps 5 \
    --portable-max 0 --sgemm 0 --no-quality --no-stages --out /tmp/s-$m.json > /tmp/s-$m.txt 2>&1 || { echo "!!! s$m"; tail -5 /tmp/s-$m.txt; }
  echo "== smollm2 $m"; tail -n 8 /tmp/s-$m.txt
done
echo "attn done $(date -u +%T)"
timeout 100 python3 - <<'PY' 2>&1 | tee $OUT/sdpa.txt
import torch
import torch.nn.functional as F
for n in (32768, 131072):
    h, hkv = 32, 8
    q = torch.randn(1, h, n, 128, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(1, hkv, n, 128, device="cuda", dtype=torch.bfloat16)
    v = torch.randn(1, hkv, n, 128, device="cuda", dtype=torch.bfloat16)
    ts = []
    for i in range(6):
        s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
        s.record(); F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True); e.record()
        torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
    ts = sorted(ts[1:]); med = ts[len(ts)//2]
    fl = 4 * h * n * n * 128 / 2
    print(f"sdpa bf16 causal llama3-8b n={n}: median {med:.2f} ms ({fl/med/1e9:.0f} TFLOP/s), runs {[round(t,2) for t in ts]}")
    del q, k, v
PY
row() { python3 -c "
import json
for r in json.load(open('$1')):
    if r.get('mode') in ('dense_portable', 'sgemm') or r.get('kind') == 'sgemm': print('$2', r.get('shape', ''), r.get('n', ''), r.get('mode', r.get('kind')), round(r.get('time_ms', 0), 2), 'ms', round(r.get('tflops', 0), 2), 'TFLOP/s')
" 2>&1; }
sg=8192
for v in 5 4 5 4; do
  tag=v$v; [ -f /tmp/p-$tag.json ] && tag=$tag-again
  PA_OPENCL_TUNING=fat_variant=$v PA_KERNEL_CACHE=/tmp/kc-p$v timeout 120 $B/bin/pa bench attn --device 0 --shapes llama3-8b \
    --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm $sg --no-quality --no-stages --out /tmp/p-$tag.json > /tmp/p-$tag.txt 2>&1 \
    || { echo "!!! $tag"; tail -5 /tmp/p-$tag.txt; }
  row /tmp/p-$tag.json $tag; grep -i "sgemm" /tmp/p-$tag.txt | head -2
  sg=0
done
(cd /tmp && tar czf $OUT/call1.tgz a-*.json a-*.txt s-*.json s-*.txt p-*.json p-*.txt)
echo "done $(date -u +%T)"
