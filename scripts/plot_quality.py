#!/usr/bin/env python3
"""Recall vs density of proxy_sparse_attn settings on captured real attention (pa eval attn --json).

usage: scripts/plot_quality.py OUT.png LABEL=RUN.json [LABEL=RUN.json ...]

Each run is one setting: a large point at its mean density and mean recall over the captured
layers (left) and at its mean per-layer p5 recall (right), small points for its layers. The
oracle curve joins, for every gamma that appears, the oracle density (the fewest blocks per head
and row reaching gamma of the exact mass) at recall = gamma: the best any mask of that kept mass
can do. Needs matplotlib.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) < 3 or "=" not in argv[2]:
        sys.exit(__doc__)
    out, runs = argv[1], []
    for arg in argv[2:]:
        label, path = arg.rsplit("=", 1)
        with open(path) as f:
            runs.append((label, json.load(f)))

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharex=True)
    oracle = {}
    for i, (label, r) in enumerate(runs):
        s, color = r["summary"], f"C{i}"
        oracle.setdefault(r["gamma"], []).append(s["oracle_density"])
        for ax, key, layer_key in ((axes[0], "recall_mean", "recall_mean"), (axes[1], "recall_p5_mean", "recall_p5")):
            ax.scatter([l["density"] for l in r["layers"]], [l[layer_key] for l in r["layers"]], s=10,
                       color=color, alpha=0.35)
            ax.scatter([s["density"]], [s[key]], s=90, color=color, edgecolor="black", label=label, zorder=3)
    gammas = sorted(oracle)
    curve = [(sum(oracle[g]) / len(oracle[g]), g) for g in gammas]
    for ax in axes:
        ax.plot([c[0] for c in curve], [c[1] for c in curve], "k--", marker="x", label="oracle (recall = gamma)")
        ax.set_xlabel("density (kept share of causal key blocks)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("recall mean (kept attention mass)")
    axes[1].set_ylabel("recall p5 (per layer; large point: mean over layers)")
    axes[0].legend(fontsize=8, loc="lower right")
    first = runs[0][1]
    fig.suptitle(f"proxy_sparse_attn on {first['model'].split('/')[-1]}, {first['tokens']} tokens, "
                 f"{len(first['layers'])} captured layers (pa eval attn)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
