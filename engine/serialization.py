"""``engine.save`` / ``engine.load``: checkpoints that can be loaded without running code.

A Gradlab checkpoint is a zip archive holding a JSON manifest (``gradlab/manifest.json``) that
describes the saved object tree with a closed set of node types, and one raw little-endian entry per
tensor storage (``gradlab/data/<key>``).  Loading never calls pickle: a node type outside the closed
set is refused, and a damaged archive raises a ``RuntimeError`` that names the problem.

Files written by real ``torch.save`` (its zip format) can be read too: their ``data.pkl`` is run by
a small opcode interpreter here (not ``pickle``) that only knows the globals a state_dict needs —
tensor/parameter rebuild functions, storage types, ``OrderedDict``, ``Size``, dtypes and devices.
Anything else is refused before it is called.  The format is documented in
``docs/checkpoint-format.md``.
"""
import base64
import json
import mmap as _mmap
import os
import pickle
import struct
import sys
import warnings
import zipfile
from collections import OrderedDict

import numpy as np

from . import dtypes as _dt
from .device import _cupy, cuda_available, device as _device, normalize, to_device
from .tensor import Size, Tensor

__all__ = ["save", "load", "CheckpointError", "UnsafeCheckpointError", "FORMAT", "VERSION"]

FORMAT = "gradlab-checkpoint"
VERSION = 1
_PREFIX = "gradlab/"
_MANIFEST = _PREFIX + "manifest.json"
_DATA = _PREFIX + "data/"
_ALIGN = 64  # storage entries start on a 64-byte boundary of the file (for mmap=True)
_CHUNK = 1 << 22  # bytes moved per write/read call when streaming a storage
_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamp: the same object gives the same bytes
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_MANIFEST = 1 << 30


class CheckpointError(RuntimeError):
    """The file is not a readable checkpoint: empty, truncated, corrupt or not a checkpoint at all."""


class UnsafeCheckpointError(pickle.UnpicklingError, RuntimeError):
    """The file asks for an object Gradlab will not construct (an unknown manifest type, a pickle
    global outside the allow-list, a plain pickle file).  Nothing from the file was executed."""


def _corrupt(name, what):
    return CheckpointError(f"checkpoint is truncated or corrupt: {name}: {what}")


_TORCH_CUDA_ERROR = (
    "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. If you are "
    "running on a CPU-only machine, please use torch.load with map_location=torch.device('cpu') to map your "
    "storages to the CPU."
)

# numpy dtypes a saved numpy array may have (tensors use the engine dtype names).
_NP_DTYPES = {n: np.dtype(n) for n in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128")}


def _np_name(dt):
    for n, d in _NP_DTYPES.items():
        if d == dt:
            return n
    return None


# ---------------------------------------------------------------------------------------------
# arrays and storages
# ---------------------------------------------------------------------------------------------
def _is_cupy(a):
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def _ptr(a):
    return a.data.ptr if _is_cupy(a) else a.__array_interface__["data"][0]


def _contiguous_strides(shape):
    st, acc = [], 1
    for n in reversed(shape):
        st.append(acc)
        acc *= max(n, 1)
    return list(reversed(st))


def _bytes_view(owner):
    """A flat uint8 view (no copy) of a dense owner array, in memory order."""
    o = owner if owner.flags.c_contiguous else owner.T
    return o.reshape(-1).view(np.uint8) if not _is_cupy(o) else o.reshape(-1).view(_cupy.uint8)


def _strided(buf, dt, shape, stride, offset, name):
    """The array of dtype ``dt`` that reads ``buf`` (a flat array) with element ``stride`` and
    ``offset`` — a view, never a copy; every byte it can address is checked to lie inside ``buf``."""
    dt = np.dtype(dt)
    if not (isinstance(shape, list) and isinstance(stride, list) and len(shape) == len(stride)
            and all(type(v) is int and v >= 0 for v in shape + stride)
            and type(offset) is int and offset >= 0):
        raise _corrupt(name, f"invalid tensor geometry shape={shape!r} stride={stride!r} offset={offset!r}")
    xp = _cupy if _is_cupy(buf) else np
    if 0 in shape:
        return xp.empty(tuple(shape), dt)
    last = offset + sum((n - 1) * s for n, s in zip(shape, stride))
    if (last + 1) * dt.itemsize > buf.nbytes:
        raise _corrupt(name, f"a tensor of shape {tuple(shape)} reaches byte {(last + 1) * dt.itemsize} of a "
                             f"storage of {buf.nbytes} bytes")
    strides = tuple(s * dt.itemsize for s in stride)
    if xp is np:
        return np.ndarray(tuple(shape), dt, buffer=buf, offset=offset * dt.itemsize, strides=strides)
    return _cupy.ndarray(tuple(shape), dt, memptr=buf.data + offset * dt.itemsize, strides=strides)


def _place(buf, location, map_location, name):
    """Move a loaded storage (a flat array on the CPU) where ``map_location`` says, as torch.load does."""
    target = location
    if map_location is None:
        pass
    elif callable(map_location) and not isinstance(map_location, (str, _device)):
        res = map_location(Tensor._make(buf), location)
        if res is not None:
            if isinstance(res, Tensor):
                data = res._data
                if data.dtype == buf.dtype and data.shape == buf.shape:
                    return data
                target = str(res.device)
            else:
                target = str(getattr(res, "device", res))
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    else:
        target = map_location
    if not isinstance(target, (str, _device)):
        raise TypeError(f"map_location should return a device or a storage, got {type(target).__name__}")
    ttype = target.type if isinstance(target, _device) else str(target).partition(":")[0]
    if ttype == "cpu":
        return buf
    if ttype == "cuda":
        if not cuda_available():
            raise RuntimeError(_TORCH_CUDA_ERROR)
        return to_device(buf, normalize(_device(target)))
    raise RuntimeError(f"don't know how to restore data location of torch.storage.UntypedStorage (tagged with {target})")


# ---------------------------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------------------------
_SAVE_TYPES = ("tensors, nn.Parameters, quantized tensors, numpy arrays, None, bool, int, float, complex, str, bytes, list, tuple, "
               "dict, OrderedDict, set, frozenset, engine.Size, dtypes and devices")


def _float_node(x):
    node = {"t": "float", "v": float.hex(x)}
    if x != x:  # keep the exact NaN bits (sign and payload)
        node["bits"] = struct.pack(">d", x).hex()
    return node


class _Encoder:
    def __init__(self):
        self.memo = {}       # id(obj) -> manifest id
        self.busy = set()    # ids of tuples/frozensets being encoded (a reference back is a cycle)
        self.keep = []       # keeps every memoised object alive so ids stay unique
        self.owners = {}     # id(owner array) -> storage key
        self.storages = []   # (key, flat uint8 view, location)

    def _new_id(self, obj):
        i = len(self.memo)
        self.memo[id(obj)] = i
        self.keep.append(obj)
        return i

    def encode(self, obj):
        t = type(obj)
        if obj is None or t is bool or t is str:
            return obj
        if t is int:
            return obj if -(1 << 53) < obj < (1 << 53) else {"t": "int", "v": hex(obj)}
        if t is float:
            return _float_node(obj)
        if id(obj) in self.memo:
            if id(obj) in self.busy:
                raise ValueError("engine.save cannot store a tuple or frozenset that contains itself")
            return {"t": "ref", "id": self.memo[id(obj)]}
        if isinstance(obj, Tensor):
            return self._qtensor(obj) if obj.is_quantized else self._tensor(obj)
        if isinstance(obj, _dt.dtype):
            return {"t": "dtype", "name": obj.name}
        if isinstance(obj, _device):
            return {"t": "device", "type": obj.type, "index": obj.index}
        if t is Size:
            return {"t": "size", "items": [int(v) for v in obj]}
        if t is bytes:
            return {"t": "bytes", "b64": base64.b64encode(obj).decode("ascii")}
        if t is complex:
            return {"t": "complex", "real": _float_node(obj.real), "imag": _float_node(obj.imag)}
        if isinstance(obj, (np.ndarray, np.generic)):
            return self._ndarray(obj)
        if t is list:
            node = {"t": "list", "id": self._new_id(obj), "items": None}
            node["items"] = [self.encode(v) for v in obj]
            return node
        if t is dict or t is OrderedDict:
            node = {"t": "dict" if t is dict else "odict", "id": self._new_id(obj), "items": None}
            node["items"] = [[self.encode(k), self.encode(v)] for k, v in obj.items()]
            attrs = getattr(obj, "__dict__", None)
            if attrs:
                node["attrs"] = {}
                for k, v in attrs.items():
                    if not isinstance(k, str) or k.startswith("__"):
                        raise TypeError(f"engine.save cannot store the attribute {k!r} of an OrderedDict")
                    node["attrs"][k] = self.encode(v)
            return node
        if t is set:
            node = {"t": "set", "id": self._new_id(obj), "items": None}
            node["items"] = [self.encode(v) for v in obj]
            return node
        if t is tuple or t is frozenset:
            i = self._new_id(obj)
            self.busy.add(id(obj))
            items = [self.encode(v) for v in obj]
            self.busy.discard(id(obj))
            return {"t": t.__name__, "id": i, "items": items}
        # subclasses of the plain types are stored as their base type
        if isinstance(obj, bool):
            return bool(obj)
        if isinstance(obj, int):
            return self.encode(int(obj))
        if isinstance(obj, float):
            return _float_node(float(obj))
        if isinstance(obj, str):
            return str(obj)
        raise TypeError(
            f"engine.save cannot store an object of type {t.__module__}.{t.__qualname__}: a Gradlab checkpoint "
            f"holds only {_SAVE_TYPES}. To save a model, save model.state_dict() (and optimizer.state_dict()).")

    def _storage(self, arr):
        """(key, element offset, element strides) placing ``arr`` in a storage; arrays that view the
        same memory share one storage, as tensors sharing a torch storage do."""
        itemsize = arr.dtype.itemsize
        owner = arr
        base_type = type(arr) if _is_cupy(arr) else np.ndarray
        while isinstance(owner.base, base_type):
            owner = owner.base
        strides = []
        ok = owner.flags.c_contiguous or owner.flags.f_contiguous
        for n, s in zip(arr.shape, arr.strides):
            if n <= 1:
                s = 0 if s < 0 or s % itemsize else s
            ok = ok and s >= 0 and s % itemsize == 0
            strides.append(s // itemsize if s % itemsize == 0 else 0)
        off = _ptr(arr) - _ptr(owner)
        if ok and off >= 0 and off % itemsize == 0:
            last = off // itemsize + sum((n - 1) * s for n, s in zip(arr.shape, strides))
            ok = (last + 1) * itemsize <= owner.nbytes
        else:
            ok = False
        if not ok:  # negative or odd strides, or memory we cannot see whole: store a compact copy
            xp = _cupy if _is_cupy(arr) else np
            owner = xp.ascontiguousarray(arr)
            off, strides = 0, _contiguous_strides(arr.shape)
        key = self.owners.get(id(owner))
        if key is None:
            key = str(len(self.storages))
            self.owners[id(owner)] = key
            self.keep.append(owner)
            view = _bytes_view(owner)
            if sys.byteorder != "little" and arr.dtype.itemsize > 1:
                # storages are little-endian: on a big-endian host each array gets its own swapped copy
                owner = np.ascontiguousarray(arr).byteswap()
                view, off, strides = _bytes_view(owner), 0, _contiguous_strides(arr.shape)
                self.keep.append(owner)
            loc = "cpu" if not _is_cupy(arr) else f"cuda:{arr.device.id}"
            self.storages.append((key, view, loc))
        return key, off // itemsize, strides

    def _tensor(self, t):
        arr = t._data
        node = {"t": "parameter" if getattr(t, "_is_param", False) else "tensor", "id": self._new_id(t),
                "dtype": t.dtype.name, "shape": [int(n) for n in arr.shape]}
        if arr.size == 0:
            node.update(storage=None, stride=_contiguous_strides(arr.shape), offset=0)
        else:
            key, off, strides = self._storage(arr)
            node.update(storage=key, stride=strides, offset=off)
        node["requires_grad"] = bool(t._rg)
        return node

    def _qtensor(self, t):
        """A quantized tensor: its integer representation as a plain tensor node, plus the
        quantization parameters (per tensor: ``scale``/``zero_point``; per channel: arrays and ``axis``)."""
        node = {"t": "qtensor", "id": self._new_id(t), "qdtype": t.dtype.name, "qscheme": t.qscheme().name,
                "int_repr": self._tensor(Tensor._make(t._data))}
        if "_scales" in t.__dict__:
            node.update(scales=self._ndarray(t.__dict__["_scales"]), zero_points=self._ndarray(t.__dict__["_zps"]),
                        axis=int(t.__dict__["_axis"]))
        else:
            node.update(scale=_float_node(float(t.__dict__["_scale"])), zero_point=int(t.__dict__["_zp"]))
        return node

    def _ndarray(self, a):
        scalar = isinstance(a, np.generic)
        arr = np.asarray(a)
        name = _np_name(arr.dtype)
        if name is None or not arr.dtype.isnative:
            raise TypeError(f"engine.save cannot store a numpy array of dtype {arr.dtype}")
        node = {"t": "ndarray", "id": self._new_id(a), "dtype": name, "shape": [int(n) for n in arr.shape],
                "scalar": scalar}
        if arr.size == 0:
            node.update(storage=None, stride=_contiguous_strides(arr.shape), offset=0)
        else:
            key, off, strides = self._storage(arr)
            node.update(storage=key, stride=strides, offset=off)
        return node


def _pad_extra(zf, name, nbytes):
    """A zip extra field that makes the entry's data start on a multiple of _ALIGN in the file."""
    try:
        start = zf.start_dir if zf._seekable else zf.fp.tell()
    except Exception:  # pragma: no cover - zipfile internals changed: skip alignment
        return b""
    zip64 = nbytes * 1.05 > zipfile.ZIP64_LIMIT  # the same test zipfile uses
    data_at = start + 30 + len(name.encode("utf-8")) + (20 if zip64 else 0) + 4
    pad = -data_at % _ALIGN
    return b"GL" + struct.pack("<H", pad) + b"\0" * pad


def _zinfo(name, size, extra=b""):
    zi = zipfile.ZipInfo(name, date_time=_DATE)
    zi.compress_type = zipfile.ZIP_STORED
    zi.external_attr = 0o644 << 16
    zi.file_size = size
    zi.extra = extra
    return zi


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save ``obj`` to ``f`` (a path or a writable binary file) as a Gradlab checkpoint.

    ``obj`` may be a tensor or any nesting of the types in ``docs/checkpoint-format.md``; the pickle
    arguments of ``torch.save`` are accepted and ignored (nothing is pickled)."""
    enc = _Encoder()
    root = enc.encode(obj)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "byteorder": "little",
        "storages": [{"key": k, "nbytes": int(v.nbytes), "location": loc} for k, v, loc in enc.storages],
        "root": root,
    }
    blob = json.dumps(manifest, allow_nan=False, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "wb") as fh:
            _write(fh, blob, enc.storages)
    elif hasattr(f, "write"):
        _write(f, blob, enc.storages)
    else:
        raise AttributeError(f"expected 'f' to be string, path, or a file-like object with a 'write' attribute, "
                             f"got {type(f).__name__}")


def _write(fh, blob, storages):
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_zinfo(_MANIFEST, len(blob)), blob)
        for key, view, _loc in storages:
            name = _DATA + key
            n = int(view.nbytes)
            with zf.open(_zinfo(name, n, _pad_extra(zf, name, n)), "w") as out:
                for i in range(0, n, _CHUNK):
                    chunk = view[i:i + _CHUNK]
                    out.write(memoryview(chunk if not _is_cupy(chunk) else _cupy.asnumpy(chunk)))


# ---------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError, struct.error,
               NotImplementedError, OverflowError, IndexError, TypeError)


class _Archive:
    """Read access to the zip entries, with every failure turned into a CheckpointError."""

    def __init__(self, fh, name, mm):
        self.name = name
        self.mm = mm
        try:
            self.zf = zipfile.ZipFile(fh)
            self.names = self.zf.namelist()
        except _ZIP_ERRORS as e:
            raise _corrupt(name, f"{e} (the zip directory at the end of the file is missing or damaged; was the "
                                 "file cut short?)") from None

    def info(self, entry):
        try:
            return self.zf.getinfo(entry)
        except KeyError:
            raise _corrupt(self.name, f"the archive has no entry {entry!r}") from None

    def read(self, entry, limit=_MAX_MANIFEST):
        zi = self.info(entry)
        if zi.file_size > limit:
            raise _corrupt(self.name, f"entry {entry!r} claims {zi.file_size} bytes")
        try:
            return self.zf.read(zi)
        except _ZIP_ERRORS as e:
            raise _corrupt(self.name, f"cannot read entry {entry!r}: {e}") from None

    def array(self, entry, nbytes):
        """The entry as a flat, writable uint8 array: read in chunks into one buffer (checking its
        CRC), or with mmap a copy-on-write view of the file."""
        zi = self.info(entry)
        if zi.file_size != nbytes:
            raise _corrupt(self.name, f"entry {entry!r} holds {zi.file_size} bytes, the checkpoint says {nbytes}")
        if self.mm is not None:
            return self._mapped(zi, nbytes)
        buf = np.empty(nbytes, np.uint8)
        mv = memoryview(buf)
        try:
            with self.zf.open(zi) as src:
                pos = 0
                while pos < nbytes:
                    got = src.readinto(mv[pos:pos + _CHUNK])
                    if not got:
                        raise EOFError(f"entry {entry!r} ends after {pos} of {nbytes} bytes")
                    pos += got
                if src.read(1):
                    raise ValueError(f"entry {entry!r} is longer than {nbytes} bytes")
        except _ZIP_ERRORS as e:
            raise _corrupt(self.name, f"cannot read entry {entry!r}: {e}") from None
        return buf

    def _mapped(self, zi, nbytes):
        mm = self.mm
        if zi.compress_type != zipfile.ZIP_STORED:
            raise _corrupt(self.name, f"entry {zi.filename!r} is compressed; mmap=True needs stored entries")
        at = zi.header_offset
        head = mm[at:at + 30]
        if len(head) != 30 or head[:4] != _ZIP_MAGIC:
            raise _corrupt(self.name, f"bad local header for entry {zi.filename!r}")
        n, m = struct.unpack("<HH", head[26:30])
        start = at + 30 + n + m
        if start + nbytes > len(mm):
            raise _corrupt(self.name, f"entry {zi.filename!r} runs past the end of the file")
        if nbytes == 0:
            return np.empty(0, np.uint8)
        return np.frombuffer(mm, np.uint8, count=nbytes, offset=start)


def _describe(f):
    if isinstance(f, (str, bytes, os.PathLike)):
        return repr(os.fsdecode(f))
    n = getattr(f, "name", None)
    return repr(n) if isinstance(n, str) else "the checkpoint file"


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved by ``engine.save`` (or a tensor state_dict saved by ``torch.save``).

    ``map_location`` is a device, a string, a dict mapping saved locations to new ones, or a callable
    ``(storage, location) -> storage | None``, as in ``torch.load``.  ``mmap=True`` (paths only) maps
    tensor data from the file copy-on-write instead of reading it.  ``weights_only`` is accepted for
    compatibility: Gradlab loads only data whatever its value and never unpickles."""
    name = _describe(f)
    is_path = isinstance(f, (str, bytes, os.PathLike))
    if mmap and not is_path:
        raise ValueError("f must be a file path in order to use the mmap argument")
    if is_path:
        with open(f, "rb") as fh:
            mm = None
            if mmap:
                size = os.fstat(fh.fileno()).st_size
                if size:
                    mm = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_COPY)
            return _load(fh, name, map_location, mm)
    if not hasattr(f, "read"):
        raise AttributeError(f"expected 'f' to be string, path, or a file-like object with a 'read' attribute, "
                             f"got {type(f).__name__}")
    seekable = getattr(f, "seekable", None)
    if seekable is None or not seekable():
        import io

        f = io.BytesIO(f.read())
    return _load(f, name, map_location, None)


def _load(fh, name, map_location, mm):
    start = fh.tell()
    head = fh.read(8)
    fh.seek(start)
    if not head:
        raise _corrupt(name, "the file is empty (0 bytes)")
    if not head.startswith(_ZIP_MAGIC):
        if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]", b"c"):
            raise UnsafeCheckpointError(
                f"weights_only load failed: {name} is not a Gradlab checkpoint: it is a pickle file (plain pickle "
                "or torch.save's legacy format). Gradlab never unpickles data from a file, because unpickling can "
                "run arbitrary code; re-save it with torch.save's default zip format or engine.save.")
        if head.startswith(b"\x93NUMPY"):
            raise _corrupt(name, "it is a numpy .npy file, not a Gradlab checkpoint; read it with numpy.load")
        if len(head) < 4:
            raise _corrupt(name, f"the file is only {len(head)} bytes long")
        raise _corrupt(name, f"it does not start with the zip signature PK\\x03\\x04 (starts with {head[:4]!r}); "
                             "it is not a Gradlab checkpoint")
    ar = _Archive(fh, name, mm)
    if _MANIFEST in ar.names:
        return _load_gradlab(ar, map_location)
    pkl = [n for n in ar.names if n.endswith("/data.pkl") and n.count("/") == 1]
    if pkl:
        return _load_torch(ar, pkl[0][:-len("data.pkl")], map_location)
    raise _corrupt(name, f"the zip archive has no {_MANIFEST} (nor a PyTorch data.pkl): it is not a Gradlab checkpoint")


# -- the Gradlab format -----------------------------------------------------------------------
def _reject_constant(c):
    raise ValueError(f"non-standard JSON constant {c}")


def _load_gradlab(ar, map_location):
    name = ar.name
    raw = ar.read(_MANIFEST)
    try:
        man = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _corrupt(name, f"the manifest is not valid JSON: {e}") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise _corrupt(name, "the manifest does not declare format 'gradlab-checkpoint'")
    version = man.get("version")
    if type(version) is not int:
        raise _corrupt(name, "the manifest has no format version")
    if version > VERSION:
        raise RuntimeError(f"{name} was written by a newer Gradlab (checkpoint format version {version}); this "
                           f"version reads format version {VERSION}")
    byteorder = man.get("byteorder", "little")
    if byteorder not in ("little", "big") or "root" not in man or not isinstance(man.get("storages"), list):
        raise _corrupt(name, "the manifest lacks 'byteorder', 'storages' or 'root'")
    storages = {}
    for s in man["storages"]:
        if not (isinstance(s, dict) and isinstance(s.get("key"), str) and s["key"].isalnum()
                and type(s.get("nbytes")) is int and s["nbytes"] >= 0 and isinstance(s.get("location"), str)):
            raise _corrupt(name, f"invalid storage record {s!r}")
        if s["key"] in storages:
            raise _corrupt(name, f"storage {s['key']!r} is listed twice")
        buf = ar.array(_DATA + s["key"], s["nbytes"])
        storages[s["key"]] = _place(buf, s["location"], map_location, name)
    dec = _Decoder(name, storages, byteorder != sys.byteorder)
    try:
        return dec.decode(man["root"])
    except RecursionError:
        raise _corrupt(name, "the object tree is nested too deeply") from None


_TYPES = ("null, bool, int, str, float, int (big), complex, bytes, list, tuple, dict, odict, set, frozenset, ref, "
          "tensor, parameter, qtensor, ndarray, size, dtype, device")


class _Decoder:
    def __init__(self, name, storages, swap):
        self.name = name
        self.storages = storages
        self.swap = swap
        self.memo = {}
        self.handlers = {
            "float": self._float, "int": self._int, "complex": self._complex, "bytes": self._bytes,
            "list": self._list, "tuple": self._tuple, "dict": self._dict, "odict": self._dict, "set": self._set,
            "frozenset": self._tuple, "ref": self._ref, "tensor": self._tensor, "parameter": self._tensor,
            "ndarray": self._ndarray, "size": self._size, "dtype": self._dtype, "device": self._device,
            "qtensor": self._qtensor,
        }

    def bad(self, what):
        return _corrupt(self.name, what)

    def field(self, node, key, types):
        v = node.get(key, KeyError)
        if v is KeyError or not isinstance(v, types) or (isinstance(v, bool) and bool not in _tuple(types)):
            raise self.bad(f"node {node.get('t')!r} has an invalid {key!r} field")
        return v

    def decode(self, node):
        tp = type(node)
        if node is None or tp is bool or tp is str or tp is int:
            return node
        if tp is not dict:
            raise self.bad(f"unexpected JSON value {node!r} in the object tree")
        t = node.get("t")
        handler = self.handlers.get(t) if isinstance(t, str) else None
        if handler is None:
            raise UnsafeCheckpointError(
                f"weights_only load failed: {self.name} is not a Gradlab checkpoint this version can read: its "
                f"manifest names the unknown type {t!r}. Gradlab only constructs the types {_TYPES}, and never "
                "runs code from a checkpoint.")
        return handler(node)

    def remember(self, node, obj):
        i = self.field(node, "id", int)
        if i in self.memo:
            raise self.bad(f"object id {i} is defined twice")
        self.memo[i] = obj
        return obj

    def _ref(self, node):
        i = self.field(node, "id", int)
        if i not in self.memo:
            raise self.bad(f"reference to object id {i} before it is defined")
        return self.memo[i]

    def _float(self, node):
        v = self.field(node, "v", str)
        try:
            x = float.fromhex(v)
            if "bits" in node:
                x = struct.unpack(">d", bytes.fromhex(self.field(node, "bits", str)))[0]
        except (ValueError, OverflowError, struct.error):
            raise self.bad(f"invalid float {v!r}") from None
        return x

    def _int(self, node):
        try:
            return int(self.field(node, "v", str), 16)
        except ValueError:
            raise self.bad("invalid big int") from None

    def _complex(self, node):
        return complex(self._float(self.field(node, "real", dict)), self._float(self.field(node, "imag", dict)))

    def _bytes(self, node):
        try:
            return base64.b64decode(self.field(node, "b64", str), validate=True)
        except ValueError:
            raise self.bad("invalid base64 in a bytes node") from None

    def _list(self, node):
        out = self.remember(node, [])
        out.extend(self.decode(v) for v in self.field(node, "items", list))
        return out

    def _set(self, node):
        out = self.remember(node, set())
        for v in self.field(node, "items", list):
            out.add(self.hashable(v))
        return out

    def _tuple(self, node):
        items = self.field(node, "items", list)
        if node["t"] == "tuple":
            obj = tuple(self.decode(v) for v in items)
        else:
            obj = frozenset(self.hashable(v) for v in items)
        return self.remember(node, obj)

    def hashable(self, v):
        x = self.decode(v)
        try:
            hash(x)
        except TypeError:
            raise self.bad(f"unhashable {type(x).__name__} used as a dict key or set member") from None
        return x

    def _dict(self, node):
        out = self.remember(node, {} if node["t"] == "dict" else OrderedDict())
        for pair in self.field(node, "items", list):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise self.bad("dict items must be [key, value] pairs")
            k = self.hashable(pair[0])
            out[k] = self.decode(pair[1])
        attrs = node.get("attrs")
        if attrs is not None:
            if node["t"] != "odict" or not isinstance(attrs, dict):
                raise self.bad("only an OrderedDict node may carry attributes")
            for k, v in attrs.items():
                if not k.isidentifier() or k.startswith("__"):
                    raise self.bad(f"invalid attribute name {k!r}")
                setattr(out, k, self.decode(v))
        return out

    def _array(self, node, dt):
        shape = self.field(node, "shape", list)
        stride = self.field(node, "stride", list)
        key = node.get("storage")
        if key is None:
            if 0 not in shape:
                raise self.bad("a tensor without storage must be empty")
            return np.empty(tuple(shape), dt)
        if key not in self.storages:
            raise self.bad(f"a tensor refers to unknown storage {key!r}")
        arr = _strided(self.storages[key], dt, shape, stride, node.get("offset"), self.name)
        if self.swap and arr.dtype.itemsize > 1:
            arr = arr.view(arr.dtype.newbyteorder()).astype(arr.dtype)
        return arr

    _QINT = {"qint8": "int8", "quint8": "uint8", "qint32": "int32"}
    _QSCHEMES = ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
                 "per_channel_affine_float_qparams")

    def _qtensor(self, node):
        from .quantization import _qtensor as q

        qdtype = self.field(node, "qdtype", str)
        scheme = self.field(node, "qscheme", str)
        if qdtype not in self._QINT or scheme not in self._QSCHEMES:
            raise self.bad(f"unknown quantized dtype {qdtype!r} or scheme {scheme!r}")
        rep = self.field(node, "int_repr", dict)
        if rep.get("t") != "tensor" or rep.get("dtype") != self._QINT[qdtype]:
            raise self.bad(f"a {qdtype} tensor must hold {self._QINT[qdtype]} integers")
        data = self._tensor(rep)._data
        if "axis" in node:
            scales = np.asarray(self._ndarray(self.field(node, "scales", dict)), dtype=np.float64)
            zps = np.asarray(self._ndarray(self.field(node, "zero_points", dict)), dtype=np.int64)
            axis = self.field(node, "axis", int)
            if not (0 <= axis < data.ndim and scales.shape == zps.shape == (data.shape[axis],)):
                raise self.bad("per-channel quantization parameters do not fit the tensor")
            params = {"_scales": scales, "_zps": zps, "_axis": axis}
        else:
            scale = self._float(self.field(node, "scale", dict))
            if not (np.isfinite(scale) and scale > 0):
                raise self.bad("a quantized tensor's scale must be a positive finite number")
            params = {"_scale": scale, "_zp": self.field(node, "zero_point", int)}
        return self.remember(node, q._rebuild_q(data, qdtype, scheme, params))

    def _tensor(self, node):
        dname = self.field(node, "dtype", str)
        if dname not in _dt._names:
            raise self.bad(f"unknown tensor dtype {dname!r}")
        rg = self.field(node, "requires_grad", bool)
        arr = self._array(node, _dt._names[dname].np)
        if rg and arr.dtype.kind != "f":
            raise self.bad(f"a {dname} tensor cannot require grad")
        if node["t"] == "parameter":
            from .nn.parameter import Parameter

            t = Parameter(Tensor._make(arr), requires_grad=rg)
        else:
            t = Tensor._make(arr, rg)
        return self.remember(node, t)

    def _ndarray(self, node):
        dname = self.field(node, "dtype", str)
        if dname not in _NP_DTYPES:
            raise self.bad(f"unknown numpy dtype {dname!r}")
        arr = self._array(node, _NP_DTYPES[dname])
        if _is_cupy(arr):
            arr = _cupy.asnumpy(arr)
        if self.field(node, "scalar", bool):
            if arr.ndim:
                raise self.bad("a numpy scalar must have shape []")
            arr = arr[()]
        return self.remember(node, arr)

    def _size(self, node):
        items = self.field(node, "items", list)
        if not all(type(v) is int for v in items):
            raise self.bad("a Size holds ints only")
        return Size(items)

    def _dtype(self, node):
        n = self.field(node, "name", str)
        if n not in _dt._names and n not in _dt._quantized:
            raise self.bad(f"unknown dtype {n!r}")
        return _dt._by_name(n)

    def _device(self, node):
        idx = node.get("index")
        if idx is not None and type(idx) is not int:
            raise self.bad("invalid device index")
        try:
            return _device(self.field(node, "type", str), idx)
        except (RuntimeError, TypeError) as e:
            raise self.bad(f"invalid device: {e}") from None


def _tuple(types):
    return types if isinstance(types, tuple) else (types,)


# -- PyTorch's zip format ---------------------------------------------------------------------
class _StorageType:
    def __init__(self, name, np_dtype):
        self.name, self.np = name, np.dtype(np_dtype)


_TORCH_STORAGES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16", "LongStorage": "int64",
    "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "BFloat16Storage": "uint16",  # bfloat16 is widened to float32 on load
}


class _Func:
    """An allow-listed callable; REDUCE only ever calls these."""

    def __init__(self, qual, fn):
        self.qual, self.fn = qual, fn


class _Type:
    def __init__(self, qual):
        self.qual = qual


class _LoadedStorage:
    def __init__(self, arr, dtype_name):
        self.arr, self.dtype_name = arr, dtype_name


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None,
                    *, _name="the checkpoint"):
    if not isinstance(storage, _LoadedStorage):
        raise _corrupt(_name, "a tensor is rebuilt from something that is not a storage")
    arr = _strided(storage.arr, storage.arr.dtype, list(size), list(stride), storage_offset, _name)
    if requires_grad and arr.dtype.kind != "f":
        raise _corrupt(_name, "an integer tensor cannot require grad")
    return Tensor._make(arr, bool(requires_grad))


def _rebuild_parameter(data, requires_grad, backward_hooks=None, state=None):
    from .nn.parameter import Parameter

    if not isinstance(data, Tensor):
        raise TypeError("_rebuild_parameter expects a tensor")
    return Parameter(data, requires_grad=bool(requires_grad))


def _ordered_dict(*args):
    return OrderedDict(*args)


def _codecs_encode(s, encoding="utf-8"):
    if not isinstance(s, str) or encoding not in ("latin1", "latin-1"):
        raise TypeError("only _codecs.encode(str, 'latin1') is allowed")
    return s.encode("latin1")


def _torch_globals(name):
    g = {
        ("collections", "OrderedDict"): _Func("collections.OrderedDict", _ordered_dict),
        ("torch._utils", "_rebuild_tensor_v2"): _Func(
            "torch._utils._rebuild_tensor_v2", lambda *a: _rebuild_tensor(*a, _name=name)),
        ("torch._utils", "_rebuild_tensor"): _Func(
            "torch._utils._rebuild_tensor", lambda *a: _rebuild_tensor(*a, _name=name)),
        ("torch._utils", "_rebuild_parameter"): _Func("torch._utils._rebuild_parameter", _rebuild_parameter),
        ("torch._utils", "_rebuild_parameter_with_state"): _Func(
            "torch._utils._rebuild_parameter_with_state", _rebuild_parameter),
        ("torch._tensor", "_rebuild_from_type_v2"): _Func("torch._tensor._rebuild_from_type_v2", _rebuild_from_type),
        ("torch", "Size"): _Func("torch.Size", lambda items=(): Size(int(i) for i in items)),
        ("torch", "device"): _Func("torch.device", lambda *a: _device(*a)),
        ("_codecs", "encode"): _Func("_codecs.encode", _codecs_encode),
        ("torch", "Tensor"): _Type("torch.Tensor"),
        ("torch.nn.parameter", "Parameter"): _Type("torch.nn.parameter.Parameter"),
    }
    for k, v in _TORCH_STORAGES.items():
        g[("torch", k)] = _StorageType(k, v)
    for d in _dt.ALL:
        g[("torch", d.name)] = d
    return g


def _rebuild_from_type(func, new_type, args, state):
    if not isinstance(func, _Func) or not isinstance(new_type, _Type):
        raise TypeError("_rebuild_from_type_v2 with a type Gradlab does not know")
    t = func.fn(*args)
    if new_type.qual.endswith("Parameter") and not getattr(t, "_is_param", False):
        t = _rebuild_parameter(t, t._rg)
    if state:
        if not isinstance(state, dict) or not all(isinstance(k, str) and not k.startswith("__") for k in state):
            raise TypeError("invalid tensor state")
        t.__dict__.update(state)
    return t


class _PickleMachine:
    """Runs the opcodes of a ``torch.save`` data.pkl without ``pickle``: a stack machine that builds
    only plain data and allow-listed objects.  Unknown opcodes and globals are refused."""

    def __init__(self, data, name, persistent_load):
        self.data = data
        self.pos = 0
        self.name = name
        self.persistent_load = persistent_load
        self.globals = _torch_globals(name)

    def take(self, n):
        p = self.pos
        if n < 0 or p + n > len(self.data):
            raise _corrupt(self.name, "data.pkl ends in the middle of an opcode")
        self.pos = p + n
        return self.data[p:p + n]

    def line(self):
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise _corrupt(self.name, "data.pkl ends in the middle of an opcode")
        s = self.data[self.pos:end]
        self.pos = end + 1
        return s.decode("utf-8", "strict")

    def refuse(self, what):
        return UnsafeCheckpointError(
            f"weights_only load failed: {self.name} is a PyTorch checkpoint that needs {what}, which Gradlab refuses "
            "to load. Only tensors, parameters, OrderedDict, torch.Size, dtypes, devices and plain Python data (the "
            "contents of a state_dict) can be read from a PyTorch file; Gradlab never runs code from a checkpoint, "
            "even with weights_only=False. Save model.state_dict() instead of the model or other objects.")

    def find_class(self, module, qual):
        obj = self.globals.get((module, qual))
        if obj is None:
            raise self.refuse(f"the global {module}.{qual}")
        return obj

    def run(self):
        stack, marks, memo = [], [], {}
        take = self.take

        def pop_mark():
            if not marks:
                raise _corrupt(self.name, "data.pkl pops a mark that was never pushed")
            items = stack[marks[-1]:]
            del stack[marks.pop():]
            return items

        while True:
            op = take(1)
            try:
                if op == b"\x80":  # PROTO
                    take(1)
                elif op == b"\x95":  # FRAME
                    take(8)
                elif op == b".":  # STOP
                    if len(stack) != 1:
                        raise _corrupt(self.name, "data.pkl leaves a malformed stack")
                    return stack[0]
                elif op == b"(":
                    marks.append(len(stack))
                elif op == b"}":
                    stack.append({})
                elif op == b"]":
                    stack.append([])
                elif op == b")":
                    stack.append(())
                elif op == b"\x8f":  # EMPTY_SET
                    stack.append(set())
                elif op == b"t":
                    stack.append(tuple(pop_mark()))
                elif op in (b"\x85", b"\x86", b"\x87"):  # TUPLE1..3
                    n = op[0] - 0x84
                    if len(stack) < n:
                        raise IndexError("stack underflow")
                    items = tuple(stack[len(stack) - n:])
                    del stack[len(stack) - n:]
                    stack.append(items)
                elif op == b"N":
                    stack.append(None)
                elif op == b"\x88":
                    stack.append(True)
                elif op == b"\x89":
                    stack.append(False)
                elif op == b"J":
                    stack.append(struct.unpack("<i", take(4))[0])
                elif op == b"K":
                    stack.append(take(1)[0])
                elif op == b"M":
                    stack.append(struct.unpack("<H", take(2))[0])
                elif op == b"\x8a":  # LONG1
                    stack.append(int.from_bytes(take(take(1)[0]), "little", signed=True))
                elif op == b"\x8b":  # LONG4
                    n = struct.unpack("<i", take(4))[0]
                    stack.append(int.from_bytes(take(n), "little", signed=True))
                elif op == b"G":
                    stack.append(struct.unpack(">d", take(8))[0])
                elif op == b"X":
                    stack.append(take(struct.unpack("<I", take(4))[0]).decode("utf-8", "surrogatepass"))
                elif op == b"\x8c":
                    stack.append(take(take(1)[0]).decode("utf-8", "surrogatepass"))
                elif op == b"\x8d":
                    stack.append(take(struct.unpack("<Q", take(8))[0]).decode("utf-8", "surrogatepass"))
                elif op == b"B":
                    stack.append(bytes(take(struct.unpack("<I", take(4))[0])))
                elif op == b"C":
                    stack.append(bytes(take(take(1)[0])))
                elif op == b"\x8e":
                    stack.append(bytes(take(struct.unpack("<Q", take(8))[0])))
                elif op == b"q":
                    memo[take(1)[0]] = stack[-1]
                elif op == b"r":
                    memo[struct.unpack("<I", take(4))[0]] = stack[-1]
                elif op == b"\x94":  # MEMOIZE
                    memo[len(memo)] = stack[-1]
                elif op == b"h":
                    stack.append(memo[take(1)[0]])
                elif op == b"j":
                    stack.append(memo[struct.unpack("<I", take(4))[0]])
                elif op == b"c":  # GLOBAL
                    module = self.line()
                    stack.append(self.find_class(module, self.line()))
                elif op == b"\x93":  # STACK_GLOBAL
                    qual, module = stack.pop(), stack.pop()
                    if not (isinstance(module, str) and isinstance(qual, str)):
                        raise _corrupt(self.name, "STACK_GLOBAL with non-string names")
                    stack.append(self.find_class(module, qual))
                elif op == b"R":  # REDUCE
                    args = stack.pop()
                    func = stack.pop()
                    if not isinstance(func, _Func):
                        raise self.refuse(f"a call to {getattr(func, 'qual', type(func).__name__)}")
                    if not isinstance(args, tuple):
                        raise _corrupt(self.name, "REDUCE without an argument tuple")
                    try:
                        stack.append(func.fn(*args))
                    except (CheckpointError, UnsafeCheckpointError):
                        raise
                    except (TypeError, ValueError, RuntimeError) as e:
                        raise _corrupt(self.name, f"data.pkl calls {func.qual} with invalid arguments: {e}") from None
                elif op == b"Q":  # BINPERSID
                    stack.append(self.persistent_load(stack.pop()))
                elif op == b"b":  # BUILD
                    state = stack.pop()
                    obj = stack[-1]
                    if not (type(obj) is OrderedDict and type(state) is dict
                            and all(isinstance(k, str) and k.isidentifier() and not k.startswith("__") for k in state)):
                        raise self.refuse(f"setting the state of a {type(obj).__name__}")
                    for k, v in state.items():
                        setattr(obj, k, v)
                elif op == b"s":
                    v = stack.pop()
                    k = stack.pop()
                    self._dict(stack[-1])[k] = v
                elif op == b"u":
                    items = pop_mark()
                    d = self._dict(stack[-1])
                    if len(items) % 2:
                        raise _corrupt(self.name, "SETITEMS with an odd number of items")
                    for i in range(0, len(items), 2):
                        d[items[i]] = items[i + 1]
                elif op == b"a":
                    v = stack.pop()
                    self._list(stack[-1]).append(v)
                elif op == b"e":
                    items = pop_mark()
                    self._list(stack[-1]).extend(items)
                elif op == b"\x90":  # ADDITEMS
                    items = pop_mark()
                    if type(stack[-1]) is not set:
                        raise _corrupt(self.name, "ADDITEMS on a non-set")
                    stack[-1].update(items)
                elif op == b"\x91":  # FROZENSET
                    stack.append(frozenset(pop_mark()))
                elif op == b"0":
                    stack.pop()
                elif op == b"1":
                    pop_mark()
                elif op == b"2":
                    stack.append(stack[-1])
                else:
                    raise self.refuse(f"the pickle opcode {op!r}")
            except (IndexError, KeyError, UnicodeDecodeError, struct.error):
                raise _corrupt(self.name, f"data.pkl is malformed near byte {self.pos}") from None
            except TypeError as e:
                raise _corrupt(self.name, f"data.pkl is malformed near byte {self.pos}: {e}") from None

    def _dict(self, d):
        if type(d) not in (dict, OrderedDict):
            raise _corrupt(self.name, "SETITEM on something that is not a dict")
        return d

    def _list(self, d):
        if type(d) is not list:
            raise _corrupt(self.name, "APPEND on something that is not a list")
        return d


def _load_torch(ar, prefix, map_location):
    name = ar.name
    byteorder = "little"
    if prefix + "byteorder" in ar.names:
        byteorder = ar.read(prefix + "byteorder", 16).decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise _corrupt(name, f"unknown byteorder {byteorder!r}")
    swap = byteorder != sys.byteorder
    loaded = {}
    warned = []

    def persistent_load(pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise _corrupt(name, f"unsupported persistent id {pid!r}")
        _, stype, key, location, numel = pid
        if not isinstance(stype, _StorageType):
            raise _corrupt(name, f"persistent id with storage type {stype!r}")
        if not (isinstance(key, str) and key.isalnum() and isinstance(location, str) and type(numel) is int
                and numel >= 0):
            raise _corrupt(name, f"invalid persistent id {pid!r}")
        if key in loaded:
            return loaded[key]
        buf = ar.array(prefix + "data/" + key, numel * stype.np.itemsize)
        arr = buf.view(stype.np)
        if swap and stype.np.itemsize > 1:
            arr = arr.byteswap()
        if stype.name == "BFloat16Storage":
            if not warned:
                warnings.warn(f"{name} holds bfloat16 tensors; numpy has no bfloat16, so Gradlab loads them as "
                              "float32 (exactly: every bfloat16 value is a float32 value)", stacklevel=4)
                warned.append(True)
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        s = loaded[key] = _LoadedStorage(_place(arr, location, map_location, name), stype.name)
        return s

    data = ar.read(prefix + "data.pkl")
    return _PickleMachine(data, name, persistent_load).run()
