"""``repr(tensor)`` exactly as PyTorch prints it, plus ``set_printoptions``.

The layout rules (observed from PyTorch):

* One formatter per tensor decides a common element width.  For floating tensors it looks only
  at the finite, non-zero values: if all are integers they print as ``1.``; scientific notation
  is chosen when max/min of their magnitudes exceeds 1000, the largest exceeds 1e8, or (for
  non-integers) the smallest is below 1e-4.  ``sci_mode`` in the print options overrides the
  choice before the width is measured.
* When ``numel > threshold`` the tensor is summarized: every dimension longer than
  ``2 * edgeitems`` keeps only its first and last ``edgeitems`` entries, and the formatter is
  built from that reduced data only -- large tensors are never formatted in full.
* Rows wrap so that a line holds ``floor((linewidth - indent) / (width + 2))`` elements.
"""
import contextlib
import math

import numpy as np

__all__ = ["set_printoptions", "get_printoptions", "printoptions", "tensor_repr", "parameter_repr"]

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}


class _PrintOptions:
    __slots__ = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")

    def __init__(self):
        for k, v in _PROFILES["default"].items():
            setattr(self, k, v)
        self.sci_mode = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """Same knobs as ``torch.set_printoptions``.  ``sci_mode`` is reset to its argument (None
    by default) on every call, like PyTorch; an unknown profile name is ignored."""
    if profile is not None and profile in _PROFILES:
        for k, v in _PROFILES[profile].items():
            setattr(PRINT_OPTS, k, v)
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    return {k: getattr(PRINT_OPTS, k) for k in _PrintOptions.__slots__}


@contextlib.contextmanager
def printoptions(**kwargs):
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


# -- data access ---------------------------------------------------------------------------------
def _host_array(t):
    data = t._data
    if type(data) is not np.ndarray:
        try:
            import cupy  # noqa: F401 - only present with CUDA

            data = cupy.asnumpy(data)
        except ImportError:
            data = np.asarray(data)
    return data


def _summarize(a, edgeitems):
    """Keep the first and last ``edgeitems`` entries of every axis longer than 2*edgeitems;
    returns the reduced array and, per axis, whether it was cut."""
    cuts = []
    for axis, n in enumerate(a.shape):
        if n > 2 * edgeitems:
            idx = np.concatenate([np.arange(edgeitems), np.arange(n - edgeitems, n)])
            a = np.take(a, idx, axis=axis)
            cuts.append(True)
        else:
            cuts.append(False)
    return a, cuts


# -- element formatting --------------------------------------------------------------------------
def _format_elements(a, floating):
    """Strings for every element of ``a`` (already summarized), right-aligned to a common
    width; returns (list of strings in C order, width)."""
    prec = PRINT_OPTS.precision
    if not floating:
        strs = [str(v) for v in a.reshape(-1).tolist()]
        width = max([1] + [len(s) for s in strs])
        return [s.rjust(width) for s in strs], width

    vals = a.astype(np.float64, copy=False).reshape(-1)
    finite = np.isfinite(vals)
    nz = vals[finite & (vals != 0)]
    int_mode, sci, width = True, False, 1
    if nz.size:
        mag = np.abs(nz)
        lo, hi = float(mag.min()), float(mag.max())
        int_mode = bool(np.all(np.ceil(nz) == nz))
        sci = hi / lo > 1000.0 or hi > 1.0e8 or (not int_mode and lo < 1.0e-4)
        if PRINT_OPTS.sci_mode is not None:
            sci = PRINT_OPTS.sci_mode
        nz_list = nz.tolist()
        if sci:
            width = max(len(f"{v:.{prec}e}") for v in nz_list)
        elif int_mode:
            width = max(len(f"{v:.0f}") for v in nz_list) + 1
        else:
            width = max(len(f"{v:.{prec}f}") for v in nz_list)
    # with no finite non-zero value PyTorch keeps the plain integer style, whatever sci_mode says

    values = vals.tolist()
    if sci:
        strs = [f"{v:.{prec}e}" for v in values]
    elif int_mode:
        strs = [f"{v:.0f}." if f else f"{v:.0f}" for v, f in zip(values, finite.tolist())]
    else:
        strs = [f"{v:.{prec}f}" for v in values]
    return [s.rjust(width) for s in strs], width


# -- layout --------------------------------------------------------------------------------------
def _layout(cells, cuts, width, indent):
    """Nested-bracket text of an object array of formatted cells."""
    edge = PRINT_OPTS.edgeitems
    nd = cells.ndim
    if nd == 1:
        items = cells.tolist()
        if cuts[0]:
            items = items[:edge] + [" ..."] + items[edge:]
        per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / (width + 2))))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    parts = [_layout(cells[i], cuts[1:], width, indent + 1) for i in range(cells.shape[0])]
    if cuts[0]:
        parts = parts[:edge] + ["..."] + parts[edge:]
    return "[" + ("," + "\n" * (nd - 1) + " " * (indent + 1)).join(parts) + "]"


def _body(t, indent):
    """The bracketed values of a non-empty tensor (or the scalar for 0-d)."""
    a = _host_array(t)
    floating = a.dtype.kind == "f"
    summarize = a.size > PRINT_OPTS.threshold
    if a.ndim == 0:
        strs, _ = _format_elements(a.reshape(1), floating)
        return strs[0]
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        return "[...]"
    if summarize:
        a, cuts = _summarize(a, edge)
    else:
        cuts = [False] * a.ndim
    strs, width = _format_elements(a, floating)
    cells = np.empty(len(strs), dtype=object)
    cells[:] = strs
    return _layout(cells.reshape(a.shape), cuts, width, indent)


def _add_suffixes(text, suffixes, indent):
    # PyTorch measures the current line as len - rfind("\n") + 1; keep that exact measure.
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            text += ",\n" + " " * indent + suffix
            last_line_len = indent + len(suffix)
        else:
            text += ", " + suffix
            last_line_len += len(suffix) + 2
    return text + ")"


def tensor_repr(t, prefix="tensor("):
    """``repr`` of an engine tensor, byte-identical to PyTorch's."""
    from .dtypes import bool as _bool, get_default_dtype, int64

    indent = len(prefix)
    suffixes = []
    dev = str(t.device)
    if dev != "cpu":
        suffixes.append(f"device='{dev}'")
    dt = t.dtype
    default = get_default_dtype()
    if t._data.size == 0:
        if t._data.ndim != 1:
            suffixes.append("size=" + str(tuple(t._data.shape)))
        if dt is not default:
            suffixes.append("dtype=" + str(dt))
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append("size=" + str(tuple(t._data.shape)))
        if dt is not default and dt is not int64 and dt is not _bool:
            suffixes.append("dtype=" + str(dt))
        body = _body(t, indent)
    grad_fn = t.grad_fn
    if grad_fn is not None:
        name = grad_fn.name() if hasattr(grad_fn, "name") else type(grad_fn).__name__
        suffixes.append(f"grad_fn=<{name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)


def parameter_repr(t):
    """``repr`` of an ``nn.Parameter``: PyTorch's header line over the tensor's own repr."""
    return "Parameter containing:\n" + tensor_repr(t)
