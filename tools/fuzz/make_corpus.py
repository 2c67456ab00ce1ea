#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (tools/fuzz/corpus/<target>/).
Needs only the standard library. No image is committed: the image seeds are made at
every fuzz run (scripts/fuzz.sh) by make_seeds.cpp and by `--decode DIR` here.

    tools/fuzz/make_corpus.py               rewrites safetensors/, checkpoint/ and json/
    tools/fuzz/make_corpus.py --decode DIR  writes the forged PNG seed into DIR
"""
import json
import os
import struct
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def safetensors(tensors, metadata=None, checksums=True):
    """tensors: [(name, dtype, shape, raw bytes)] -> file bytes, as glia writes them."""
    header, offset, sums, data = {}, 0, {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        sums[name] = "%08x" % (zlib.crc32(raw) & 0xFFFFFFFF)
        offset += len(raw)
        data += raw
    meta = dict(metadata or {})
    if checksums:
        meta["glia.checksums"] = json.dumps({"algorithm": "crc32", "tensors": sums}, separators=(",", ":"))
    if meta:
        header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def write(target, name, data, folder=None):
    folder = folder or os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def png_claiming(width, height):
    """A valid 74-byte PNG whose header claims width x height RGB (the pixel budget's case)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 6, 0)) + chunk(b"IEND", b""))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--decode":
        write("decode", "claims_30000x30000.png", png_claiming(30000, 30000), folder=sys.argv[2])
        return
    every_dtype = [
        ("w", "F32", [2, 3], f32(1, -2, 3.5, 0, 1e-3, 7)),
        ("d", "F64", [], struct.pack("<d", 0.25)),
        ("h", "F16", [2], struct.pack("<2H", 0x3C00, 0xC000)),
        ("b", "BF16", [2], struct.pack("<2H", 0x3F80, 0x4000)),
        ("i", "I32", [3], struct.pack("<3i", 1, -2, 3)),
        ("l", "I64", [1, 1], struct.pack("<q", 5)),
        ("u", "U8", [4], bytes([0, 1, 254, 255])),
        ("empty", "F32", [0, 4], b""),
    ]
    write("safetensors", "every_dtype.safetensors", safetensors(every_dtype, {"model": "seed"}))
    write("safetensors", "no_checksums.safetensors", safetensors(every_dtype[:2], checksums=False))
    write("safetensors", "nan.safetensors", safetensors([("x", "F32", [2], f32(float("nan"), 1))]))
    write("safetensors", "empty.safetensors", safetensors([], checksums=False))

    trainer = {"task": "classification", "epoch": 2, "lr": "0.001", "history": "[]", "data_order": "k"}
    meta = {"format": 1, "model": "classifier:b0:32", "model_config": {"kind": "classifier"},
            "optimizer": {"type": "adam", "step": 3}, "trainer": trainer}
    tensors = [("model/features.0.weight", "F32", [2, 2], f32(1, 2, 3, 4)),
               ("model/bn.num_batches_tracked", "I64", [], struct.pack("<q", 9)),
               ("optimizer/exp_avg.features.0.weight", "F32", [2, 2], f32(0, 0.5, 0, 1))]
    write("checkpoint", "last.ckpt", safetensors(tensors, {"glia.checkpoint": json.dumps(meta)}))
    write("checkpoint", "weights_only.safetensors", safetensors(tensors[:1]))
    meta_new = dict(meta, format=2)
    write("checkpoint", "newer_format.ckpt", safetensors(tensors[:1], {"glia.checkpoint": json.dumps(meta_new)}))

    write("json", "header.json", json.dumps({"a": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]},
                                             "__metadata__": {"k": "v"}}))
    write("json", "values.json", '{"n": [0, -1, 2.5, -3e-2, 1E+300, 9223372036854775807, -9223372036854775808, '
                                 '18446744073709551616], "t": true, "f": false, "z": null}')
    write("json", "strings.json", r'["", "a\"b\\c\/d", "\b\f\n\r\t", "\u00e9\u4e2d\ud83d\ude00", "\u0000"]')
    write("json", "nested.json", "[" * 40 + "{}" + "]" * 40)
    write("json", "metrics.json", json.dumps({"loss": 0.5, "accuracy": 0.9, "per_class": [[1, 2], [3, 4]]},
                                             indent=2))


if __name__ == "__main__":
    main()
