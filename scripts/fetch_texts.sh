#!/usr/bin/env bash
# Fetches long public-domain texts for perplexity runs into texts/ (git-ignored), from Debian
# packages (no other downloads):
#   texts/bible-kjv.txt   King James Bible (package bible-kjv, ~4.3 MB)
#   texts/sherlock.txt    The Adventures of Sherlock Holmes, Project Gutenberg #1661
#                         (package golang-github-pierrec-lz4-dev, testdata/pg1661.txt, ~594 KB)
# Usage: scripts/fetch_texts.sh [DEST_DIR]   (default: <repo>/texts). Needs root for apt-get
# when the packages are not installed yet.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/texts}"
mkdir -p "$dest"

need=()
command -v bible >/dev/null || need+=(bible-kjv)
sherlock_src=""
for p in /usr/share/gocode/src/github.com/pierrec/lz4/testdata/pg1661.txt \
         /usr/share/gocode/src/github.com/pierrec/lz4/v4/testdata/pg1661.txt; do
  [[ -f "$p" ]] && sherlock_src="$p"
done
[[ -z "$sherlock_src" ]] && need+=(golang-github-pierrec-lz4-dev)
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [[ -z "$sherlock_src" ]]; then
  sherlock_src="$(dpkg -L golang-github-pierrec-lz4-dev | grep '/pg1661.txt$' | head -n1)"
fi

[[ -s "$dest/bible-kjv.txt" ]] || bible -f gen1:1-rev22:21 > "$dest/bible-kjv.txt"
[[ -s "$dest/sherlock.txt" ]] || cp "$sherlock_src" "$dest/sherlock.txt"
ls -l "$dest"
