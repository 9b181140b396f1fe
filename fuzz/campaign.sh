#!/bin/bash
# campaign.sh - a fuzzing campaign outside CI: every target for SECONDS at the lowest priority,
# all at once, from OUT/<target>/ (the grown corpus, kept between campaigns) and the committed
# seeds; logs in OUT/<target>.log, crashes in OUT/artifacts/. Then, with --merge, each grown
# corpus is minimised (libFuzzer -merge=1) into fuzz/corpus/<target>/.
#   fuzz/campaign.sh BUILD_DIR OUT SECONDS [targets...]   (BUILD_DIR: a -DPA_FUZZ=ON build)
#   fuzz/campaign.sh --merge BUILD_DIR OUT [targets...]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
all="fuzz_gguf fuzz_llama2c fuzz_tokenizer_encode fuzz_tokenizer_meta fuzz_ops fuzz_dumps"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:quarantine_size_mb=64 # fuzz/CMakeLists.txt says why
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

if [ "${1:-}" = "--merge" ]; then
  build=$2 out=$3; shift 3
  for t in ${*:-$all}; do
    merged=$(mktemp -d)
    "$build/bin/$t" -merge=1 -rss_limit_mb=2048 -timeout=20 -max_len=65536 "$merged" \
      "$src/fuzz/corpus/$t" "$out/$t" > "$out/$t.merge.log" 2>&1
    rm -rf "$src/fuzz/corpus/$t" && mv "$merged" "$src/fuzz/corpus/$t" && chmod 755 "$src/fuzz/corpus/$t"
    echo "$t: $(ls "$src/fuzz/corpus/$t" | wc -l) inputs, $(du -sh "$src/fuzz/corpus/$t" | cut -f1)"
  done
  exit 0
fi

build=$1 out=$2 secs=$3; shift 3
mkdir -p "$out/artifacts"
echo "$(date -u +%FT%TZ) started ${*:-$all} for $secs s" >> "$out/runs"
for t in ${*:-$all}; do
  mkdir -p "$out/$t"
  dict=""; [ -f "$src/fuzz/dict/$t.dict" ] && dict=-dict=$src/fuzz/dict/$t.dict
  ( nice -n 19 "$build/bin/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -max_len=65536 \
      -print_final_stats=1 $dict -artifact_prefix="$out/artifacts/$t-" "$out/$t" "$src/fuzz/corpus/$t" \
      > "$out/$t.log" 2>&1; echo "exit $?" >> "$out/$t.log" ) &
done
wait
echo "$(date -u +%FT%TZ) finished ${*:-$all}" >> "$out/runs"
for t in ${*:-$all}; do
  echo "$t: $(grep -m1 stat::number_of_executed_units "$out/$t.log" | awk '{print $2}') executions, $(tail -1 "$out/$t.log")"
done
