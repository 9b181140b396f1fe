#!/usr/bin/env bash
# Builds the llama.cpp CPU anchor that the CPU backend and `pa perplexity` are compared with:
# llama.cpp as vendored in the PyPI source package llama-cpp-python==0.3.36 (llama.cpp commit
# 0c1e570), CPU only, Release, native SIMD. Nothing of it goes into this repository.
# Usage: bench/anchors/build_llama_cpp.sh [DEST_DIR]   (default: /work/anchors)
# Result: DEST_DIR/llama.cpp-build/bin/{llama-perplexity,llama-bench,llama-tokenize,llama-cli}
set -euo pipefail
dest="${1:-/work/anchors}"
version=0.3.36
mkdir -p "$dest"
cd "$dest"
src="llama_cpp_python-$version"
if [[ ! -d "$src/vendor/llama.cpp" ]]; then
  python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d .
  tar xzf "$src.tar.gz"
fi
jobs="${JOBS:-$(nproc)}"
cmake -S "$src/vendor/llama.cpp" -B llama.cpp-build -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF
cmake --build llama.cpp-build -j "$jobs" --target llama-perplexity llama-bench llama-tokenize
ls -l llama.cpp-build/bin
