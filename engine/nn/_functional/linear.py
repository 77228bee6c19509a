"""``F.linear`` and ``F.bilinear``, recorded with the graph PyTorch builds.

``linear`` follows ``at::linear``:

* 2-D input with bias: ``addmm(bias, x, W.t())`` -> ``AddmmBackward0``;
* contiguous input of another rank with a 1-D bias (or 3-D input with any bias): flattened to
  2-D, ``addmm``, viewed back -> ``ViewBackward0``;
* otherwise ``matmul(x, W.t())`` (``MmBackward0`` for 2-D, ``UnsafeViewBackward0`` over ``mm``
  for more dims, ``SqueezeBackward4`` over ``mm`` for 1-D) then the bias added -> ``AddBackward0``.
"""
from ...ops._util import Node, Tensor, needs_grad, record
from ...ops.linalg import addmm, einsum, mm
from ...ops.shape import UnsafeViewBackward0, _reshaped_like, reshape, t, unsqueeze, view

__all__ = ["linear", "bilinear"]


class SqueezeBackward4(Node):
    forward = "result = self.squeeze(0)"
    formula = "grad_self = grad.unsqueeze(0)"

    def replay(self, xs, out_shape):
        return _reshaped_like(self, xs[0], out_shape)

    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def backward(self, grad):
        return (grad.reshape(self.shape),)


def _squeeze0(x):
    r = Tensor._make(x._data.reshape(x._data.shape[1:]))
    if needs_grad(x):
        record(SqueezeBackward4(x._data.shape), (x,), r)
    return r


def _unsafe_view(x, shape):
    r = Tensor._make(x._data.reshape(shape))
    if needs_grad(x):
        record(UnsafeViewBackward0(x._data.shape), (x,), r)
    return r


def _matmul_t(input, weight):
    """``matmul(input, weight.t())`` with PyTorch's nodes for each rank of ``input``."""
    wt = t(weight)
    nd = input._data.ndim
    if nd == 2:
        return mm(input, wt)
    if nd == 1:
        return _squeeze0(mm(unsqueeze(input, 0), wt))
    lead = input._data.shape[:-1]
    out = mm(reshape(input, (-1, input._data.shape[-1])), wt)
    return _unsafe_view(out, tuple(lead) + (out._data.shape[1],))


def linear(input, weight, bias=None):
    if not isinstance(input, Tensor):
        raise TypeError(f"linear(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"linear(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}")
    a = input._data
    nd = a.ndim
    if nd == 0 or weight._data.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {nd}D and "
                           f"{weight._data.ndim}D")
    if bias is None:
        return _matmul_t(input, weight)
    if nd == 2:
        return addmm(bias, input, t(weight))
    if a.flags.c_contiguous and (nd == 3 or bias._data.ndim == 1):
        k = a.shape[-1]
        out = addmm(bias, view(input, (-1, k)), t(weight))
        return view(out, tuple(a.shape[:-1]) + (out._data.shape[1],))
    out = _matmul_t(input, weight)
    return out.add_(bias)


# -- bilinear ---------------------------------------------------------------------------------
class TrilinearBackward0(Node):
    forward = "result = einsum('bi,oij,bj->bo', i1, i2, i3)  (bilinear: input1, weight, input2)"
    formula = ("grad_i1 = einsum('bo,oij,bj->bi', grad, i2, i3); "
               "grad_i2 = einsum('bo,bi,bj->oij', grad, i1, i3); "
               "grad_i3 = einsum('bo,oij,bi->bj', grad, i2, i1)")

    def backward(self, grad):
        x1, w, x2 = self.saved()
        nf = self.next_functions
        g1 = einsum("bo,oij,bj->bi", grad, w, x2) if nf[0][0] is not None else None
        gw = einsum("bo,bi,bj->oij", grad, x1, x2) if nf[1][0] is not None else None
        g2 = einsum("bo,oij,bi->bj", grad, w, x1) if nf[2][0] is not None else None
        return g1, gw, g2


def _trilinear(x1, w, x2):
    from ...autograd.grad_mode import no_grad

    with no_grad():
        r = einsum("bi,oij,bj->bo", x1, w, x2)
    r = Tensor._make(r._data)
    if needs_grad(x1, w, x2):
        node = TrilinearBackward0()
        node.save(x1, w, x2)
        record(node, (x1, w, x2), r)
    return r


def bilinear(input1, input2, weight, bias=None):
    s1, s2, sw = input1.shape, input2.shape, weight.shape
    if len(s1) != len(s2):
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {len(s1)} and {len(s2)}")
    for i in range(len(s1) - 1):
        if s1[i] != s2[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got {s1[i]} and "
                               f"{s2[i]}")
    if s1[-1] != sw[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {s1[-1]} but expected {sw[1]}")
    if s2[-1] != sw[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {s2[-1]} but expected {sw[2]}")
    if bias is not None and bias.shape[0] != sw[0]:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bias.shape[0]} but expected "
                           f"{sw[0]}")
    x1 = reshape(input1, (-1, s1[-1]))
    x2 = reshape(input2, (-1, s2[-1]))
    y = _trilinear(x1, weight, x2)
    y = view(y, tuple(s1[:-1]) + (sw[0],))
    if bias is not None:
        y = y + bias
    return y
