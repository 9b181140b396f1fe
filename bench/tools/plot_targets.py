#!/usr/bin/env python3
"""Where each measured target of issue 13 stands: one bar per target, ours as a fraction of the
goal (goal / ours where lower is better), 1.0 = met; each bar labelled with both values.

usage: bench/tools/plot_targets.py TARGETS.json OUT.png
TARGETS.json: a list of {target, goal, ours, unit, higher_is_better, measured}.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    rows = json.load(open(argv[1]))
    fraction = [r["ours"] / r["goal"] if r["higher_is_better"] else r["goal"] / r["ours"] for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) + 1.2))
    ys = list(range(len(rows)))[::-1]
    colors = ["tab:green" if f >= 1.0 else "tab:orange" for f in fraction]
    ax.barh(ys, fraction, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    for y, f, r in zip(ys, fraction, rows):
        ax.text(f + 0.01, y, f"{r['ours']:g} vs goal {r['goal']:g} {r['unit']} ({r['measured']})", va="center",
                fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels([r["target"] for r in rows], fontsize=9)
    ax.set_xlim(0, 1.9)
    ax.set_xlabel("fraction of the goal (1 = met; time and share targets as goal / ours)")
    ax.set_title("Issue 13 targets on the NVIDIA H200: the latest measurement of each")
    fig.tight_layout()
    fig.savefig(argv[2], dpi=110)


if __name__ == "__main__":
    main(sys.argv)
