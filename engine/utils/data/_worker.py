"""What runs inside a DataLoader worker process, and ``get_worker_info``."""
import os
import pickle
import queue
import random
import sys
import traceback

import numpy as np

_POLL = 1.0  # seconds a worker waits on its index queue before checking that its parent lives


class WorkerInfo:
    """``get_worker_info()`` inside a worker: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self):
        items = [f"{k}={getattr(self, k)}" for k in self.__keys]
        return f"{self.__class__.__name__}({', '.join(items)})"


_worker_info = None


def get_worker_info():
    """The ``WorkerInfo`` of the current DataLoader worker process, or ``None`` in the main process."""
    return _worker_info


class _KeyErrorMessage(str):
    """A KeyError's message printed as is (KeyError otherwise shows its argument's repr)."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception with its formatted traceback, to be raised again in another process."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class _IterableDatasetStopIteration:
    def __init__(self, worker_id):
        self.worker_id = worker_id


class _ResumeIteration:
    pass


class _MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.drop_last = drop_last
        from ._collate import default_collate
        from .dataset import TensorDataset
        self._fast = (auto_collation and collate_fn is default_collate and isinstance(dataset, TensorDataset)
                      and type(dataset).__getitem__ is TensorDataset.__getitem__
                      and not any(getattr(t, "requires_grad", False) for t in dataset.tensors))

    def fetch(self, index):
        if self.auto_collation:
            if self._fast:
                batch = _gather(self.dataset.tensors, index)
                if batch is not None:
                    return batch
            getitems = getattr(self.dataset, "__getitems__", None)
            data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
            return self.collate_fn(data)
        return self.collate_fn(self.dataset[index])


def _gather(tensors, index):
    """A TensorDataset batch with one fancy index per tensor (what default_collate would build)."""
    idx = np.asarray(index)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        return None
    from ...tensor import Tensor
    it = Tensor._make(idx.astype(np.int64, copy=False))
    return [t[it] for t in tensors]


class _IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.drop_last = drop_last
        self.iterator = iter(dataset)
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                try:
                    data.append(next(self.iterator))
                except StopIteration:
                    self.ended = True
                    break
            if len(data) == 0 or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            data = next(self.iterator)
        return self.collate_fn(data)


def make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterableFetcher if iterable else _MapFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def _seed_worker(seed, worker_id, base_seed):
    import engine
    random.seed(seed)
    engine.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed % 2 ** 64]).generate_state(4))


def _pack(data, worker_id):
    """Pickle in the worker, so that an unpicklable batch becomes an error in the main process
    instead of a silent failure in the queue's feeder thread."""
    if isinstance(data, ExceptionWrapper):
        try:
            pickle.loads(pickle.dumps(data.exc_type))
        except Exception:
            data.exc_type = RuntimeError
    try:
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        wrapped = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        return pickle.dumps(wrapped, protocol=pickle.HIGHEST_PROTOCOL)


def worker_loop(iterable, dataset, index_queue, data_queue, done_event, auto_collation, collate_fn, drop_last,
                base_seed, init_fn, worker_id, num_workers, parent_pid):
    global _worker_info
    try:
        seed = base_seed + worker_id
        _seed_worker(seed, worker_id, base_seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_exception = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        exhausted = False
        while True:
            try:
                task = index_queue.get(timeout=_POLL)
            except queue.Empty:
                if done_event.is_set() or os.getppid() != parent_pid:
                    break
                continue
            if task is None:
                break
            if isinstance(task, _ResumeIteration):
                data_queue.put((task, pickle.dumps(None)))
                exhausted = False
                fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                continue
            if done_event.is_set() or exhausted:
                continue
            idx, index = task
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        exhausted = True
                    else:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
                except Exception:
                    data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            data_queue.put((idx, _pack(data, worker_id)))
            del data
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
