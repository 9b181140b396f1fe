#!/usr/bin/env bash
# call 1 (2026-12-01, third session): A = HEAD + scratch/est-a.patch (merges a work-group per 32
# queries, exact_rows' sequential loops, sample_mass batched, pool_k 4 dims), B = HEAD.
set -u
W=/tmp/c1; R=$PWD
export PA_OPENCL_DEVICE=NVIDIA
rm -rf $W; mkdir -p $W/b
tar -xzf $R/scratch/base.tgz -C $W/b
cp -r $W/b $W/a && (cd $W/a && patch -p1 --quiet < $R/scratch/est-a.patch) || echo "!!! patch"
echo "trees $(date -u +%T)"
(cmake -S $W/a -B $W/build-a -DCMAKE_BUILD_TYPE=Release > $W/cfg-a.txt 2>&1 && cmake --build $W/build-a -j10 --target pa_cli pa-opencl pa_estimate_time test_proxy_ocl > $W/build-a.txt 2>&1 || { echo "!!! build a"; tail -20 $W/build-a.txt; }) &
(cmake -S $W/b -B $W/build-b -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF > $W/cfg-b.txt 2>&1 && cmake --build $W/build-b -j6 --target pa-opencl pa_estimate_time > $W/build-b.txt 2>&1 || { echo "!!! build b"; tail -20 $W/build-b.txt; }) &
wait
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=$W/kc
( timeout 100 $W/build-a/bin/test_proxy_ocl --gtest_brief=1; PA_MMA=0 timeout 100 $W/build-a/bin/test_proxy_ocl --gtest_brief=1 ) > $OUT/tests-a.txt 2>&1; grep -E "PASSED|FAILED" $OUT/tests-a.txt
echo "tests $(date -u +%T)"
for r in 1 2; do for t in a b; do
  chk=""; n=131072; [ $r = 1 ] && [ $t = a ] && { chk="--check 32768"; n=32768,131072; }
  echo "--- est $t round $r"; timeout 150 $W/build-$t/bin/pa_estimate_time --device NVIDIA --reps 5 --shapes llama3-8b,qwen2.5-7b --n-list $n $chk --json $OUT/est-$t-$r.json 2>&1 | tail -5
done; echo "round $r $(date -u +%T)"; done
echo "--- profile a"; PA_OPENCL_PROFILE=device timeout 100 $W/build-a/bin/pa_estimate_time --device NVIDIA --reps 3 --shapes llama3-8b --n-list 131072 > $OUT/prof-a-llama.txt 2>&1; head -30 $OUT/prof-a-llama.txt
echo "--- smol a/b"; for t in a b; do timeout 60 $W/build-$t/bin/pa_estimate_time --device NVIDIA --reps 10 --shapes smollm2-135m --n-list 8192,16384,32768 --json $OUT/est-smol-$t.json 2>&1 | tail -4; done
echo "--- torch sdpa $(date -u +%T)"
timeout 90 python3 - <<'PY' 2>&1 | tee $OUT/sdpa.txt
import torch, time
import torch.nn.functional as F
for n in (32768, 131072):
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
(cd $OUT && tar czf est.tgz est-*.json && rm -f est-*.json)
echo "done $(date -u +%T)"
