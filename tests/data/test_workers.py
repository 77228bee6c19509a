"""DataLoader with real worker processes (kept few and small: each starts processes)."""
import os

import numpy as np
import pytest

import engine
import engine.utils.data as eud


class Squares(eud.Dataset):
    def __len__(self):
        return 23

    def __getitem__(self, i):
        if i == 17 and getattr(self, "fail", False):
            raise ValueError("bad sample 17")
        info = eud.get_worker_info()
        return {"x": engine.tensor([float(i * i)]), "i": i, "pid": os.getpid(), "wid": -1 if info is None else info.id}


class Stream(eud.IterableDataset):
    def __iter__(self):
        info = eud.get_worker_info()
        lo, hi = 0, 10
        if info is not None:  # split the range between workers
            per = -(-hi // info.num_workers)
            lo, hi = info.id * per, min(hi, (info.id + 1) * per)
        return iter(range(lo, hi))


def test_workers_match_single_process_and_run_elsewhere():
    ds = Squares()
    single = list(eud.DataLoader(ds, batch_size=4))
    multi = list(eud.DataLoader(ds, batch_size=4, num_workers=2))
    assert len(multi) == len(single) == 6
    for a, b in zip(single, multi):
        np.testing.assert_array_equal(a["x"].numpy(), b["x"].numpy())  # float(i*i) < 2**24: exact
        assert a["i"].tolist() == b["i"].tolist()
    pids = {p for b in multi for p in b["pid"].tolist()}
    assert os.getpid() not in pids and len(pids) == 2
    assert {w for b in multi for w in b["wid"].tolist()} == {0, 1}
    assert eud.get_worker_info() is None


def test_worker_error_surfaces_with_traceback():
    ds = Squares()
    ds.fail = True
    with pytest.raises(ValueError) as err:
        list(eud.DataLoader(ds, batch_size=4, num_workers=2))
    msg = str(err.value)
    assert msg.startswith("Caught ValueError in DataLoader worker process ")
    assert "Original Traceback (most recent call last):" in msg and "bad sample 17" in msg
    assert "__getitem__" in msg


def _init(worker_id):
    info = eud.get_worker_info()
    assert info.id == worker_id and info.num_workers == 2
    np.random.seed(100 + worker_id)


def test_worker_init_fn_tensor_fast_path_and_persistent_workers():
    x = engine.arange(30.).reshape(15, 2)
    y = engine.arange(15)
    ds = eud.TensorDataset(x, y)
    dl = eud.DataLoader(ds, batch_size=4, shuffle=True, num_workers=2, worker_init_fn=_init, persistent_workers=True,
                        generator=engine.Generator().manual_seed(0), timeout=30)
    for _ in range(2):  # two epochs on the same workers
        seen = []
        for xb, yb in dl:
            np.testing.assert_array_equal(xb.numpy(), x.numpy()[yb.numpy()])  # rows copied, no arithmetic: exact
            seen += yb.tolist()
        assert sorted(seen) == list(range(15))
    dl._iterator._shutdown_workers()


def test_iterable_dataset_with_workers():
    got = sorted(v for b in eud.DataLoader(Stream(), batch_size=3, num_workers=2) for v in b.tolist())
    assert got == list(range(10))
