"""Functional recurrent kernels shared by the RNN/LSTM/GRU modules and their cells.

Public entry point (the tracing/ONNX helpers and the quantized LSTM rely on its exact name and
signature)::

    rnn_forward(mode, input, hx, weights, has_biases, num_layers, dropout, training,
                bidirectional, proj_size)

Every non-packed ``RNN``/``LSTM``/``GRU`` module forward (and every cell forward) makes exactly
one call to it.  ``rnn_forward_packed`` is the same computation for ``PackedSequence`` data.

How a layer is computed
-----------------------
Each layer and direction is one fused graph node: the forward projects the input of *all*
timesteps with one matrix product (``x @ W_ih.T + b_ih + b_hh``), then loops over timesteps
on arrays (``h @ W_hh.T``, the gate nonlinearities, the cell update and the LSTM projection);
the backward is a hand-written backpropagation through time on arrays, ending with one matrix
product each for the gradients of ``x``, ``W_ih`` and ``W_hh``.  When the backward itself
must be differentiated (``create_graph=True``) the node instead re-runs the same layer
composed from differentiable Tensor ops (``_layer_composed``) and differentiates that, so
higher-order gradients are exact.

Timesteps are laid out as in a ``PackedSequence``: a 2-D ``(N, features)`` array whose step
``t`` occupies ``batch_sizes[t]`` consecutive rows (a padded ``(T, B, F)`` input is the case
``batch_sizes == [B] * T``).  Batch sizes never grow with ``t``, so at each step the active
sequences are the leading rows of the hidden state.

Gate layouts follow PyTorch: LSTM ``(i, f, g, o)``, GRU ``(r, z, n)``.
"""
import functools
import threading

import numpy as np

from ...autograd.grad_mode import GradMode
from ...ops._util import Node, Tensor, needs_grad, record_multi, xp_of

__all__ = ["rnn_forward"]

_MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")


@functools.lru_cache(maxsize=64)
def _plan(sizes, reverse):
    """Processing order and gather indices for a batch-size schedule.

    Returns ``(offs, order, pidx, lidx)``: ``order`` lists ``(row offset, batch size, previous
    step's (offset, batch size) or None)`` in processing order; ``pidx`` (N,) gives, for each
    row, the row of ``[h0; out]`` holding its previous hidden state (``None`` when that is
    simply ``arange(N)``); ``lidx`` (B,) the row of ``[h0; out]`` holding each sequence's final
    state."""
    offs = []
    o = 0
    for s in sizes:
        offs.append(o)
        o += s
    N = o
    B = sizes[0] if sizes else 0
    steps = range(len(sizes) - 1, -1, -1) if reverse else range(len(sizes))
    order = []
    pidx = np.empty(N, dtype=np.intp)
    lidx = np.arange(B, dtype=np.intp)
    prev = None
    for t in steps:
        bs, o0 = sizes[t], offs[t]
        if prev is None:
            pidx[o0:o0 + bs] = np.arange(bs)
        else:
            po, pbs = prev
            k = min(bs, pbs)
            pidx[o0:o0 + k] = B + po + np.arange(k)
            pidx[o0 + k:o0 + bs] = np.arange(k, bs)
        lidx[:bs] = B + o0 + np.arange(bs)
        order.append((o0, bs, prev))
        prev = (o0, bs)
    identity = bool(np.array_equal(pidx, np.arange(N)))
    return offs, tuple(order), (None if identity else pidx), lidx


def _prev(xp, out, first, step):
    """The previous state rows of a step: a view of the previous step's rows when it had at
    least as many, else those rows followed by rows of the initial state."""
    o0, bs, prev = step
    if prev is None:
        return first[:bs]
    po, pbs = prev
    if pbs >= bs:
        return out[po:po + bs]
    return xp.concatenate([out[po:po + pbs], first[pbs:bs]])


def _gather(xp, first, out, idx):
    if idx is None:
        return xp.concatenate([first, out[:out.shape[0] - first.shape[0]]]) if out.shape[0] >= first.shape[0] \
            else xp.concatenate([first, out])[:out.shape[0]]
    return xp.concatenate([first, out])[xp.asarray(idx)]


def _gate_scale(xp, dt, H, n_sig, n_all):
    """Per-column scale putting a sigmoid gate's pre-activation at half (so that one ``tanh``
    over all gates gives ``sigmoid(a) = 0.5 * tanh(a / 2) + 0.5``) and the shift after it."""
    s = np.ones(n_all * H, dtype=dt)
    b = np.zeros(n_all * H, dtype=dt)
    for k in n_sig:
        s[k * H:(k + 1) * H] = 0.5
        b[k * H:(k + 1) * H] = 0.5
    return xp.asarray(s), xp.asarray(b)


_scratch = threading.local()


_SCRATCH_MAX = 1 << 24  # bytes: larger intermediates are allocated afresh, not kept


def _buffer(xp, name, shape, dt):
    """A per-thread scratch array for intermediates that never leave a kernel call.  Reusing
    it avoids a fresh large allocation (and its page faults) on every step of training."""
    if np.prod(shape) * np.dtype(dt).itemsize > _SCRATCH_MAX:
        return xp.empty(shape, dtype=dt)
    pool = getattr(_scratch, "pool", None)
    if pool is None:
        pool = _scratch.pool = {}
    b = pool.get(name)
    if b is None or b.shape != shape or b.dtype != dt or xp_of(b) is not xp:
        b = pool[name] = xp.empty(shape, dtype=dt)
    return b


def _bias_sum(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


# -- array kernels ----------------------------------------------------------------------------
def _forward_arrays(mode, x, wih, bih, h0, c0, whh, bhh, whr, sizes, reverse, keep):
    """Run one layer (one direction) on arrays: ``x`` (N, F) rows laid out by ``sizes``.
    Returns ``(out, h_n, c_n, saved)``; ``saved`` holds what the backward needs (only when
    ``keep``)."""
    xp = xp_of(x)
    dt = x.dtype
    offs, order, pidx, lidx = _plan(sizes, reverse)
    N = x.shape[0]
    B = h0.shape[0]
    P = h0.shape[1]
    h0 = xp.ascontiguousarray(h0, dtype=dt)
    out = xp.empty((N, P), dtype=dt)
    saved = None
    c_n = None
    last = xp.asarray(lidx - B)  # every sequence has at least one step: its final state is a row of out
    if mode == "LSTM":
        H = c0.shape[1]
        c0 = xp.ascontiguousarray(c0, dtype=dt)
        scale, shift = _gate_scale(xp, dt, H, (0, 1, 3), 4)
        # pre-activations of every step at once (sigmoid gates halved), then activations in place
        acts = x @ xp.ascontiguousarray(wih.T * scale)
        b = _bias_sum(bih, bhh)
        if b is not None:
            acts += b * scale
        whhT = xp.ascontiguousarray(whh.T * scale)
        whrT = xp.ascontiguousarray(whr.T) if whr is not None else None
        cs = xp.empty((N, H), dtype=dt)
        tcs = xp.empty((N, H), dtype=dt)
        hrs = xp.empty((N, H), dtype=dt) if whr is not None else None
        for step in order:
            o0, bs = step[0], step[1]
            sl = slice(o0, o0 + bs)
            hp = _prev(xp, out, h0, step)
            cp = _prev(xp, cs, c0, step)
            g = acts[sl]
            g += hp @ whhT
            xp.tanh(g, out=g)
            g *= scale
            g += shift
            cn = cs[sl]
            xp.multiply(g[:, H:2 * H], cp, out=cn)
            cn += g[:, :H] * g[:, 2 * H:3 * H]
            tc = tcs[sl]
            xp.tanh(cn, out=tc)
            if whrT is None:
                xp.multiply(g[:, 3 * H:], tc, out=out[sl])
            else:
                hr = hrs[sl]
                xp.multiply(g[:, 3 * H:], tc, out=hr)
                xp.matmul(hr, whrT, out=out[sl])
        c_n = cs[last]
        if keep:
            saved = (acts, _gather(xp, h0, out, pidx), _gather(xp, c0, cs, pidx), tcs, hrs)
    elif mode == "GRU":
        H = P
        scale, shift = _gate_scale(xp, dt, H, (0, 1), 3)
        xs = xp.matmul(x, xp.ascontiguousarray(wih.T * scale), out=_buffer(xp, "gru_x", (N, 3 * H), dt))
        if bih is not None:
            xs += bih * scale
        whhT = xp.ascontiguousarray(whh.T * scale)
        bhs = bhh * scale if bhh is not None else None
        rzs = xp.empty((N, 2 * H), dtype=dt)
        ns = xp.empty((N, H), dtype=dt)
        ghs = _buffer(xp, "gru_h", (N, 3 * H), dt)
        sc2, sh2 = scale[:2 * H], shift[:2 * H]
        for step in order:
            o0, bs = step[0], step[1]
            sl = slice(o0, o0 + bs)
            hp = _prev(xp, out, h0, step)
            xt = xs[sl]
            gh = ghs[sl]
            xp.matmul(hp, whhT, out=gh)
            if bhs is not None:
                gh += bhs
            rz = rzs[sl]
            xp.add(xt[:, :2 * H], gh[:, :2 * H], out=rz)
            xp.tanh(rz, out=rz)
            rz *= sc2
            rz += sh2
            n = ns[sl]
            xp.multiply(rz[:, :H], gh[:, 2 * H:], out=n)
            n += xt[:, 2 * H:]
            xp.tanh(n, out=n)
            hn = out[sl]
            xp.subtract(hp, n, out=hn)
            hn *= rz[:, H:]
            hn += n
        if keep:
            saved = (_gather(xp, h0, out, pidx), rzs, ns, ghs[:, 2 * H:].copy())
    else:
        relu = mode == "RNN_RELU"
        whhT = xp.ascontiguousarray(whh.T)
        xb = x @ xp.ascontiguousarray(wih.T)
        b = _bias_sum(bih, bhh)
        if b is not None:
            xb += b
        for step in order:
            o0, bs = step[0], step[1]
            sl = slice(o0, o0 + bs)
            hp = _prev(xp, out, h0, step)
            a = out[sl]
            xp.matmul(hp, whhT, out=a)
            a += xb[sl]
            if relu:
                xp.maximum(a, 0, out=a)
            else:
                xp.tanh(a, out=a)
        if keep:  # the activation's derivative, taken now: the output may be changed in place later
            saved = (_gather(xp, h0, out, pidx), (out > 0).astype(dt) if relu else 1.0 - out * out)
    return out, out[last], c_n, saved


def _backward_arrays(mode, saved, x, wih, whh, whr, h0shape, c0shape, sizes, reverse, gout, ghn, gcn, need):
    """Backpropagation through time on arrays.  ``need`` flags the node's inputs
    (x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr); returns their gradients (None where not needed).

    The local derivatives that do not depend on the incoming gradient are formed for all
    timesteps at once before the loop, so each step is a handful of array operations."""
    xp = xp_of(x)
    dt = x.dtype
    offs, order, _, _ = _plan(sizes, reverse)
    order = order[::-1]
    N = x.shape[0]
    whh = xp.ascontiguousarray(whh)
    dh = ghn.astype(dt, copy=True) if ghn is not None else xp.zeros(h0shape, dtype=dt)
    dw_hr = None
    dc0 = None
    if mode == "LSTM":
        acts, hprev, cprev, tcs, hrs = saved
        H = c0shape[1]
        i = acts[:, :H]
        f = acts[:, H:2 * H]
        g = acts[:, 2 * H:3 * H]
        o = acts[:, 3 * H:]
        # d gates[i, f, g] = dc_t * Q, d gate[o] = dh_t * R, dc_t = dc + dh_t * Ko
        Q = _buffer(xp, "lstm_q", (N, 3, H), dt)
        t = 1.0 - i
        t *= i
        xp.multiply(g, t, out=Q[:, 0])  # g i (1 - i)
        xp.subtract(1.0, f, out=t)
        t *= f
        xp.multiply(cprev, t, out=Q[:, 1])  # c_prev f (1 - f)
        xp.multiply(g, g, out=t)
        xp.subtract(1.0, t, out=t)
        xp.multiply(i, t, out=Q[:, 2])  # i (1 - g^2)
        R = 1.0 - o
        R *= o
        R *= tcs  # tanh(c) o (1 - o)
        Ko = tcs * tcs
        xp.subtract(1.0, Ko, out=Ko)
        Ko *= o  # o (1 - tanh(c)^2)
        dc = gcn.astype(dt, copy=True) if gcn is not None else xp.zeros(c0shape, dtype=dt)
        dG = _buffer(xp, "lstm_dg", acts.shape, dt)
        dHr = xp.empty((N, h0shape[1]), dtype=dt) if whr is not None else None
        whr_c = xp.ascontiguousarray(whr) if whr is not None else None
        for o0, bs, _ in order:
            sl = slice(o0, o0 + bs)
            dht = dh[:bs]
            if gout is not None:
                dht = dht + gout[sl]
            if dHr is not None:
                dHr[sl] = dht
                dht = dht @ whr_c
            d = dG[sl]
            dct = dht * Ko[sl]
            dct += dc[:bs]
            xp.multiply(dct[:, None, :], Q[sl], out=d[:, :3 * H].reshape(bs, 3, H))
            xp.multiply(dht, R[sl], out=d[:, 3 * H:])
            xp.multiply(dct, f[sl], out=dc[:bs])
            xp.matmul(d, whh, out=dh[:bs])
        dgh = dxg = dG
        if need[7]:
            dw_hr = dHr.T @ hrs
        dc0 = dc
    elif mode == "GRU":
        hprev, rzs, ns, ghns = saved
        H = h0shape[1]
        r = rzs[:, :H]
        z = rzs[:, H:]
        K1 = 1.0 - ns * ns
        K1 *= 1.0 - z
        K2 = 1.0 - r
        K2 *= r
        K2 *= ghns
        K3 = hprev - ns
        K3 *= z
        K3 *= 1.0 - z
        dgh = _buffer(xp, "gru_dh", (N, 3 * H), dt)
        dxg = _buffer(xp, "gru_dx", (N, 3 * H), dt)
        for o0, bs, _ in order:
            sl = slice(o0, o0 + bs)
            dht = dh[:bs]
            if gout is not None:
                dht = dht + gout[sl]
            d = dgh[sl]
            dnp = dxg[sl, 2 * H:]
            xp.multiply(dht, K1[sl], out=dnp)
            xp.multiply(dnp, r[sl], out=d[:, 2 * H:])
            xp.multiply(dnp, K2[sl], out=d[:, :H])
            xp.multiply(dht, K3[sl], out=d[:, H:2 * H])
            dhp = dht * z[sl]
            dhp += d @ whh
            dh[:bs] = dhp
        dxg[:, :2 * H] = dgh[:, :2 * H]
    else:
        hprev, D = saved
        dgh = _buffer(xp, "rnn_d", (N, whh.shape[0]), dt)
        for o0, bs, _ in order:
            sl = slice(o0, o0 + bs)
            dht = dh[:bs]
            if gout is not None:
                dht = dht + gout[sl]
            d = dgh[sl]
            xp.multiply(dht, D[sl], out=d)
            xp.matmul(d, whh, out=dh[:bs])
        dxg = dgh
    dx = dxg @ wih if need[0] else None
    dw_ih = dxg.T @ x if need[1] else None
    db_ih = dxg.sum(0) if need[2] else None
    dw_hh = dgh.T @ hprev if need[5] else None
    db_hh = None
    if need[6]:
        db_hh = db_ih.copy() if (dgh is dxg and db_ih is not None) else dgh.sum(0)
    return dx, dw_ih, db_ih, dh, dc0, dw_hh, db_hh, dw_hr


# -- composed (differentiable) recurrence -----------------------------------------------------
def _project(x, w, b):
    from ...ops.linalg import addmm, mm

    if b is not None:
        return addmm(b, x, w.t())
    return mm(x, w.t())


def _layer_composed(mode, x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr, sizes, reverse):
    """The same layer as the fused node, built from Tensor ops (used to differentiate the
    backward again, and as a reference)."""
    from ...ops.linalg import mm
    from ...ops.shape import cat

    xg = _project(x, w_ih, b_ih)
    offs = _plan(sizes, reverse)[0]
    T = len(sizes)
    B = h0.shape[0]
    h, c = h0, c0
    outs = [None] * T
    steps = range(T - 1, -1, -1) if reverse else range(T)
    for t in steps:
        bs = sizes[t]
        o0 = offs[t]
        xt = xg[o0:o0 + bs]
        hp = h[:bs] if bs < h.shape[0] else h
        gh = mm(hp, w_hh.t())
        if b_hh is not None:
            gh = gh + b_hh
        if mode == "LSTM":
            i, f, g, o = (xt + gh).chunk(4, 1)
            cp = c[:bs] if bs < c.shape[0] else c
            cn = i.sigmoid() * g.tanh() + f.sigmoid() * cp
            hn = o.sigmoid() * cn.tanh()
            if w_hr is not None:
                hn = mm(hn, w_hr.t())
            c = cat([cn, c[bs:]], 0) if bs < B else cn
        elif mode == "GRU":
            xr, xz, xn = xt.chunk(3, 1)
            hr, hz, hn_ = gh.chunk(3, 1)
            r = (xr + hr).sigmoid()
            z = (xz + hz).sigmoid()
            n = (xn + r * hn_).tanh()
            hn = n + z * (hp - n)
        else:
            a = xt + gh
            hn = a.relu() if mode == "RNN_RELU" else a.tanh()
        h = cat([hn, h[bs:]], 0) if bs < B else hn
        outs[t] = hn
    out = cat(outs, 0) if T > 1 else outs[0]
    return out, h, c


# -- the fused node ---------------------------------------------------------------------------
class _RecurrentLayerBackward(Node):
    """One layer, one direction: inputs ``(x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr)``, outputs
    ``(out, h_n[, c_n])``."""

    forward = "output, h_n = layer(input, h_0, weights)  (one recurrent layer, one direction)"
    formula = "grads = bptt(grad_output, grad_h_n)  (backpropagation through time)"
    mode = None

    def __init__(self, sizes, reverse, saved, shapes):
        super().__init__()
        self.sizes, self.reverse = sizes, reverse
        self._inter = saved
        self._shapes = shapes

    def _release_extra(self):
        self._inter = None

    def backward(self, *grads):
        ins = self.saved()
        if GradMode.enabled:
            return self._backward_composed(grads, ins)
        if self._inter is None:
            from ...autograd.graph import FREED_MSG

            raise RuntimeError(FREED_MSG)
        x, w_ih, _, _, _, w_hh, _, w_hr = ins
        need = self.needs_input_grad
        gout = grads[0]._data if grads[0] is not None else None
        ghn = grads[1]._data if grads[1] is not None else None
        gcn = grads[2]._data if len(grads) > 2 and grads[2] is not None else None
        res = _backward_arrays(self.mode, self._inter, x._data, w_ih._data, w_hh._data, _data(w_hr),
                               self._shapes[0], self._shapes[1], self.sizes, self.reverse, gout, ghn, gcn, need)
        return tuple(Tensor._make(r) if (r is not None and n) else None for r, n in zip(res, need))

    def _backward_composed(self, grads, ins):
        from ...autograd import grad as _grad

        outs = _layer_composed(self.mode, *ins, self.sizes, self.reverse)
        pairs = [(o, g) for o, g in zip(outs, grads) if o is not None and g is not None]
        targets = [(k, t) for k, t in enumerate(ins) if t is not None and t.requires_grad]
        result = [None] * len(ins)
        if not pairs or not targets:
            return tuple(result)
        gs = _grad([o for o, _ in pairs], [t for _, t in targets], [g for _, g in pairs], create_graph=True,
                   allow_unused=True)
        for (k, _), g in zip(targets, gs):
            result[k] = g
        return tuple(result)


class LstmLayerBackward0(_RecurrentLayerBackward):
    forward = "h_t, c_t = lstm_cell(x_t, h_(t-1), c_(t-1)) over t  (output: every h_t, h_n, c_n: the last)"
    formula = "grads = bptt(grad_output, grad_h_n, grad_c_n)  (backpropagation through time)"
    mode = "LSTM"


class GruLayerBackward0(_RecurrentLayerBackward):
    forward = "h_t = gru_cell(x_t, h_(t-1)) over t  (output: every h_t, h_n: the last)"
    mode = "GRU"


class RnnTanhLayerBackward0(_RecurrentLayerBackward):
    forward = "h_t = tanh(x_t @ w_ih.T + b_ih + h_(t-1) @ w_hh.T + b_hh) over t  (output: every h_t)"
    mode = "RNN_TANH"


class RnnReluLayerBackward0(_RecurrentLayerBackward):
    forward = "h_t = relu(x_t @ w_ih.T + b_ih + h_(t-1) @ w_hh.T + b_hh) over t  (output: every h_t)"
    mode = "RNN_RELU"


_NODES = {"LSTM": LstmLayerBackward0, "GRU": GruLayerBackward0, "RNN_TANH": RnnTanhLayerBackward0,
          "RNN_RELU": RnnReluLayerBackward0}


def _data(t):
    return t._data if t is not None else None


def _layer(mode, x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr, sizes, reverse):
    """One layer, one direction: ``x`` (N, F) packed-layout input, ``h0`` (B, P), ``c0``
    (B, H) for LSTM.  Returns ``(out (N, P), h_n (B, P), c_n (B, H) or None)``."""
    ins = (x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr)
    grad = needs_grad(*ins)
    out, h, c, saved = _forward_arrays(mode, x._data, w_ih._data, _data(b_ih), h0._data, _data(c0), w_hh._data,
                                       _data(b_hh), _data(w_hr), sizes, reverse, grad)
    out_t, h_t = Tensor._make(out), Tensor._make(h)
    c_t = Tensor._make(c) if c is not None else None
    if grad:
        node = _NODES[mode](sizes, reverse, saved, (h0._data.shape, c0._data.shape if c0 is not None else None))
        node.save(*ins)
        record_multi(node, ins, (out_t, h_t, c_t) if c_t is not None else (out_t, h_t))
    return out_t, h_t, c_t


# -- stacking layers and directions -----------------------------------------------------------
def _run(mode, x, sizes, hx, weights, has_biases, num_layers, dropout, training, bidirectional, proj_size):
    from ...ops.shape import cat, stack

    if mode not in _MODES:
        raise ValueError("Unknown mode: " + str(mode))
    lstm = mode == "LSTM"
    if lstm:
        h0s, c0s = hx
    else:
        h0s, c0s = hx, None
    D = 2 if bidirectional else 1
    per = 2 + (2 if has_biases else 0) + (1 if (lstm and proj_size > 0) else 0)
    weights = list(weights)
    if len(weights) != per * num_layers * D:
        raise RuntimeError(f"rnn_forward: expected {per * num_layers * D} weights, got {len(weights)}")
    layer_in = x
    hns, cns = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            ws = weights[k * per:(k + 1) * per]
            b_ih, b_hh = (ws[2], ws[3]) if has_biases else (None, None)
            w_hr = ws[-1] if (lstm and proj_size > 0) else None
            out, hn, cn = _layer(mode, layer_in, ws[0], b_ih, h0s[k], c0s[k] if lstm else None, ws[1], b_hh, w_hr,
                                 sizes, d == 1)
            outs.append(out)
            hns.append(hn)
            cns.append(cn)
        layer_in = outs[0] if D == 1 else cat(outs, 1)
        if dropout and training and layer < num_layers - 1:
            from .dropout import dropout as _dropout

            layer_in = _dropout(layer_in, dropout, True)
    h_n = stack(hns, 0)
    if lstm:
        return layer_in, (h_n, stack(cns, 0))
    return layer_in, h_n


def rnn_forward(mode, input, hx, weights, has_biases, num_layers, dropout, training, bidirectional, proj_size):
    """Multi-layer recurrent network over a padded, time-major batch.

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
        input: ``(seq_len, batch, input_size)`` Tensor (always time-major and batched; the
            modules transpose ``batch_first`` input and unsqueeze unbatched input first).
        hx: initial state, already filled in (zeros when the caller gave none):
            a Tensor ``h0`` of shape ``(num_layers * num_directions, batch, hidden)`` or, for
            ``'LSTM'``, a tuple ``(h0, c0)`` with ``h0`` ``(L * D, batch, proj_size or hidden)``
            and ``c0`` ``(L * D, batch, hidden)``.
        weights: flat list of weight Tensors in the modules' ``_flat_weights`` order: for each
            layer, for each direction, ``w_ih, w_hh[, b_ih, b_hh][, w_hr]``.  Any Tensors with
            those shapes work (e.g. dequantized weights).
        has_biases: whether the ``b_ih, b_hh`` entries are present.
        num_layers, bidirectional, proj_size: the network's structure (``proj_size`` > 0 only
            for LSTM; 0 disables the projection).
        dropout, training: dropout probability applied to the output of every layer but the
            last, only when ``training`` is true.

    Returns:
        ``(output, h_n)`` or, for ``'LSTM'``, ``(output, (h_n, c_n))``; ``output`` is
        ``(seq_len, batch, num_directions * (proj_size or hidden))``.
    """
    if input.dim() != 3:
        raise RuntimeError(f"rnn_forward: expected a 3-D time-major input, got {input.dim()}-D")
    T, B, F = input.shape
    if T == 0:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    x = input.reshape(T * B, F)
    out, hidden = _run(mode, x, (B,) * T, hx, weights, has_biases, num_layers, dropout, training, bidirectional,
                       proj_size)
    return out.view(T, B, out.shape[1]), hidden


def rnn_forward_packed(mode, data, batch_sizes, hx, weights, has_biases, num_layers, dropout, training,
                       bidirectional, proj_size):
    """``rnn_forward`` over packed data: ``data`` ``(N, input_size)`` with step ``t`` in
    ``batch_sizes[t]`` consecutive rows (non-increasing).  Returns ``(output_data, h_n)`` or
    ``(output_data, (h_n, c_n))`` with ``output_data`` laid out like ``data``."""
    sizes = tuple(int(s) for s in (batch_sizes.tolist() if hasattr(batch_sizes, "tolist") else batch_sizes))
    if not sizes:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    return _run(mode, data, sizes, hx, weights, has_biases, num_layers, dropout, training, bidirectional,
                proj_size)
