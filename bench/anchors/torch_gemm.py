#!/usr/bin/env python3
"""PyTorch anchor for `pa bench gemm --layer`: one Llama-3-8B layer's seven weight products.

Runs where PyTorch and a CUDA GPU exist (the lent H200; optional everywhere else). For each token
count N it times, in f16 and bf16 (cuBLAS, f32 accumulation), the products of one layer as a model
runs them: q, k, v from one input, o, gate and up from one input, down (width ffn), queued back to
back; and each shape alone. Times are CUDA events around --reps passes after warm-up, medians;
TFLOP/s = 2 M N K over the time. One JSON record a (N, dtype, what).

usage: torch_gemm.py --n-list 8192,32768 --out torch-gemm.json
"""
import argparse
import json
import sys

EMBD, KV, FFN = 4096, 1024, 14336
# (name, input index, rows M, k): q, k, v share input 0; gate and up input 2
PRODUCTS = [("q", 0, EMBD, EMBD), ("k", 0, KV, EMBD), ("v", 0, KV, EMBD), ("o", 1, EMBD, EMBD),
            ("gate", 2, FFN, EMBD), ("up", 2, FFN, EMBD), ("down", 3, EMBD, FFN)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-list", default="8192,32768")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("error: PyTorch is not installed (this anchor runs on the GPU machine)")
    if not torch.cuda.is_available():
        sys.exit("error: no CUDA device for PyTorch")
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(0)
    recs = []

    def timed(fn, reps):
        for _ in range(2):
            fn()
        torch.cuda.synchronize()
        ts = []
        for _ in range(reps):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize()
            ts.append(a.elapsed_time(b))
        ts.sort()
        return ts[len(ts) // 2]

    for n in [int(x) for x in args.n_list.split(",")]:
        for dtype in (torch.float16, torch.bfloat16):
            g = torch.Generator(device=dev).manual_seed(1)
            xs = [torch.randn(n, k, device=dev, dtype=dtype, generator=g) for k in (EMBD, EMBD, EMBD, FFN)]
            ws = [torch.randn(m, k, device=dev, dtype=dtype, generator=g) * k ** -0.5 for _, _, m, k in PRODUCTS]

            def layer():
                for (_, xi, _, _), w in zip(PRODUCTS, ws):
                    torch.matmul(xs[xi], w.t())

            flop = sum(2.0 * m * n * k for _, _, m, k in PRODUCTS)
            ms = timed(layer, args.reps)
            tag = str(dtype).replace("torch.", "")
            recs.append({"device": name, "anchor": "torch.matmul", "n": n, "dtype": tag, "what": "layer",
                         "time_ms": ms, "tflops": flop / (ms * 1e-3) / 1e12})
            print(f"torch {tag:8s} N {n:6d} layer: {ms:8.3f} ms  {flop / (ms * 1e-3) / 1e12:6.1f} TFLOP/s", flush=True)
            for i in (0, 1, 4, 6):  # each shape alone: q/o, k/v, gate/up, down
                pname, xi, m, k = PRODUCTS[i]
                ms = timed(lambda: torch.matmul(xs[xi], ws[i].t()), args.reps)
                tf = 2.0 * m * n * k / (ms * 1e-3) / 1e12
                recs.append({"device": name, "anchor": "torch.matmul", "n": n, "dtype": tag, "what": pname,
                             "m": m, "k": k, "time_ms": ms, "tflops": tf})
                print(f"torch {tag:8s} N {n:6d} {pname:5s} {m}x{k}: {ms:8.3f} ms  {tf:6.1f} TFLOP/s", flush=True)
            del xs, ws
            torch.cuda.empty_cache()
    with open(args.out, "w") as f:
        json.dump(recs, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
