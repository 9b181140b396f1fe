#!/usr/bin/env python3
"""ptx_loops.py - the loops of each kernel in a PTX program, and what one trip of each issues.

usage: bench/tools/ptx_loops.py FILE [KERNEL]

FILE: PTX text, or an entry of the backend's binary cache (PA_KERNEL_CACHE, *.bin: a 48-byte
header, then the device binary, which NVIDIA's OpenCL makes PTX; opencl/program_cache.h).
KERNEL: report only the .entry of that name.

A loop is a label and a later branch back to it. For each (innermost first, by size) it prints
the lines it spans and its count of the instructions that decide an attention or GEMM kernel's
speed: f32 multiply-adds, tensor-core MMAs, local- and global-memory loads and stores, barriers,
exp2. How often the compiler unrolled a loop shows as its count of a body's instructions, e.g.
O += P V of flash_attn_tiled_q.cl at d = 128 issues 32 multiply-adds a key: 64 a trip where it
was unrolled twice, 1,024 where fully (bench/results/h200-2026-12-02-d, call 1).
"""
import re
import sys

CLASSES = [  # (column, pattern on the instruction's opcode)
    ("fma.f32", re.compile(r"^fma\.rn(\.ftz)?\.f32$")),
    ("mma", re.compile(r"^mma\.sync")),
    ("ld.shared", re.compile(r"^ld\.shared")),
    ("st.shared", re.compile(r"^st\.shared")),
    ("ld.global", re.compile(r"^ld\.global")),
    ("cp.async", re.compile(r"^cp\.async\.(ca|cg)")),
    ("bar", re.compile(r"^bar\.")),
    ("ex2", re.compile(r"^ex2\.")),
]


def read_ptx(path):
    data = open(path, "rb").read()
    if path.endswith(".bin"):
        data = data[48:]
    return data.replace(b"\0", b"").decode("utf-8", "replace")


def entries(text):
    """(name, [lines]) of each .entry."""
    out, name, body = [], None, []
    for line in text.splitlines():
        m = re.match(r"\s*\.(visible\s+)?entry\s+(\w+)", line)
        if m:
            if name:
                out.append((name, body))
            name, body = m.group(2), []
        if name:
            body.append(line)
    if name:
        out.append((name, body))
    return out


def opcode(line):
    s = line.strip()
    if not s or s.startswith("//") or s.endswith(":") or s.startswith("."):
        return None
    if s.startswith("@"):  # predicated
        s = s.split(None, 1)[1] if " " in s else ""
    return s.split()[0].rstrip(";") if s else None


def loops(body):
    """[(first line, last line)] of every label with a later branch back to it."""
    labels = {}
    found = []
    for i, line in enumerate(body):
        m = re.match(r"^\s*(\$?\w+):", line)
        if m:
            labels[m.group(1)] = i
        m = re.search(r"\bbra(\.uni)?\s+(\$?\w+);", line)
        if m and m.group(2) in labels and labels[m.group(2)] < i:
            found.append((labels[m.group(2)], i))
    return sorted(set(found), key=lambda r: r[1] - r[0])


def counts(lines):
    c = {name: 0 for name, _ in CLASSES}
    total = 0
    for line in lines:
        op = opcode(line)
        if not op:
            continue
        total += 1
        for name, pat in CLASSES:
            if pat.match(op):
                c[name] += 1
    return total, c


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    text = read_ptx(argv[1])
    want = argv[2] if len(argv) == 3 else None
    shown = 0
    for name, body in entries(text):
        if want and name != want:
            continue
        shown += 1
        total, c = counts(body)
        head = " ".join(f"{k} {v}" for k, v in c.items() if v)
        print(f"{name}: {total} instructions ({head})")
        for a, b in loops(body):
            n, lc = counts(body[a:b + 1])
            cols = " ".join(f"{k} {v}" for k, v in lc.items() if v)
            print(f"  loop lines {a}-{b}: {n} instructions a trip ({cols})")
    if not shown:
        print(f"error: no kernel{' ' + want if want else ''} in {argv[1]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
