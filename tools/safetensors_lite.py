"""Minimal safetensors reader/writer (the format: 8-byte little-endian header length,
a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian bytes).
Written here so the tools need nothing beyond Debian's python3-torch.

Like glia's writer, save() records a CRC-32 (zlib's) of each tensor's bytes in the
metadata key "glia.checksums"; load() checks them when present (tensor/safetensors.h)."""
import json
import struct
import zlib

import torch

_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64",
           torch.int32: "I32", torch.uint8: "U8", torch.float16: "F16", torch.bfloat16: "BF16"}
_TORCH = {v: k for k, v in _DTYPES.items()}
CHECKSUM_KEY = "glia.checksums"


def _crc32_hex(raw):
    return "%08x" % (zlib.crc32(raw) & 0xFFFFFFFF)


def save(tensors, path, metadata=None):
    header, chunks, offset, sums = {}, [], 0, {}
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        sums[name] = _crc32_hex(raw)
        offset += len(raw)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta[CHECKSUM_KEY] = json.dumps({"algorithm": "crc32", "tensors": sums}, separators=(",", ":"))
    header["__metadata__"] = meta
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for c in chunks:
            f.write(c)


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", None) or {}
    sums = json.loads(meta[CHECKSUM_KEY])["tensors"] if CHECKSUM_KEY in meta else None
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        if sums is not None and sums.get(name) != _crc32_hex(data[8 + n + a:8 + n + b]):
            raise ValueError("%s: tensor '%s' is corrupt or has no checksum (CRC-32 %s, recorded %s)"
                             % (path, name, _crc32_hex(data[8 + n + a:8 + n + b]), sums.get(name)))
        buf = bytearray(data[8 + n + a:8 + n + b])
        out[name] = torch.frombuffer(buf, dtype=_TORCH[info["dtype"]]).reshape(info["shape"]).clone() \
            if b > a else torch.zeros(info["shape"], dtype=_TORCH[info["dtype"]])
    return out
