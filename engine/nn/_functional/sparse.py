"""Lookup tables: ``F.embedding`` (grad_fn ``EmbeddingBackward0``; ``padding_idx`` rows get no
gradient, ``scale_grad_by_freq``, ``max_norm`` renormalises the looked-up rows of the weight in
place) and ``F.one_hot``.
"""
import numpy as np

from ...autograd.grad_mode import GradMode
from ...ops._util import Node, Tensor, needs_grad, record, xp_of

__all__ = ["embedding", "one_hot"]

_INT_KINDS = (np.dtype(np.int64), np.dtype(np.int32))


class EmbeddingBackward0(Node):
    forward = "result = weight[indices]"
    formula = "grad_weight = zeros_like(weight).index_add(0, indices, grad [/ counts])  (rows at padding_idx: 0)"

    def __init__(self, idx, num_weights, padding_idx, scale):
        super().__init__()
        self.idx = idx  # flat int64 array
        self.num_weights = num_weights
        self.padding_idx = padding_idx
        self.scale = scale

    def backward(self, grad):
        idx = self.idx
        d = grad.shape[-1] if grad.dim() else 1
        g = grad.reshape(-1, d)
        xp = xp_of(g._data)
        keep = None
        if self.padding_idx >= 0:
            keep = idx != self.padding_idx
        if self.scale:
            counts = np.bincount(np.asarray(idx), minlength=self.num_weights)[np.asarray(idx)]
            factor = (1.0 / counts).astype(g._data.dtype)
            if keep is not None:
                factor = factor * keep
            g = g * Tensor._make(xp.asarray(factor).reshape(-1, 1))
        elif keep is not None and not keep.all():
            g = g * Tensor._make(xp.asarray(keep.astype(g._data.dtype)).reshape(-1, 1))
        if GradMode.enabled:
            from ...ops.creation import zeros

            out = zeros((self.num_weights, d), dtype=grad.dtype, device=grad.device)
            return (out.index_add(0, Tensor._make(xp.asarray(idx)), g),)
        gd = g._data
        res = xp.zeros((self.num_weights, d), dtype=gd.dtype)
        if xp is np:
            np.add.at(res, idx, gd)
        else:
            xp.add.at(res, xp.asarray(idx), gd)
        return (Tensor._make(res),)


def _renorm_(weight, idx, max_norm, norm_type):
    w = weight._data
    rows = np.unique(np.asarray(idx))
    if rows.size == 0:
        return
    sel = w[rows]
    with np.errstate(all="ignore"):
        if norm_type == float("inf"):
            norms = np.abs(sel).max(axis=1)
        elif norm_type == 0:
            norms = (sel != 0).sum(axis=1).astype(sel.dtype)
        else:
            norms = (np.abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if np.any(big):
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        w[rows[big]] = sel[big] * scale[:, None]
    weight._vc.v += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= weight.size(0):
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -weight.size(0):
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = weight.size(0) + padding_idx
    else:
        padding_idx = -1
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    ia = input._data
    if ia.dtype not in _INT_KINDS:
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for embedding)")
    n = weight.shape[0]
    flat = ia.reshape(-1).astype(np.int64, copy=False)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= n):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _renorm_(weight, flat, max_norm, norm_type)
    wd = weight._data
    out = wd[flat].reshape(tuple(ia.shape) + (wd.shape[1],))
    r = Tensor._make(out)
    if needs_grad(weight):
        node = EmbeddingBackward0(flat, n, padding_idx, bool(scale_grad_by_freq))
        record(node, (weight,), r)
    return r


def one_hot(tensor, num_classes=-1):
    a = tensor._data
    if a.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = xp_of(a)
    if a.size == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return Tensor._make(xp.zeros(tuple(a.shape) + (num_classes,), dtype=np.int64))
    if int(a.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    mx = int(a.max())
    if num_classes == -1:
        num_classes = mx + 1
    elif mx >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    res = (a[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._make(res)
