#!/usr/bin/env bash
# llama.cpp with CUDA as the GPU anchor of `pa bench model` (issue: models as fast as llama.cpp):
# llama.cpp as vendored in the PyPI source package llama-cpp-python==0.3.36 (commit 0c1e570).
# Nothing of it goes into this repository.
#   trim DEST      (here: PyPI reachable) download the package and copy the parts llama-bench
#                  needs into DEST/llama.cpp (~23 MB, fits a device carry): CMake files, src,
#                  include, common, vendor, ggml without the other GPU backends, tools/llama-bench
#   build SRC OUT  (GPU machine) configure and build llama-bench with CUDA for sm_90 into OUT
#                  (about 6 minutes on 16 cores: build in one device call, measure in the next
#                  while the machine is warm; /tmp survives between back-to-back calls)
#   bench OUT MODEL [llama-bench options]   llama-bench -ngl 99 -fa 1 -o json on MODEL
set -euo pipefail
version=0.3.36
case "${1:-}" in
trim)
  dest="$2"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$tmp"
  tar xzf "$tmp/llama_cpp_python-$version.tar.gz" -C "$tmp"
  src="$tmp/llama_cpp_python-$version/vendor/llama.cpp"
  rm -rf "$dest/llama.cpp" && mkdir -p "$dest/llama.cpp/tools" "$dest/llama.cpp/ggml/src"
  cp -r "$src"/{CMakeLists.txt,cmake,src,include,common,vendor,licenses,LICENSE} "$dest/llama.cpp/"
  cp -r "$src"/ggml/{CMakeLists.txt,cmake,include} "$dest/llama.cpp/ggml/"
  for f in "$src"/ggml/src/*; do
    case "$(basename "$f")" in
      ggml-vulkan|ggml-sycl|ggml-metal|ggml-opencl|ggml-cann|ggml-musa|ggml-hip|ggml-kompute|ggml-webgpu|ggml-zdnn|ggml-rpc|ggml-hexagon|ggml-zendnn|ggml-openvino|ggml-virtgpu) ;;
      *) cp -r "$f" "$dest/llama.cpp/ggml/src/" ;;
    esac
  done
  cp -r "$src/tools/llama-bench" "$dest/llama.cpp/tools/"
  printf 'find_package(Threads REQUIRED)\nllama_add_compile_flags()\nadd_subdirectory(llama-bench)\n' \
    > "$dest/llama.cpp/tools/CMakeLists.txt"
  rm -rf "$tmp"
  du -sh "$dest/llama.cpp"
  ;;
build)
  src="$2" out="$3"
  cmake -S "$src" -B "$out" -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF -DCMAKE_BUILD_TYPE=Release > "$out.configure.log" 2>&1 ||
    { tail -30 "$out.configure.log"; exit 1; }
  cmake --build "$out" --target llama-bench -j"$(nproc)" > "$out.build.log" 2>&1 || { tail -30 "$out.build.log"; exit 1; }
  ls -l "$out/bin/llama-bench"
  ;;
bench)
  out="$2" model="$3"
  shift 3
  "$out/bin/llama-bench" -m "$model" -ngl 99 -fa 1 -o json "$@"
  ;;
*)
  sed -n '2,13p' "$0"
  exit 1
  ;;
esac
