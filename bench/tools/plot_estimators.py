#!/usr/bin/env python3
"""Recall vs density and estimation time vs density of the three estimators (proxy, xattn, flex)
from one H200 session's `pa bench attn --variants` JSON (bench/gpu_session.sh estimators).

usage: plot_estimators.py DIR OUT.png
DIR holds est-32k.json, est-128k.json (quality and times), torch-est.json (SDPA dense) and,
optionally, est-speed-32k-after-tiling.json / est-speed-128k-after-tiling.json (times of a later
build on the same masks: the estimators are bit-identical, only their speed changed), whose
estimate times replace the first ones.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"proxy": "tab:blue", "xattn": "tab:orange", "flex": "tab:green"}


def load(path):
    return json.load(open(path)) if os.path.exists(path) else []


def main():
    d, out = sys.argv[1], sys.argv[2]
    later = {}
    for n, name in ((32768, "est-speed-32k-after-tiling.json"), (131072, "est-speed-128k-after-tiling.json")):
        for r in load(os.path.join(d, name)):
            if r["mode"] != "dense":
                later[(n, r["mode"], r.get("variant", "").split(",stride")[0])] = r["t_estimate_ms"]
    sdpa = {r["n"]: r["time_ms"] for r in load(os.path.join(d, "torch-est.json")) if r["kernel"] == "sdpa_dense"}
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.8))

    recs32 = [r for r in load(os.path.join(d, "est-32k.json")) if r["mode"] != "dense"]
    oracle = {}
    for est in ("proxy", "xattn", "flex"):
        pts = sorted((r["density"], r["recall_mean"], r["gamma"]) for r in recs32
                     if r["mode"] == est and "budget=fixed" not in r.get("variant", ""))
        if not pts:
            continue
        a1.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=COLORS[est], label=f"{est} (gamma / tau 0.90, 0.95, 0.99)")
        for x, y, g in pts:
            a1.annotate(f"{g:g}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    for r in recs32:
        if r["mode"] == "proxy" and "budget=fixed" not in r.get("variant", ""):
            oracle[r["gamma"]] = r["oracle_density_sampled"]
    fixed = [r for r in recs32 if "budget=fixed" in r.get("variant", "")]
    if fixed:
        a1.plot([r["density"] for r in fixed], [r["recall_mean"] for r in fixed], "s", color="tab:blue",
                mfc="none", label="proxy, fixed blocks per row")
    if oracle:
        g = sorted(oracle)
        a1.plot([oracle[x] for x in g], g, "k--", marker="x", label="oracle (fewest blocks reaching gamma)")
    a1.set_xlabel("density (kept share of causal blocks)")
    a1.set_ylabel("recall (attention mass kept, mean of sampled rows)")
    a1.set_title("Llama-3-8B layer, needle pattern, 32K (H200)")
    a1.grid(alpha=0.3)
    a1.legend(fontsize=8, loc="lower right")

    for n, name, mk in ((32768, "est-32k.json", "o"), (131072, "est-128k.json", "^")):
        for r in load(os.path.join(d, name)):
            if r["mode"] == "dense" or "budget=fixed" in r.get("variant", "") or r["density"] < 0:
                continue
            t = later.get((n, r["mode"], r.get("variant", "")), r["t_estimate_ms"])
            if r["mode"] == "xattn" and (n, "xattn", "estimator=xattn") in later:
                t = later[(n, "xattn", "estimator=xattn")]
            if r["mode"] == "flex" and (n, "flex", "estimator=flex") in later:
                t = later[(n, "flex", "estimator=flex")]
            a2.plot(r["density"], t, mk, color=COLORS[r["mode"]], ms=7,
                    label=f"{r['mode']} {n // 1024}K")
        if n in sdpa:
            a2.axhline(0.05 * sdpa[n], color="gray", ls=":" if n == 32768 else "--", lw=1,
                       label=f"5% of PyTorch SDPA dense, {n // 1024}K")
    h, lab = a2.get_legend_handles_labels()
    uniq = dict(zip(lab, h))
    a2.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left")
    a2.set_yscale("log")
    a2.set_xlabel("density")
    a2.set_ylabel("estimation time on the H200 (ms, log)")
    a2.set_title("Estimation cost vs density (32K circles, 128K triangles)")
    a2.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
