#!/usr/bin/env bash
# Runs on the GPU machine (after `source .gpu/gpu-env`): SmolLM2-135M at 8K context, dense vs
# proxy attention: perplexity over a long public-domain text and prefill time of each.
# Usage: scripts/gpu_models.sh MODEL.gguf TEXT.txt OUT_DIR [PA_BINARY]
# Writes OUT_DIR/models-ppl.json and OUT_DIR/models-prefill-{dense,proxy}.json.
set -euo pipefail
model=$1 text=$2 out=$3 pa=${4:-build/bin/pa}
dev=${PA_DEVICE:-0}
mkdir -p "$out"
"$pa" devices | tee "$out/models-devices.txt"
# perplexity: 2 chunks of 8192 tokens, dense then proxy (proxy for chunks >= 4096 tokens)
"$pa" perplexity -m "$model" -f "$text" -c 8192 --chunks 2 --attn both --device "$dev" --json \
  | tee "$out/models-ppl.json"
# prefill speed: one ~8K-token prompt (the text's first 30000 bytes), 8 generated tokens
head -c 30000 "$text" > "$out/prompt8k.txt"
for mode in dense proxy; do
  "$pa" run -m "$model" -f "$out/prompt8k.txt" --ctx 8192 --batch 8192 -n 8 --temp 0 --attn "$mode" --device "$dev" --json \
    > "$out/models-prefill-$mode.json" 2> "$out/models-prefill-$mode.log" || { tail -5 "$out/models-prefill-$mode.log"; exit 1; }
  tail -3 "$out/models-prefill-$mode.log"
done
