#!/usr/bin/env bash
# pa's CPU backend against llama.cpp's CPU build (bench/anchors/build_llama_cpp.sh) on this
# machine, side by side: same model, same thread count, a prompt of the same length, prefill
# and decoding after it. Rounds alternate between the two programs and the best of each is
# kept, so load from other processes costs both alike. Besides tokens per second of wall time it
# records tokens per CPU second (user + system, all threads), which other processes on a shared
# machine disturb much less. Writes one JSON file.
#
# Usage: bench/anchors/cpu_vs_llama.sh MODEL.gguf TEXT.txt [THREADS] [ROUNDS] [OUT.json]
#   env LLAMA_BIN (default /work/anchors/llama.cpp-build/bin), PA (default build/bin/pa),
#   PROMPT_CHARS (default 7600: about 2000 SmolLM2 tokens of English), GEN (default 64)
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

head -c "${PROMPT_CHARS:-7600}" "$text" > "$tmp/prompt.txt"
n_prompt="$("$pa" tokenize -m "$model" -f "$tmp/prompt.txt" --ids --no-bos | tr -cd ',' | wc -c)"
n_prompt=$((n_prompt + 1))
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# CPU seconds (user + system, all threads) of a command, into $tmp/cpu
cpu_of() { /usr/bin/time -f "%U %S" -o "$tmp/cpu" "$@" > /dev/null 2>&1; awk '{print $1 + $2}' "$tmp/cpu"; }
for f in pa_pp pa_tg ll_pp ll_tg pa_pp_cpu pa_tg_cpu ll_pp_cpu ll_tg_cpu; do : > "$tmp/$f"; done
for r in $(seq "$rounds"); do
  "$pa" run -m "$model" -f "$tmp/prompt.txt" -n "$gen" --ignore-eos --temp 0 --attn dense --device cpu \
    -t "$threads" --json > "$tmp/pa.json" 2>/dev/null
  python3 - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
d = json.load(open(f"{t}/pa.json"))
for name, v in (("pa_pp", d["prefill_tok_s"]), ("pa_tg", d["decode_tok_s"]),
                ("pa_pp_cpu", d["prompt_tokens"] / d["phases"]["prefill_cpu_s"]),
                ("pa_tg_cpu", d["generated_tokens"] / d["phases"]["decode_cpu_s"])):
    open(f"{t}/{name}", "a").write(f"{v}\n")
PY
  cp "$tmp/pa.json" "$tmp/pa_round$r.json"
  # llama.cpp: prefill alone, and decoding at the prompt's depth; CPU time of the prefill run
  # minus a tiny run (model load), of the decoding run minus the prefill run (the same load and
  # depth fill)
  c0="$(cpu_of "$llama/llama-bench" -m "$model" -p 8 -n 0 -t "$threads" -r 1 --no-warmup -o json)"
  c1="$(cpu_of "$llama/llama-bench" -m "$model" -p "$n_prompt" -n 0 -t "$threads" -r 1 --no-warmup -o json)"
  cp "$tmp/cpu" "$tmp/cpu1"
  "$llama/llama-bench" -m "$model" -p "$n_prompt" -n 0 -t "$threads" -r 1 -o json > "$tmp/ll_pp.json" 2>/dev/null
  c2="$(cpu_of "$llama/llama-bench" -m "$model" -p 0 -n "$gen" -d "$n_prompt" -t "$threads" -r 1 --no-warmup -o json)"
  "$llama/llama-bench" -m "$model" -p 0 -n "$gen" -d "$n_prompt" -t "$threads" -r 1 -o json > "$tmp/ll_tg.json" 2>/dev/null
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[0]['avg_ts'])" "$tmp/ll_pp.json" >> "$tmp/ll_pp"
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[0]['avg_ts'])" "$tmp/ll_tg.json" >> "$tmp/ll_tg"
  python3 -c "import sys; c0, c1, c2, p, g = map(float, sys.argv[1:]); print(p / (c1 - c0)); print(g / (c2 - c1), file=sys.stderr)" \
    "$c0" "$c1" "$c2" "$n_prompt" "$gen" >> "$tmp/ll_pp_cpu" 2>> "$tmp/ll_tg_cpu"
  echo "round $r: pa prefill $(tail -n1 "$tmp/pa_pp") decode $(tail -n1 "$tmp/pa_tg") tok/s" \
       "(per CPU second $(tail -n1 "$tmp/pa_pp_cpu") / $(tail -n1 "$tmp/pa_tg_cpu"));" \
       "llama.cpp prefill $(tail -n1 "$tmp/ll_pp") decode $(tail -n1 "$tmp/ll_tg")" \
       "(per CPU second $(tail -n1 "$tmp/ll_pp_cpu") / $(tail -n1 "$tmp/ll_tg_cpu"))" >&2
done

python3 - "$out" "$model" "$threads" "$rounds" "$n_prompt" "$gen" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$tmp" "$("$pa" --version)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)" <<'EOF'
import json, sys
out, model, threads, rounds, n_prompt, gen, load0, load1, tmp, pa_version, cpu = sys.argv[1:]
def col(name):
    return [float(x) for x in open(f"{tmp}/{name}").read().split()]
pa_pp, pa_tg, ll_pp, ll_tg = col("pa_pp"), col("pa_tg"), col("ll_pp"), col("ll_tg")
pa_ppc, pa_tgc, ll_ppc, ll_tgc = col("pa_pp_cpu"), col("pa_tg_cpu"), col("ll_pp_cpu"), col("ll_tg_cpu")
pa_dev = json.load(open(f"{tmp}/pa_round1.json"))["device"]
res = {
    "what": "pa CPU backend vs llama.cpp CPU, same model, threads and prompt length; best of alternating rounds",
    "model": model, "cpu": cpu, "threads": int(threads), "rounds": int(rounds),
    "prompt_tokens": int(n_prompt), "generated_tokens": int(gen),
    "pa": {"version": pa_version, "device": pa_dev, "prefill_tok_s": max(pa_pp), "decode_tok_s": max(pa_tg),
           "rounds_prefill": pa_pp, "rounds_decode": pa_tg,
           "prefill_tok_per_cpu_s": max(pa_ppc), "decode_tok_per_cpu_s": max(pa_tgc),
           "command": "pa run -f PROMPT -n GEN --ignore-eos --temp 0 --attn dense --device cpu -t THREADS --json"},
    "llama.cpp": {"version": "0c1e570 (llama-cpp-python 0.3.36 source package)",
                  "prefill_tok_s": max(ll_pp), "decode_tok_s": max(ll_tg),
                  "rounds_prefill": ll_pp, "rounds_decode": ll_tg,
                  "prefill_tok_per_cpu_s": max(ll_ppc), "decode_tok_per_cpu_s": max(ll_tgc),
                  "command": "llama-bench -p N_PROMPT -n 0 -t THREADS; llama-bench -p 0 -n GEN -d N_PROMPT -t THREADS"},
    "ratio_llama_over_pa": {"prefill": max(ll_pp) / max(pa_pp), "decode": max(ll_tg) / max(pa_tg),
                            "prefill_per_cpu_s": max(ll_ppc) / max(pa_ppc),
                            "decode_per_cpu_s": max(ll_tgc) / max(pa_tgc)},
    "load_average_before": load0, "load_average_after": load1,
    "note": "per CPU second: pa from its JSON phases (prefill_cpu_s, decode_cpu_s); llama.cpp from "
            "/usr/bin/time around llama-bench --no-warmup runs (prefill run minus an 8-token run, "
            "decoding run at the prompt's depth minus the prefill run)",
}
json.dump(res, open(out, "w"), indent=2)
print(json.dumps(res["ratio_llama_over_pa"]))
EOF
echo "wrote $out" >&2
