#!/usr/bin/env python3
"""Recall vs density of the three estimators on a real model's captured Q/K/V.

usage: plot_real_estimators.py DIR OUT.png
DIR holds eval-attn-<estimator>-<threshold>.json, each the --json output of
`pa eval attn --from CAPTURE_DIR --estimator E --gamma G` (the same captured layers for all).
Each estimator is a curve over its thresholds (mean recall and the mean of the per-layer p5);
the oracle (fewest blocks per row reaching the threshold) is the floor.
"""
import glob
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"proxy": "tab:blue", "xattn": "tab:orange", "flex": "tab:green"}


def main():
    d, out = sys.argv[1], sys.argv[2]
    runs = {}
    for path in glob.glob(os.path.join(d, "eval-attn-*.json")):
        m = re.match(r"eval-attn-(\w+)-([0-9.]+)\.json", os.path.basename(path))
        if not m:
            continue
        s = json.load(open(path))
        s = s.get("summary", s)
        runs.setdefault(m.group(1), []).append((float(m.group(2)), s))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.8), sharex=True)
    oracle = {}
    for est, pts in sorted(runs.items()):
        pts.sort(key=lambda p: p[0])
        x = [s["density"] for _, s in pts]
        for ax, key in ((a1, "recall_mean"), (a2, "recall_p5_mean")):
            ax.plot(x, [s[key] for _, s in pts], "o-", color=COLORS.get(est), label=est)
            for (g, s), xx in zip(pts, x):
                ax.annotate(f"{g:g}", (xx, s[key]), textcoords="offset points", xytext=(4, -10), fontsize=7)
        for g, s in pts:
            oracle[g] = s["oracle_density"]
    g = sorted(oracle)
    a1.plot([oracle[x] for x in g], g, "k--", marker="x", label="oracle (fewest blocks reaching the threshold)")
    a1.set_ylabel("recall, mean over rows and layers")
    a2.set_ylabel("recall p5 (mean over layers)")
    for ax in (a1, a2):
        ax.set_xlabel("density (kept share of causal blocks)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    a1.set_title("SmolLM2-135M, 8K tokens, 10 captured layers (CPU reference)")
    a2.set_title("the worst rows: p5 of each layer, averaged")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
