#!/usr/bin/env bash
# call 3 (fifteenth session): why a layer's products run at ~294 TFLOP/s sustained at 32K where each
# alone runs at 320-330: SM clock and power (nvidia-smi, 100 ms) during pa bench gemm --layer and
# --queue, and PyTorch's f16 / bf16 matmuls of the same layer (bench/anchors/torch_gemm.py).
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c3
mkdir -p $R
B=/tmp/pa-build
if [ ! -x $B/bin/pa ]; then
  OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $R/build.log 2>&1
  grep -E "passed|failed|differ|!!!" $R/build.log | tail -3
fi
echo "build done $(date -u +%T)"
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
q=timestamp,clocks.sm,clocks.mem,power.draw,power.limit,temperature.gpu,clocks_event_reasons.active
nvidia-smi --query-gpu=$q --format=csv,noheader > /dev/null 2>&1 || q=timestamp,clocks.sm,clocks.mem,power.draw,power.limit,temperature.gpu,clocks_throttle_reasons.active
nvidia-smi --query-gpu=$q --format=csv,noheader || q=timestamp,clocks.sm,clocks.mem,power.draw,power.limit,temperature.gpu
nvidia-smi --query-gpu=$q --format=csv,noheader -lms 100 > $R/smi.csv 2>$R/smi.err &
SMI=$!
mark() { echo "$(date -u +%Y/%m/%d\ %H:%M:%S.%3N) $1" >> $R/marks.txt; }
sleep 1
mark "idle"
sleep 1
mark "layer32k start"
timeout 120 $P bench gemm --device 0 --layer --types q4_0 --n-list 32768 --reps 5 --copy-mib 0 --out $R/layer32k.json > $R/layer32k.txt 2>&1
mark "layer32k end"
grep -h "^layer" $R/layer32k.txt | cut -c1-200
mark "gateup start"
timeout 120 $P bench gemm --device 0 --shapes 14336x4096 --types q4_0 --n-list 32768 --reps 5 --blas-max-n 0 --copy-mib 0 --queue 4 \
  --out $R/gateup.json > $R/gateup.txt 2>&1
mark "gateup end"
grep -h "tensor_cores" $R/gateup.txt | cut -c1-160
mark "torch start"
timeout 200 python3 bench/anchors/torch_gemm.py --n-list 8192,32768 --reps 5 --out $R/torch-gemm.json > $R/torch-gemm.txt 2>&1
mark "torch end"
cat $R/torch-gemm.txt | grep torch
for v in mmq_wreg=0 mmq_rq_sync=0; do
  mark "$v start"
  PA_OPENCL_TUNING=$v timeout 120 $P bench gemm --device 0 --layer --types q4_0 --n-list 32768 --reps 5 --copy-mib 0 \
    --out $R/layer32k-$v.json > $R/layer32k-$v.txt 2>&1
  mark "$v end"
  echo "$v: $(grep -h "^layer" $R/layer32k-$v.txt | cut -c1-200)"
done
mark "layer8k start"
timeout 60 $P bench gemm --device 0 --layer --types q4_0 --n-list 8192 --reps 5 --copy-mib 0 --out $R/layer8k.json > $R/layer8k.txt 2>&1
mark "layer8k end"
grep -h "^layer" $R/layer8k.txt | cut -c1-200
sleep 0.5
kill $SMI
cat $R/smi.err | head -3
echo "smi lines: $(wc -l < $R/smi.csv)"
python3 - $R <<'PY'
import sys, datetime
R = sys.argv[1]
def ts(s): return datetime.datetime.strptime(s.strip()[:23], "%Y/%m/%d %H:%M:%S.%f")
marks = [(ts(l[:23]), l[24:].strip()) for l in open(f"{R}/marks.txt")]
rows = []
for l in open(f"{R}/smi.csv"):
    f = [x.strip() for x in l.split(",")]
    try: rows.append((ts(f[0]), float(f[1].split()[0]), float(f[3].split()[0]), f[4], f[5], f[6] if len(f) > 6 else '-'))
    except Exception: pass
for (t0, a), (t1, b) in zip(marks, marks[1:]):
    if not b.endswith("end"): continue
    sel = [r for r in rows if t0 <= r[0] <= t1]
    busy = [r for r in sel if r[2] > 200]
    if not busy: print(a, "no samples"); continue
    clk = sorted(r[1] for r in busy); pw = sorted(r[2] for r in busy)
    print(f"{a[:-6]:8s}: {len(busy)}/{len(sel)} samples > 200 W: SM clock median {clk[len(clk)//2]:.0f} MHz (min {clk[0]:.0f}, max {clk[-1]:.0f}), power median {pw[len(pw)//2]:.0f} W (max {pw[-1]:.0f}, limit {busy[0][3]}), temp {busy[-1][4]}, reasons {sorted(set(r[5] for r in busy))}")
PY
cd $R && tar czf $OUT/c3.tgz . 2>/dev/null
