#!/usr/bin/env python3
"""PyTorch anchor for `pa bench attn`: dense SDPA and FlexAttention with the SAME block masks.

Runs where PyTorch and a CUDA GPU exist (the lent H200; optional everywhere else). For every
PAMASK1 file given (written by `pa bench attn --save-masks DIR` or `pa attn --save-mask FILE`,
format in analysis/dump_files.h), it times on random bf16 Q/K/V of that mask's shape:
  - SDPA, dense causal (the flash-attention backend), GQA through enable_gqa;
  - FlexAttention with a BlockMask built from the file's kept blocks (causal inside each block),
and writes one JSON record per (mask, kernel) with the time (median of --reps after warm-up,
CUDA events), TFLOP/s (dense-equivalent causal FLOPs for SDPA, density-scaled for Flex) and the
mask's density. Shapes come from the command line (the mask holds H, N and the block only).

usage: torch_attn.py --hkv 8 --dim 128 --out torch.json MASK [MASK ...]
"""
import argparse
import json
import struct
import sys
import time


def read_mask(path):
    """PAMASK1 -> (block, n_past, N, H, counts[H][n_rows], lists[H][n_rows] of kept blocks)."""
    with open(path, "rb") as f:
        magic = f.read(8)
        if magic != b"PAMASK1\0":
            raise SystemExit(f"error: {path} is not a PAMASK1 file")
        block, n_past, n, h = struct.unpack("<4q", f.read(32))
        n_keys = n_past + n
        n_kblocks = (n_keys + block - 1) // block
        row0 = n_past // block
        n_rows = n_kblocks - row0
        tri_total = n_kblocks * (n_kblocks + 1) // 2 - row0 * (row0 + 1) // 2
        import numpy as np

        counts = np.frombuffer(f.read(4 * h * n_rows), dtype="<i4").reshape(h, n_rows)
        blocks = np.frombuffer(f.read(4 * h * tri_total), dtype="<i4").reshape(h, tri_total)
    return block, n_past, n, h, row0, n_rows, n_kblocks, counts, blocks


def block_mask_of(mask, device):
    """FlexAttention BlockMask with the file's kept blocks; causal mask_mod inside them."""
    import torch
    from torch.nn.attention.flex_attention import BlockMask

    block, n_past, n, h, row0, n_rows, n_kblocks, counts, blocks = mask
    if n_past != 0:
        raise SystemExit("error: masks with n_past > 0 are not supported by this anchor")
    kv_num = torch.zeros((1, h, n_rows), dtype=torch.int32)
    kv_idx = torch.zeros((1, h, n_rows, n_kblocks), dtype=torch.int32)
    for hh in range(h):
        at = 0
        for r in range(n_rows):
            m = row0 + r
            c = int(counts[hh, r])
            kv_num[0, hh, r] = c
            kv_idx[0, hh, r, :c] = torch.from_numpy(blocks[hh, at : at + c].copy())
            at += m + 1

    def causal(b, hh, q_idx, kv_idx_):
        return q_idx >= kv_idx_

    return BlockMask.from_kv_blocks(
        kv_num.to(device), kv_idx.to(device), BLOCK_SIZE=block, mask_mod=causal, seq_lengths=(n, n)
    )


def time_ms(fn, reps):
    import torch

    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("masks", nargs="+")
    ap.add_argument("--hkv", type=int, required=True, help="kv heads (the mask gives the query heads)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    try:
        import torch
        from torch.nn.attention.flex_attention import flex_attention
    except ImportError:
        print("error: PyTorch with FlexAttention is needed (torch >= 2.5)", file=sys.stderr)
        return 1
    if not torch.cuda.is_available():
        print("error: no CUDA device", file=sys.stderr)
        return 1
    dev = "cuda"
    flex = torch.compile(flex_attention, dynamic=False)
    records = []
    sdpa_ms = {}
    for path in a.masks:
        mask = read_mask(path)
        block, _, n, h, _, _, n_kblocks, counts, _ = mask
        dens = float(counts.sum()) / (h * n_kblocks * (n_kblocks + 1) / 2)
        torch.manual_seed(0)
        q = torch.randn(1, h, n, a.dim, device=dev, dtype=torch.bfloat16)
        k = torch.randn(1, a.hkv, n, a.dim, device=dev, dtype=torch.bfloat16)
        v = torch.randn(1, a.hkv, n, a.dim, device=dev, dtype=torch.bfloat16)
        flops = 2.0 * h * a.dim * n * n  # causal: half of 4 h d n^2
        base = {"mask": path, "n": n, "H": h, "Hkv": a.hkv, "d": a.dim, "block": block, "density": dens,
                "torch": torch.__version__, "device": torch.cuda.get_device_name(0),
                "date": time.strftime("%Y-%m-%d", time.gmtime())}
        if (n, h) not in sdpa_ms:  # dense once per shape: several masks of one shape share it
            sdpa_ms[(n, h)] = time_ms(lambda: torch.nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True, enable_gqa=True), a.reps)
            t = sdpa_ms[(n, h)]
            records.append(dict(base, kernel="sdpa_dense", time_ms=t, tflops=flops / t * 1e-9))
            print(f"{'sdpa_dense':<11} n={n:>7} H={h} d={a.dim}: {t:9.3f} ms {flops / t * 1e-9:7.1f} TF/s",
                  flush=True)
        bm = block_mask_of(mask, dev)
        t = time_ms(lambda: flex(q, k, v, block_mask=bm, enable_gqa=True), a.reps)
        records.append(dict(base, kernel="flex_mask", time_ms=t, tflops=dens * flops / t * 1e-9,
                            sdpa_ms=sdpa_ms[(n, h)]))
        for r in records[-1:]:
            print(f"{r['kernel']:<11} n={n:>7} H={h} d={a.dim} density {dens:.3f}: {r['time_ms']:9.3f} ms "
                  f"{r['tflops']:7.1f} TF/s", flush=True)
        with open(a.out, "w") as f:
            json.dump(records, f, indent=1)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
