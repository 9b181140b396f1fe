#!/usr/bin/env bash
# pa's CPU backend against llama.cpp's CPU build (bench/anchors/build_llama_cpp.sh) on this
# machine, side by side: same model, same thread count, a prompt of the same length, prefill
# and decoding after it. Rounds alternate between the two programs and the best of each is
# kept, so load from other processes costs both alike. Writes one JSON file.
#
# Usage: bench/anchors/cpu_vs_llama.sh MODEL.gguf TEXT.txt [THREADS] [ROUNDS] [OUT.json]
#   env LLAMA_BIN (default /work/anchors/llama.cpp-build/bin), PA (default build/bin/pa),
#   PROMPT_CHARS (default 9000: about 2000 SmolLM2 tokens of English), GEN (default 64)
# pa: pa run -f PROMPT -n GEN --ignore-eos --temp 0 --attn dense --device cpu -t THREADS --json
#     (prefill in batches of 512 tokens, decoding right after the prompt)
# llama.cpp: llama-bench -p N_PROMPT -n 0, and -p 0 -n GEN -d N_PROMPT (decoding at the same
#     depth), -t THREADS, its defaults otherwise (batch 2048, ubatch 512, flash attention auto)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
model="$1"
text="$2"
threads="${3:-$(nproc)}"
rounds="${4:-3}"
out="${5:-$root/bench/results/cpu-vs-llama.cpp-$(date +%Y-%m-%d).json}"
llama="${LLAMA_BIN:-/work/anchors/llama.cpp-build/bin}"
pa="${PA:-$root/build/bin/pa}"
gen="${GEN:-64}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

head -c "${PROMPT_CHARS:-9000}" "$text" > "$tmp/prompt.txt"
n_prompt="$("$pa" tokenize -m "$model" -f "$tmp/prompt.txt" --ids --no-bos | tr -cd ',' | wc -c)"
n_prompt=$((n_prompt + 1))
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

best() { sort -g | tail -n1; }
: > "$tmp/pa_pp"; : > "$tmp/pa_tg"; : > "$tmp/ll_pp"; : > "$tmp/ll_tg"
for r in $(seq "$rounds"); do
  "$pa" run -m "$model" -f "$tmp/prompt.txt" -n "$gen" --ignore-eos --temp 0 --attn dense --device cpu \
    -t "$threads" --json > "$tmp/pa.json" 2>/dev/null
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['prefill_tok_s']); print(d['decode_tok_s'], file=sys.stderr)" \
    "$tmp/pa.json" >> "$tmp/pa_pp" 2>> "$tmp/pa_tg"
  cp "$tmp/pa.json" "$tmp/pa_round$r.json"
  "$llama/llama-bench" -m "$model" -p "$n_prompt" -n 0 -t "$threads" -r 1 -o json > "$tmp/ll_pp.json" 2>/dev/null
  "$llama/llama-bench" -m "$model" -p 0 -n "$gen" -d "$n_prompt" -t "$threads" -r 1 -o json > "$tmp/ll_tg.json" 2>/dev/null
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[0]['avg_ts'])" "$tmp/ll_pp.json" >> "$tmp/ll_pp"
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[0]['avg_ts'])" "$tmp/ll_tg.json" >> "$tmp/ll_tg"
  echo "round $r: pa prefill $(tail -n1 "$tmp/pa_pp") decode $(tail -n1 "$tmp/pa_tg"); llama.cpp prefill $(tail -n1 "$tmp/ll_pp") decode $(tail -n1 "$tmp/ll_tg") tok/s" >&2
done

python3 - "$out" "$model" "$threads" "$rounds" "$n_prompt" "$gen" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$tmp" "$("$pa" --version)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)" <<'EOF'
import json, sys
out, model, threads, rounds, n_prompt, gen, load0, load1, tmp, pa_version, cpu = sys.argv[1:]
def col(name):
    return [float(x) for x in open(f"{tmp}/{name}").read().split()]
pa_pp, pa_tg, ll_pp, ll_tg = col("pa_pp"), col("pa_tg"), col("ll_pp"), col("ll_tg")
pa_dev = json.load(open(f"{tmp}/pa_round1.json"))["device"]
res = {
    "what": "pa CPU backend vs llama.cpp CPU, same model, threads and prompt length; best of alternating rounds",
    "model": model, "cpu": cpu, "threads": int(threads), "rounds": int(rounds),
    "prompt_tokens": int(n_prompt), "generated_tokens": int(gen),
    "pa": {"version": pa_version, "device": pa_dev, "prefill_tok_s": max(pa_pp), "decode_tok_s": max(pa_tg),
           "rounds_prefill": pa_pp, "rounds_decode": pa_tg,
           "command": "pa run -f PROMPT -n GEN --ignore-eos --temp 0 --attn dense --device cpu -t THREADS --json"},
    "llama.cpp": {"version": "0c1e570 (llama-cpp-python 0.3.36 source package)",
                  "prefill_tok_s": max(ll_pp), "decode_tok_s": max(ll_tg),
                  "rounds_prefill": ll_pp, "rounds_decode": ll_tg,
                  "command": "llama-bench -p N_PROMPT -n 0 -t THREADS; llama-bench -p 0 -n GEN -d N_PROMPT -t THREADS"},
    "ratio_llama_over_pa": {"prefill": max(ll_pp) / max(pa_pp), "decode": max(ll_tg) / max(pa_tg)},
    "load_average_before": load0, "load_average_after": load1,
}
json.dump(res, open(out, "w"), indent=2)
print(json.dumps(res["ratio_llama_over_pa"]), res["pa"]["prefill_tok_s"], res["pa"]["decode_tok_s"],
      res["llama.cpp"]["prefill_tok_s"], res["llama.cpp"]["decode_tok_s"])
EOF
echo "wrote $out" >&2
