"""``torch.nn.utils.rnn``: packed sequences and padding helpers.

A ``PackedSequence`` stores variable-length sequences time step by time step: ``data`` holds
the ``batch_sizes[0]`` first elements, then the ``batch_sizes[1]`` second elements, and so on,
with the sequences sorted by decreasing length (``sorted_indices`` / ``unsorted_indices``
record the permutation when the caller's batch was not sorted).

Packing and padding are gathers (``index_select``) built from integer index arrays, so
gradients flow through them.
"""
from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _engine():
    import engine

    return engine


def _long(values, device=None):
    e = _engine()
    return e.tensor(np.asarray(values, dtype=np.int64), device=device)


def _bind(optional, fn):
    return None if optional is None else fn(optional)


_PackedSequenceBase = namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedSequenceBase):
    """Data and list of ``batch_sizes`` of a packed sequence (build with
    ``pack_padded_sequence`` or ``pack_sequence``, not by hand)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            if batch_sizes.device.type != "cpu":
                raise ValueError(
                    "batch_sizes should always be on CPU. Instances of PackedSequence should never be created "
                    "manually. They should be instantiated by functions like pack_sequence and "
                    "pack_padded_sequences in nn.utils.rnn. "
                    "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence")
            return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)
        if not (isinstance(data, (list, tuple)) and len(data) == 2):
            raise AssertionError("Expected data to be a list or tuple of length 2")
        return super().__new__(cls, data[0], data[1], sorted_indices, unsorted_indices)

    def pin_memory(self):
        return type(self)(self.data.pin_memory(), self.batch_sizes,
                          _bind(self.sorted_indices, lambda t: t.pin_memory()),
                          _bind(self.unsorted_indices, lambda t: t.pin_memory()))

    def to(self, *args, **kwargs):
        """Convert ``data`` (dtype and/or device); the index tensors follow its device and
        ``batch_sizes`` stays on the CPU.  Returns ``self`` when nothing changes."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        return type(self)(data, self.batch_sizes, _bind(self.sorted_indices, lambda t: t.to(dev)),
                          _bind(self.unsorted_indices, lambda t: t.to(dev)))

    def cuda(self, *args, **kwargs):
        kwargs.setdefault("device", "cuda")
        return self.to(*args, **kwargs)

    def cpu(self, *args, **kwargs):
        kwargs["device"] = "cpu"
        return self.to(*args, **kwargs)

    def double(self):
        return self.to(dtype=_engine().double)

    def float(self):
        return self.to(dtype=_engine().float)

    def half(self):
        return self.to(dtype=_engine().half)

    def long(self):
        return self.to(dtype=_engine().long)

    def int(self):
        return self.to(dtype=_engine().int)

    def short(self):
        return self.to(dtype=_engine().short)

    def char(self):
        return self.to(dtype=_engine().int8)

    def byte(self):
        return self.to(dtype=_engine().uint8)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return self.data.is_pinned()


def invert_permutation(permutation):
    """Inverse of a 1-D permutation tensor (``None`` stays ``None``)."""
    if permutation is None:
        return None
    p = np.asarray(permutation.detach().cpu()._data).astype(np.int64)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size, dtype=np.int64)
    return _long(inv, device=permutation.device)


def _lengths_array(lengths):
    if isinstance(lengths, Tensor):
        a = np.asarray(lengths.detach().cpu()._data)
        if a.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {a.ndim}D cpu "
                               f"{_type_word(a)} tensor")
        return a.astype(np.int64)
    a = np.asarray(lengths).astype(np.int64)
    if a.ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {a.ndim}D cpu Long tensor")
    return a


def _type_word(a):
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "float32": "Float",
            "float64": "Double", "float16": "Half", "bool": "Bool"}.get(a.dtype.name, "Long")


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (``T x B x *``, or ``B x T x *`` with ``batch_first``) of sequences
    with the given ``lengths``.  With ``enforce_sorted=False`` the batch is sorted by
    decreasing length first (stable) and the permutation is recorded."""
    lens = _lengths_array(lengths)
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = _long(order, device=input.device)
    if input.dim() < 2:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    shape = tuple(input.shape)
    B = shape[0] if batch_first else shape[1]
    T = shape[1] if batch_first else shape[0]
    if lens.size != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lens.size} "
                           f"(batch_size={B})")
    if lens.size and np.any(lens[1:] > lens[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You "
                           "can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                           "sidestep this requirement if you do not need ONNX exportability.")
    if lens.size == 0 or lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    max_len = int(lens[0])
    if max_len > T:
        raise RuntimeError(f"pack_padded_sequence: a length ({max_len}) is larger than the sequence dimension ({T})")
    steps = np.arange(max_len)
    batch_sizes = (lens[None, :] > steps[:, None]).sum(1).astype(np.int64)
    cols = order if sorted_indices is not None else np.arange(B)
    idx = []
    for t in range(max_len):
        bs = int(batch_sizes[t])
        c = cols[:bs]
        idx.append(c * T + t if batch_first else t * B + c)
    idx = np.concatenate(idx).astype(np.int64)
    flat = input.reshape((T * B,) + shape[2:])
    data = flat.index_select(0, _long(idx, device=input.device))
    return PackedSequence(data, _long(batch_sizes), sorted_indices, None)


def _sorted_lengths(batch_sizes):
    bsz = np.asarray(batch_sizes.detach().cpu()._data).astype(np.int64)
    B = int(bsz[0]) if bsz.size else 0
    return bsz, (bsz[None, :] > np.arange(B)[:, None]).sum(1).astype(np.int64)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of ``pack_padded_sequence``: ``(padded, lengths)`` with the batch in the
    caller's original order."""
    e = _engine()
    data, batch_sizes = sequence.data, sequence.batch_sizes
    bsz, lens = _sorted_lengths(batch_sizes)
    max_seq_length = int(bsz.size)
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {max_seq_length}")
        max_seq_length = total_length
    T = max_seq_length
    B = int(bsz[0]) if bsz.size else 0
    N = int(bsz.sum())
    offs = np.concatenate([[0], np.cumsum(bsz)[:-1]]).astype(np.int64) if bsz.size else np.zeros(0, np.int64)
    unsorted = sequence.unsorted_indices
    # output batch slot j holds sorted sequence perm[j]
    perm = np.asarray(unsorted.detach().cpu()._data).astype(np.int64) if unsorted is not None else np.arange(B)
    t = np.arange(T)
    valid = t[:, None] < lens[perm][None, :]
    if bsz.size:
        src = np.where(valid, offs[np.minimum(t, bsz.size - 1)][:, None] + perm[None, :], N)
    else:
        src = np.full((T, B), N, dtype=np.int64)
    if batch_first:
        src = src.T
    rest = tuple(data.shape[1:])
    pad = e.full((1,) + rest, padding_value, dtype=data.dtype, device=data.device)
    padded = e.cat([data, pad], 0).index_select(0, _long(src.reshape(-1), device=data.device))
    padded = padded.reshape(src.shape + rest)
    return padded, _long(lens[perm])


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack variable-length sequences (``L_i x *``) into ``T x B x *`` (``B x T x *`` with
    ``batch_first``), padding with ``padding_value`` on ``padding_side``."""
    e = _engine()
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    sequences = tuple(sequences)
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    first = sequences[0]
    rest = tuple(first.shape[1:])
    dtype, device = first.dtype, first.device
    lens = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    T = int(lens.max())
    B = len(sequences)
    parts = []
    for s in sequences:
        if s.dtype != dtype:
            s = s.to(dtype)
        if tuple(s.shape[1:]) != rest:
            s = s.expand((s.shape[0],) + rest)
        parts.append(s)
    N = int(lens.sum())
    pad = e.full((1,) + rest, padding_value, dtype=dtype, device=device)
    data = e.cat(parts + [pad], 0)
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    t = np.arange(T)[:, None]
    if padding_side == "right":
        pos = np.broadcast_to(t, (T, B))
    else:
        pos = t - (T - lens)[None, :]
    valid = (pos >= 0) & (pos < lens[None, :])
    src = np.where(valid, offs[None, :] + pos, N)
    if batch_first:
        src = src.T
    out = data.index_select(0, _long(src.reshape(-1), device=device))
    return out.reshape(src.shape + rest)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into a list of sequences of the given ``lengths``.

    Unlike PyTorch (which transposes a time-major argument in place) the argument is left
    unchanged."""
    e = _engine()
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    max_length = padded_sequences.shape[1]
    lens = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    if len(lens) != padded_sequences.shape[0]:
        raise ValueError(f"zip() argument 2 is {'shorter' if len(lens) < padded_sequences.shape[0] else 'longer'} "
                         "than argument 1")
    idx = e.arange(max_length, device=padded_sequences.device)
    return [seq[idx < n] for seq, n in zip(padded_sequences, lens)]


def pack_sequence(sequences, enforce_sorted=True):
    """``pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=...)``."""
    lengths = [v.size(0) for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences a ``PackedSequence`` holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
