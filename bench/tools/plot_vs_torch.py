#!/usr/bin/env python3
"""Bar chart of pa bench attn (attn.json) beside PyTorch (bench/anchors/torch_attn.py's JSON) from
the same device call: time per sequence length for dense and block-sparse attention.

usage: bench/tools/plot_vs_torch.py ATTN.json TORCH.json OUT.png [shape]   (shape: llama3-8b)
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    shape = argv[4] if len(argv) > 4 else "llama3-8b"
    ours = [r for r in json.load(open(argv[1])) if r.get("shape") == shape and "density" in r]
    torch = json.load(open(argv[2]))
    sizes = sorted({r["n"] for r in ours})
    series = {  # label -> {n: ms}
        "pa dense\n(f16 mma)": {r["n"]: r["time_ms"] for r in ours if r["mode"] == "dense"},
        "SDPA dense\n(bf16)": {r["n"]: r["time_ms"] for r in torch if r["kernel"] == "sdpa_dense"},
        "pa proxy\n(defaults)": {r["n"]: r["time_ms"] for r in ours if r["mode"] == "proxy"},
        "FlexAttention\n(pa's masks)": {r["n"]: r["time_ms"] for r in torch if r["kernel"] == "flex_mask"},
    }
    density = {r["n"]: r["density"] for r in ours if r["mode"] == "proxy"}
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4.5))
    for ax, n in zip(axes if len(sizes) > 1 else [axes], sizes):
        labels = [k for k in series if n in series[k]]
        times = [series[k][n] for k in labels]
        bars = ax.bar(range(len(labels)), times, color=[f"C{i}" for i in range(len(labels))])
        for b, t in zip(bars, times):
            ax.text(b.get_x() + b.get_width() / 2, t, f"{t:.1f} ms", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_title(f"{shape}, N = {n // 1024}K, proxy density {density.get(n, 0):.2f}")
        ax.set_ylabel("time (ms, median)")
    fig.suptitle(f"{ours[0]['device'].split('|')[0].strip()}: attention of one layer, causal (same device call)")
    fig.tight_layout()
    fig.savefig(argv[3], dpi=110)
    print(f"wrote {argv[3]}")


if __name__ == "__main__":
    main(sys.argv)
