"""Random numbers: ``Generator``, the global generator (``manual_seed``, ``seed``,
``initial_seed``, ``get_rng_state``/``set_rng_state``), the samplers ``rand randn randint randperm
normal bernoulli multinomial poisson`` and their ``_like`` forms, and the in-place samplers
``uniform_ normal_ bernoulli_ random_ exponential_ geometric_ log_normal_ cauchy_``.

Streams come from numpy's PCG64: the same seed always gives the same numbers, but not the
numbers PyTorch's Mersenne Twister gives.
"""
import pickle
import sys

import numpy as np

from .. import dtypes as _dt
from ..device import CPU, normalize, to_device
from ._util import write_out as _out, Node, Tensor, _check_leaf, inplace, needs_grad, record, scalar_type_name

_ndarray = np.ndarray
_DEFAULT_SEED = 67280421310721


class Generator:
    """``engine.Generator(device='cpu')``: an independent random stream."""

    def __init__(self, device="cpu"):
        self._device = normalize(device) if device is not None else CPU
        self.manual_seed(_DEFAULT_SEED)

    @property
    def device(self):
        return self._device

    def manual_seed(self, seed):
        if isinstance(seed, Tensor):
            seed = seed.item()
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            try:
                seed = int(seed)
            except (TypeError, ValueError):
                raise TypeError(f"manual_seed expected a long, but got {type(seed).__name__}") from None
        seed = int(seed)
        if seed < -(2 ** 63) or seed >= 2 ** 64:
            raise RuntimeError("Overflow when unpacking long")
        seed %= 2 ** 64
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        blob = pickle.dumps((self._seed, self._rng.bit_generator.state))
        return Tensor._make(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, new_state):
        if not isinstance(new_state, Tensor) or new_state.dtype is not _dt.uint8:
            raise RuntimeError("Expected a 'torch.ByteTensor' as the new state")
        try:
            seed, state = pickle.loads(np.ascontiguousarray(new_state._data).tobytes())
            rng = np.random.Generator(np.random.PCG64())
            rng.bit_generator.state = state
        except Exception:
            raise RuntimeError("Invalid mt19937 state") from None
        self._seed, self._rng = seed, rng
        return self

    def clone_state(self):
        g = Generator(self._device)
        g.set_state(self.get_state())
        return g

    def __repr__(self):
        return f"<torch._C.Generator object at {hex(id(self))}>"


default_generator = Generator()


def _gen(generator):
    if generator is None:
        return default_generator._rng
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a torch.Generator, but got {type(generator).__name__}")
    return generator._rng


def manual_seed(seed):
    default_generator.manual_seed(seed)
    return default_generator


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


class fork_rng:
    """``with engine.random.fork_rng():`` restores the global stream afterwards."""

    def __init__(self, devices=None, enabled=True, **kw):
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            self._state = get_rng_state()

    def __exit__(self, *exc):
        if self.enabled:
            set_rng_state(self._state)
        return False


# -- helpers --------------------------------------------------------------------------------
def _size(fname, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    elif len(size) == 1 and isinstance(size[0], Tensor) is False and hasattr(size[0], "__iter__"):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{fname}(): argument 'size' (position 1) must be tuple of ints, but found element of "
                            f"type {type(s).__name__} at pos 0")
        out.append(int(s))
    for s in out:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: [{', '.join(map(str, out))}]")
    return tuple(out)


def _dtype(dtype):
    if dtype is None:
        return _dt.get_default_dtype()
    if dtype is float:
        return _dt.float64
    if dtype is int:
        return _dt.int64
    if dtype is bool:
        return _dt.bool
    return dtype


def _finish(arr, dtype, device, requires_grad):
    if device is not None:
        dev = normalize(device)
        if dev.type != "cpu":
            arr = to_device(arr, dev)
    t = Tensor._make(arr)
    if requires_grad:
        if arr.dtype.kind not in "fc":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t._rg = True
    return t


def _not_impl(kernel, dt):
    raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_type_name(dt.np)}\'')


_ONE_BELOW = {np.dtype(np.float16): np.float16(np.nextafter(np.float16(1), np.float16(0))),
              np.dtype(np.float32): np.float32(np.nextafter(np.float32(1), np.float32(0))),
              np.dtype(np.float64): np.nextafter(1.0, 0.0)}


def _uniform01(rng, shape, npd):
    if npd == np.float32 or npd == np.float64:
        return rng.random(shape, dtype=npd)
    r = rng.random(shape, dtype=np.float32).astype(npd)
    return np.minimum(r, _ONE_BELOW[npd])


def _standard_normal(rng, shape, npd):
    if npd == np.float32 or npd == np.float64:
        return rng.standard_normal(shape, dtype=npd)
    return rng.standard_normal(shape, dtype=np.float32).astype(npd)


def _no_size_msg(name):
    tail = ("Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, "
            "bool pin_memory = False, bool requires_grad = False)\n")
    return (f"{name}() received an invalid combination of arguments - got (), but expected one of:\n"
            f" * (tuple of ints size, *, torch.Generator generator, {tail}"
            f" * (tuple of ints size, *, {tail}")


# -- samplers -------------------------------------------------------------------------------
def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False):
    if not size:
        raise TypeError(_no_size_msg("rand"))
    shape = _size("rand", size)
    d = _dtype(dtype)
    if not d.is_floating_point:
        _not_impl("check_uniform_bounds", d)
    return _out(_finish(_uniform01(_gen(generator), shape, d.np), d, device, requires_grad), out)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False):
    if not size:
        raise TypeError(_no_size_msg("randn"))
    shape = _size("randn", size)
    d = _dtype(dtype)
    if not d.is_floating_point:
        _not_impl("normal_kernel_cpu", d)
    return _out(_finish(_standard_normal(_gen(generator), shape, d.np), d, device, requires_grad), out)


_INT_NAMES = {"uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int", "int64": "long",
              "bool": "bool", "float16": "c10::Half", "float32": "float", "float64": "double"}


def _int_range(rng, low, high, shape, d):
    """Integers in [low, high) stored as ``d`` (PyTorch's ``random_(from, to)``)."""
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    npd = d.np
    if npd.kind in "iub":
        info = np.iinfo(npd) if npd.kind != "b" else None
        lo_lim, hi_lim = (0, 1) if info is None else (info.min, info.max)
        if low < lo_lim or low > hi_lim:
            raise RuntimeError(f"from is out of bounds for {_INT_NAMES[npd.name]}")
        if high - 1 > hi_lim or high - 1 < lo_lim:
            raise RuntimeError(f"to - 1 is out of bounds for {_INT_NAMES[npd.name]}")
    vals = rng.integers(low, high, size=shape, dtype=np.int64)
    return vals.astype(npd)


def randint(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad=False, pin_memory=False, low=None, high=None):
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if high is None and args:
        high = args.pop()
    if low is None and args:
        low = args.pop()
    if args:
        raise TypeError("randint() received an invalid combination of arguments")
    if size is None:
        if high is not None and low is not None and isinstance(high, (int, np.integer)):
            raise TypeError("randint(): argument 'size' (position 2) must be tuple of ints, not int")
        raise TypeError("randint() missing required argument 'size'")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' (position 2) must be tuple of ints, not {type(size).__name__}")
    low = 0 if low is None else low
    low, high = (int(v.item()) if isinstance(v, Tensor) else int(v) for v in (low, high))
    shape = _size("randint", (tuple(size),))
    d = _dt.int64 if dtype is None else _dtype(dtype)
    arr = _int_range(_gen(generator), low, high, shape, d)
    return _out(_finish(arr, d, device, requires_grad), out)


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
    n = int(n.item()) if isinstance(n, Tensor) else n
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    d = _dt.int64 if dtype is None else _dtype(dtype)
    arr = _gen(generator).permutation(n).astype(d.np)
    return _out(_finish(arr, d, device, requires_grad), out)


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None,
              generator=None):
    return rand(tuple(input.shape), generator=generator, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None,
               generator=None):
    return randn(tuple(input.shape), generator=generator, dtype=dtype or input.dtype,
                 device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None, requires_grad=False,
                 memory_format=None, generator=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype,
                   device=device or input.device, requires_grad=requires_grad)


# -- nodes whose gradient is zero (samples do not depend smoothly on their parameters) -------
class _ZeroGrad(Node):
    forward = "result = sample(self)  (random: no gradient reaches the parameters)"  # see _ZERO_TEXTS
    formula = "grad_self = 0"

    def backward(self, grad):
        from .creation import zeros_like

        z = zeros_like(grad)
        return tuple(z for _ in self.next_functions)


# (forward, formula) of each sampler's node class, by name
_ZERO_TEXTS = {
    "NormalBackward1": ("result = normal(mean, std)  (std: a number)", "grad_mean = 0"),
    "NormalBackward2": ("result = normal(mean, std)  (mean: a number)", "grad_std = 0"),
    "NormalBackward3": ("result = normal(mean, std)", "grad_mean = 0; grad_std = 0"),
    "BernoulliBackward0": ("result = bernoulli(self)  (self: the probabilities)", "grad_self = 0"),
    "NotImplemented": ("result = bernoulli(self, p)  (p: a number)", "grad_self = 0"),
    "PoissonBackward0": ("result = poisson(self)  (self: the rates)", "grad_self = 0"),
    "UniformBackward0": ("result = self.uniform_(from, to)", "grad_self = 0"),
    "NormalBackward0": ("result = self.normal_(mean, std)", "grad_self = 0"),
    "BernoulliBackward1": ("result = self.bernoulli_(p)  (p: a tensor)", "grad_self = 0"),
    "BernoulliBackward2": ("result = self.bernoulli_(p)  (p: a number)", "grad_self = 0"),
    "RandomBackward2": ("result = self.random_(from, to)", "grad_self = 0"),
    "ExponentialBackward0": ("result = self.exponential_(lambd)", "grad_self = 0"),
    "GeometricBackward0": ("result = self.geometric_(p)", "grad_self = 0"),
    "LogNormalBackward0": ("result = self.log_normal_(mean, std)", "grad_self = 0"),
    "CauchyBackward0": ("result = self.cauchy_(median, sigma)", "grad_self = 0"),
}


def _zero_node(name, cache={}):
    cls = cache.get(name)
    if cls is None:
        forward, formula = _ZERO_TEXTS.get(name, (_ZeroGrad.forward, _ZeroGrad.formula))
        cls = cache[name] = type(name, (_ZeroGrad,), {"__qualname__": name, "__module__": __name__,
                                                      "forward": forward, "formula": formula})
    return cls()


def _record_zero(name, inputs, r):
    if needs_grad(*inputs):
        record(_zero_node(name), tuple(inputs), r)
    return r


def _check_float(t, kernel):
    if t._data.dtype.kind != "f":
        _not_impl(kernel, t.dtype)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
           requires_grad=False, pin_memory=False):
    rng = _gen(generator)
    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mt and not st:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments - got (float, float), but "
                            "expected one of:\n * (Tensor mean, Tensor std, *, torch.Generator generator, Tensor "
                            "out = None)\n")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
        shape = _size("normal", (size,) if not isinstance(size, (tuple, list)) else (tuple(size),))
        d = _dtype(dtype)
        if not d.is_floating_point:
            _not_impl("normal_kernel_cpu", d)
        arr = _standard_normal(rng, shape, d.np)
        if std != 1:
            arr *= np.asarray(std, dtype=arr.dtype)
        if mean != 0:
            arr += np.asarray(mean, dtype=arr.dtype)
        return _out(_finish(arr, d, device, requires_grad), out)
    if mt and st:
        _check_float(mean, "normal_kernel_cpu")
        _check_float(std, "normal_kernel_cpu")
        if np.any(std._data < 0):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        from ._util import promote

        md, sd = promote(mean, std)
        shape = np.broadcast_shapes(md.shape, _bshape(md.shape, sd.shape))
        z = _standard_normal(rng, shape, md.dtype)
        r = Tensor._make(z * sd + md)
        return _out(_record_zero("NormalBackward3", (mean, std), r), out)
    if mt:
        _check_float(mean, "normal_kernel_cpu")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
        md = mean._data
        z = _standard_normal(rng, md.shape, md.dtype)
        r = Tensor._make(z * np.asarray(std, dtype=md.dtype) + md)
        return _out(_record_zero("NormalBackward1", (mean,), r), out)
    _check_float(std, "normal_kernel_cpu")
    if np.any(std._data < 0):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    sd = std._data
    z = _standard_normal(rng, sd.shape, sd.dtype)
    r = Tensor._make(z * sd + np.asarray(mean, dtype=sd.dtype))
    return _out(_record_zero("NormalBackward2", (std,), r), out)


def _bshape(a, b):
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        n = max(len(a), len(b))
        pa = (1,) * (n - len(a)) + tuple(a)
        pb = (1,) * (n - len(b)) + tuple(b)
        for i, (x, y) in enumerate(zip(pa, pb)):
            if x != y and x != 1 and y != 1:
                raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                                   f"non-singleton dimension {i}") from None
    return b


def _fmt(v):
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def bernoulli(input, p=None, *, generator=None, out=None):
    rng = _gen(generator)
    d = input._data
    if p is None:
        if d.dtype.kind != "f":
            _not_impl("bernoulli_tensor_cpu_p_", input.dtype)
        if np.any((d < 0) | (d > 1)) or np.any(np.isnan(d)):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
                               "message be improved?  If so, please report an enhancement request to PyTorch.)")
        r = Tensor._make((_uniform01(rng, d.shape, np.dtype(np.float64)) < d).astype(d.dtype))
        return _out(_record_zero("BernoulliBackward0", (input,), r), out)
    pv = float(p.item()) if isinstance(p, Tensor) else float(p)
    if not 0 <= pv <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(pv)}")
    r = Tensor._make((rng.random(d.shape) < pv).astype(d.dtype))
    return _out(_record_zero("NotImplemented", (input,), r), out)


def poisson(input, generator=None):
    d = input._data
    if d.dtype.kind != "f":
        _not_impl("poisson_cpu", input.dtype)
    if np.any(d < 0) or np.any(np.isnan(d)):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    r = Tensor._make(_gen(generator).poisson(d.astype(np.float64)).astype(d.dtype))
    return _record_zero("PoissonBackward0", (input,), r)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    d = input._data
    if d.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{scalar_type_name(d.dtype)}")
    if d.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = d.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    p = d.reshape(-1, n).astype(np.float64)
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    sums = p.sum(axis=1)
    if np.any(sums <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _gen(generator)
    rows = p.shape[0]
    if replacement:
        cdf = np.cumsum(p, axis=1)
        cdf /= cdf[:, -1:]
        u = rng.random((rows, num_samples))
        res = np.empty((rows, num_samples), dtype=np.int64)
        for i in range(rows):
            res[i] = np.searchsorted(cdf[i], u[i], side="right")
        np.minimum(res, n - 1, out=res)
    else:
        # exponential race: the smallest E/p wins; zero-probability categories come last, in
        # random order (PyTorch fills with them when too few categories are positive)
        e = rng.exponential(size=p.shape)
        pos = p > 0
        keys = np.where(pos, e / np.where(pos, p, 1.0), np.inf)
        order = np.lexsort((rng.random(p.shape), keys), axis=-1)
        res = order[:, :num_samples].astype(np.int64)
    if d.ndim == 1:
        res = res.reshape(num_samples)
    return _out(Tensor._make(res), out)


# -- in-place samplers ----------------------------------------------------------------------
def _fill_(self, name, sample):
    """Overwrite ``self`` with ``sample(shape, np_dtype)`` as an in-place op whose gradient is zero."""
    _check_leaf(self)
    d = self._data

    def fn(s):
        r = Tensor._make(np.asarray(sample(d.shape, d.dtype), dtype=d.dtype).reshape(d.shape))
        return _record_zero(name, (s,), r)

    if needs_grad(self) or (self._base is not None and self._view_fn is not None and self._base._rg):
        return inplace(self, fn)
    arr = np.asarray(sample(d.shape, d.dtype), dtype=d.dtype).reshape(d.shape)
    if type(d) is _ndarray:
        if d.ndim == 0:
            d[()] = arr
        else:
            d[...] = arr
    else:
        d[...] = to_device(arr, self.device)
    self._version.v += 1
    return self


def _need_float(self, kernel):
    if self._data.dtype.kind != "f":
        _not_impl(kernel, self.dtype)


def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kw):
    if "from" in kw:
        from_ = kw.pop("from")
    _need_float(self, "check_uniform_bounds")
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={_fmt(from_)} > "
                           f"to={_fmt(to)}")
    rng = _gen(generator)
    return _fill_(self, "UniformBackward0",
                  lambda shape, dt: from_ + (to - from_) * _uniform01(rng, shape, np.dtype(np.float64)))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    _need_float(self, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    rng = _gen(generator)
    return _fill_(self, "NormalBackward0", lambda shape, dt: mean + std * rng.standard_normal(shape))


def bernoulli_(self, p=0.5, *, generator=None):
    rng = _gen(generator)
    if isinstance(p, Tensor):
        pd = p._data.astype(np.float64)
        return _fill_(self, "BernoulliBackward1", lambda shape, dt: rng.random(shape) < np.broadcast_to(pd, shape))
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}")
    return _fill_(self, "BernoulliBackward2", lambda shape, dt: rng.random(shape) < p)


def random_(self, from_=None, to=None, *, generator=None, **kw):
    if "from" in kw:
        from_ = kw.pop("from")
    rng = _gen(generator)
    d = self._data
    if from_ is not None and to is None:
        from_, to = 0, from_
    if from_ is None:
        from_ = 0
        if d.dtype.kind == "f":
            to = 2 ** np.finfo(d.dtype).nmant + 1
        elif d.dtype.kind == "b":
            to = 2
        else:
            to = int(np.iinfo(d.dtype).max) + 1
    t = _dt._from_np[d.dtype]
    lo, hi = int(from_), int(to)
    if lo >= hi:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} >= to={hi}")
    return _fill_(self, "RandomBackward2", lambda shape, dt: _int_range(rng, lo, hi, shape, t))


def exponential_(self, lambd=1.0, *, generator=None):
    _need_float(self, "exponential_cpu")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_fmt(lambd)}")
    rng = _gen(generator)
    return _fill_(self, "ExponentialBackward0", lambda shape, dt: rng.exponential(1.0 / lambd, shape))


def geometric_(self, p, *, generator=None):
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_fmt(p)}")
    rng = _gen(generator)
    return _fill_(self, "GeometricBackward0", lambda shape, dt: rng.geometric(p, shape))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    _need_float(self, "log_normal_cpu")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_fmt(std)}")
    rng = _gen(generator)
    return _fill_(self, "LogNormalBackward0", lambda shape, dt: rng.lognormal(mean, std, shape))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    _need_float(self, "cauchy_cpu")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_fmt(sigma)}")
    rng = _gen(generator)
    return _fill_(self, "CauchyBackward0", lambda shape, dt: median + sigma * rng.standard_cauchy(shape))


def _bernoulli_method(self, p=None, *, generator=None):
    return bernoulli(self, p, generator=generator)


def _multinomial_method(self, num_samples, replacement=False, *, generator=None):
    return multinomial(self, num_samples, replacement, generator=generator)


METHODS = {
    "uniform_": uniform_, "normal_": normal_, "bernoulli_": bernoulli_, "random_": random_,
    "exponential_": exponential_, "geometric_": geometric_, "log_normal_": log_normal_, "cauchy_": cauchy_,
    "bernoulli": _bernoulli_method, "multinomial": _multinomial_method,
}
FUNCTIONS = {
    "Generator": Generator, "default_generator": default_generator, "manual_seed": manual_seed, "seed": seed,
    "initial_seed": initial_seed, "get_rng_state": get_rng_state, "set_rng_state": set_rng_state,
    "rand": rand, "randn": randn, "randint": randint, "randperm": randperm, "normal": normal,
    "bernoulli": bernoulli, "multinomial": multinomial, "poisson": poisson, "rand_like": rand_like,
    "randn_like": randn_like, "randint_like": randint_like, "random": sys.modules[__name__],
}
