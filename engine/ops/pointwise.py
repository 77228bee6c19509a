"""Pointwise math: unary functions (exp, log, sqrt, sin, tanh, sigmoid, relu…), clamp,
maximum/minimum, where, comparisons and logical ops.  Formulas read as a table."""
import numpy as np

from ._util import (Node, Tensor, as_tensor_arg, float_result_dtype, inplace, needs_grad, promote, record,
                    xp_of)


class ZeroGradBackward(Node):
    """Backward of piecewise-constant ops (floor, round, sign, floor_divide…): zero gradient."""

    formula = "grad_self = 0"

    def __init__(self, name):
        super().__init__()
        self._name = name

    def name(self):
        return self._name

    def backward(self, grad):
        z = grad * 0
        return tuple(z for _ in self.next_functions)


class WhereBackward0(Node):
    formula = "grad_self = where(cond, grad, 0); grad_other = where(cond, 0, grad)"

    def __init__(self, cond):
        super().__init__()
        self.cond = cond

    def backward(self, grad):
        c = self.cond
        nf = self.next_functions
        z = grad * 0
        return (None,
                where(c, grad, z) if nf[1][0] is not None else None,
                where(c, z, grad) if nf[2][0] is not None else None)


def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        from .indexing import nonzero

        return nonzero(condition, as_tuple=True)
    if condition.dtype.name != "bool" and condition.dtype.name != "uint8":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{condition.dtype.name.capitalize()}")
    if not isinstance(input, Tensor):
        if isinstance(other, Tensor):
            x = as_tensor_arg(input, other)
            if not isinstance(input, bool) and x.dtype.is_floating_point and other.is_floating_point():
                x = Tensor._make(x._data.astype(other._data.dtype))
            input = x
        else:
            input = as_tensor_arg(input, condition)
    if isinstance(other, Tensor):
        ad, bd = promote(input, other)
    else:
        ad, bd = promote(input, other)
    c = condition._data
    r = Tensor._make(xp_of(ad).where(c, ad, bd))
    if needs_grad(input, other if isinstance(other, Tensor) else None):
        record(WhereBackward0(condition), (condition, input, other if isinstance(other, Tensor) else None), r)
    return r


def _unary(name, fwd, node_cls, save="input", float_out=True):
    """Build a unary op from a forward on arrays and a backward node class."""

    def op(input, *, out=None):
        a = input._data
        if float_out:
            fd = float_result_dtype(a.dtype)
            if a.dtype != fd:
                a = a.astype(fd)
        with np.errstate(all="ignore"):
            r = Tensor._make(fwd(xp_of(a), a))
        if needs_grad(input):
            node = node_cls()
            if save == "input":
                node.save(input)
            elif save == "result":
                node.save(r)
            record(node, (input,), r)
        if out is not None:
            out._data[...] = r._data
            return out
        return r

    op.__name__ = name
    return op


class ExpBackward0(Node):
    formula = "grad_self = grad * result"

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * r,)


class LogBackward0(Node):
    formula = "grad_self = grad / self"

    def backward(self, grad):
        (a,) = self.saved()
        return (grad / a,)


class TanhBackward0(Node):
    formula = "grad_self = grad * (1 - result**2)"

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * (1 - r * r),)


exp = _unary("exp", lambda xp, a: xp.exp(a), ExpBackward0, "result")
log = _unary("log", lambda xp, a: xp.log(a), LogBackward0)
tanh = _unary("tanh", lambda xp, a: xp.tanh(a), TanhBackward0, "result")


def floor(input):
    a = input._data
    r = Tensor._make(xp_of(a).floor(a) if a.dtype.kind == "f" else a.copy())
    if needs_grad(input):
        record(ZeroGradBackward("FloorBackward0"), (input,), r)
    return r


METHODS = {"exp": exp, "log": log, "tanh": tanh, "floor": floor, "where": lambda self, c, o: where(c, self, o),
           "exp_": lambda self: inplace(self, exp), "log_": lambda self: inplace(self, log),
           "tanh_": lambda self: inplace(self, tanh)}
FUNCTIONS = {"exp": exp, "log": log, "tanh": tanh, "floor": floor, "where": where}
