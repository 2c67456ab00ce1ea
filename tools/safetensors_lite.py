"""Minimal safetensors reader/writer (the format: 8-byte little-endian header length,
a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian bytes).
Written here so the tools need nothing beyond Debian's python3-torch; save_raw needs no
torch at all (tools/convert_lite.py runs with a bare python3).

Like glia's writer, save_raw() records a CRC-32 (zlib's) of each tensor's bytes in the
metadata key "glia.checksums"; load() checks them when present (tensor/safetensors.h)."""
import json
import os
import struct
import tempfile
import zlib

_NAMES = ["float32:F32", "float64:F64", "int64:I64", "int32:I32", "uint8:U8", "float16:F16", "bfloat16:BF16"]
CHECKSUM_KEY = "glia.checksums"


def _torch_dtypes():
    import torch
    return {getattr(torch, n.split(":")[0]): n.split(":")[1] for n in _NAMES}


def _crc32_hex(raw):
    return "%08x" % (zlib.crc32(raw) & 0xFFFFFFFF)


def save_raw(tensors, path, metadata=None):
    """tensors: {name: (dtype name such as "F32", shape, little-endian bytes)}. Writes a
    temporary file beside `path`, fsyncs it and renames it over `path`: a reader never
    sees a half-written file."""
    header, offset, sums = {}, 0, {}
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        sums[name] = _crc32_hex(raw)
        offset += len(raw)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta[CHECKSUM_KEY] = json.dumps({"algorithm": "crc32", "tensors": sums}, separators=(",", ":"))
    header["__metadata__"] = meta
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)  # keep the data 8-byte aligned
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would differ from any other file written here
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(blob)))
            f.write(blob)
            for name in sorted(tensors):
                f.write(tensors[name][2])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(tensors, path, metadata=None):
    import torch
    names = _torch_dtypes()
    raw = {}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        raw[name] = (names[t.dtype], list(t.shape), data)
    save_raw(raw, path, metadata)


def load_metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)).get("__metadata__", {})


def load(path):
    import torch
    back = {v: k for k, v in _torch_dtypes().items()}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", None) or {}
    sums = json.loads(meta[CHECKSUM_KEY])["tensors"] if CHECKSUM_KEY in meta else None
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        if sums is not None and sums.get(name) != _crc32_hex(raw):
            raise ValueError("%s: tensor '%s' is corrupt or has no checksum (CRC-32 %s, recorded %s)"
                             % (path, name, _crc32_hex(raw), sums.get(name)))
        buf = bytearray(raw)
        out[name] = torch.frombuffer(buf, dtype=back[info["dtype"]]).reshape(info["shape"]).clone() \
            if b > a else torch.zeros(info["shape"], dtype=back[info["dtype"]])
    return out
