"""engine.save / engine.load: exact round trips, torch interop and hostile or damaged files."""
import io
import json
import math
import os
import pathlib
import pickle
import struct
import tracemalloc
import warnings
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

import engine
from engine.nn import Parameter
from engine.serialization import CheckpointError, UnsafeCheckpointError

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def roundtrip(obj, **kw):
    buf = io.BytesIO()
    engine.save(obj, buf)
    buf.seek(0)
    return engine.load(buf, **kw)


def blob(obj):
    buf = io.BytesIO()
    engine.save(obj, buf)
    return buf.getvalue()


def same(a, b):
    """Exact equality of two loaded trees: container types, key types, tensor bits and flags."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, engine.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        assert a._data.tobytes() == b._data.tobytes()
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    elif isinstance(a, (dict, OrderedDict)):
        assert list(a.keys()) == list(b.keys())
        assert [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b)
    else:
        assert a == b


def sample(dt, shape):
    n = int(np.prod(shape)) if shape else 1
    rng = np.random.default_rng(0)
    if dt == "bool":
        a = rng.random(n) > 0.5
    elif dt.startswith("float"):
        a = rng.standard_normal(n)
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, n, endpoint=True)
    return a.astype(dt).reshape(shape)


# -- tensors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (5,), (2, 3, 4)])
def test_tensor_roundtrip_every_dtype_and_shape(dt, shape):
    t = engine.tensor(sample(dt, shape))
    r = roundtrip(t)
    same(t, r)
    assert type(r) is engine.Tensor and r.stride() == t.stride()
    # the same bytes as torch sees them
    assert np.array_equal(r.numpy(), torch.from_numpy(sample(dt, shape)).numpy())


@pytest.mark.parametrize("dt", DTYPES)
def test_non_contiguous_tensors(dt):
    base = engine.tensor(sample(dt, (4, 6)))
    views = {"t": base.t(), "step": base[:, ::2], "slice": base[1:3, 2:], "col": base[:, 1], "elem": base[2, 3]}
    r = roundtrip(views)
    for k, v in views.items():
        assert r[k].shape == v.shape and r[k].stride() == v.stride(), k
        assert np.array_equal(r[k].numpy(), v.numpy()), k
    tv = torch.from_numpy(sample(dt, (4, 6)))
    assert r["t"].stride() == tv.t().stride() and r["step"].stride() == tv[:, ::2].stride()


def test_negative_stride_views_are_stored_compact():
    a = engine.tensor(np.arange(6.0)[::-1].copy())
    a._data = np.arange(6.0)[::-1]  # a numpy view with a negative stride
    r = roundtrip(a)
    assert r.tolist() == [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]


def test_expanded_tensor_keeps_zero_stride_and_small_storage():
    t = engine.tensor([1.0, 2.0, 3.0]).expand(1000, 3)
    data = blob(t)
    assert len(data) < 2000
    r = engine.load(io.BytesIO(data))
    # a sum of 3000 small integers is exact in float32 in any order
    assert r.shape == (1000, 3) and r.stride() == t.stride() and r.sum().item() == 6000.0


def test_requires_grad_and_parameters():
    x = engine.ones(3, requires_grad=True)
    y = x * 2  # non-leaf: torch saves requires_grad=True and loads a leaf
    p = Parameter(engine.randn(2, 2))
    q = Parameter(engine.randn(2), requires_grad=False)
    r = roundtrip({"x": x, "y": y, "p": p, "q": q, "plain": engine.zeros(2)})
    assert r["x"].requires_grad and r["x"].is_leaf
    assert r["y"].requires_grad and r["y"].is_leaf and r["y"].grad_fn is None
    assert type(r["p"]) is Parameter and r["p"].requires_grad
    assert type(r["q"]) is Parameter and not r["q"].requires_grad
    assert not r["plain"].requires_grad
    same(p, r["p"])
    r["p"].sum().backward()
    assert r["p"].grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    # torch agrees on the flags
    tb = io.BytesIO()
    tx = torch.ones(3, requires_grad=True)
    torch.save({"y": tx * 2, "q": torch.nn.Parameter(torch.zeros(2), requires_grad=False)}, tb)
    tb.seek(0)
    tr = torch.load(tb)
    assert tr["y"].requires_grad and tr["y"].is_leaf and not tr["q"].requires_grad


def test_shared_objects_and_storages():
    a = engine.arange(10.0)
    p = Parameter(engine.randn(3))
    obj = {"a": a, "v": a[2:5], "again": a, "p": p, "pdata": p.detach(), "l": [1], "l2": None}
    obj["l2"] = obj["l"]
    r = roundtrip(obj)
    assert r["a"] is r["again"] and r["l"] is r["l2"]
    r["v"][0] = 100.0  # views share the loaded storage, as in torch
    assert r["a"][2].item() == 100.0
    r["pdata"][0] = 7.0
    assert r["p"][0].item() == 7.0
    # torch: same behaviour for the same structure
    ta = torch.arange(10.0)
    buf = io.BytesIO()
    torch.save({"a": ta, "v": ta[2:5], "again": ta}, buf)
    buf.seek(0)
    tr = torch.load(buf)
    tr["v"][0] = 100.0
    assert tr["a"] is tr["again"] and tr["a"][2].item() == 100.0
    # one storage entry for the base and its view
    names = zipfile.ZipFile(io.BytesIO(blob({"a": a, "v": a[2:5]}))).namelist()
    assert [n for n in names if n.startswith("gradlab/data/")] == ["gradlab/data/0"]


def test_self_referencing_list_and_dict():
    lst = [1]
    lst.append(lst)
    d = {"me": None}
    d["me"] = d
    r = roundtrip({"lst": lst, "d": d})
    assert r["lst"][1] is r["lst"] and r["d"]["me"] is r["d"]
    t = ([],)
    t[0].append(t)
    with pytest.raises(ValueError, match="contains itself"):
        engine.save(t, io.BytesIO())


# -- plain data ----------------------------------------------------------------------------------
def test_containers_and_scalars_roundtrip_exactly():
    od = OrderedDict([("b", 1), ("a", 2)])
    obj = {
        "none": None, "t": True, "f": False, "int": -7, "big": 2 ** 100, "neg_big": -(2 ** 64) - 1,
        "float": 0.1, "negzero": -0.0, "nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"),
        "tiny": 5e-324, "str": "héllo \u2603 \ud800", "bytes": bytes(range(256)), "complex": 1.5 - 2j,
        "tuple": (1, (2, 3), []), "empty_tuple": (), "list": [1, [2, [3]]], "od": od,
        "set": {1, 2, "x"}, "frozen": frozenset({(1, 2)}), "size": engine.Size([2, 3]),
        "dtypes": [getattr(engine, n) for n in DTYPES], "devs": [engine.device("cpu"), engine.device("cuda", 1)],
        1: "int key", 2.5: "float key", (1, "a"): "tuple key", None: "none key", True: "bool key",
        "np": np.arange(6, dtype=np.int16).reshape(2, 3), "np_scalar": np.float32(1.25), "np64": np.float64(2.5),
    }
    r = roundtrip(obj)
    same({k: v for k, v in obj.items() if k not in ("set", "frozen", "nan")},
         {k: v for k, v in r.items() if k not in ("set", "frozen", "nan")})
    assert r["set"] == obj["set"] and type(r["set"]) is set
    assert r["frozen"] == obj["frozen"] and type(r["frozen"]) is frozenset
    assert math.isnan(r["nan"])
    assert type(r["size"]) is engine.Size and repr(r["size"]) == "torch.Size([2, 3])"
    assert all(a is b for a, b in zip(r["dtypes"], obj["dtypes"]))
    assert r["devs"] == obj["devs"] and type(r["np_scalar"]) is np.float32 and type(r["np64"]) is np.float64
    assert type(r["tuple"]) is tuple and type(r["tuple"][1]) is tuple and type(r["od"]) is OrderedDict
    assert list(r.keys()) == list(obj.keys())


def test_nan_payload_bits_survive():
    x = struct.unpack("<d", bytes.fromhex("0100000000f8ffff"))[0]  # negative NaN with a payload
    assert struct.pack("<d", roundtrip([x])[0]) == struct.pack("<d", x)


def test_ordered_dict_metadata_attribute():
    sd = OrderedDict(w=engine.ones(2))
    sd._metadata = OrderedDict([("", {"version": 1})])
    r = roundtrip(sd)
    assert r._metadata == {"": {"version": 1}} and type(r._metadata) is OrderedDict


def test_optimizer_state_dict_shape():
    sd = {
        "state": {0: {"step": engine.tensor(3.0), "exp_avg": engine.randn(2, 2), "exp_avg_sq": engine.rand(2, 2)},
                  1: {"step": engine.tensor(3.0), "momentum_buffer": None}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False,
                          "foreach": None, "params": [0, 1]}],
    }
    r = roundtrip(sd)
    same(sd, r)
    assert list(r["state"]) == [0, 1] and type(r["param_groups"][0]["betas"]) is tuple


def test_real_optimizer_state_dict():
    w = Parameter(engine.randn(3, 2))
    opt = engine.optim.Adam([w], lr=0.01)
    (w * w).sum().backward()
    opt.step()
    sd = opt.state_dict()
    r = roundtrip(sd)
    same(sd, r)


def test_paths_and_file_objects(tmp_path):
    obj = {"w": engine.randn(3, 3)}
    engine.save(obj, str(tmp_path / "a.pt"))
    engine.save(obj, tmp_path / "b.pt")
    with open(tmp_path / "c.pt", "wb") as fh:
        engine.save(obj, fh)
    for name in "abc":
        same(obj, engine.load(tmp_path / f"{name}.pt"))
        with open(tmp_path / f"{name}.pt", "rb") as fh:
            same(obj, engine.load(fh))
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes() == blob(obj)  # deterministic


def test_unsupported_objects_are_refused_on_save():
    class Thing:
        pass

    for bad in (Thing(), lambda: 0, {"f": print}, np.array([object()], dtype=object)):
        with pytest.raises(TypeError, match="cannot store"):
            engine.save(bad, io.BytesIO())


def test_storage_entries_are_64_byte_aligned():
    data = blob({"a": engine.ones(5), "b": engine.zeros(3, dtype=engine.int8), "c": engine.ones(7)})
    zf = zipfile.ZipFile(io.BytesIO(data))
    for zi in zf.infolist():
        if zi.filename.startswith("gradlab/data/"):
            n, m = struct.unpack("<HH", data[zi.header_offset + 26:zi.header_offset + 30])
            assert (zi.header_offset + 30 + n + m) % 64 == 0 and zi.compress_type == zipfile.ZIP_STORED


def test_manifest_is_plain_json():
    man = json.loads(zipfile.ZipFile(io.BytesIO(blob({1: engine.ones(2)}))).read("gradlab/manifest.json"))
    assert man["format"] == "gradlab-checkpoint" and man["version"] == 1
    assert man["root"]["items"][0][0] == 1 and man["root"]["items"][0][1]["t"] == "tensor"


# -- map_location and mmap -----------------------------------------------------------------------
def test_map_location_forms():
    obj = {"w": engine.randn(4), "v": [engine.ones(2)]}
    for ml in ("cpu", engine.device("cpu"), {"cpu": "cpu"}, {"cuda:3": "cpu"}, lambda s, loc: s,
               lambda s, loc: None):
        r = roundtrip(obj, map_location=ml)
        same(obj, r)
        assert r["w"].device == engine.device("cpu")
    seen = []
    roundtrip(obj, map_location=lambda s, loc: seen.append(loc))
    assert seen == ["cpu", "cpu"]


@pytest.mark.skipif(engine.cuda.is_available(), reason="checks the CPU-only error")
@pytest.mark.parametrize("ml", ["cuda", "cuda:0", {"cpu": "cuda:1"}])
def test_map_location_cuda_without_gpu_raises_torch_error(ml):
    buf = io.BytesIO()
    torch.save({"a": torch.ones(2)}, buf)
    buf.seek(0)
    with pytest.raises(RuntimeError) as te:
        torch.load(buf, map_location=ml)
    with pytest.raises(RuntimeError) as ee:
        roundtrip({"a": engine.ones(2)}, map_location=ml)
    assert str(ee.value) == str(te.value)
    with pytest.raises(RuntimeError, match="don't know how to restore"):
        roundtrip({"a": engine.ones(2)}, map_location="foo")


def test_mmap_is_copy_on_write(tmp_path):
    path = tmp_path / "m.pt"
    w = engine.arange(12.0).reshape(3, 4)
    obj = {"w": w, "t": w.t()}
    engine.save(obj, path)
    before = path.read_bytes()
    r = engine.load(path, mmap=True)
    same(obj, r)
    r["w"][0, 0] = 99.0
    assert r["t"][0, 0].item() == 99.0  # the views still share storage
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="file path"):
        engine.load(io.BytesIO(before), mmap=True)


def test_large_tensor_streams_without_second_copy(tmp_path):
    t = engine.zeros(4 * 1024 * 1024)  # 16 MiB
    path = tmp_path / "big.pt"
    tracemalloc.start()
    try:
        engine.save({"t": t}, path)
        peak_save = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        r = engine.load(path)
        peak_load = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_save < t.nbytes // 2
    assert peak_load < t.nbytes * 1.5
    assert r["t"].shape == t.shape


# -- files written by real torch.save ------------------------------------------------------------
def torch_file(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    buf.seek(0)
    return buf


def test_load_real_torch_state_dict():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    sd = model.state_dict()
    r = engine.load(torch_file(sd))
    assert type(r) is OrderedDict and list(r) == list(sd)
    for k, v in sd.items():
        assert str(r[k].dtype) == str(v.dtype) and tuple(r[k].shape) == tuple(v.shape)
        assert r[k]._data.tobytes() == v.numpy().tobytes()
    assert r._metadata == sd._metadata


def test_load_real_torch_optimizer_and_parameters():
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(lin.parameters())
    lin(torch.randn(4, 3)).sum().backward()
    opt.step()
    base = torch.arange(12.0).reshape(3, 4)
    obj = {"opt": opt.state_dict(), "w": lin.weight, "frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
           "base": base, "view": base.t()[1:], "rg": torch.ones(2, requires_grad=True), "dt": torch.float64,
           "dev": torch.device("cpu"), "size": torch.Size([3, 4]), "b": b"\x00\xff", "f": float("-inf"),
           "zero_d": torch.tensor(5, dtype=torch.int16), "empty": torch.zeros(0, 3)}
    r = engine.load(torch_file(obj))
    assert list(r["opt"]["state"]) == [0, 1] and type(r["opt"]["param_groups"][0]["betas"]) is tuple
    for k in ("exp_avg", "exp_avg_sq", "step"):
        assert r["opt"]["state"][0][k].tolist() == obj["opt"]["state"][0][k].tolist()
    assert type(r["w"]) is Parameter and r["w"].requires_grad and r["w"].tolist() == lin.weight.tolist()
    assert type(r["frozen"]) is Parameter and not r["frozen"].requires_grad
    assert r["rg"].requires_grad and r["view"].tolist() == base.t()[1:].tolist()
    assert r["view"].stride() == base.t()[1:].stride()
    r["view"][0, 0] = -1.0  # the view shares the base's storage, as in torch
    assert r["base"][0, 1].item() == -1.0
    assert r["dt"] is engine.float64 and r["dev"] == engine.device("cpu") and r["size"] == engine.Size([3, 4])
    assert r["b"] == b"\x00\xff" and r["f"] == float("-inf")
    assert r["zero_d"].dtype == engine.int16 and r["zero_d"].item() == 5 and r["empty"].shape == (0, 3)


@pytest.mark.parametrize("dt", DTYPES)
def test_load_real_torch_every_dtype(dt):
    t = torch.from_numpy(sample(dt, (3, 5))).t()
    r = engine.load(torch_file({"x": t}))
    assert str(r["x"].dtype) == str(t.dtype) and np.array_equal(r["x"].numpy(), t.numpy())


def test_load_real_torch_bfloat16_widens_exactly():
    t = torch.randn(10).to(torch.bfloat16)
    with pytest.warns(UserWarning, match="bfloat16"):
        r = engine.load(torch_file(t))
    assert r.dtype == engine.float32 and r.tolist() == t.float().tolist()


def test_load_real_torch_file_with_map_location_and_mmap(tmp_path):
    path = tmp_path / "t.pt"
    torch.save({"a": torch.arange(6.0)}, path)
    assert engine.load(path, map_location="cpu", mmap=True)["a"].tolist() == list(range(6))


# -- hostile files -------------------------------------------------------------------------------
class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvilOpen:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("cls", [Evil, EvilOpen])
@pytest.mark.parametrize("weights_only", [True, False, None])
def test_malicious_torch_checkpoint_is_refused_without_running(tmp_path, cls, weights_only):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(2), "x": cls(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match="weights_only load failed") as ei:
        engine.load(path, weights_only=weights_only)
    assert isinstance(ei.value, RuntimeError) and "refuses" in str(ei.value)
    assert not marker.exists()


def test_plain_and_legacy_pickles_are_refused(tmp_path):
    marker = tmp_path / "PWNED"
    for data in (pickle.dumps(Evil(str(marker))), pickle.dumps(Evil(str(marker)), protocol=0),
                 torch_file(torch.ones(2), _use_new_zipfile_serialization=False).getvalue()):
        with pytest.raises(UnsafeCheckpointError, match="is not a Gradlab checkpoint"):
            engine.load(io.BytesIO(data))
    assert not marker.exists()


def zip_with(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def test_pickle_protocol_4_in_a_torch_shaped_zip_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    for proto in (2, 4, 5):
        buf = zip_with({"archive/data.pkl": pickle.dumps({"x": Evil(str(marker))}, protocol=proto)})
        with pytest.raises(UnsafeCheckpointError, match="posix.system|os.system|nt.system"):
            engine.load(buf)
    assert not marker.exists()


def manifest(root, storages=(), **extra):
    m = {"format": "gradlab-checkpoint", "version": 1, "byteorder": "little", "storages": list(storages),
         "root": root}
    m.update(extra)
    return json.dumps(m)


def test_manifest_with_unknown_type_is_refused():
    buf = zip_with({"gradlab/manifest.json": manifest({"t": "os.system", "args": ["touch /tmp/x"]})})
    with pytest.raises(UnsafeCheckpointError, match="weights_only load failed.*unknown type 'os.system'"):
        engine.load(buf)
    nested = {"t": "dict", "id": 0, "items": [["a", {"t": "pickle", "data": "gASV"}]]}
    with pytest.raises(pickle.UnpicklingError, match="unknown type 'pickle'"):
        engine.load(zip_with({"gradlab/manifest.json": manifest(nested)}))


@pytest.mark.parametrize("root,storages,data,match", [
    ({"t": "tensor", "id": 0, "dtype": "float32", "shape": [100], "stride": [1], "offset": 0, "storage": "0",
      "requires_grad": False}, [{"key": "0", "nbytes": 8, "location": "cpu"}], b"\0" * 8, "reaches byte 400"),
    ({"t": "tensor", "id": 0, "dtype": "float32", "shape": [2], "stride": [-1], "offset": 1, "storage": "0",
      "requires_grad": False}, [{"key": "0", "nbytes": 8, "location": "cpu"}], b"\0" * 8, "geometry"),
    ({"t": "tensor", "id": 0, "dtype": "object", "shape": [1], "stride": [1], "offset": 0, "storage": "0",
      "requires_grad": False}, [{"key": "0", "nbytes": 8, "location": "cpu"}], b"\0" * 8, "unknown tensor dtype"),
    ({"t": "tensor", "id": 0, "dtype": "float32", "shape": [2], "stride": [1], "offset": 0, "storage": "0",
      "requires_grad": False}, [{"key": "0", "nbytes": 16, "location": "cpu"}], b"\0" * 8, "holds 8 bytes"),
    ({"t": "ref", "id": 5}, [], None, "before it is defined"),
    ({"t": "float", "v": "zzz"}, [], None, "invalid float"),
    ({"t": "dict", "id": 0, "items": [[{"t": "list", "id": 1, "items": []}, 1]]}, [], None, "unhashable"),
    (1.5, [], None, "unexpected JSON value"),
    ({"t": "list", "id": "0", "items": []}, [], None, "invalid 'id'"),
])
def test_hand_crafted_bad_manifests(root, storages, data, match):
    entries = {"gradlab/manifest.json": manifest(root, storages)}
    if data is not None:
        entries["gradlab/data/0"] = data
    with pytest.raises(CheckpointError, match="checkpoint is truncated or corrupt.*" + match):
        engine.load(zip_with(entries))


def test_manifest_format_problems():
    cases = {
        "not json": "checkpoint is truncated or corrupt.*not valid JSON",
        manifest(None, version=99): "newer Gradlab",
        json.dumps({"format": "other"}): "does not declare format",
        manifest({"t": "float", "v": "0x1p+0"}).replace('"version":1', '"version":1.0').replace(
            '"version": 1', '"version": NaN'): "checkpoint is truncated or corrupt",
    }
    for text, match in cases.items():
        with pytest.raises(RuntimeError, match=match):
            engine.load(zip_with({"gradlab/manifest.json": text}))
    with pytest.raises(CheckpointError, match="not a Gradlab checkpoint"):
        engine.load(zip_with({"readme.txt": "hi"}))


# -- damaged files -------------------------------------------------------------------------------
GOOD = {"w": engine.arange(16.0).reshape(4, 4), "b": engine.ones(4, dtype=engine.int64), "k": {1: (2.5, "x")}}


def test_empty_file(tmp_path):
    (tmp_path / "e.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="checkpoint is truncated or corrupt.*empty"):
        engine.load(tmp_path / "e.pt")
    with pytest.raises(CheckpointError, match="empty"):
        engine.load(tmp_path / "e.pt", mmap=True)


def test_wrong_magic():
    for data, match in ((b"GIF89a....", "zip signature"), (b"\x93NUMPY\x01\x00", "numpy"), (b"PK", "only 2 bytes")):
        with pytest.raises(CheckpointError, match="checkpoint is truncated or corrupt.*" + match):
            engine.load(io.BytesIO(data))
    npy = io.BytesIO()
    np.save(npy, np.ones(3))
    with pytest.raises(CheckpointError, match="numpy"):
        engine.load(io.BytesIO(npy.getvalue()))


def test_cut_in_half():
    data = blob(GOOD)
    with pytest.raises(CheckpointError, match="checkpoint is truncated or corrupt.*cut short"):
        engine.load(io.BytesIO(data[:len(data) // 2]))


def test_every_truncation_fails_cleanly():
    data = blob(GOOD)
    for n in range(1, len(data)):
        with pytest.raises(CheckpointError, match="checkpoint is truncated or corrupt"):
            engine.load(io.BytesIO(data[:n]))


def test_flipped_data_byte_is_caught_by_crc():
    data = bytearray(blob(GOOD))
    zi = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("gradlab/data/0")
    n, m = struct.unpack("<HH", data[zi.header_offset + 26:zi.header_offset + 30])
    data[zi.header_offset + 30 + n + m + 5] ^= 0x40
    with pytest.raises(CheckpointError, match="checkpoint is truncated or corrupt.*CRC"):
        engine.load(io.BytesIO(bytes(data)))


def test_every_single_byte_flip_loads_exactly_or_fails_cleanly():
    data = blob(GOOD)
    failures = 0
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        try:
            r = engine.load(io.BytesIO(bytes(bad)))
        except (CheckpointError, UnsafeCheckpointError):
            failures += 1
            continue
        same(GOOD, r)  # a flip in a field the reader ignores (timestamps, attributes) changes nothing
    assert failures > len(data) // 2


def test_torch_zip_with_damaged_pickle_fails_cleanly():
    data = zipfile.ZipFile(torch_file({"a": torch.ones(3)})).read("archive/data.pkl")
    for n in range(len(data)):
        try:
            engine.load(zip_with({"archive/data.pkl": data[:n]}))
        except (CheckpointError, UnsafeCheckpointError):
            continue
        raise AssertionError(f"a data.pkl cut at {n} bytes loaded")


def test_pathlib_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        engine.load(pathlib.Path(tmp_path / "nope.pt"))


def test_warning_free_roundtrip():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        roundtrip(GOOD)
