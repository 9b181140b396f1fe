#!/usr/bin/env bash
# call 2: A2 = HEAD + scratch/est-a2.patch; B = HEAD; X1/X2 = A2 with exact_rows' tail queries
# skipped (X1) or its sequential step skipped (X2): timing ablations only.
set -u
W=/tmp/c2; R=$PWD
export PA_OPENCL_DEVICE=NVIDIA
rm -rf $W; mkdir -p $W/b
tar -xzf $R/scratch/base.tgz -C $W/b
cp -r $W/b $W/a && (cd $W/a && patch -p1 --quiet < $R/scratch/est-a2.patch) || echo "!!! patch"
cp -r $W/a $W/x1 && sed -i 's/count = on \&\& s_tail\[s\] ? s_count\[s\] : 0;/count = 0;/' $W/x1/plugin/proxy_sparse_attn/kernels/proxy_sort.cl
cp -r $W/a $W/x2 && sed -i 's/flags\[lid\] = rec >= gamma \* qtot\[r\] ? 0 : 1;/flags[lid] = 0;/' $W/x2/plugin/proxy_sparse_attn/kernels/proxy_sort.cl
grep -c "count = 0;" $W/x1/plugin/proxy_sparse_attn/kernels/proxy_sort.cl; grep -c "flags\[lid\] = 0;" $W/x2/plugin/proxy_sparse_attn/kernels/proxy_sort.cl
echo "trees $(date -u +%T)"
for t in a b x1 x2; do
  tg="pa-opencl pa_estimate_time"; [ $t = a ] && tg="$tg test_proxy_ocl"
  (cmake -S $W/$t -B $W/build-$t -DCMAKE_BUILD_TYPE=Release > $W/cfg-$t.txt 2>&1 && cmake --build $W/build-$t -j4 --target $tg > $W/build-$t.txt 2>&1 || { echo "!!! build $t"; tail -20 $W/build-$t.txt; }) &
done; wait
echo "built $(date -u +%T)"
export PA_KERNEL_CACHE=$W/kc
( timeout 100 $W/build-a/bin/test_proxy_ocl --gtest_brief=1; PA_MMA=0 timeout 100 $W/build-a/bin/test_proxy_ocl --gtest_brief=1 ) > $OUT/tests-a2.txt 2>&1; grep -E "PASSED|FAILED" $OUT/tests-a2.txt
echo "tests $(date -u +%T)"
for r in 1 2; do for t in a b; do
  chk=""; n=131072; [ $r = 1 ] && [ $t = a ] && { chk="--check 32768"; n=32768,131072; }
  echo "--- est $t round $r"; timeout 150 $W/build-$t/bin/pa_estimate_time --device NVIDIA --reps 5 --shapes llama3-8b,qwen2.5-7b --n-list $n $chk --json $OUT/est2-$t-$r.json 2>&1 | tail -5
done; echo "round $r $(date -u +%T)"; done
for t in a x1 x2; do echo "--- profile $t"; PA_OPENCL_PROFILE=device timeout 100 $W/build-$t/bin/pa_estimate_time --device NVIDIA --reps 3 --shapes llama3-8b --n-list 131072 > $OUT/prof2-$t.txt 2>&1; grep -E "llama3|exact_rows|sample_mass|build_mask|pool|merge" $OUT/prof2-$t.txt; done
echo "--- smol a/b"; for t in a b; do timeout 60 $W/build-$t/bin/pa_estimate_time --device NVIDIA --reps 10 --shapes smollm2-135m --n-list 8192,16384,32768 --json $OUT/est2-smol-$t.json 2>&1 | tail -4; done
echo "--- torch sdpa $(date -u +%T)"
timeout 90 python3 - <<'PY' 2>&1 | tee $OUT/sdpa2.txt
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
(cd $OUT && tar czf est2.tgz est2-*.json prof2-*.txt && rm -f est2-*.json)
echo "done $(date -u +%T)"
