#!/usr/bin/env bash
# bench/gpu_model_parts.sh - moves a file bigger than one device call's carry (64 MiB together with
# the working tree: the 98 MB SmolLM2 GGUF) to the GPU machine in parts, one a call, over calls made
# back to back while the machine is warm (/tmp there survives between them: the device README).
#   here:  bash bench/gpu_model_parts.sh split FILE [PARTS (5)]
#          writes .gpu-xa/, .gpu-xb/, ... (git-ignored), one part each, the last also FILE's sha256
#          and the texts of scripts/fetch_texts.sh (.gpu-xe for 5 parts: pass TEXTS=.gpu-xe to
#          gpu_session.sh); prints what each call carries beside the working tree
#   there: bash bench/gpu_model_parts.sh take DIR     (every call, DIR its carried part: to /tmp/pa-parts)
#          bash bench/gpu_model_parts.sh join OUT     (after the last take: the parts joined into OUT,
#                                                      its sha256 checked; non-zero and a one-line error
#                                                      when a part is missing or the sum differs)
# A call carries [".gpu-xa"] (and .gpu where it builds or runs pa) and runs `bash
# bench/gpu_model_parts.sh take .gpu-xa`; the last one goes on with join and its work (e.g.
# `source .gpu/gpu-env && MODEL=/tmp/model.gguf TEXTS=.gpu-xe bash bench/gpu_session.sh model`).
# The calls must follow each other within the machine's idle release (30 s): nothing else between.
set -euo pipefail
die() { echo "error: $*" >&2; exit 1; }
cmd=${1:-}
root="$(cd "$(dirname "$0")/.." && pwd)"
store=/tmp/pa-parts
case "$cmd" in
split)
  file=${2:?usage: gpu_model_parts.sh split FILE [PARTS]}
  parts=${3:-5}
  [ -s "$file" ] || die "$file: no such file or empty"
  [[ "$parts" =~ ^[1-9]$ ]] || die "PARTS must be 1 to 9, not '$parts'"
  file=$(realpath "$file")
  size=$(stat -c %s "$file")
  names=(a b c d e f g h i)
  cd "$root"
  for ((i = 0; i < parts; ++i)); do rm -rf ".gpu-x${names[i]}" && mkdir -p ".gpu-x${names[i]}"; done
  last=".gpu-x${names[parts - 1]}"
  bash scripts/fetch_texts.sh "$last" > /dev/null
  texts=$(du -sb "$last" | cut -f1)
  # the last part carries the texts too: the file's bytes are spread so that every call carries
  # about the same
  each=$(((size + texts + parts - 1) / parts))
  for ((i = 0; i < parts; ++i)); do
    n=$each
    ((i == parts - 1)) && n=$((size - i * each))
    ((n > 0)) || die "$parts parts are too many for $file"
    dd if="$file" of=".gpu-x${names[i]}/part-$i" bs=1M iflag=skip_bytes,count_bytes skip=$((i * each)) count=$n \
      status=none
  done
  sha256sum "$file" | cut -d' ' -f1 > "$last/sha256"
  echo "$parts" > "$last/parts"
  # sizes as disk usage (whole blocks a file): three parts of 34 MB, 64.0 MB of bytes with the
  # tree and .gpu but 71 MiB on disk, were refused as over the 64 MiB a call carries (2026-12-02);
  # five parts of 20 MB (58 MiB on disk) travelled
  tree=$(git ls-files -z --cached --others --exclude-standard | du -c --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  gpu=$(du -s .gpu 2>/dev/null | cut -f1 || echo 0)
  for ((i = 0; i < parts; ++i)); do
    d=".gpu-x${names[i]}"
    b=$(du -s "$d" | cut -f1)
    total=$((tree + gpu + b)) # KiB
    printf '%s: %d MiB; with the working tree (%d MiB) and .gpu (%d MiB) %d MiB of the 64 MiB a call carries%s\n' \
      "$d" $((b / 1024)) $((tree / 1024)) $((gpu / 1024)) $((total / 1024)) \
      "$([ $total -gt 65536 ] && echo ' -- too big: split into more parts')"
  done
  ;;
take)
  dir=${2:?usage: gpu_model_parts.sh take DIR}
  [ -d "$dir" ] || die "$dir: not carried"
  mkdir -p "$store"
  cp "$dir"/* "$store"/
  echo "took $(ls "$dir" | tr '\n' ' ')into $store"
  ;;
join)
  out=${2:?usage: gpu_model_parts.sh join OUT}
  [ -s "$store/sha256" ] && [ -s "$store/parts" ] || die "$store has no sha256 / parts: take the last part first"
  parts=$(cat "$store/parts")
  for ((i = 0; i < parts; ++i)); do [ -s "$store/part-$i" ] || die "part $i of $parts missing in $store"; done
  for ((i = 0; i < parts; ++i)); do cat "$store/part-$i"; done > "$out"
  got=$(sha256sum "$out" | cut -d' ' -f1)
  [ "$got" = "$(cat "$store/sha256")" ] || die "$out: sha256 $got, expected $(cat "$store/sha256")"
  echo "joined $out ($(stat -c %s "$out") bytes, sha256 ok)"
  ;;
*)
  die "usage: gpu_model_parts.sh split FILE [PARTS] | take DIR | join OUT"
  ;;
esac
