#!/usr/bin/env bash
# call 3: A = this tree (f400c87: estimate changes + portable variants), B = 5429a40 (scratch/base.tgz).
set -u
W=/tmp/c3; R=$PWD
export PA_OPENCL_DEVICE=NVIDIA
rm -rf $W; mkdir -p $W/b $W/a
tar -xzf $R/scratch/base.tgz -C $W/b
tar --exclude='./.gpu*' --exclude='./build*' --exclude='./scratch' -cf - . | tar -xf - -C $W/a
(cmake -S $W/a -B $W/build-a -DCMAKE_BUILD_TYPE=Release > $W/cfg-a.txt 2>&1 && cmake --build $W/build-a -j10 --target pa_cli pa-opencl pa_estimate_time test_proxy_ocl test_opencl_flash_attn_tiled > $W/build-a.txt 2>&1 || { echo "!!! build a"; tail -20 $W/build-a.txt; }) &
(cmake -S $W/b -B $W/build-b -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > $W/cfg-b.txt 2>&1 && cmake --build $W/build-b -j6 --target pa-opencl pa_estimate_time > $W/build-b.txt 2>&1 || { echo "!!! build b"; tail -20 $W/build-b.txt; }) &
wait
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=$W/kc
( timeout 100 $W/build-a/bin/test_proxy_ocl --gtest_brief=1; timeout 100 $W/build-a/bin/test_opencl_flash_attn_tiled --gtest_brief=1 ) > $OUT/tests-a3.txt 2>&1; grep -E "PASSED|FAILED" $OUT/tests-a3.txt
echo "tests $(date -u +%T)"
for t in a b a; do
  chk=""; n=131072; [ ! -f $OUT/est3-a-1.json ] && [ $t = a ] && { chk="--check 32768"; n=32768,131072; }
  f=$OUT/est3-$t-1.json; [ -f $f ] && f=$OUT/est3-$t-2.json
  echo "--- est $t"; timeout 150 $W/build-$t/bin/pa_estimate_time --device NVIDIA --reps 5 --shapes llama3-8b,qwen2.5-7b --n-list $n $chk --json $f 2>&1 | tail -5
done
echo "est $(date -u +%T)"
PA_OPENCL_PROFILE=device timeout 100 $W/build-a/bin/pa_estimate_time --device NVIDIA --reps 3 --shapes llama3-8b --n-list 131072 > $OUT/prof3-a.txt 2>&1; head -24 $OUT/prof3-a.txt | tail -21
echo "--- torch sdpa $(date -u +%T)"
timeout 90 python3 - <<'PY' 2>&1 | tee $OUT/sdpa3.txt
import torch
import torch.nn.functional as F
for n in (131072,):
    q = torch.randn(1, 32, n, 128, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(1, 8, n, 128, device="cuda", dtype=torch.bfloat16)
    v = torch.randn(1, 8, n, 128, device="cuda", dtype=torch.bfloat16)
    ts = []
    for i in range(6):
        s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
        s.record(); F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True); e.record()
        torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
    ts = sorted(ts[1:]); med = ts[len(ts)//2]
    fl = 4 * 32 * n * n * 128 / 2
    print(f"sdpa bf16 causal H32/Hkv8/d128 n={n}: median {med:.2f} ms ({fl/med/1e9:.0f} TFLOP/s), runs {[round(t,2) for t in ts]}")
PY
for v in 0 1 2 3 1:128; do
  n=${v%%:*}; tun="fat_variant=$n"; tag=v$n; [ "$v" != "$n" ] && { tun="$tun,fat_maxrreg=${v#*:}"; tag="v$n-r${v#*:}"; }
  echo "--- portable $tag $(date -u +%T)"
  PA_OPENCL_TUNING=$tun timeout 80 $W/build-a/bin/pa bench attn --device 0 --shapes llama3-8b --n-list 16384,32768 --reps 3 --portable-max 32768 --sgemm 0 --no-quality --no-stages --out $OUT/portable-$tag.json > $W/p-$tag.txt 2>&1 || { echo "!!! $tag"; tail -5 $W/p-$tag.txt; }
  python3 -c "
import json,sys
for r in json.load(open('$OUT/portable-$tag.json')):
    if r.get('mode')=='dense_portable': print('$tag', r['n'], round(r['time_ms'],2), 'ms', round(r['tflops'],2), 'TFLOP/s rel_l2', r.get('rel_l2_mma_vs_portable'))
" 2>&1
done
(cd $OUT && tar czf est3.tgz est3-*.json portable-*.json && rm -f est3-*.json portable-*.json)
echo "done $(date -u +%T)"
