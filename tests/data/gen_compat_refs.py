#!/usr/bin/env python3
"""Reference data for tests/test_gguf_compat.cpp, made once with the tools a llama.cpp user has:

  * the gguf Python package (PyPI gguf==0.19.0) writes tests/data/gguf_py_tiny.gguf: metadata of
    every value type, SmolLM2-135M-Instruct's tokenizer (Apache-2.0; copied from the model's
    metadata, so CI can tokenize with it offline) and small tensors of every type pa reads, the
    block types quantized by gguf-py's own quantizer;
  * gguf-py reads that file and a `pa convert` of stories260K, and its view is written as
    "dumps" (tests/data/*.dump.txt, format below) that pa's reader must reproduce;
  * gguf-py quantizes the F32 weights of that conversion to Q8_0 / Q4_0 / Q4_1: the hashes of
    its tensors, which `pa convert --type` must reproduce byte for byte;
  * llama.cpp's llama-tokenize (the llama-cpp-python 0.3.36 source package, llama.cpp 0c1e570,
    built by bench/anchors/build_llama_cpp.sh) tokenizes the fixed multilingual text (TEXT) with
    both tokenizers: the id lists printed at the end go into the test.

Dump format, one line per item, sorted: "kv <key> <type> <value>" or "tensor <name> <type id>
<ne0,ne1,..> <fnv1a64 of the data>". Values: integers in decimal, floats with %.9g, bools
true/false, strings as fnv1a64 of their UTF-8 bytes plus their length; arrays as
"array:<elem type> <count> <fnv1a64 of the elements' value texts joined by 0x1f>".

Usage: python3 gen_compat_refs.py PA_BINARY LLAMA_TOKENIZE SMOLLM2_GGUF   (from tests/data)
       python3 gen_compat_refs.py --dump FILE.gguf                          (prints a dump)
"""
import subprocess
import sys
import tempfile

import numpy as np

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT

TEXT = ("Hello world! Grüße aus Köln, ça va? Ελληνικά, Русский текст, 日本語のテキスト, 中文文本, "
        "한국어, العربية, हिन्दी. Emoji: 👍🏽 👨‍👩‍👧 🇫🇷\r\n\tTabs\tand  spaces; numbers 3.14159 and "
        "1,234,567; code: if (x != y) { return x * 2; } <unk> <|im_start|>")


def fnv1a64(data: bytes) -> int:
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


TYPE_NAMES = {VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16", VT.UINT32: "u32",
              VT.INT32: "i32", VT.FLOAT32: "f32", VT.BOOL: "bool", VT.STRING: "str", VT.ARRAY: "array",
              VT.UINT64: "u64", VT.INT64: "i64", VT.FLOAT64: "f64"}


def value_text(vtype, v) -> str:
    if vtype == VT.STRING:
        b = v if isinstance(v, (bytes, bytearray)) else str(v).encode("utf-8")
        return f"{fnv1a64(bytes(b)):016x}:{len(b)}"
    if vtype == VT.BOOL:
        return "true" if v else "false"
    if vtype in (VT.FLOAT32, VT.FLOAT64):
        return "%.9g" % float(v)
    return str(int(v))


def dump(path: str) -> list[str]:
    r = gguf.GGUFReader(path)
    lines = []
    for key, f in r.fields.items():
        if key.startswith("GGUF."):
            continue
        t = f.types[0]
        if t == VT.ARRAY:
            et = f.types[1] if len(f.types) > 1 else VT.UINT8
            elems = [value_text(et, bytes(f.parts[i]) if et == VT.STRING else f.parts[i][0]) for i in f.data]
            joined = "\x1f".join(elems).encode("utf-8")
            lines.append(f"kv {key} array:{TYPE_NAMES[et]} {len(elems)} {fnv1a64(joined):016x}")
        else:
            raw = bytes(f.parts[f.data[0]]) if t == VT.STRING else f.parts[f.data[0]][0]
            lines.append(f"kv {key} {TYPE_NAMES[t]} {value_text(t, raw)}")
    for t in r.tensors:
        ne = ",".join(str(int(n)) for n in t.shape)
        lines.append(f"tensor {t.name} {int(t.tensor_type)} {ne} {fnv1a64(bytes(t.data.tobytes())):016x}")
    return sorted(lines)


def write_tiny(path: str, smollm2: str) -> None:
    src = gguf.GGUFReader(smollm2)
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 3.25)
    w.add_uint64("test.u64", 18000000000000000000)
    w.add_int64("test.i64", -9000000000000000000)
    w.add_float64("test.f64", -2.5e-300)
    w.add_bool("test.bool", True)
    w.add_string("test.str", "Grüße, 世界 👍")
    w.add_array("test.arr_i32", [1, -2, 3])
    w.add_array("test.arr_str", ["a", "βγ", ""])
    for key, f in src.fields.items():  # SmolLM2's tokenizer, as the model has it
        if not key.startswith("tokenizer.ggml."):
            continue
        t = f.types[0]
        if t == VT.ARRAY:
            et = f.types[1]
            vals = [bytes(f.parts[i]).decode("utf-8") if et == VT.STRING else f.parts[i][0].item() for i in f.data]
            w.add_key_value(key, vals, VT.ARRAY, sub_type=et)
        elif t == VT.STRING:
            w.add_string(key, bytes(f.parts[f.data[0]]).decode("utf-8"))
        else:
            w.add_key_value(key, f.parts[f.data[0]][0].item(), t)
    rng = np.random.default_rng(2024)
    w.add_tensor("t.f32", rng.standard_normal((3, 8)).astype(np.float32))
    w.add_tensor("t.f16", rng.standard_normal((2, 16)).astype(np.float16))
    for name, qt, shape in (("t.q8_0", QT.Q8_0, (2, 64)), ("t.q4_0", QT.Q4_0, (3, 32)), ("t.q4_1", QT.Q4_1, (1, 64))):
        x = rng.standard_normal(shape).astype(np.float32)
        w.add_tensor(name, gguf.quants.quantize(x, qt), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quantized_hashes(f32_path: str) -> list[str]:
    """gguf-py's quantization of every 2-D F32 weight whose rows are whole blocks."""
    r = gguf.GGUFReader(f32_path)
    lines = []
    for qt, name in ((QT.Q8_0, "q8_0"), (QT.Q4_0, "q4_0"), (QT.Q4_1, "q4_1")):
        for t in r.tensors:
            if len(t.shape) < 2 or int(t.shape[0]) % 32 != 0 or t.tensor_type != QT.F32:
                continue
            x = np.asarray(t.data, dtype=np.float32).reshape(int(t.shape[1]), int(t.shape[0]))
            q = gguf.quants.quantize(x, qt)
            lines.append(f"{name} {t.name} {fnv1a64(q.tobytes()):016x}")
    return lines


def main() -> None:
    if sys.argv[1] == "--dump":
        print("\n".join(dump(sys.argv[2])))
        return
    pa, llama_tokenize, smollm2 = sys.argv[1:4]
    write_tiny("gguf_py_tiny.gguf", smollm2)
    with open("gguf_py_tiny.dump.txt", "w") as f:
        f.write("\n".join(dump("gguf_py_tiny.gguf")) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        conv = f"{tmp}/stories260K.gguf"
        subprocess.run([pa, "convert", "--checkpoint", "stories260K.bin", "--tokenizer", "tok512.bin", "-o", conv,
                        "--quiet"], check=True)
        with open("stories260K_convert.dump.txt", "w") as f:
            f.write("\n".join(dump(conv)) + "\n")
            f.write("\n".join("quant " + q for q in quantized_hashes(conv)) + "\n")
        for label, model in (("stories260K", conv), ("SmolLM2", smollm2)):
            out = subprocess.run([llama_tokenize, "-m", model, "-p", TEXT, "--ids", "--log-disable"],
                                 check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            print(f"{label}: {out}")


if __name__ == "__main__":
    main()
