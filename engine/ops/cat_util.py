"""Helpers for ops that take a list of tensors (cat, stack): common dtype and device."""
from .. import dtypes as _dt
from ._util import check_same_device


def common_arrays(tensors):
    """Arrays of ``tensors`` cast to their promoted dtype (all on one device)."""
    first = tensors[0]
    d = first.dtype
    for t in tensors[1:]:
        check_same_device(first, t)
        d = _dt.promote_types(d, t.dtype)
    return [t._data if t._data.dtype == d.np else t._data.astype(d.np) for t in tensors]
