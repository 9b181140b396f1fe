#!/usr/bin/env bash
# ptxas_from_cache.sh CACHE_DIR KERNEL: registers, spills and shared memory of KERNEL in every
# program of the backend's binary cache (PA_KERNEL_CACHE; entry format in opencl/program_cache.h:
# a 48-byte header, then the device binary, which NVIDIA's OpenCL makes PTX). Runs ptxas -v on
# that PTX, so the numbers are those of NVIDIA's own OpenCL front end (run where the CUDA toolkit's
# ptxas is, e.g. on the GPU machine). Each line names the entry and what its PTX shows: work-group
# size (.reqntid), weight kind (Q4 / Q8 masks, Q4_1's fma) and whether b is read as F32.
set -uo pipefail
dir=$1 kernel=$2
ptxas=${PTXAS:-$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
found=0
for f in "$dir"/*.bin; do
  [ -e "$f" ] || continue
  tail -c +49 "$f" | tr -d '\000' > "$tmp/p.ptx"
  grep -q "\.entry $kernel" "$tmp/p.ptx" || continue
  found=1
  body=$(awk "/\\.entry $kernel/{f=1} f" "$tmp/p.ptx")
  nt=$(grep -m1 -oE "\.reqntid [0-9]+" <<<"$body" | awk '{print $2}')
  kind=f16
  grep -q "983055" <<<"$body" && kind=q4 # 0x000F000F
  grep -q "16711935" <<<"$body" && kind=q8 # 0x00FF00FF
  grep -q "fma.rn.f16x2" <<<"$body" && kind=q4_1
  xf32=$(grep -q "ld.global.v4.f32\|ld.global.nc.v4.f32" <<<"$body" && echo "b F32" || echo "b X16")
  rep=$("$ptxas" -arch=sm_90 -v "$tmp/p.ptx" -o "$tmp/p.cubin" 2>&1 | grep -A4 "entry function '$kernel'" |
        grep -oE "[0-9]+ bytes stack frame|[0-9]+ bytes spill stores|[0-9]+ bytes spill loads|Used [0-9]+ registers|[0-9]+ bytes smem" |
        tr '\n' ' ')
  echo "$(basename "$f" .bin | cut -c1-12) $kernel threads=${nt:-?} $kind $xf32: $rep"
done
[ "$found" = 1 ] || echo "no program with entry $kernel in $dir"
