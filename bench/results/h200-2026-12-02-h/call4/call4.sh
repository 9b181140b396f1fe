#!/usr/bin/env bash
# call 4 (fifteenth session): the GEMM's tile under sustained load (the card's power cap holds the
# SM clock at ~1725-1800 MHz in a 32K layer): one Llama-3-8B layer's products, Q4_0, at 8K and
# 32K, the entry (2 x 2 warps, 128 x 128) against 2 x 4 (128 tokens x 256 rows) and 4 x 2 (256 x
# 128; two stages for mul_mat_mma.cl's check) and four register-path stages. nvidia-smi beside.
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c4
mkdir -p $R
B=/tmp/pa-build
if [ ! -x $B/bin/pa ]; then
  OUT=$R PA_BUILD_DIR=$B bash bench/gpu_session.sh build > $R/build.log 2>&1
  grep -E "passed|failed|differ|!!!" $R/build.log | tail -3
fi
echo "build done $(date -u +%T)"
P=$B/bin/pa
export PA_KERNEL_CACHE=$B/kernel-cache
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_event_reasons.active --format=csv,noheader -lms 100 > $R/smi.csv 2>$R/smi.err &
SMI=$!
for v in default mmq_wn=2,mmq_wm=4,mmq_stages=2 mmq_wn=4,mmq_wm=2,mmq_stages=2 mmq_rq_stages=4 default; do
  t=$v; [ "$v" = default ] && t=""
  PA_OPENCL_TUNING=$t timeout 100 $P bench gemm --device 0 --layer --types q4_0 --n-list 8192,32768 --reps 5 --copy-mib 0 \
    --out $R/layer-$v.json > $R/layer-$v.txt 2>&1 || echo "!!! $v"
  echo "$v:"; grep -h "^layer" $R/layer-$v.txt | cut -c1-200
done
kill $SMI
cd $R && tar czf $OUT/c4.tgz . 2>/dev/null
