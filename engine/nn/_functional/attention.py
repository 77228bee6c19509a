"""Scaled dot-product and multi-head attention.

``scaled_dot_product_attention`` is one graph node: the forward runs on arrays
(``softmax(q k^T * scale + bias) v``, rows whose every score is masked give zeros as in PyTorch's
math kernel) and the backward is the usual attention derivative; under ``create_graph=True`` the
backward is rebuilt from Tensor ops so it can be differentiated again.

``multi_head_attention_forward`` follows PyTorch's functional step by step (in-projection,
``bias_k``/``bias_v``, ``add_zero_attn``, mask canonicalisation and merging, the explicit
``baddbmm``/``softmax``/``bmm`` route when the weights are asked for, scaled dot-product attention
otherwise, out-projection), built from differentiable engine ops.  Heads are kept as
``(batch, heads, seq, head_dim)`` views of the projections so no copy is made before attention.
"""
import math
import warnings

import numpy as np

from ... import dtypes as _dt
from ...autograd.grad_mode import GradMode
from ...ops import FUNCTIONS as _OPS
from ...ops._util import Node, Tensor, needs_grad, record, xp_of
from .activation import softmax as _softmax
from .dropout import _check_p, _mask as _dropout_mask
from .dropout import dropout as _dropout
from .linear import linear as _linear
from .vision import pad as _pad

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_cat = _OPS["cat"]
_zeros = _OPS["zeros"]
_bmm = _OPS["bmm"]
_baddbmm = _OPS["baddbmm"]
_NEG_INF = float("-inf")


# -- scaled dot-product attention -----------------------------------------------------------
def _sum_to(a, shape):
    """Sum a broadcast gradient array back to ``shape``."""
    if a.shape == tuple(shape):
        return a
    lead = a.ndim - len(shape)
    if lead:
        a = a.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and a.shape[i] != 1)
    if axes:
        a = a.sum(axis=axes, keepdims=True)
    return a


def _sum_to_t(t, shape):
    shape = tuple(shape)
    if tuple(t.shape) == shape:
        return t
    lead = t.dim() - len(shape)
    if lead:
        t = t.sum(tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and t.shape[i] != 1)
    if axes:
        t = t.sum(axes, keepdim=True)
    return t


def _swap(a):
    return a.swapaxes(-1, -2)


class ScaledDotProductAttentionBackward0(Node):
    forward = "result = P @ value, P = softmax(query @ key.mT * scale + attn_mask) [* dropout]"
    formula = ("grad_query = dS @ key * scale, dS = P * (dP - (dP * P).sum(-1, keepdim=True)),"
               " dP = grad @ value.mT [* dropout]; "
               "grad_key = dS.mT @ query * scale; "
               "grad_value = (P [* dropout]).mT @ grad; "
               "grad_attn_mask = dS")

    def __init__(self, scale, probs, drop, dead):
        super().__init__()
        self.scale = scale
        self.probs = probs  # softmax array (before dropout), kept for the plain backward
        self.drop = drop  # scaled dropout mask array or None
        self.dead = dead  # boolean array of rows whose every score was -inf, or None
        self._bool_mask = None

    def _release_extra(self):
        self.probs = None
        self.drop = None

    def backward(self, grad):
        q, k, v, bias = self.saved()
        nf = self.next_functions
        need = [f[0] is not None for f in nf]
        if GradMode.enabled:
            return self._backward_graph(grad, q, k, v, bias, need)
        p = self.probs
        g = grad._data
        if g.dtype != p.dtype:
            g = g.astype(p.dtype)
        pd = p if self.drop is None else p * self.drop
        gq = gk = gv = gb = None
        if need[2]:
            gv = Tensor._make(_sum_to(np.matmul(_swap(pd), g), v._data.shape).astype(v._data.dtype, copy=False))
        if need[0] or need[1] or need[3]:
            dp = np.matmul(g, _swap(v._data))
            if self.drop is not None:
                dp *= self.drop
            ds = p * (dp - (dp * p).sum(-1, keepdims=True))
            if need[3]:
                gb = Tensor._make(_sum_to(ds, bias._data.shape).astype(bias._data.dtype, copy=False))
            if need[0]:
                gq = Tensor._make(_sum_to(np.matmul(ds, k._data) * self.scale, q._data.shape)
                                  .astype(q._data.dtype, copy=False))
            if need[1]:
                gk = Tensor._make(_sum_to(np.matmul(_swap(ds), q._data) * self.scale, k._data.shape)
                                  .astype(k._data.dtype, copy=False))
        return gq, gk, gv, gb

    def _backward_graph(self, grad, q, k, v, bias, need):
        # rebuild the probabilities from the saved inputs so that the result stays differentiable
        s = q.matmul(k.mT) * self.scale
        if bias is not None:
            s = s + bias
        elif self._bool_mask is not None:  # causal / boolean masks were applied on arrays
            s = s.masked_fill(Tensor._make(self._bool_mask), _NEG_INF)
        if self.dead is not None:
            s = s.masked_fill(Tensor._make(np.broadcast_to(self.dead, s.shape)), 0.0)
        p = s.softmax(-1)
        if self.dead is not None:
            p = p.masked_fill(Tensor._make(np.broadcast_to(self.dead, p.shape)), 0.0)
        d = Tensor._make(self.drop) if self.drop is not None else None
        pd = p if d is None else p * d
        gq = gk = gv = gb = None
        if need[2]:
            gv = _sum_to_t(pd.mT.matmul(grad), v.shape)
        if need[0] or need[1] or need[3]:
            dp = grad.matmul(v.mT)
            if d is not None:
                dp = dp * d
            ds = p * (dp - (dp * p).sum(-1, keepdim=True))
            if need[3]:
                gb = _sum_to_t(ds, bias.shape)
            if need[0]:
                gq = _sum_to_t(ds.matmul(k) * self.scale, q.shape)
            if need[1]:
                gk = _sum_to_t(ds.mT.matmul(q) * self.scale, k.shape)
        return gq, gk, gv, gb


def _sdpa_core(q, k, v, bias, bool_bias, scale, dropout_p):
    """``softmax(q k^T * scale + bias) v`` as one node.  ``bias`` is a float Tensor (may require
    grad) and ``bool_bias`` an additive array built from causal/boolean masks (constant)."""
    qa, ka, va = q._data, k._data, v._data
    xp = xp_of(qa)
    work = qa.dtype
    if work == np.float16:
        work = np.dtype(np.float32)
    s = xp.matmul(qa.astype(work, copy=False), _swap(ka.astype(work, copy=False)))
    s *= work.type(scale)
    if bool_bias is not None:
        s = s + bool_bias
    if bias is not None:
        s = s + bias._data.astype(work, copy=False)
    m = s.max(-1, keepdims=True)
    dead = None
    finite = np.isfinite(m) if xp is np else xp.isfinite(m)
    if not finite.all():
        dead = m == _NEG_INF
        m = xp.where(dead, 0, m)
        if not dead.any():
            dead = None
    with np.errstate(invalid="ignore", over="ignore"):
        e = xp.exp(s - m)
    tot = e.sum(-1, keepdims=True)
    if dead is not None:
        tot = xp.where(dead, 1, tot)
    p = e / tot
    drop = None
    if dropout_p > 0.0:
        drop = _dropout_mask(Tensor._make(p), dropout_p, p.shape)._data
        pd = p * drop
    else:
        pd = p
    out = xp.matmul(pd, va.astype(work, copy=False)).astype(qa.dtype, copy=False)
    r = Tensor._make(out)
    if needs_grad(q, k, v, bias):
        node = ScaledDotProductAttentionBackward0(scale, p, drop, dead)
        if bool_bias is not None and bias is None:
            node._bool_mask = np.broadcast_to(bool_bias == _NEG_INF, s.shape)
        elif bool_bias is not None:  # fold the constant part into the differentiable bias
            bias = bias + Tensor._make(bool_bias.astype(bias._data.dtype, copy=False))
        node.save(q, k, v, bias)
        record(node, (q, k, v, bias), r)
    return r


def _float_name(dt):
    return {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
            "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool"}.get(str(dt).replace("torch.", ""), str(dt))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be Tensor, "
                            f"not {type(t).__name__}")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                           f"{query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} instead.")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{_float_name(query.dtype)} key.dtype: {_float_name(key.dtype)} and value.dtype: "
                           f"{_float_name(value.dtype)} instead.")
    if not query.is_floating_point():
        raise RuntimeError(f"scaled_dot_product_attention: expected floating-point query, got {query.dtype}")
    if attn_mask is not None:
        if attn_mask.dtype != _dt.bool and not attn_mask.is_floating_point():
            raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                               f"attn_mask.dtype: {_float_name(attn_mask.dtype)} and  query.dtype: "
                               f"{_float_name(query.dtype)} instead.")
        if is_causal and not _fused_takes_both(query, key, value, attn_mask, dropout_p):
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                               "is_causal=True")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{math.prod(key.shape[:-2]) or 1}, {query.shape[-1]}] but got: "
                           f"[{math.prod(key.shape[:-2]) or 1}, {key.shape[-1]}].")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{math.prod(value.shape[:-2]) or 1}, {key.shape[-2]}] but got: "
                           f"[{math.prod(value.shape[:-2]) or 1}, {value.shape[-2]}].")
    _check_p(dropout_p)
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    sc = 1.0 / math.sqrt(E) if scale is None else float(scale)
    if enable_gqa and query.dim() >= 3 and key.dim() >= 3 and value.dim() >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk != hv or hq % hk != 0:
            raise RuntimeError("Number of heads in key and value must divide the number of heads in ")
        if hk != hq:
            key = _repeat_heads(key, hq // hk)
            value = _repeat_heads(value, hq // hv)
    xp = xp_of(query._data)
    work = np.dtype(np.float32) if query._data.dtype == np.float16 else query._data.dtype
    bool_bias = None
    bias = None
    if is_causal:
        keep = xp.tril(xp.ones((L, S), dtype=bool))
        bool_bias = xp.where(keep, 0.0, _NEG_INF).astype(work)
    if attn_mask is not None:
        if attn_mask.dtype == _dt.bool:
            b = xp.where(attn_mask._data, 0, _NEG_INF).astype(work)
            bool_bias = b if bool_bias is None else bool_bias + b
        else:
            bias = attn_mask
    return _sdpa_core(query, key, value, bias, bool_bias, sc, float(dropout_p))


def _fused_takes_both(query, key, value, attn_mask, dropout_p):
    """PyTorch's fused CPU kernel accepts a mask together with ``is_causal`` (and applies both);
    its math fallback refuses.  The fused kernel is picked for 4-D inputs with one batch size and
    one head dimension, no dropout and a mask that needs no gradient."""
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        return False
    if not (query.shape[0] == key.shape[0] == value.shape[0]):
        return False
    if not (query.shape[-1] == key.shape[-1] == value.shape[-1]):
        return False
    if dropout_p > 0.0:
        return False
    return not (GradMode.enabled and attn_mask.requires_grad)


def _repeat_heads(x, n):
    """``x.repeat_interleave(n, dim=-3)`` through expand + reshape."""
    s = tuple(x.shape)
    e = x.unsqueeze(-3).expand(s[:-2] + (n,) + s[-2:])
    return e.reshape(s[:-3] + (s[-3] * n,) + s[-2:])


# -- mask helpers shared with the Transformer modules -----------------------------------------
def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """Boolean masks become float masks (``-inf`` where True); float masks pass through."""
    if mask is None:
        return None
    mdt = mask.dtype
    is_float = mask.is_floating_point()
    if mdt != _dt.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mdt != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=2)
    if not is_float:
        # built from engine ops (not raw arrays) so that a trace records it and replays it on a new mask
        mask = mask.to(target_type).masked_fill(mask, float("-inf"))  # True -> -inf, False -> 0
    return mask


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                                 f"found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D "
                                 f"but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                     f"but found {attn_mask.dim()}-D tensor instead")
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                         "tensor")


# -- multi-head attention ---------------------------------------------------------------------
def _in_projection_packed(q, k, v, w, b):
    E = q.shape[-1]
    if k is v:
        if q is k:
            return _linear(q, w, b).chunk(3, -1)
        w_q, w_kv = w.split([E, 2 * E])
        b_q, b_kv = (None, None) if b is None else b.split([E, 2 * E])
        kv = _linear(k, w_kv, b_kv).chunk(2, -1)
        return _linear(q, w_q, b_q), kv[0], kv[1]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return _linear(q, w_q, b_q), _linear(k, w_k, b_k), _linear(v, w_v, b_v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q, b_k, b_v):
    Eq, Ek, Ev = q.shape[-1], k.shape[-1], v.shape[-1]
    for name, w, want in (("query", w_q, (Eq, Eq)), ("key", w_k, (Eq, Ek)), ("value", w_v, (Eq, Ev))):
        if tuple(w.shape) != want:
            raise AssertionError(f"expecting {name} weights shape of {want}, but got {w.shape}")
    for name, b in (("query", b_q), ("key", b_k), ("value", b_v)):
        if b is not None and tuple(b.shape) != (Eq,):
            raise AssertionError(f"expecting {name} bias shape of {(Eq,)}, but got {b.shape}")
    return _linear(q, w_q, b_q), _linear(k, w_k, b_k), _linear(v, w_v, b_v)


def _heads(x, bsz, num_heads, head_dim):
    """``(seq, batch, embed)`` -> ``(batch, heads, seq, head_dim)`` (a view when possible)."""
    return x.reshape(x.shape[0], bsz, num_heads, head_dim).permute(1, 2, 0, 3)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]

    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask",
                                       query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # scaled_dot_product_attention builds the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False

    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                                 f"{value.shape[:2]}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")

    # in-projection
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    else:
        if q_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight is None")
        if k_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but k_proj_weight is None")
        if v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but v_proj_weight is None")
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, b_q, b_k, b_v)

    # attention mask: (1, L, S) or (B*H, L, S)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = _cat([k, bias_k.repeat(1, bsz, 1)])
        v = _cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = _pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = _pad(key_padding_mask, (0, 1))
    else:
        if bias_k is not None:
            raise AssertionError("bias_k is set but bias_v is None")
        if bias_v is not None:
            raise AssertionError("bias_v is set but bias_k is None")

    # heads: (B, H, seq, head_dim)
    q = _heads(q, bsz, num_heads, head_dim)
    if static_k is None:
        k = _heads(k, bsz, num_heads, head_dim)
    else:
        if static_k.shape[0] != bsz * num_heads:
            raise AssertionError(f"expecting static_k.size(0) of {bsz * num_heads}, but got {static_k.shape[0]}")
        if static_k.shape[2] != head_dim:
            raise AssertionError(f"expecting static_k.size(2) of {head_dim}, but got {static_k.shape[2]}")
        k = static_k.view(bsz, num_heads, static_k.shape[1], head_dim)
    if static_v is None:
        v = _heads(v, bsz, num_heads, head_dim)
    else:
        if static_v.shape[0] != bsz * num_heads:
            raise AssertionError(f"expecting static_v.size(0) of {bsz * num_heads}, but got {static_v.shape[0]}")
        if static_v.shape[2] != head_dim:
            raise AssertionError(f"expecting static_v.size(2) of {head_dim}, but got {static_v.shape[2]}")
        v = static_v.view(bsz, num_heads, static_v.shape[1], head_dim)

    if add_zero_attn:
        k = _cat([k, _zeros((bsz, num_heads, 1, head_dim), dtype=k.dtype, device=k.device)], dim=2)
        v = _cat([v, _zeros((bsz, num_heads, 1, head_dim), dtype=v.dtype, device=v.device)], dim=2)
        if attn_mask is not None:
            attn_mask = _pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = _pad(key_padding_mask, (0, 1))

    src_len = k.shape[2]
    # merged float mask, broadcastable to (B, H, L, S)
    if attn_mask is not None:
        attn_mask = attn_mask.view(1, 1, tgt_len, src_len) if attn_mask.shape[0] == 1 else \
            attn_mask.view(bsz, num_heads, tgt_len, src_len)
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                                 f"{key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        kpm = key_padding_mask.view(bsz, 1, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    if not training:
        dropout_p = 0.0

    if need_weights:
        # the explicit route: scores = baddbmm(mask, q * sqrt(1/E), k^T), softmax, dropout, bmm
        BH = bsz * num_heads
        q3 = q.reshape(BH, tgt_len, head_dim)
        k3 = k.reshape(BH, src_len, head_dim)
        v3 = v.reshape(BH, src_len, head_dim)
        q_scaled = q3 * math.sqrt(1.0 / float(head_dim))
        if attn_mask is not None:
            if tuple(attn_mask.shape) == (1, 1, tgt_len, src_len):
                m3 = attn_mask.view(1, tgt_len, src_len)
            else:
                m3 = attn_mask.expand(bsz, num_heads, tgt_len, src_len).reshape(BH, tgt_len, src_len)
            w = _baddbmm(m3, q_scaled, k3.transpose(-2, -1))
        else:
            w = _bmm(q_scaled, k3.transpose(-2, -1))
        w = _softmax(w, dim=-1)
        if dropout_p > 0.0:
            w = _dropout(w, p=dropout_p)
        out = _bmm(w, v3)
        out = out.view(bsz, num_heads, tgt_len, head_dim)
        out = out.permute(2, 0, 1, 3).reshape(tgt_len * bsz, embed_dim)
        out = _linear(out, out_proj_weight, out_proj_bias)
        out = out.view(tgt_len, bsz, out.shape[1])
        w = w.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            w = w.mean(dim=1)
        if not is_batched:
            out = out.squeeze(1)
            w = w.squeeze(0)
        return out, w

    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = _linear(out, out_proj_weight, out_proj_bias)
    out = out.view(tgt_len, bsz, out.shape[1])
    if not is_batched:
        out = out.squeeze(1)
    return out, None
