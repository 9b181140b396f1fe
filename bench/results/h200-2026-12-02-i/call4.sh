#!/usr/bin/env bash
# call 4 (sixteenth session): the rest of the statistics' tile loop, with the exp already out
# (noexp, as call 3), parts taken out in the device's copy only (times only, results wrong):
#   onek    one k-step of 32 bytes per n-tile instead of d / 32 (a quarter of the IMMAs and of
#           the key fragments read at d = 128)
#   nomma   no IMMA: the accumulators take four key-fragment words (half the fragments read at d = 128)
#   nobar   the tile loop's two work-group barriers removed (races: garbage, no hang)
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=$OUT
B=/tmp/pa-build
[ -x $B/bin/pa_estimate_time ] || { OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $R/build.log 2>&1; tail -2 $R/build.log; }
echo "build done $(date -u +%T)"
export PA_KERNEL_CACHE=$B/kernel-cache
E=$B/bin/pa_estimate_time
D=plugin/proxy_sparse_attn/kernels/proxy_det.cl
K=plugin/proxy_sparse_attn/kernels/proxy_block_stats.cl
cp $D /tmp/det.orig; cp $K /tmp/k.orig
variant() { # name python-edit-of-K
  cp /tmp/det.orig $D; cp /tmp/k.orig $K
  python3 - "$D" "$K" "$2" <<'PY'
import sys
d, k, edit = sys.argv[1], sys.argv[2], sys.argv[3]
s = open(d).read()
i = s.index('inline ulong exp_fixed_fast(float x) {')
j = s.index('\n}', i)
s = s[:i] + 'inline ulong exp_fixed_fast(float x) {\n    return (ulong)as_uint(x);' + s[j:]
open(d, 'w').write(s)
t = open(k).read()
if edit == 'onek':
    t = t.replace('BS_UNROLL for (int q = 0; q < KCH; ++q) acc[j] =', 'BS_UNROLL for (int q = 0; q < 1; ++q) acc[j] =')
elif edit == 'nomma':
    a = t.index('BS_UNROLL for (int q = 0; q < KCH; ++q) acc[j] =')
    b = t.index(';', t.index('b[2 * q + 1])', a)) + 1
    t = t[:a] + 'acc[j] = as_int4((uint4)(b[0], b[1], b[2], b[3]));' + t[b:]
elif edit == 'nobar':
    a = t.index('inline void block_stats_tile(')
    e = t.index('// Local memory of a work-group', a)
    t = t[:a] + t[a:e].replace('barrier(CLK_LOCAL_MEM_FENCE);', '') + t[e:]
open(k, 'w').write(t)
PY
  cmake --build $B --target pa_estimate_time -j16 > $R/build-$1.txt 2>&1 || { echo "!!! build $1"; tail -5 $R/build-$1.txt; }
  timeout 100 $E --device 0 --shapes qwen2.5-7b --n-list 131072 --reps 10 > $R/est-$1.txt 2>&1 || echo "!!! run $1"
  echo "== $1 $(tail -1 $R/est-$1.txt)"
}
variant noexp none
variant onek onek
variant nomma nomma
variant nobar nobar
cp /tmp/det.orig $D; cp /tmp/k.orig $K
echo "all done $(date -u +%T)"
