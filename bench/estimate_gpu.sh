#!/usr/bin/env bash
# bench/estimate_gpu.sh - the ProxyAttn estimate on an NVIDIA GPU in one device call: build, the
# bit-identity tests on the device (tensor-core and portable statistics), the estimate alone on
# the Llama-3-8B and Qwen2.5-7B layer shapes at 32K and 128K (per stage, work-group / register
# variants, checked bit for bit against the CPU reference at 32K), per-kernel times at 128K,
# `pa bench attn` (dense, proxy node, per-stage times), and a short table last.
#
# From the repository root on the GPU machine, after ../shared/gpu/prepare here (for the tests,
# also `(cd .gpu && apt-get download libgtest-dev googletest)`: without GTest the tests are
# skipped and said so):
#   run(command="source .gpu/gpu-env && bash bench/estimate_gpu.sh", carry=[".gpu"], timeout_s=600)
# Results in $OUT (default /tmp/pa-est-out): estimate.log, estimate.jsonl, profile-<shape>.txt,
# attn.json. Every step has a time limit inside an overall deadline
# ($PA_DEADLINE_S, default 560 s), so the summary table prints even when a step is cut off.
# For a smoke test elsewhere: PA_EST_SIZES=2048,4096 PA_EST_BIG=4096 PA_EST_CHECK=4096 PA_EST_DEVICE=0
# PA_STATS_VARIANTS=default.
set -uo pipefail
OUT=${OUT:-/tmp/pa-est-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/estimate.log") 2>&1
build=${PA_BUILD_DIR:-build-est}
sizes=${PA_EST_SIZES:-32768,131072} # the estimate and pa bench attn
big=${PA_EST_BIG:-131072}           # per-kernel profile
check=${PA_EST_CHECK:-32768}        # bit-identity check against the CPU reference up to this size
device=${PA_EST_DEVICE:-NVIDIA}     # pa bench attn --device
deadline=$(($(date +%s) + ${PA_DEADLINE_S:-560}))
left() { echo $((deadline - $(date +%s))); }
source "$(dirname "$0")/gpu_steps.sh" # device_info; step and run below add the deadline
step() { echo; echo "=== $* ($(date -u +%H:%M:%S), $(left) s left)"; }
run() { # run <max seconds> <command...>: within the deadline (keeping 25 s for the summary)
  local t=$1; shift
  local l=$(($(left) - 25))
  [ "$l" -lt "$t" ] && t=$l
  if [ "$t" -lt 10 ]; then echo "!!! skipped (no time left): $*"; return 0; fi
  timeout "$t" "$@"
  local rc=$?
  [ $rc -ne 0 ] && echo "!!! step failed or cut off (rc=$rc, limit ${t}s): $*"
  return 0
}

device_info

step "build"
tests=ON
if ! cmake -B "$build" -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=ON >"$OUT/build.txt" 2>&1; then
  tests=OFF
  echo "no GTest here: tests skipped (add libgtest-dev and googletest to .gpu)"
  cmake -B "$build" -DCMAKE_BUILD_TYPE=Release -DPA_BUILD_TESTS=OFF >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
fi
targets="pa_cli pa-opencl pa_estimate_time"
[ "$tests" = ON ] && targets="$targets test_proxy_ocl"
if ! cmake --build "$build" -j"$(nproc)" --target $targets >>"$OUT/build.txt" 2>&1; then
  tail -40 "$OUT/build.txt"; echo "!!! build failed"; exit 1
fi
export PA_KERNEL_CACHE="$build/kernel-cache"
est="$build/bin/pa_estimate_time"

if [ "$tests" = ON ]; then
  step "bit identity on the GPU: test_proxy_ocl (tensor-core statistics)"
  run 150 "$build/bin/test_proxy_ocl" --gtest_brief=1
  step "bit identity on the GPU: Shapes/* with PA_MMA=0 (portable statistics and attention)"
  run 120 env PA_MMA=0 "$build/bin/test_proxy_ocl" --gtest_brief=1 --gtest_filter='Shapes/*'
fi

# variants: PA_PROXY_STATS=W<warps>R<max registers>A<1: int-to-float by an add> (block_stats.h)
step "the estimate alone: stages, statistics variants, bit for bit against the CPU reference up to $check"
run 200 "$est" --shapes llama3-8b,qwen2.5-7b --n-list "$sizes" --reps 5 --check "$check" \
  --variants "${PA_STATS_VARIANTS:-default,W8R128A1,W8R0A0,W4R128A0}" --json "$OUT/estimate.jsonl"

step "per-kernel times at $big (PA_OPENCL_PROFILE=1: queue serialized, 3 runs of each stage prefix)"
for shape in llama3-8b qwen2.5-7b; do
  run 60 env PA_OPENCL_PROFILE=1 "$est" --shapes $shape --n-list "$big" --reps 2 2>"$OUT/profile-$shape.txt"
  head -14 "$OUT/profile-$shape.txt"
done

step "pa bench attn (the CPU reference estimate for density and recall takes a minute or two at 128K)"
run 300 "$build/bin/pa" bench attn --device "$device" --shapes llama3-8b,qwen2.5-7b --n-list "$sizes" --reps 3 \
  --portable-max 0 --sgemm 0 --out "$OUT/attn.json"

step "summary"
python3 - "$OUT" <<'EOF' || true
import json, os, sys
out = sys.argv[1]
def lines(name):
    p = os.path.join(out, name)
    return [json.loads(l) for l in open(p) if l.strip()] if os.path.exists(p) else []
dense = {}
p = os.path.join(out, "attn.json")
attn = json.load(open(p)) if os.path.exists(p) else []
for r in attn:
    if r.get("mode") == "dense":
        dense[(r["shape"], r["n"])] = r["time_ms"]
print("estimate alone (ms, median; share = of our dense tensor-core attention in the same call)")
print(f"{'shape':11s} {'n':>7s} {'stats':18s} {'estimate':>9s} {'pool':>7s} {'scores':>7s} {'budgets':>8s} {'mask':>6s} {'share':>7s}  check")
for r in lines("estimate.jsonl"):
    d = dense.get((r["shape"], r["n"]))
    share = f"{100 * r['t_estimate_ms'] / d:6.2f}%" if d else "      -"
    print(f"{r['shape']:11s} {r['n']:7d} {r['stats']:18s} {r['t_estimate_ms']:9.3f} {r['t_pool_ms']:7.3f} "
          f"{r['t_scores_ms']:7.3f} {r['t_budget_ms']:8.3f} {r['t_mask_ms']:6.3f} {share}  {r['check']}")
print("\npa bench attn (ms)")
for r in attn:
    if r.get("mode") not in ("dense", "proxy"):
        continue
    extra = ""
    if "t_estimate_ms" in r:
        extra = (f" est {r['t_estimate_ms']:.2f} (pool {r['t_pool_ms']:.2f} scores {r['t_scores_ms']:.2f} "
                 f"budget {r['t_budget_ms']:.2f} mask {r['t_mask_ms']:.2f}) attn {r.get('t_attn_ms', 0):.2f}")
    print(f"{r['shape']:11s} {r['n']:7d} {r['mode']:6s} {r['time_ms']:9.2f} dens {r.get('density', 1):.3f} "
          f"rec {r.get('recall_mean', 1):.4f}{extra}")
EOF
