#!/usr/bin/env bash
# call 2 (thirteenth session): where k_mmq_rq's time goes, by variants that leave a part out
# (diag.patch, RQ_DIAG, only on the device): 1 no dequantization (the quant words used as
# f16x2), 2 no copies and no barriers (every step multiplies the prologue's stages), 3 = 2 and
# no ldmatrix and no dequantization (the MMAs alone), 4 both A fragments of a step loaded at its
# start. Numbers of 1-3 are not products (timing only). Also the GEMM tests on the device with
# the test's tuning strings fixed (stages 2 for the 1 x 4 and 4 x 2 tiles).
set -u
export PA_OPENCL_DEVICE=NVIDIA
R=/tmp/c2
mkdir -p $R
rm -rf /tmp/dsrc && mkdir /tmp/dsrc && cp -r CMakeLists.txt analysis backend bench cmake common examples fuzz graph include model opencl plugin scripts tests /tmp/dsrc/
(cd /tmp/dsrc && patch -p1 -s < $OLDPWD/.gpu-ab/s13/diag.patch) || echo "!!! patch"
B=/tmp/dbuild
(cmake -S /tmp/dsrc -B $B -DCMAKE_BUILD_TYPE=Release > $R/cmake.txt 2>&1 && cmake --build $B -j16 > $R/build.txt 2>&1) || { tail -30 $R/build.txt; echo "!!! build"; }
echo "build done $(date -u +%T)"
P=$B/bin/pa
export PA_KERNEL_CACHE=/tmp/kc2
PA_MMA=1 timeout 200 $B/bin/test_mul_mat_mma > $R/test-mmq.txt 2>&1
echo "test_mul_mat_mma rc=$? $(grep -cE '^\[       OK' $R/test-mmq.txt) ok, $(grep -cE 'Failure' $R/test-mmq.txt) failures"
g() { # tag tuning
  PA_OPENCL_TUNING=$2 timeout 120 $P bench gemm --device 0 --shapes 4096x4096,14336x4096,1024x4096 --types q4_0 --n-list 8192 --reps 5 --blas-max-n 0 \
    --copy-mib 0 --out $R/gemm-$1.json > $R/gemm-$1.txt 2>&1 || echo "!!! gemm $1"
  echo "$1: $(grep -h tensor_cores $R/gemm-$1.txt | awk '{print $1"/"$4":"$7}' | tr '\n' ' ')"
}
g old mmq_wreg=0
g rq mmq_wreg=1
for v in 1 2 3 4; do
  sed -i "s/^#define RQ_DIAG [0-9]/#define RQ_DIAG $v/" /tmp/dsrc/opencl/kernels/mul_mat_mma_rq.cl
  cmake --build $B -j16 --target pa-opencl pa_cli > $R/build-$v.txt 2>&1 || { tail -20 $R/build-$v.txt; echo "!!! build $v"; }
  g diag$v mmq_wreg=1
done
g old-2 mmq_wreg=0
sed -i "s/^#define RQ_DIAG [0-9]/#define RQ_DIAG 4/" /tmp/dsrc/opencl/kernels/mul_mat_mma_rq.cl
(cd /tmp && tar czf $OUT/c2.tgz c2)
echo "done $(date -u +%T)"
