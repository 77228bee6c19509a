"""Datasets, samplers and the single-process DataLoader against torch.utils.data."""
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from tqdm import tqdm

import engine
import engine.utils.data as eud


def pairs(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return (tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
            eud.TensorDataset(engine.from_numpy(x.copy()), engine.from_numpy(y.copy())))


def same(a, b):
    if isinstance(a, torch.Tensor):
        assert str(a.dtype) == str(b.dtype)
        # exact: both libraries only index, stack and copy the same arange values (no arithmetic)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        assert a == b


def test_tensor_dataset_and_size_mismatch():
    t, e = pairs()
    assert len(t) == len(e) == 10
    same(t[3], e[3])
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        eud.TensorDataset(engine.zeros(3), engine.zeros(4))


def test_concat_and_add():
    t, e = pairs(5)
    tc, ec = t + t, e + e
    assert isinstance(ec, eud.ConcatDataset) and len(ec) == len(tc) == 10
    assert ec.cumulative_sizes == tc.cumulative_sizes
    for i in (0, 4, 5, 9, -1, -10):
        same(tc[i], ec[i])
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset length"):
        ec[-11]
    with pytest.raises(AssertionError, match="datasets should not be an empty iterable"):
        eud.ConcatDataset([])


def test_subset():
    t, e = pairs()
    ts, es = tud.Subset(t, [7, 2, 5]), eud.Subset(e, [7, 2, 5])
    assert len(es) == 3
    same(ts[1], es[1])


@pytest.mark.parametrize("lengths", [[3, 7], [0.5, 0.5], [0.3, 0.3, 0.4], [0.33, 0.33, 0.34], [0.1, 0.9]])
def test_random_split_lengths(lengths):
    for n in (10, 11, 7):
        ds_t, ds_e = list(range(n)), list(range(n))
        if sum(lengths) > 1.5 and sum(lengths) != n:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = tud.random_split(ds_t, lengths, generator=torch.Generator().manual_seed(0))
            e = eud.random_split(ds_e, lengths, generator=engine.Generator().manual_seed(0))
        assert [len(s) for s in e] == [len(s) for s in t]
        assert sorted(i for s in e for i in s) == list(range(n))


def test_random_split_errors_and_determinism():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset!"):
        eud.random_split(range(10), [3, 3])
    a = eud.random_split(range(10), [5, 5], generator=engine.Generator().manual_seed(3))
    b = eud.random_split(range(10), [5, 5], generator=engine.Generator().manual_seed(3))
    assert list(a[0]) == list(b[0])
    engine.manual_seed(1)
    c = list(eud.random_split(range(10), [5, 5])[0])
    engine.manual_seed(1)
    assert list(eud.random_split(range(10), [5, 5])[0]) == c


def test_sequential_and_batch_sampler_orders():
    data = list(range(11))
    assert list(eud.SequentialSampler(data)) == list(tud.SequentialSampler(data))
    for bs in (1, 3, 4, 11, 20):
        for dl in (False, True):
            t = tud.BatchSampler(tud.SequentialSampler(data), bs, dl)
            e = eud.BatchSampler(eud.SequentialSampler(data), bs, dl)
            assert list(e) == list(t) and len(e) == len(t)
    for bad, msg in ((0, "batch_size should be a positive integer value, but got batch_size=0"),
                     (True, "batch_size should be a positive integer value, but got batch_size=True")):
        with pytest.raises(ValueError, match=msg):
            eud.BatchSampler(data, bad, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got drop_last=1"):
        eud.BatchSampler(data, 2, 1)


def test_random_sampler():
    data = list(range(20))
    perm = list(eud.RandomSampler(data, generator=engine.Generator().manual_seed(0)))
    assert sorted(perm) == data and perm != data
    assert perm == list(eud.RandomSampler(data, generator=engine.Generator().manual_seed(0)))
    engine.manual_seed(5)
    a = list(eud.RandomSampler(data))
    engine.manual_seed(5)
    assert list(eud.RandomSampler(data)) == a
    s = eud.RandomSampler(data, num_samples=45)
    got = list(s)
    assert len(s) == len(got) == 45 and all(np.bincount(got) >= 2)
    r = list(eud.RandomSampler(data, replacement=True, num_samples=70, generator=engine.Generator().manual_seed(1)))
    assert len(r) == 70 and min(r) >= 0 and max(r) < 20 and len(set(r)) < 20 + 1
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got replacement=1"):
        eud.RandomSampler(data, replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        eud.RandomSampler(data, num_samples=0)


def test_subset_random_sampler():
    idx = [10, 20, 30, 40]
    got = list(eud.SubsetRandomSampler(idx, generator=engine.Generator().manual_seed(0)))
    assert sorted(got) == idx and len(eud.SubsetRandomSampler(idx)) == 4


def test_weighted_random_sampler_statistics():
    w = [1.0, 2.0, 3.0, 4.0]
    s = eud.WeightedRandomSampler(w, 40000, generator=engine.Generator().manual_seed(0))
    got = np.bincount(list(s), minlength=4) / 40000
    t = tud.WeightedRandomSampler(w, 40000, generator=torch.Generator().manual_seed(0))
    ref = np.bincount(list(t), minlength=4) / 40000
    # Sampling error, not rounding: a frequency of 40000 draws has sd <= sqrt(.4*.6/40000) = 0.0025, so
    # atol 0.01 is 4.1 sd, and two independent streams differ by sqrt(2) * 0.0025 -> 0.015 is 4.3 sd
    # (seeded: measured 0.0065, 0.008).  The draws themselves are machine-independent: the cdf
    # [.1, .3, .6, 1] is exact to an ulp and a draw can flip only within an ulp of it (p ~ 1e-11).
    np.testing.assert_allclose(got, np.array(w) / 10, atol=0.01)
    np.testing.assert_allclose(got, ref, atol=0.015)
    no_rep = list(eud.WeightedRandomSampler(w, 4, replacement=False, generator=engine.Generator().manual_seed(0)))
    assert sorted(no_rep) == [0, 1, 2, 3]
    assert eud.WeightedRandomSampler(w, 4).weights.dtype == engine.float64
    with pytest.raises(ValueError, match="weights should be a 1d sequence but given weights have shape"):
        eud.WeightedRandomSampler([[1.0]], 2)


@pytest.mark.parametrize("bs,drop_last", [(1, False), (3, False), (3, True), (4, True), (10, False), (12, True)])
def test_dataloader_sequential_matches_torch(bs, drop_last):
    t, e = pairs()
    tl, el = tud.DataLoader(t, batch_size=bs, drop_last=drop_last), eud.DataLoader(e, batch_size=bs, drop_last=drop_last)
    assert len(el) == len(tl)
    tb, eb = list(tl), list(el)
    assert len(tb) == len(eb)
    for a, b in zip(tb, eb):
        same(a, b)


def test_fast_path_equals_per_item_collation():
    _, e = pairs(13)
    fast = list(eud.DataLoader(e, batch_size=4, shuffle=True, generator=engine.Generator().manual_seed(0)))
    slow = list(eud.DataLoader(e, batch_size=4, shuffle=True, generator=engine.Generator().manual_seed(0),
                               collate_fn=lambda b: eud.default_collate(b)))
    assert len(fast) == len(slow) == 4
    for a, b in zip(fast, slow):
        assert isinstance(a, list)
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x.numpy(), y.numpy())  # the same rows copied two ways: exact


def test_shuffle_is_a_permutation_and_seeded():
    _, e = pairs(20)
    engine.manual_seed(0)
    a = [int(v) for _, y in eud.DataLoader(e, batch_size=6, shuffle=True) for v in y.tolist()]
    engine.manual_seed(0)
    b = [int(v) for _, y in eud.DataLoader(e, batch_size=6, shuffle=True) for v in y.tolist()]
    assert a == b and sorted(a) == list(range(20)) and a != list(range(20))


def test_dataloader_options():
    t, e = pairs(6)
    # batch_size=None: no batching, default_convert
    same(list(tud.DataLoader(t, batch_size=None)), list(eud.DataLoader(e, batch_size=None)))
    # batch_sampler and sampler
    bsamp = [[0, 5], [2], [1, 3, 4]]
    same(list(tud.DataLoader(t, batch_sampler=bsamp)), list(eud.DataLoader(e, batch_sampler=bsamp)))
    same(list(tud.DataLoader(t, sampler=[5, 4, 3], batch_size=2)), list(eud.DataLoader(e, sampler=[5, 4, 3], batch_size=2)))
    # custom collate_fn, pin_memory and persistent_workers=False accepted
    el = eud.DataLoader(list(range(5)), batch_size=2, collate_fn=lambda b: sum(b))
    assert list(el) == [1, 5, 4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(list(eud.DataLoader(e, batch_size=2, pin_memory=True))) == 3


@pytest.mark.parametrize("kwargs", [
    dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2), dict(persistent_workers=True),
    dict(sampler=[0], shuffle=True), dict(batch_sampler=[[0]], batch_size=2), dict(batch_size=None, drop_last=True),
])
def test_dataloader_argument_errors_match_torch(kwargs):
    t, e = pairs(4)
    with pytest.raises(ValueError) as te:
        tud.DataLoader(t, **kwargs)
    with pytest.raises(ValueError) as ee:
        eud.DataLoader(e, **kwargs)
    assert str(ee.value) == str(te.value)


def test_setting_attributes_after_init():
    _, e = pairs(4)
    dl = eud.DataLoader(e)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        dl.batch_size = 3


class Counter(eud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class TCounter(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_iterable_dataset():
    for bs, dl in ((3, False), (3, True), (None, False)):
        t = tud.DataLoader(TCounter(8), batch_size=bs, drop_last=dl)
        e = eud.DataLoader(Counter(8), batch_size=bs, drop_last=dl)
        same(list(t), list(e))
        assert len(e) == len(t)
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got shuffle=True"):
        eud.DataLoader(Counter(3), shuffle=True)
    chained = Counter(2) + Counter(3)
    assert list(chained) == [0, 1, 0, 1, 2]


def test_tqdm_over_dataloader():
    _, e = pairs(10)
    bar = tqdm(eud.DataLoader(e, batch_size=3), disable=True)
    assert bar.total == 4
    assert sum(len(y) for _, y in bar) == 10
