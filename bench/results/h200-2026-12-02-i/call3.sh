#!/usr/bin/env bash
# call 3 (sixteenth session): what holds the estimate's block statistics at half the issue rate.
# SM clock and power while Qwen's 128K estimate runs (nvidia-smi every 100 ms); then the same
# estimate with parts of the per-logit work taken out (proxy_det.cl's exp_fixed_fast patched in
# this copy only, the program rebuilt; the results are wrong, only the time counts):
#   nopoly   exp_fixed_fast = one multiply and the 64-bit conversion (no polynomial, no rounding)
#   noexp    the sum takes the logit's bits (no conversion to 64 bits either)
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=$OUT
B=/tmp/pa-build
[ -x $B/bin/pa_estimate_time ] || { OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $R/build.log 2>&1; tail -2 $R/build.log; }
echo "build done $(date -u +%T)"
export PA_KERNEL_CACHE=$B/kernel-cache
E=$B/bin/pa_estimate_time
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_event_reasons.active --format=csv -lms 100 > $R/smi-base.csv &
S=$!
timeout 120 $E --device 0 --shapes qwen2.5-7b,llama3-8b --n-list 131072 --reps 15 > $R/est-base.txt 2>&1
kill $S; cat $R/est-base.txt | tail -3
sort -t, -k2 -n $R/smi-base.csv | awk -F, 'NR>1{print $2}' | sort | uniq -c | sort -rn | head -5
F=plugin/proxy_sparse_attn/kernels/proxy_det.cl
cp $F /tmp/proxy_det.orig
run_variant() { # name replacement-body
  cp /tmp/proxy_det.orig $F
  python3 - "$F" "$2" <<'PY'
import sys
p, body = sys.argv[1], sys.argv[2]
s = open(p).read()
i = s.index('inline ulong exp_fixed_fast(float x) {')
j = s.index('\n}', i)
s = s[:i] + 'inline ulong exp_fixed_fast(float x) {\n' + body + s[j:]
open(p, 'w').write(s)
PY
  cmake --build $B --target pa_estimate_time -j16 > $R/build-$1.txt 2>&1 || { echo "!!! build $1"; tail -5 $R/build-$1.txt; }
  timeout 120 $E --device 0 --shapes qwen2.5-7b,llama3-8b --n-list 131072 --reps 15 > $R/est-$1.txt 2>&1
  echo "== $1"; tail -2 $R/est-$1.txt
}
run_variant nopoly '    return (ulong)(fmax(x, -87.0f) * -16777216.0f);'
run_variant noexp '    return (ulong)as_uint(x);'
cp /tmp/proxy_det.orig $F
echo "all done $(date -u +%T)"
