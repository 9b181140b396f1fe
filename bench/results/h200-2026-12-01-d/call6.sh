#!/usr/bin/env bash
# call 6: refreshed figures for issue 13's table on the final tree: proxy vs dense at SmolLM2's
# attention shape (target 5; default settings, with density and recall), and the Qwen2.5-7B
# estimate beside PyTorch SDPA on the Qwen shape itself (target 3, g = 4) and on Llama's.
set -u
export PA_OPENCL_DEVICE=NVIDIA
B=/tmp/pa-build
cmake -B $B -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > /tmp/cfg.txt 2>&1 && cmake --build $B -j16 --target pa_cli pa-opencl pa_estimate_time > /tmp/build.txt 2>&1 || { tail -30 /tmp/build.txt; exit 1; }
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=/tmp/kc
timeout 200 $B/bin/pa bench attn --device 0 --shapes smollm2-135m --n-list 8192,16384 --reps 5 --portable-max 0 --sgemm 0 --out $OUT/smollm2-attn.json 2>&1 | grep -E "dense|proxy|estimate" | head -12
echo "smollm2 done $(date -u +%T)"
timeout 150 $B/bin/pa_estimate_time --device NVIDIA --reps 5 --shapes qwen2.5-7b,llama3-8b --n-list 131072 --json $OUT/est.json 2>&1 | tail -3
echo "est done $(date -u +%T)"
timeout 120 python3 - <<'PY' 2>&1 | tee $OUT/sdpa.txt
import torch
import torch.nn.functional as F
n = 131072
for name, h, hkv in (("qwen2.5-7b", 28, 4), ("llama3-8b", 32, 8)):
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
    print(f"sdpa bf16 causal {name} H{h}/Hkv{hkv}/d128 n={n}: median {med:.2f} ms ({fl/med/1e9:.0f} TFLOP/s), runs {[round(t,2) for t in ts]}")
    del q, k, v
PY
echo "done $(date -u +%T)"
