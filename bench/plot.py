#!/usr/bin/env python3
"""bench/plot.py - turns `pa bench attn` / `pa bench prefill` JSON (bench/results/*.json) into one
PNG: attention time against N (log-log, with PyTorch's bf16 SDPA and FlexAttention references on
the same H100 for the Llama-3-8B shape), proxy speed-up against N, the proxy's stage breakdown at
the largest N, and the prefill times.

usage: python3 bench/plot.py [FILE.json ...] [-o bench/results/bench.png]
       (no files: every bench/results/*.json)
"""
import argparse
import glob
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Measured on the lent H100 (issue 6): PyTorch 2.11 SDPA bf16 causal, H=32, Hkv=8, d=128.
SDPA_BF16_MS = {8192: 0.92, 32768: 12.97, 65536: 55.6, 131072: 240.0}
# FlexAttention bf16, 128x128 blocks, same shape: {n: {density: ms}}
FLEX_MS = {32768: {0.30: 6.9, 0.10: 2.9}, 131072: {0.30: 106.0, 0.10: 40.0}}

STYLE = {
    "dense": ("C0", "o", "dense (default: tensor cores on NVIDIA)"),
    "dense_portable": ("C7", "s", "dense portable FP32"),
    "proxy": ("C3", "^", "proxy_sparse_attn"),
    "proxy_portable": ("C1", "v", "proxy portable"),
    "xattn": ("C2", "D", "xattn estimator"),
    "flex": ("C4", "P", "flex estimator"),
}


def load(paths):
    recs = []
    for p in paths:
        try:
            with open(p) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            print(f"plot.py: skipping {p}: {e}", file=sys.stderr)
            continue
        recs.extend(r for r in data if isinstance(r, dict))
    return recs


def series(recs, shape, mode, key="time_ms"):
    pts = sorted((r["n"], r[key]) for r in recs
                 if r.get("shape") == shape and r.get("mode") == mode and r.get(key) is not None)
    return [p[0] for p in pts], [p[1] for p in pts]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*")
    ap.add_argument("-o", "--out", default="bench/results/bench.png")
    a = ap.parse_args()
    files = [f for f in a.files if os.path.exists(f)] or sorted(glob.glob("bench/results/*.json"))
    recs = load(files)
    attn = [r for r in recs if r.get("mode") in STYLE]
    pre = [r for r in recs if str(r.get("mode", "")).startswith("prefill_")]
    if not attn and not pre:
        print("plot.py: no records", file=sys.stderr)
        return 1
    shapes = sorted({r["shape"] for r in attn})
    device = next((r.get("device") for r in recs if r.get("device")), "?")
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    fig.suptitle(f"proxyattn-opencl on {device}")

    ax = axes[0][0]
    for shape in shapes:
        ls = "-" if shape.startswith("llama") else "--"
        for mode, (c, mk, label) in STYLE.items():
            x, y = series(attn, shape, mode)
            if x:
                ax.plot(x, y, ls, color=c, marker=mk, label=f"{label} ({shape})")
    x = sorted(SDPA_BF16_MS)
    ax.plot(x, [SDPA_BF16_MS[n] for n in x], ":", color="k", marker="x", label="PyTorch SDPA bf16 (llama3-8b)")
    ax.plot([], [], "*", color="C2", label="FlexAttention bf16 at density 0.3 / 0.1")
    ks = [r for r in recs if r.get("mode") == "kernel_sparse"]
    for i, r in enumerate(ks):
        ax.plot([r["n"]], [r["time_ms"]], "D", color="C4", markersize=6,
                label="our block-sparse kernel, random mask (llama3-8b)" if i == 0 else None)
        ax.annotate(f"ours {r['density']:.2f}", (r["n"], r["time_ms"]), textcoords="offset points", xytext=(-48, 2),
                    fontsize=7, color="C4")
    for n, d in FLEX_MS.items():
        for dens, ms in d.items():
            ax.plot([n], [ms], "*", color="C2", markersize=9)
            ax.annotate(f"Flex {dens:.1f}", (n, ms), textcoords="offset points", xytext=(5, -10), fontsize=7)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("N (tokens)")
    ax.set_ylabel("attention time per layer (ms)")
    ax.set_title("time against N (causal prefill attention, one layer)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, loc="upper left")

    ax = axes[0][1]
    for shape in shapes:
        x, y = series(attn, shape, "proxy", "speedup")
        if x:
            ax.plot(x, y, "-o", label=f"proxy vs our dense ({shape})")
        xs, ys = series(attn, shape, "proxy", "time_ms")
        if shape.startswith("llama") and xs:
            pts = [(n, SDPA_BF16_MS[n] / t) for n, t in zip(xs, ys) if n in SDPA_BF16_MS]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ":x", color="k", label="proxy vs PyTorch SDPA bf16")
    ax.axhline(10, color="C3", alpha=0.4, lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (tokens)")
    ax.set_ylabel("speed-up (x)")
    ax.set_title("proxy_sparse_attn speed-up")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)

    ax = axes[1][0]
    stages = [("t_pool_ms", "pooling"), ("t_scores_ms", "scores"), ("t_budget_ms", "budget"),
              ("t_mask_ms", "rank/mask"), ("t_attn_ms", "sparse attention")]
    bars = []
    for shape in shapes:
        pr = [r for r in attn if r.get("shape") == shape and r.get("mode") == "proxy" and "t_attn_ms" in r]
        if pr:
            bars.append(max(pr, key=lambda r: r["n"]))
    for i, r in enumerate(bars):
        left = 0.0
        for j, (k, label) in enumerate(stages):
            v = r.get(k, 0) or 0
            ax.barh(i, v, left=left, color=f"C{j}", label=label if i == 0 else None)
            left += v
        ax.text(left, i, f" {left:.1f} ms, density {r.get('density', 0):.2f}, recall {r.get('recall_mean', 0):.3f}",
                va="center", fontsize=8)
    ax.set_yticks(range(len(bars)), [f"{r['shape']} N={r['n']}" for r in bars])
    ax.set_xlabel("ms")
    ax.set_title("proxy stages at the largest N")
    if bars:
        ax.legend(fontsize=7, loc="lower right")

    ax = axes[1][1]
    ns = sorted({r["n"] for r in pre})
    w = 0.38
    for k, mode in enumerate(("prefill_dense", "prefill_proxy")):
        rs = {r["n"]: r for r in pre if r.get("mode") == mode}
        xs = [i + (k - 0.5) * w for i, n in enumerate(ns) if n in rs]
        tot = [rs[n]["time_ms"] / 1e3 for n in ns if n in rs]
        att = [rs[n]["attn_ms"] / 1e3 for n in ns if n in rs]
        ax.bar(xs, tot, w, color="C0" if k == 0 else "C3", alpha=0.45, label=f"{mode[8:]}: total")
        ax.bar(xs, att, w, color="C0" if k == 0 else "C3", label=f"{mode[8:]}: attention")
    ax.set_xticks(range(len(ns)), [str(n) for n in ns])
    ax.set_xlabel("prompt tokens")
    ax.set_ylabel("s")
    lay = next((r.get("layers") for r in pre), "?")
    ax.set_title(f"prefill, random Llama-3-8B layers (Q4_0), {lay} layers")
    if pre:
        ax.legend(fontsize=7)

    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
