"""Linear algebra: ``matmul`` (and ``@``), ``mm``, ``bmm``, ``mv``, ``dot``, ``vdot``, ``outer``/``ger``,
``inner``, ``addmm``, ``addmv``, ``baddbmm``, ``einsum`` and ``tensordot``.

Forward passes call numpy's BLAS-backed ``matmul``/``einsum`` on the arrays directly.  Every
backward formula is written with these same ops (plus reshape and a transpose), so
``create_graph=True`` differentiates them again.  Broadcast batch dimensions are summed back
by the autograd executor.
"""
import numpy as np

from ._util import write_out as _out, Node, Tensor, needs_grad, record, scalar_type_name

_ndarray = np.ndarray

# C++ type names PyTorch prints in "expected m1 and m2 to have the same dtype" messages.
_CNAME = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int", "int32": "int",
          "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


def _T(d):
    return scalar_type_name(d.dtype)


def _dims(shape):
    return "x".join(map(str, shape))


def _lst(shape):
    return "[" + ", ".join(map(str, shape)) + "]"


def _need_tensor(fname, argname, pos, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{argname}' (position {pos}) must be Tensor, not {type(x).__name__}")


def _no_bool(d, kernel):
    if d.dtype == np.bool_:
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# -- internal transpose of the last two dims (used by backward formulas) ---------------------
class TransposeBackward0(Node):
    forward = "result = self.transpose(-2, -1)"
    formula = "grad_self = grad.transpose(-2, -1)"

    def replay(self, xs, out_shape):
        return _mT(xs[0])

    def backward(self, grad):
        return (_mT(grad),)


def _mT(x):
    r = Tensor._make(x._data.swapaxes(-1, -2))
    if needs_grad(x):
        record(TransposeBackward0(), (x,), r)
    return r


def _cast_scalar(v, d):
    """alpha/beta as PyTorch applies them: truncated for integer tensors."""
    if d.dtype.kind in "iub" and not isinstance(v, (int, np.integer)):
        return int(v)
    return v


# -- checks ---------------------------------------------------------------------------------
def _check_mm(a, b):
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_dims(a.shape)} and {_dims(b.shape)})")
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {_CNAME[a.dtype.name]} != {_CNAME[b.dtype.name]}")
    _no_bool(a, "addmm_impl_cpu_")


def _check_bmm(a, b, batch):
    if b.shape[-2] != a.shape[-1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {a.shape[-1]}] but got: "
            f"[{batch}, {b.shape[-2]}].")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {_T(a)} but found {_T(b)}")
    _no_bool(a, "bmm")


def _check_mv(m, v, n_in=None):
    n = m.shape[0]
    if m.shape[1] != v.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({n if n_in is None else n_in}), mat ({_dims(m.shape)}), "
                           f"vec ({v.shape[0]})")
    if m.dtype != v.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {_T(v)}, {_T(m)}, and {_T(v)}")
    _no_bool(m, "addmv_impl_cpu")


def _check_dot(a, b, name="dot"):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {_T(a)} and {_T(b)}")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to have the same "
            f"number of elements, but got {a.shape[0]} and {b.shape[0]} elements respectively")
    _no_bool(a, name)


def _broadcast_batch(s1, s2):
    n = max(len(s1), len(s2))
    p1 = (1,) * (n - len(s1)) + tuple(s1)
    p2 = (1,) * (n - len(s2)) + tuple(s2)
    out = []
    for i, (x, y) in enumerate(zip(p1, p2)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton dimension {i}")
        out.append(y if x == 1 else x)
    return tuple(out)


def _check_expand(inp_shape, target):
    if len(inp_shape) > len(target):
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{_lst(inp_shape)}}}, size={_lst(target)}): the number of sizes provided "
            f"({len(target)}) must be greater or equal to the number of dimensions in the tensor ({len(inp_shape)})")
    off = len(target) - len(inp_shape)
    for i, s in enumerate(inp_shape):
        t = target[off + i]
        if s != t and s != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({t}) must match the existing size ({s}) at non-singleton "
                f"dimension {off + i}.  Target sizes: {_lst(target)}.  Tensor sizes: {_lst(inp_shape)}")


# -- nodes ----------------------------------------------------------------------------------
class MmBackward0(Node):
    forward = "result = self @ mat2"
    formula = "grad_self = grad @ mat2.T; grad_mat2 = self.T @ grad"

    def replay(self, xs, out_shape):
        return mm(xs[0], xs[1])

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        return (mm(grad, _mT(b)) if nf[0][0] is not None else None,
                _mat2_grad(mm, a, self, grad) if nf[1][0] is not None else None)


def _mat2_grad(prod, m1, node, grad):
    """``m1.T @ grad``, laid out like ``mat2``: when ``mat2`` was a transposed view (``W.t()`` in
    a linear layer), compute ``(grad.T @ m1).T`` so that the gradient reaching ``W`` is
    contiguous and the leaf can keep the buffer without copying it."""
    if node.__dict__.get("t2"):
        return _mT(prod(_mT(grad), m1))
    return prod(_mT(m1), grad)


def _transposed(d):
    return d.ndim == 2 and d.flags.f_contiguous and not d.flags.c_contiguous


class BmmBackward0(Node):
    forward = "result = self.bmm(mat2)"
    formula = "grad_self = grad.bmm(mat2.mT); grad_mat2 = self.mT.bmm(grad)"

    def replay(self, xs, out_shape):
        return bmm(xs[0], xs[1])

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        return (bmm(grad, _mT(b)) if nf[0][0] is not None else None,
                bmm(_mT(a), grad) if nf[1][0] is not None else None)


class MvBackward0(Node):
    forward = "result = self @ vec"
    formula = "grad_self = grad.outer(vec); grad_vec = self.T @ grad"

    def replay(self, xs, out_shape):
        return mv(xs[0], xs[1])

    def backward(self, grad):
        m, v = self.saved()
        nf = self.next_functions
        return (grad.reshape(-1, 1) * v.reshape(1, -1) if nf[0][0] is not None else None,
                mv(_mT(m), grad) if nf[1][0] is not None else None)


class DotBackward0(Node):
    forward = "result = (self * tensor).sum()"
    formula = "grad_self = grad * tensor; grad_tensor = grad * self"

    def replay(self, xs, out_shape):
        return dot(xs[0], xs[1])

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        return (grad * b if nf[0][0] is not None else None,
                grad * a if nf[1][0] is not None else None)


class VdotBackward0(DotBackward0):
    forward = "result = (self * other).sum()"
    formula = "grad_self = grad * other; grad_other = grad * self"

    def replay(self, xs, out_shape):
        return vdot(xs[0], xs[1])


class _MatmulBackward(Node):
    """Batched / promoted matmul; subclasses carry the name PyTorch's last internal op has."""

    forward = "result = self @ other  (matmul, named after its last internal op)"
    formula = "grad_self = grad @ other.mT (summed over broadcast dims); grad_other = self.mT @ grad"

    def replay(self, xs, out_shape):
        return matmul(xs[0], xs[1])

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        return _matmul_grads(grad, a, b, nf[0][0] is not None, nf[1][0] is not None)


def _named(base, name, cache={}):
    cls = cache.get((base, name))
    if cls is None:
        cls = cache[(base, name)] = type(name, (base,), {"__qualname__": name, "__module__": __name__})
    return cls


def _matmul_grads(grad, a, b, need_a, need_b):
    na, nb = a.ndim, b.ndim
    a2 = a.reshape(1, -1) if na == 1 else a
    b2 = b.reshape(-1, 1) if nb == 1 else b
    gs = tuple(grad.shape)
    if na == 1:
        gs = gs[:-1] + (1,) + gs[-1:] if nb != 1 else gs + (1,)
    if nb == 1:
        gs = gs + (1,)
    g2 = grad.reshape(gs) if gs != tuple(grad.shape) else grad
    ga = gb = None
    if need_a:
        ga = matmul(g2, _mT(b2))
        if na == 1:
            ga = ga.reshape(tuple(ga.shape[:-2]) + (ga.shape[-1],))
    if need_b:
        if na >= 3 and nb <= 2:
            k = a.shape[-1]
            gb = mm(_mT(a2.reshape(-1, k)), g2.reshape(-1, g2.shape[-1]))
        else:
            gb = matmul(_mT(a2), g2)
        if nb == 1:
            gb = gb.reshape(tuple(gb.shape[:-1]))
    return ga, gb


def _save_pair(node, a, b):
    node.save(a if b._rg else None, b if a._rg else None)


# -- ops ------------------------------------------------------------------------------------
def mm(input, mat2, *, out=None):
    _need_tensor("mm", "self", 1, input)
    _need_tensor("mm", "mat2", 2, mat2)
    a, b = input._data, mat2._data
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    _check_mm(a, b)
    r = Tensor._make(np.matmul(a, b) if type(a) is _ndarray else a @ b)
    if input._rg or mat2._rg:
        if needs_grad(input, mat2):
            node = MmBackward0()
            node.t2 = _transposed(b)
            _save_pair(node, input, mat2)
            record(node, (input, mat2), r)
    return _out(r, out)


def bmm(input, mat2, *, out=None):
    _need_tensor("bmm", "self", 1, input)
    _need_tensor("bmm", "mat2", 2, mat2)
    a, b = input._data, mat2._data
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b.shape[0] != a.shape[0] or b.shape[1] != a.shape[2]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0]}, {a.shape[2]}] but got: "
            f"[{b.shape[0]}, {b.shape[1]}].")
    _check_bmm(a, b, a.shape[0])
    r = Tensor._make(xp_matmul(a, b))
    if needs_grad(input, mat2):
        node = BmmBackward0()
        _save_pair(node, input, mat2)
        record(node, (input, mat2), r)
    return _out(r, out)


def mv(input, vec, *, out=None):
    _need_tensor("mv", "self", 1, input)
    _need_tensor("mv", "vec", 2, vec)
    m, v = input._data, vec._data
    if m.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {m.ndim}, {v.ndim}")
    _check_mv(m, v)
    r = Tensor._make(xp_matmul(m, v))
    if needs_grad(input, vec):
        node = MvBackward0()
        _save_pair(node, input, vec)
        record(node, (input, vec), r)
    return _out(r, out)


def dot(input, tensor, *, out=None):
    _need_tensor("dot", "self", 1, input)
    _need_tensor("dot", "tensor", 2, tensor)
    return _dot(input, tensor, DotBackward0, "dot", out)


def vdot(input, other, *, out=None):
    _need_tensor("vdot", "self", 1, input)
    _need_tensor("vdot", "other", 2, other)
    return _dot(input, other, VdotBackward0, "vdot", out)


def _dot(input, other, cls, name, out):
    a, b = input._data, other._data
    _check_dot(a, b, "dot")
    r = Tensor._make(xp_matmul(a, b))
    if needs_grad(input, other):
        node = cls()
        _save_pair(node, input, other)
        record(node, (input, other), r)
    return _out(r, out)


def xp_matmul(a, b):
    if type(a) is _ndarray:
        r = np.matmul(a, b)
        return r if type(r) is _ndarray else np.asarray(r, dtype=a.dtype)
    return a @ b


def matmul(input, other, *, out=None):
    _need_tensor("matmul", "input", 1, input)
    _need_tensor("matmul", "other", 2, other)
    a, b = input._data, other._data
    na, nb = a.ndim, b.ndim
    if na == 2 and nb == 2:
        return mm(input, other, out=out)
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D")
    if na == 1 and nb == 1:
        return _dot(input, other, DotBackward0, "dot", out)
    if na == 2 and nb == 1:
        return mv(input, other, out=out)
    k = a.shape[-1]
    if na == 1 and nb == 2:
        _check_mm(a.reshape(1, k), b)
        name = "SqueezeBackward4"
        r = xp_matmul(a, b)
    elif nb <= 2:  # fold the batch of ``input`` into the rows of one matrix product
        lead = a.shape[:-1]
        a2 = a.reshape(-1, k)
        if nb == 1:
            _check_mv(a2, b)
            r = xp_matmul(a2, b).reshape(lead)
        else:
            _check_mm(a2, b)
            r = xp_matmul(a2, b).reshape(lead + (b.shape[1],))
        name = "UnsafeViewBackward0"
    else:
        batch = _broadcast_batch(a.shape[:-2], b.shape[:-2]) if na >= 3 else tuple(b.shape[:-2])
        _check_bmm(a, b, _prod(batch))
        r = xp_matmul(a, b)
        name = "CloneBackward0" if na == 2 else "UnsafeViewBackward0"
    r = Tensor._make(r)
    if needs_grad(input, other):
        node = _named(_MatmulBackward, name)()
        _save_pair(node, input, other)
        record(node, (input, other), r)
    return _out(r, out)


def _rmatmul(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(other, self)


def _matmul_op(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(self, other)


def outer(input, vec2, *, out=None):
    _need_tensor("outer", "input", 1, input)
    _need_tensor("outer", "vec2", 2, vec2)
    if input.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input.ndim}-D")
    if vec2.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {vec2.ndim}-D")
    return _out(input.reshape(-1, 1) * vec2, out)


def inner(input, other, *, out=None):
    _need_tensor("inner", "input", 1, input)
    _need_tensor("inner", "other", 2, other)
    if input.ndim == 0 or other.ndim == 0:
        return _out(input * other, out)
    a, b = input._data, other._data
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{_lst(a.shape)} and {_lst(b.shape)}")
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    la = list(range(a.ndim))
    lb = list(range(a.ndim, a.ndim + b.ndim - 1)) + [a.ndim - 1]
    return _out(_einsum_core((input, other), (la, lb), la[:-1] + lb[:-1], "ViewBackward0"), out)


class AddmmBackward0(Node):
    forward = "result = beta * self + alpha * (mat1 @ mat2)"
    formula = "grad_self = beta * grad; grad_mat1 = alpha * grad @ mat2.T; grad_mat2 = alpha * mat1.T @ grad"

    def replay(self, xs, out_shape):
        return addmm(xs[0], xs[1], xs[2], beta=self.beta, alpha=self.alpha)

    def __init__(self, beta, alpha):
        super().__init__()
        self.beta, self.alpha = beta, alpha

    def backward(self, grad):
        m1, m2 = self.saved()
        nf = self.next_functions
        gi = g1 = g2 = None
        if nf[0][0] is not None:
            gi = grad if self.beta == 1 else grad * self.beta
        if nf[1][0] is not None:
            g1 = self._prod(grad, _mT(m2))
            if self.alpha != 1:
                g1 = g1 * self.alpha
        if nf[2][0] is not None:
            g2 = _mat2_grad(self._prod, m1, self, grad)
            if self.alpha != 1:
                g2 = g2 * self.alpha
        return gi, g1, g2

    @staticmethod
    def _prod(x, y):
        return mm(x, y)


class BaddbmmBackward0(AddmmBackward0):
    forward = "result = beta * self + alpha * batch1.bmm(batch2)"
    formula = "grad_self = beta * grad; grad_batch1 = alpha * grad.bmm(batch2.mT); grad_batch2 = alpha * batch1.mT.bmm(grad)"

    def replay(self, xs, out_shape):
        return baddbmm(xs[0], xs[1], xs[2], beta=self.beta, alpha=self.alpha)

    @staticmethod
    def _prod(x, y):
        return bmm(x, y)


class AddmvBackward0(Node):
    forward = "result = beta * self + alpha * (mat @ vec)"
    formula = "grad_self = beta * grad; grad_mat = alpha * grad.outer(vec); grad_vec = alpha * mat.T @ grad"

    def replay(self, xs, out_shape):
        return addmv(xs[0], xs[1], xs[2], beta=self.beta, alpha=self.alpha)

    def __init__(self, beta, alpha):
        super().__init__()
        self.beta, self.alpha = beta, alpha

    def backward(self, grad):
        m, v = self.saved()
        nf = self.next_functions
        gi = gm = gv = None
        if nf[0][0] is not None:
            gi = grad if self.beta == 1 else grad * self.beta
        if nf[1][0] is not None:
            gm = grad.reshape(-1, 1) * v.reshape(1, -1)
            if self.alpha != 1:
                gm = gm * self.alpha
        if nf[2][0] is not None:
            gv = mv(_mT(m), grad)
            if self.alpha != 1:
                gv = gv * self.alpha
        return gi, gm, gv


def _combine(inp, prod, beta, alpha):
    beta = _cast_scalar(beta, prod)
    alpha = _cast_scalar(alpha, prod)
    if alpha != 1:
        prod = prod * np.asarray(alpha, dtype=prod.dtype) if prod.dtype != np.bool_ else prod & bool(alpha)
    if beta == 0:
        return prod
    i = inp if beta == 1 else inp * np.asarray(beta, dtype=inp.dtype)
    return (prod + i).astype(prod.dtype, copy=False)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    _need_tensor("addmm", "input", 1, input)
    _need_tensor("addmm", "mat1", 2, mat1)
    _need_tensor("addmm", "mat2", 3, mat2)
    c, a, b = input._data, mat1._data, mat2._data
    if a.ndim != 2:
        raise RuntimeError(f"mat1 must be a matrix, got {a.ndim}-D tensor")
    if b.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {b.ndim}-D tensor")
    if c.dtype != b.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_T(c)} and {_T(b)}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_T(a)} and {_T(b)}")
    _check_mm(a, b)
    _check_expand(c.shape, (a.shape[0], b.shape[1]))
    r = Tensor._make(_combine(c, xp_matmul(a, b), beta, alpha))
    if needs_grad(input, mat1, mat2):
        node = AddmmBackward0(beta, alpha)
        node.t2 = _transposed(b)
        node.save(mat1 if mat2._rg else None, mat2 if mat1._rg else None)
        record(node, (input, mat1, mat2), r)
    return _out(r, out)


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    _need_tensor("addmv", "input", 1, input)
    _need_tensor("addmv", "mat", 2, mat)
    _need_tensor("addmv", "vec", 3, vec)
    c, m, v = input._data, mat._data, vec._data
    if m.ndim != 2 or v.ndim != 1 or c.ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {c.ndim}, {m.ndim}, {v.ndim}")
    if not (c.dtype == m.dtype == v.dtype):
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {_T(c)}, {_T(m)}, and {_T(v)}")
    n_in = c.shape[0] if c.ndim == 1 else 1
    if (n_in != m.shape[0] and n_in != 1) or m.shape[1] != v.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({n_in}), mat ({_dims(m.shape)}), vec ({v.shape[0]})")
    _no_bool(m, "addmv_impl_cpu")
    r = Tensor._make(_combine(c, xp_matmul(m, v), beta, alpha))
    if needs_grad(input, mat, vec):
        node = AddmvBackward0(beta, alpha)
        node.save(mat if vec._rg else None, vec if mat._rg else None)
        record(node, (input, mat, vec), r)
    return _out(r, out)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    _need_tensor("baddbmm", "input", 1, input)
    _need_tensor("baddbmm", "batch1", 2, batch1)
    _need_tensor("baddbmm", "batch2", 3, batch2)
    c, a, b = input._data, batch1._data, batch2._data
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if c.dtype != a.dtype:
        raise RuntimeError(f"Input dtypes must be the same, got: input {_CNAME[c.dtype.name]}, batch1: "
                           f"{_CNAME[a.dtype.name]}, batch2: {_CNAME[b.dtype.name]}")
    if b.shape[0] != a.shape[0] or b.shape[1] != a.shape[2]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0]}, {a.shape[2]}] but got: "
            f"[{b.shape[0]}, {b.shape[1]}].")
    _check_bmm(a, b, a.shape[0])
    _check_expand(c.shape, (a.shape[0], a.shape[1], b.shape[2]))
    r = Tensor._make(_combine(c, xp_matmul(a, b), beta, alpha))
    if needs_grad(input, batch1, batch2):
        node = BaddbmmBackward0(beta, alpha)
        node.save(batch1 if batch2._rg else None, batch2 if batch1._rg else None)
        record(node, (input, batch1, batch2), r)
    return _out(r, out)


# -- einsum ---------------------------------------------------------------------------------
class _EinsumBackward(Node):
    """Gradient of a contraction: for each operand, the einsum of the output gradient with the
    other operands.  Repeated labels (diagonals) are restored with identity tensors and labels
    summed inside one operand only are broadcast back with a ones tensor."""

    forward = "result = einsum(equation, *tensors)"
    formula = "grad_tensors[i] = einsum(grad, the other tensors -> the labels of tensors[i])"

    def __init__(self, labels, out_labels, sizes):
        super().__init__()
        self.labels, self.out_labels, self.sizes = labels, out_labels, sizes

    def backward(self, grad):
        ops = self.saved()
        nf = self.next_functions
        res = []
        for i, (fn, _) in enumerate(nf):
            res.append(_einsum_grad(i, grad, ops, self.labels, self.out_labels, self.sizes) if fn is not None
                       else None)
        return tuple(res)


def _const(arr, like):
    return Tensor._make(arr.astype(like._data.dtype, copy=False))


def _einsum_grad(i, grad, ops, labels, out_labels, sizes):
    ops_in = [grad]
    lab_in = [list(out_labels)]
    for j, (op, lab) in enumerate(zip(ops, labels)):
        if j != i:
            ops_in.append(op)
            lab_in.append(list(lab))
    present = set(x for lab in lab_in for x in lab)
    nxt = len(sizes)
    target = []
    seen = set()
    for lab in labels[i]:
        if lab in seen:  # repeated label: a fresh label tied to the first by an identity
            n = sizes[lab]
            ops_in.append(_const(np.eye(n), grad))
            lab_in.append([lab, nxt])
            target.append(nxt)
            nxt += 1
            continue
        seen.add(lab)
        if lab not in present:  # summed only within this operand: broadcast back with ones
            ops_in.append(_const(np.ones(sizes[lab]), grad))
            lab_in.append([lab])
            present.add(lab)
        target.append(lab)
    return _einsum_core(tuple(ops_in), lab_in, target, None)


def _name_for(labels, out_labels):
    if len(labels) == 1:
        return "PermuteBackward0" if set(out_labels) == set(labels[0]) else "SumBackward1"
    out = set(out_labels)
    if all(x in out for lab in labels for x in lab):
        return "MulBackward0"
    return "ViewBackward0"


def _einsum_core(ops, labels, out_labels, name):
    """Contract ``ops`` whose dims carry integer ``labels`` into ``out_labels``; labels are
    dict keys of ``sizes`` (any hashable ints).  Size-1 dims broadcast."""
    # sizes (a size-1 dim broadcasts against the label's size elsewhere)
    sizes = {}
    for op, lab in zip(ops, labels):
        for s, x in zip(op._data.shape, lab):
            if sizes.get(x, 1) == 1:
                sizes[x] = s
    # relabel to 0..51 for numpy; a size-1 dim whose label is bigger elsewhere gets its own label
    remap = {}
    args = []
    nlab = [0]

    def lbl(x):
        v = remap.get(x)
        if v is None:
            v = remap[x] = nlab[0]
            nlab[0] += 1
        return v

    fixed_labels = []
    for op, lab in zip(ops, labels):
        sub = []
        fl = []
        for s, x in zip(op._data.shape, lab):
            if s == 1 and sizes[x] != 1:
                fresh = ("b", id(op), len(sub))
                sizes[fresh] = 1
                sub.append(lbl(fresh))
                fl.append(fresh)
            else:
                sub.append(lbl(x))
                fl.append(x)
        args.append(op._data)
        args.append(sub)
        fixed_labels.append(fl)
    outsub = [lbl(x) for x in out_labels]
    if nlab[0] > 52:
        raise RuntimeError("einsum(): too many subscripts")
    dt = ops[0]._data.dtype
    big = len(ops) > 1 and any(op._data.size > 256 for op in ops)
    if dt == np.bool_:
        raise NotImplementedError('"bmm" not implemented for \'Bool\'')
    r = np.einsum(*args, outsub, optimize=big)
    if type(r) is not _ndarray:
        r = np.asarray(r, dtype=dt)
    elif r.dtype != dt:
        r = r.astype(dt)
    if r.ndim and not r.flags.writeable:
        r = r.copy()
    r = Tensor._make(r)
    if needs_grad(*ops):
        # compact integer labels for the node (fresh tuple labels become ints)
        ilabels = [[remap[x] for x in fl] for fl in fixed_labels]
        iout = [remap[x] for x in out_labels]
        isizes = [1] * nlab[0]
        for x, v in remap.items():
            isizes[v] = sizes[x]
        cls = _named(_EinsumBackward, name or _name_for(ilabels, iout))
        node = cls(ilabels, iout, isizes)
        node.save(*ops)
        record(node, tuple(ops), r)
    return r


def _letter_index(c):
    if "A" <= c <= "Z":
        return ord(c) - ord("A")
    return 26 + ord(c) - ord("a")


def einsum(*args):
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand, or at least one "
                        "operand and its subscripts list")
    if not isinstance(args[0], str):
        return _einsum_sublist(args)
    eq = args[0]
    ops = args[1:]
    if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
        ops = tuple(ops[0])
    for j, op in enumerate(ops):
        if not isinstance(op, Tensor):
            raise TypeError(f"einsum(): argument 'operands' must be tuple of Tensors, but found element of type "
                            f"{type(op).__name__} at pos {j}")
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->", 1)
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) > len(ops):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(ops):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    parsed = []
    pos = 0
    for term in terms:
        items = []
        k = 0
        while k < len(term):
            c = term[k]
            if term.startswith("...", k):
                items.append(...)
                k += 3
                pos += 3
                continue
            if not c.isalpha() or not c.isascii():
                raise RuntimeError(f"einsum(): invalid subscript given at index {pos} in the equation string, "
                                   "subscripts must be in [a-zA-Z]")
            items.append(_letter_index(c))
            k += 1
            pos += 1
        pos += 1
        parsed.append(items)
    out = None
    if rhs is not None:
        out = []
        k = 0
        pos += 1
        while k < len(rhs):
            if rhs.startswith("...", k):
                out.append(...)
                k += 3
                continue
            c = rhs[k]
            if not c.isalpha() or not c.isascii():
                raise RuntimeError(f"einsum(): invalid subscript given at index {pos + k} in the equation string, "
                                   "subscripts must be in [a-zA-Z]")
            out.append(_letter_index(c))
            k += 1
    return _einsum_labels(ops, parsed, out)


def _einsum_sublist(args):
    args = list(args)
    ops, subs = [], []
    while len(args) >= 2:
        ops.append(args.pop(0))
        subs.append([x if x is ... else int(x) for x in args.pop(0)])
    out = [x if x is ... else int(x) for x in args[0]] if args else None
    return _einsum_labels(ops, subs, out)


def _einsum_labels(ops, parsed, out):
    """Resolve ellipses to explicit labels and the implicit output, then contract."""
    dt = None
    for op in ops:
        if dt is None:
            dt = op._data.dtype
        elif op._data.dtype != dt:
            raise RuntimeError(f"expected scalar type {_T(ops[0]._data)} but found {_T(op._data)}")
    ell_nd = 0
    labels = []
    for j, (op, items) in enumerate(zip(ops, parsed)):
        nd = op._data.ndim
        nexp = sum(1 for x in items if x is not ...)
        has_ell = any(x is ... for x in items)
        if (not has_ell and nexp != nd) or (has_ell and nexp > nd):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({nexp}) "
                + ("is more than" if has_ell else "does not match")
                + f" the number of dimensions ({nd}) for operand {j}"
                + ("" if has_ell else " and no ellipsis was given"))
        if has_ell:
            ell_nd = max(ell_nd, nd - nexp)
    # ellipsis dims get labels ("e", k) aligned to the right
    for op, items in zip(ops, parsed):
        nd = op._data.ndim
        nexp = sum(1 for x in items if x is not ...)
        lab = []
        for x in items:
            if x is ...:
                n = nd - nexp
                lab.extend(("e", ell_nd - n + q) for q in range(n))
            else:
                lab.append(x)
        labels.append(lab)
    # sizes must agree or broadcast
    sizes = {}
    for j, (op, lab) in enumerate(zip(ops, labels)):
        for s, x in zip(op._data.shape, lab):
            prev = sizes.get(x)
            if prev is None or prev == 1:
                sizes[x] = s
            elif s != prev and s != 1:
                if isinstance(x, tuple):
                    raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes "
                                       f"(original->remapped)")
                raise RuntimeError(f"einsum(): subscript {_letter(x)} has size {s} for operand {j} which does not "
                                   f"broadcast with previously seen size {prev}")
    ell = [("e", q) for q in range(ell_nd)]
    if out is None:
        counts = {}
        for lab in labels:
            for x in lab:
                if not isinstance(x, tuple):
                    counts[x] = counts.get(x, 0) + 1
        out_labels = ell + sorted(x for x, c in counts.items() if c == 1)
    else:
        out_labels = []
        seen = set()
        all_labels = set(x for lab in labels for x in lab)
        for x in out:
            if x is ...:
                out_labels.extend(ell)
                continue
            if x in seen:
                raise RuntimeError(f"einsum(): output subscript {_letter(x)} appears more than once in the output")
            if x not in all_labels:
                raise RuntimeError(f"einsum(): output subscript {_letter(x)} does not appear in the equation for "
                                   "any input operand")
            seen.add(x)
            out_labels.append(x)
        if ... not in out:  # ellipsis dims not in the output are summed
            pass
    return _einsum_core(tuple(ops), labels, out_labels, None)


def _letter(x):
    return chr(ord("A") + x) if x < 26 else chr(ord("a") + x - 26)


# -- tensordot ------------------------------------------------------------------------------
def tensordot(a, b, dims=2, out=None):
    _need_tensor("tensordot", "a", 1, a)
    _need_tensor("tensordot", "b", 2, b)
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a = list(range(-dims, 0))
        dims_b = list(range(dims))
    elif isinstance(dims, (list, tuple)):
        if len(dims) != 2:
            raise ValueError(f"not enough values to unpack (expected 2, got {len(dims)})" if len(dims) < 2 else
                             f"too many values to unpack (expected 2)")
        da, db = dims
        if isinstance(da, (int, np.integer)):
            raise TypeError(f"tensordot(): argument 'dims_self' (position 3) must be tuple of ints, not int")
        if isinstance(db, (int, np.integer)):
            raise TypeError(f"tensordot(): argument 'dims_other' (position 4) must be tuple of ints, not int")
        dims_a, dims_b = [int(x) for x in da], [int(x) for x in db]
    else:
        raise RuntimeError(f"tensordot expects dims to be int or (list[int], list[int]) but got {type(dims).__name__}")
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    ad, bd = a._data, b._data
    if ad.dtype != bd.dtype:
        raise RuntimeError("both inputs should have same dtype")
    la = list(range(ad.ndim))
    lb = [None] * bd.ndim
    nxt = ad.ndim
    for x, y in zip(dims_a, dims_b):
        sa = ad.shape[x] if -ad.ndim <= x < ad.ndim else None
        sb = bd.shape[y] if -bd.ndim <= y < bd.ndim else None
        if sa is None or sb is None:
            nd, v = (ad.ndim, x) if sa is None else (bd.ndim, y)
            lo, hi = (-nd, nd - 1) if nd else (-1, 0)
            raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {v})")
        if sa != sb:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {sa} in dim {x} and second "
                               f"has size {sb} in dim {y}")
        lb[y % bd.ndim] = la[x % ad.ndim]
    for q in range(bd.ndim):
        if lb[q] is None:
            lb[q] = nxt
            nxt += 1
    ca = set(x % ad.ndim for x in dims_a) if ad.ndim else set()
    cb = set(y % bd.ndim for y in dims_b) if bd.ndim else set()
    out_labels = [la[q] for q in range(ad.ndim) if q not in ca] + [lb[q] for q in range(bd.ndim) if q not in cb]
    return _out(_einsum_core((a, b), (la, lb), out_labels, "ViewBackward0"), out)


# -- out= -----------------------------------------------------------------------------------
METHODS = {
    "matmul": matmul, "__matmul__": _matmul_op, "__rmatmul__": _rmatmul, "mm": mm, "bmm": bmm, "mv": mv,
    "dot": dot, "vdot": vdot, "outer": outer, "ger": outer, "inner": inner, "addmm": addmm, "addmv": addmv,
    "baddbmm": baddbmm,
    "addmm_": lambda self, m1, m2, *, beta=1, alpha=1: _inplace(self, addmm, m1, m2, beta=beta, alpha=alpha),
    "addmv_": lambda self, m, v, *, beta=1, alpha=1: _inplace(self, addmv, m, v, beta=beta, alpha=alpha),
    "baddbmm_": lambda self, b1, b2, *, beta=1, alpha=1: _inplace(self, baddbmm, b1, b2, beta=beta, alpha=alpha),
}
FUNCTIONS = {
    "matmul": matmul, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "vdot": vdot, "outer": outer, "ger": outer,
    "inner": inner, "addmm": addmm, "addmv": addmv, "baddbmm": baddbmm, "einsum": einsum, "tensordot": tensordot,
}


def _inplace(self, fn, x, y, **kw):
    from ._util import inplace

    return inplace(self, lambda s, p, q: fn(s, p, q, **kw), x, y)
