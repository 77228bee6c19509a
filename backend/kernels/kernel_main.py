"""The kernel: the program that runs INSIDE the sandbox, one process per open notebook.

Started by ``backend.kernels.manager`` as ``python kernel_main.py --in-fd N --out-fd M [...]``
(by path, so that it imports nothing of ``backend`` but itself: the sandbox binds only
``engine/`` and ``backend/kernels/``).  It reads requests as JSON lines from ``--in-fd`` and
writes messages as JSON lines to ``--out-fd`` (schemas: ``backend/kernels/protocol.py``; the
manager checks every line).  Its own stdout/stderr (fds 1 and 2) are NOT the protocol: Python
level ``print`` is captured per cell; what C code writes to fd 1/2 reaches the manager raw.

Requests (manager -> kernel):
    {"type": "execute", "req": str, "code": str}
    {"type": "get_value", "req": str, "node_id": int, "which": "value"|"grad"}
    {"type": "check_grad", "req": str, "node_id": int}
    {"type": "shutdown"}
Messages (kernel -> manager), every one with "type" (and "req" where it answers one):
    ready, started (the cell's code begins: SIGINT now interrupts it), stream, result, error, graph,
    backward_trace, metrics, node_value, grad_check, notice, done.

Cells run in one persistent namespace, like Jupyter: the value of a final expression is the
result.  SIGINT raises KeyboardInterrupt in the running cell (ignored between cells).
"""
import argparse
import ast
import base64
import io
import json
import linecache
import math
import os
import resource
import signal
import struct
import sys
import threading
import time
import traceback
import types
import zlib

MAX_VALUES = 10_000          # tensor elements sent by get_value before downsampling
HIST_BINS = 20
MAX_TRACE_PASSES = 10        # backward_trace messages per cell
STREAM_FLUSH_S = 0.05
STREAM_FLUSH_BYTES = 8192
STREAM_CHUNK_CHARS = 64 * 1024  # one stream message at most (the protocol admits 256 Ki characters)
RESULT_TEXT_CHARS = 64 * 1024   # a result's text/plain beyond this is shown truncated, with its size
NOTE_ROOM = 200                 # bytes of the budget kept for the truncation note itself
METRICS_INTERVAL_S = 0.05    # at most ~20 metrics messages per second
METRICS_MAX_POINTS = 2000    # points per metrics message
CELL_FILE = "<cell-{}>"


# --------------------------------------------------------------------------------------------
# channel to the manager
class Channel:
    def __init__(self, out_fd):
        self._f = os.fdopen(out_fd, "wb", buffering=0, closefd=False)
        self._lock = threading.Lock()

    def send(self, msg):
        try:
            line = json.dumps(msg, separators=(",", ":"), allow_nan=False)
        except ValueError:  # NaN/inf somewhere: JSON has no such numbers, send null
            line = json.dumps(_finite(msg), separators=(",", ":"), allow_nan=False)
        data = line.encode("utf-8", "replace") + b"\n"
        with self._lock:
            self._f.write(data)


def _finite(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


CH = None  # the Channel, set in main()


# --------------------------------------------------------------------------------------------
# stdout / stderr capture
class CellOutput:
    """Per-cell output budget shared by stdout and stderr."""

    def __init__(self, limit):
        self.limit = limit
        self.req = None
        self.used = 0
        self.truncated = False
        self.lock = threading.Lock()

    def begin(self, req):
        with self.lock:
            self.req = req
            self.used = 0
            self.truncated = False

    def take_result(self, data):
        """A display result under the cell's budget (streams and results share it): text/plain is cut
        to RESULT_TEXT_CHARS and to what is left, with its full size said; any other representation
        that does not fit is left out, saying so.  Returns (data or None, notice text or None)."""
        out, notes = {}, []
        with self.lock:
            if self.truncated:
                return None, None
            for mime, value in data.items():
                left = self.limit - self.used
                if mime == "text/plain" and isinstance(value, str):
                    n = len(value)
                    cap = max(0, min(RESULT_TEXT_CHARS, left - NOTE_ROOM))
                    if n > cap:
                        value = (value[:cap] + f"\n... [output truncated: the result's text is {n:,} characters; "
                                 f"{cap:,} shown]")
                    out[mime] = value
                    self.used += len(value.encode("utf-8", "replace"))
                    continue
                size = len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
                if size > left:
                    notes.append(f"{mime} of {size:,} bytes not shown: the cell's output limit of "
                                 f"{self.limit:,} bytes is reached")
                    continue
                out[mime] = value
                self.used += size
            if self.used >= self.limit - NOTE_ROOM:
                self.truncated = True
                notes.append(f"output truncated: the cell wrote more than {self.limit} bytes")
        if notes and "text/plain" not in out:
            out["text/plain"] = "; ".join(notes)
        return (out or None), ("; ".join(notes) or None)


class StreamCapture(io.TextIOBase):
    """A text stream that batches writes and sends them as ``stream`` messages."""

    def __init__(self, name, budget):
        self.name_ = name
        self.budget = budget
        self.buf = []
        self.size = 0
        self.last = time.monotonic()
        self.lock = threading.RLock()

    @property
    def name(self):
        return "<" + self.name_ + ">"

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if not s:
            return 0
        b = self.budget
        with self.lock:
            with b.lock:
                if b.truncated or b.req is None:
                    return len(s)
                n = len(s.encode("utf-8", "replace"))
                if b.used + n > b.limit:
                    keep = max(0, b.limit - b.used)
                    part = s.encode("utf-8", "replace")[:keep].decode("utf-8", "ignore")
                    b.used = b.limit
                    b.truncated = True
                    if part:
                        self.buf.append(part)
                    self._flush_locked()
                    CH.send({"type": "notice", "req": b.req,
                             "text": f"output truncated: the cell wrote more than {b.limit} bytes"})
                    return len(s)
                b.used += n
            self.buf.append(s)
            self.size += n
            if self.size >= STREAM_FLUSH_BYTES or "\r" in s:
                self._flush_locked()
        return len(s)

    def _flush_locked(self):
        if self.buf:
            text = "".join(self.buf)
            self.buf = []
            self.size = 0
            req = self.budget.req
            if req is not None:  # one big write goes out as several messages under the protocol's cap
                for i in range(0, len(text), STREAM_CHUNK_CHARS):
                    CH.send({"type": "stream", "req": req, "name": self.name_,
                             "text": text[i:i + STREAM_CHUNK_CHARS]})
        self.last = time.monotonic()

    def flush(self):
        with self.lock:
            self._flush_locked()

    def tick(self):
        if self.buf and time.monotonic() - self.last >= STREAM_FLUSH_S:
            with self.lock:
                self._flush_locked()


# --------------------------------------------------------------------------------------------
# metrics: torch.utils.tensorboard.SummaryWriter
class MetricsSender:
    def __init__(self):
        self.points = []
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.last = 0.0
        self.dropped = 0

    def add(self, tag, step, value, wall):
        with self.lock:
            if len(self.points) >= 50_000:  # a burst faster than we send: keep the newest
                self.points.pop(0)
                self.dropped += 1
            self.points.append({"tag": str(tag)[:200], "step": int(step), "value": value, "wall": wall})

    def tick(self, force=False):
        # One sender at a time, holding the lock through the send: a forced tick at the end of a
        # cell must not overtake a batch the flush thread has taken but not yet written, or the
        # cell's "done" would reach the server before its last points.
        with self.send_lock:
            if not self.points:
                return
            now = time.monotonic()
            if not force and now - self.last < METRICS_INTERVAL_S:
                return
            while self.points:
                with self.lock:
                    batch, self.points = self.points[:METRICS_MAX_POINTS], self.points[METRICS_MAX_POINTS:]
                self.last = now
                CH.send({"type": "metrics", "points": batch})
                if not force:
                    break


METRICS = MetricsSender()


def _scalar(v):
    if hasattr(v, "item"):
        v = v.item()
    v = float(v)
    return v if math.isfinite(v) else None


class SummaryWriter:
    """``torch.utils.tensorboard.SummaryWriter`` that streams scalars to the metrics panel."""

    def __init__(self, log_dir=None, comment="", *args, **kwargs):
        self.log_dir = log_dir
        self._steps = {}
        self.closed = False

    def _step(self, tag, global_step):
        if global_step is None:
            global_step = self._steps.get(tag, -1) + 1
        self._steps[tag] = int(global_step)
        return int(global_step)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        step = self._step(tag, global_step)
        METRICS.add(tag, step, _scalar(scalar_value), float(walltime if walltime is not None else time.time()))

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        wall = float(walltime if walltime is not None else time.time())
        for sub, v in tag_scalar_dict.items():
            tag = f"{main_tag}/{sub}"
            METRICS.add(tag, self._step(tag, global_step), _scalar(v), wall)

    def _ignored(self, *args, **kwargs):
        pass

    add_histogram = add_image = add_images = add_text = add_graph = add_hparams = _ignored
    add_figure = add_embedding = add_pr_curve = add_custom_scalars = _ignored

    def flush(self):
        METRICS.tick(force=True)

    def close(self):
        self.flush()
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _install_tensorboard():
    import engine.utils as eu  # noqa: F401  (torch.utils must exist first)
    mod = types.ModuleType("torch.utils.tensorboard")
    mod.SummaryWriter = SummaryWriter
    mod.__all__ = ["SummaryWriter"]
    writer = types.ModuleType("torch.utils.tensorboard.writer")
    writer.SummaryWriter = SummaryWriter
    mod.writer = writer
    for prefix in ("torch.utils", "engine.utils"):
        sys.modules[prefix + ".tensorboard"] = mod
        sys.modules[prefix + ".tensorboard.writer"] = writer
    setattr(sys.modules["engine.utils"], "tensorboard", mod)


# --------------------------------------------------------------------------------------------
# rich display
def _png(arr):
    """Encode a uint8 HxW, HxWx1, HxWx3 or HxWx4 array as PNG bytes (no PIL needed)."""
    import numpy as np
    a = np.asarray(arr)
    if a.dtype != np.uint8:
        if a.dtype.kind == "f":
            a = (np.clip(a, 0.0, 1.0) * 255).round().astype(np.uint8)
        elif a.dtype == bool:
            a = a.astype(np.uint8) * 255
        else:
            a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        ctype, ch = 0, 1
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        ctype, ch = (2, 3) if a.shape[2] == 3 else (6, 4)
    else:
        raise ValueError(f"display_image expects HxW, HxWx3 or HxWx4, got shape {tuple(a.shape)}")
    h, w = a.shape[:2]
    if h * w > 4096 * 4096:
        raise ValueError("display_image: image too large")
    raw = np.zeros((h, w * ch + 1), np.uint8)
    raw[:, 1:] = a.reshape(h, w * ch)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


class Kernel:
    def __init__(self, output_limit, max_nodes):
        self.ns = {"__name__": "__main__", "__builtins__": __builtins__}
        self.count = 0
        self.req = None
        self.budget = CellOutput(output_limit)
        self.stdout = StreamCapture("stdout", self.budget)
        self.stderr = StreamCapture("stderr", self.budget)
        self.max_nodes = max_nodes
        self.last_obs = None      # the last cell's observer that saw nodes (for get_value)
        self.last_names = {}
        self.executing = False
        self.ns["display_image"] = self.display_image
        self.ns["display"] = self.display

    # -- display -------------------------------------------------------------------------------
    def send_result(self, data):
        self.stdout.flush()
        self.stderr.flush()
        data, notice = self.budget.take_result(data)
        if data:
            CH.send({"type": "result", "req": self.req, "data": data, "execution_count": self.count})
        if notice:
            CH.send({"type": "notice", "req": self.req, "text": notice[:2000]})

    def display_image(self, img):
        """Show a uint8 HxW(xC) image (numpy array or tensor) under the cell."""
        if hasattr(img, "detach"):
            img = img.detach().cpu().numpy()
        self.send_result({"image/png": base64.b64encode(_png(img)).decode("ascii")})

    def display(self, obj):
        data = self.mime_bundle(obj)
        if data:
            self.send_result(data)

    def mime_bundle(self, value):
        mod = type(value).__module__ or ""
        if mod.startswith("plotly") and hasattr(value, "to_plotly_json"):
            import plotly.io as pio
            return {"application/vnd.plotly.v1+json": json.loads(pio.to_json(value, validate=False)),
                    "text/plain": f"<{type(value).__name__}>"}
        if mod.startswith("matplotlib") and hasattr(value, "savefig"):
            buf = io.BytesIO()
            value.savefig(buf, format="png", bbox_inches="tight")
            return {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                    "text/plain": repr(value)}
        return {"text/plain": repr(value)}

    def flush_matplotlib(self):
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        for num in plt.get_fignums():
            fig = plt.figure(num)
            self.send_result(self.mime_bundle(fig))
        plt.close("all")

    # -- execution -----------------------------------------------------------------------------
    def execute(self, req, code):
        from engine.autograd import observe
        self.req = req
        self.count += 1
        n = self.count
        fname = CELL_FILE.format(n)
        linecache.cache[fname] = (len(code), None, code.splitlines(True), fname)
        self.budget.begin(req)
        t0 = time.perf_counter()
        status = "ok"
        obs = _kernel_observer_class()(max_nodes=self.max_nodes, max_steps=20_000, keep_values=True,
                                       max_passes=MAX_TRACE_PASSES)
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.stdout, self.stderr
        try:
            try:
                tree = ast.parse(code, fname, "exec")
                last = None
                if tree.body and isinstance(tree.body[-1], ast.Expr):
                    last = ast.Expression(tree.body.pop().value)
                body = compile(tree, fname, "exec")
                tail = compile(last, fname, "eval") if last is not None else None
                self.executing = True
                CH.send({"type": "started", "req": req})  # the manager holds an early interrupt until now
                obs.start()
                try:
                    exec(body, self.ns)
                    value = eval(tail, self.ns) if tail is not None else None
                finally:
                    obs.stop()
                    self.executing = False
                if value is not None:
                    self.ns["_"] = value
                    self.send_result(self.mime_bundle(value))
                self.flush_matplotlib()
            except BaseException as e:  # KeyboardInterrupt and SystemExit included
                self.executing = False
                status = "error"
                self.stdout.flush()
                self.stderr.flush()
                self.send_error(e, fname)
                if isinstance(e, (MemoryError,)):
                    obs = observe.Observer()  # let the big allocations go
        finally:
            self.executing = False
            sys.stdout, sys.stderr = old
            self.stdout.flush()
            self.stderr.flush()
        try:
            if obs.nodes:
                self.send_graph(obs, n)
        except Exception as e:  # never lose the done message over a graph
            CH.send({"type": "notice", "req": req, "text": f"graph not sent: {type(e).__name__}: {e}"})
        METRICS.tick(force=True)
        CH.send({"type": "done", "req": req, "status": status, "execution_count": n,
                 "duration_ms": round((time.perf_counter() - t0) * 1000, 3)})
        self.req = None
        self.budget.req = None

    def send_error(self, e, fname):
        ename = type(e).__name__
        evalue = str(e)
        line = None
        lines = []
        if isinstance(e, SyntaxError) and e.filename == fname:
            line = e.lineno
            lines = [ln.rstrip("\n") for ln in traceback.format_exception_only(type(e), e)]
            lines = [ln.replace(f'File "{fname}", ', f"Cell [{self.count}], ") for ln in lines]
        else:
            frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith("<cell-")]
            for f in frames:
                if f.filename == fname:
                    line = f.lineno
            if frames:
                lines.append("Traceback (most recent call last):")
                for f in frames:
                    where = "Cell [" + f.filename[6:-1] + "]"
                    lines.append(f"  {where}, line {f.lineno}, in {f.name}")
                    if f.line:
                        lines.append("    " + f.line.strip())
            lines.extend(ln.rstrip("\n") for ln in traceback.format_exception_only(type(e), e))
        lines = [ln[:2000] for ln in lines[-200:]]
        CH.send({"type": "error", "req": self.req, "ename": ename[:200], "evalue": evalue[:10_000],
                 "traceback": lines, "line": line})

    # -- graph ---------------------------------------------------------------------------------
    def send_graph(self, obs, n):
        msg, traces = build_graph(obs, self.ns, CELL_FILE.format(n))
        msg.update(type="graph", req=self.req)
        CH.send(msg)
        passes = sorted(traces)
        skipped = 0
        if len(passes) > MAX_TRACE_PASSES:
            skipped = len(passes) - MAX_TRACE_PASSES
            passes = passes[:MAX_TRACE_PASSES - 1] + passes[-1:]
        for p in passes:
            CH.send({"type": "backward_trace", "req": self.req, "pass_index": p, "steps": traces[p]})
        if skipped:
            CH.send({"type": "notice", "req": self.req,
                     "text": f"{skipped} backward passes not sent (only the first {MAX_TRACE_PASSES - 1} and the last)"})
        if obs.paused:
            CH.send({"type": "notice", "req": self.req,
                     "text": f"the graph and backward steps show the first {obs.backward_passes} backward passes; "
                             "recording stopped there so the rest of the cell ran at full speed"})
        self.last_obs = obs

    def get_value(self, req, node_id, which):
        msg = {"type": "node_value", "req": req, "node_id": node_id, "which": which}
        obs = self.last_obs
        t = None
        if obs is not None and 0 <= node_id < len(obs.nodes):
            r = obs.nodes[node_id]
            if which == "value":
                t = r.tensor
            elif r.kind == "leaf":
                t = r.tensor.grad if r.tensor is not None else None
            else:
                for s in reversed(obs.steps):
                    if s.node == node_id and s.values is not None and s.values[0]:
                        t = s.values[0][0]
                        break
        msg.update(tensor_summary(t))
        CH.send(msg)

    def check_grad(self, req, node_id):
        """Answer a ``check_grad`` request: analytic vs finite-difference gradient of one node."""
        msg = {"type": "grad_check", "req": req, "node_id": node_id, "ok": False, "reason": None,
               "eps": GRADCHECK_EPS, "inputs": []}
        try:
            msg.update(grad_check(self.last_obs, node_id))
        except Exception as e:  # a forward rule that does not fit this node's values
            msg.update(ok=False, inputs=[], reason=f"gradient check failed: {type(e).__name__}: {e}"[:500])
        if isinstance(msg.get("reason"), str):
            msg["reason"] = msg["reason"][:500]
        if isinstance(msg.get("note"), str):
            msg["note"] = msg["note"][:1000]
        msg["inputs"] = msg["inputs"][:64]
        CH.send(msg)


def _loc(r, cellfile):
    """Line of a node record relative to its cell: (execution count, line) or (None, None)."""
    f = r.file
    if f is not None and f.startswith("<cell-"):
        return int(f[6:-1]), r.line
    return None, None


def build_graph(obs, ns, cellfile):
    """The ``graph`` message body and the backward traces ({pass index: steps}) of an observer."""
    # names for plain tensor leaves bound to variables in the namespace (x, w, b)
    leaf_ids = {}
    for r in obs.nodes:
        if r.kind == "leaf" and r.name is None and r.tensor is not None:
            leaf_ids[id(r.tensor)] = r
    if leaf_ids:
        for k, v in list(ns.items()):
            r = leaf_ids.get(id(v))
            if r is not None and r.tensor is v and not k.startswith("_"):
                r.name = k
    used = set()
    for r in obs.nodes:
        for s in r.inputs:
            if s is not None:
                used.add(s)
    nodes = []
    groups = {}
    edges = []
    for r in obs.nodes:
        kind = r.kind
        if kind == "op" and r.id not in used:
            kind = "output"
        module = r.module
        if kind == "leaf" and r.name and "." in r.name and not module:
            module = r.name.rsplit(".", 1)[0]
        cell, line = _loc(r, cellfile)
        nodes.append({
            "id": r.id, "op": r.op, "kind": kind, "module": module, "name": r.name,
            "inputs": r.inputs,
            "in_shapes": r.in_shapes, "in_dtypes": r.in_dtypes,
            "out_shapes": r.out_shapes, "out_dtypes": r.out_dtypes,
            "line": line, "cell": cell,
        })
        g = groups.get(module)
        if g is None:
            groups[module] = g = []
        g.append(r.id)
        for s in r.inputs:
            if s is not None:
                edges.append((s, r.id))
    traces = {}
    for s in obs.steps:
        lst = traces.get(s.backward)
        if lst is None:
            traces[s.backward] = lst = []
        lst.append({"index": len(lst), "node": s.node, "op": s.op, "grads_in": s.grads_in,
                    "grads_out": s.grads_out, "leaf": s.leaf})
    msg = {"nodes": nodes, "edges": edges,
           "groups": [{"module": m, "nodes": ids} for m, ids in groups.items()],
           "dropped": obs.dropped_nodes, "dropped_steps": obs.dropped_steps}
    return msg, traces


def tensor_summary(t):
    """Stats (and values, downsampled past MAX_VALUES elements) of a tensor, or empty fields."""
    if t is None:
        return {"shape": None, "dtype": None, "stats": None, "values": None}
    import numpy as np
    a = t._data if hasattr(t, "_data") else np.asarray(t)
    if type(a).__module__ != "numpy":
        a = a.get()
    a = np.asarray(a)
    out = {"shape": list(a.shape), "dtype": getattr(getattr(t, "dtype", None), "name", str(a.dtype))}
    flat = a.reshape(-1)
    stats = {"numel": int(flat.size)}
    if flat.size and (flat.dtype.kind in "fiub"):
        f = flat.astype(np.float64)
        fin = f[np.isfinite(f)]
        stats["nan"] = int(np.isnan(f).sum())
        stats["inf"] = int(np.isinf(f).sum())
        if fin.size:
            stats.update(min=float(fin.min()), max=float(fin.max()), mean=float(fin.mean()),
                         std=float(fin.std()), norm=float(np.sqrt((fin * fin).sum())))
            counts, edges = np.histogram(fin, bins=HIST_BINS)
            stats["histogram"] = {"counts": counts.tolist(), "edges": edges.tolist()}
    out["stats"] = stats
    if flat.size > MAX_VALUES:
        stride = -(-flat.size // MAX_VALUES)
        vals = flat[::stride]
        out["downsampled"] = True
        out["stride"] = int(stride)
    else:
        vals = flat
        out["downsampled"] = False
        out["stride"] = 1
    if vals.dtype.kind == "c":
        vals = np.abs(vals)
    out["values"] = vals.tolist()
    return out


# --------------------------------------------------------------------------------------------
# gradient check of one op node of the last graph (the inspector's "check gradient")
#
# The analytic side is the backward of a node of the SAME class as the recorded one, built by
# replaying the op's forward on float64 copies of the node's input values and applying its
# backward to a cotangent (engine.autograd.grad).  The recorded node itself cannot be asked: its
# saved tensors are freed by backward() (unless retain_graph) and hold float32 values.  Nodes
# that save no tensors and cannot easily be rebuilt (NllLoss) use the recorded node's backward.
# The cotangent is the gradient that flowed into the node in the cell's backward trace (its last
# pass), else ones for a one-element output, else a fixed random normal one.  The numeric side is
# central finite differences of <cotangent, forward(inputs)> in float64, on at most
# GRADCHECK_MAX_ELEMS elements per input (a fixed random sample when larger) and within a time
# budget.  Elements where the one-sided differences disagree (a kink: relu at 0, clamp at a bound)
# are skipped and counted.  Inputs are the values the node was built from, as the kernel's
# observer kept them; one changed in place since (an optimizer step) is compared at its current
# values and the answer's ``note`` says so.
GRADCHECK_EPS = 1e-6
GRADCHECK_MAX_ELEMS = 2000
GRADCHECK_BUDGET_S = 3.0      # wall time for the finite differences of one check
GRADCHECK_MAX_NUMEL = 4_000_000  # larger inputs/outputs are not checked
GRADCHECK_ATOL = 1e-5
GRADCHECK_RTOL = 1e-3


GRAD_CHECK_KEEP_BYTES = 256 * 1024 * 1024  # op inputs kept for "check gradient"; later nodes say "not kept"


def _kernel_observer_class():
    from engine.autograd import observe

    engine_dir = os.path.dirname(os.path.dirname(os.path.abspath(observe.__file__))) + os.sep

    class KernelObserver(observe.Observer):
        """An Observer that also keeps, per recorded op node, the tensors it was built from and
        their versions (for the gradient check; the records keep shapes only)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.inputs_of = {}
            self.kept_bytes = 0
            self._kept_ids = set()  # ids stay unique: inputs_of holds the tensors

        def on_node(self, node, inputs, outputs):
            n = len(self.nodes)
            super().on_node(node, inputs, outputs)
            if len(self.nodes) > n and self.nodes[-1].grad_fn is node:
                r = self.nodes[-1]
                # the base class took this frame (outside the engine) for the user's code: look
                # past it, from the op that called us, for the real one
                f = sys._getframe(1)
                while f is not None and f.f_code.co_filename.startswith(engine_dir):
                    f = f.f_back
                r.file = f.f_code.co_filename if f is not None else None
                r.line = f.f_lineno if f is not None else None
                if self.keep_values and self.kept_bytes <= GRAD_CHECK_KEEP_BYTES:
                    # inputs that need no gradient (data batches, targets) are kept only here: cap them
                    for t in inputs:
                        if t is not None and id(t) not in self._kept_ids:
                            self._kept_ids.add(id(t))
                            self.kept_bytes += t._data.nbytes
                    self.inputs_of[r.id] = tuple(
                        None if t is None else (t, t._vc.v, any(t is o for o in outputs)) for t in inputs)

    return KernelObserver


class _GradCheckRules:
    """grad_fn class -> forward(node, xs, out_shape) -> Tensor, using the engine's own ops so that
    the rebuilt node is of the same class.  ``node_backward`` holds the classes whose analytic
    gradient comes from the recorded node's backward (they save no tensors)."""

    _table = None
    node_backward = frozenset()

    @classmethod
    def table(cls):
        if cls._table is None:
            cls._table, cls.node_backward = _build_rules()
        return cls._table

    @classmethod
    def find(cls, node):
        table = cls.table()
        for k in type(node).__mro__:
            fn = table.get(k)
            if fn is not None:
                return fn, k in cls.node_backward
        return None, False


def _build_rules():
    import numpy as np
    from engine.tensor import Tensor
    from engine.ops import arithmetic as ar, pointwise as pw, linalg as la, shape as sh, reduce as rd
    from engine.ops import softmax as sm
    from engine.ops._util import record
    from engine.nn._functional import loss as lo, linear as li

    def z(x):  # a scalar operand the node does not store: its value does not change the derivative
        return 0.0 if x is None else x

    def same_reshape(node, x, out_shape, *args):
        """A view node whose constructor takes the input shape: rebuilt around a reshape."""
        r = Tensor._make(x._data.reshape(out_shape))
        if x.requires_grad:
            record(type(node)(x._data.shape, *args), (x,), r)
        return r

    def key_view(node, xs, out):
        x = xs[0]
        if node.key is not None:
            return sh.get_basic(x, node.key, type(node))
        return same_reshape(node, x, out)

    def expand(node, xs, out):
        x = xs[0]
        r = Tensor._make(np.broadcast_to(x._data, out))
        if x.requires_grad:
            record(type(node)(x._data.shape), (x,), r)
        return r

    def transpose(node, xs, out):
        if hasattr(node, "d0"):
            return sh.transpose(xs[0], node.d0, node.d1)
        return la._mT(xs[0])

    def axes_kw(node):
        return {"dim": tuple(node.axes), "keepdim": bool(node.keepdim)}

    def nll(node, xs, out):
        a = xs[0]._data
        a2 = a[None] if a.ndim == 1 else a
        idx = np.asarray(node.idx)
        picked = np.take_along_axis(a2, idx.reshape((idx.shape[0], 1) + idx.shape[1:]), axis=1)[:, 0]
        loss = picked * np.asarray(node.coef, dtype=np.float64)
        if node.red != lo.NONE:
            loss = loss.sum()
        return Tensor._make(np.asarray(loss, dtype=np.float64).reshape(out))

    def pair_loss(fn, kernel):
        def f(node, xs, out):
            return lo._pair_loss(type(node), xs[0], xs[1], node.red, fn, kernel, node.extra)
        return f

    def huber(node, xs, out):
        d = node.extra

        def fn(a, b):
            zz = abs(a - b)
            return np.where(zz < d, 0.5 * zz * zz, d * (zz - 0.5 * d))
        return lo._pair_loss(type(node), xs[0], xs[1], node.red, fn, "huber_cpu", d)

    def smooth_l1(node, xs, out):
        beta = node.extra

        def fn(a, b):
            zz = abs(a - b)
            return np.where(zz < beta, 0.5 * zz * zz / beta, zz - 0.5 * beta)
        return lo._pair_loss(type(node), xs[0], xs[1], node.red, fn, "smooth_l1_cpu", beta)

    t = {
        ar.AddBackward0: lambda n, xs, o: ar.add(z(xs[0]), z(xs[1]), alpha=n.alpha),
        ar.SubBackward0: lambda n, xs, o: ar.sub(z(xs[0]), z(xs[1]), alpha=n.alpha),
        ar.RsubBackward1: lambda n, xs, o: ar.rsub(xs[0], 0.0),
        ar.MulBackward0: lambda n, xs, o: ar.mul(xs[0], xs[1]),
        ar.MulBackward1: lambda n, xs, o: ar.mul(xs[0], n.other),
        ar.DivBackward0: lambda n, xs, o: ar.div(xs[0], xs[1]),
        ar.DivBackward1: lambda n, xs, o: ar.div(xs[0], n.other),
        ar.NegBackward0: lambda n, xs, o: ar.neg(xs[0]),
        ar.PowBackward0: lambda n, xs, o: ar.pow(xs[0], n.exponent),
        ar.PowBackward1: lambda n, xs, o: ar.pow(xs[0], xs[1]),
        ar.PowBackward2: lambda n, xs, o: ar.pow(n.base, xs[-1]),
        lo.MulBackward1: lambda n, xs, o: lo._scalar_op(xs[0], n.other, "mul"),
        lo.DivBackward1: lambda n, xs, o: lo._scalar_op(xs[0], n.other, "div"),
        lo.AddBackward1: lambda n, xs, o: lo._scalar_op(xs[0], 0.0, "add"),
        pw.ClampBackward1: lambda n, xs, o: pw.clamp(xs[0], n.lo, n.hi),
        pw.ClampMinBackward0: lambda n, xs, o: pw.clamp_min(xs[0], n.lo),
        pw.ClampMaxBackward0: lambda n, xs, o: pw.clamp_max(xs[0], n.hi),
        la.MmBackward0: lambda n, xs, o: la.mm(xs[0], xs[1]),
        la.MvBackward0: lambda n, xs, o: la.mv(xs[0], xs[1]),
        la.BmmBackward0: lambda n, xs, o: la.bmm(xs[0], xs[1]),
        la.DotBackward0: lambda n, xs, o: la.dot(xs[0], xs[1]),
        la._MatmulBackward: lambda n, xs, o: la.matmul(xs[0], xs[1]),
        la.AddmmBackward0: lambda n, xs, o: la.addmm(xs[0], xs[1], xs[2], beta=n.beta, alpha=n.alpha),
        la.BaddbmmBackward0: lambda n, xs, o: la.baddbmm(xs[0], xs[1], xs[2], beta=n.beta, alpha=n.alpha),
        la.AddmvBackward0: lambda n, xs, o: la.addmv(xs[0], xs[1], xs[2], beta=n.beta, alpha=n.alpha),
        la.TransposeBackward0: transpose,
        sh.TransposeBackward0: transpose,
        sh.TBackward0: lambda n, xs, o: sh.t(xs[0]),
        sh.PermuteBackward0: lambda n, xs, o: sh.permute(xs[0], *n.dims),
        sh.ViewBackward0: lambda n, xs, o: same_reshape(n, xs[0], o),
        li.UnsafeViewBackward0: lambda n, xs, o: same_reshape(n, xs[0], o),
        li.SqueezeBackward4: lambda n, xs, o: same_reshape(n, xs[0], o),
        sh._KeyBackward: key_view,
        sh.ExpandBackward0: expand,
        rd.SumBackward0: lambda n, xs, o: rd.sum(xs[0]),
        rd.SumBackward1: lambda n, xs, o: rd.sum(xs[0], **axes_kw(n)),
        rd.MeanBackward0: lambda n, xs, o: rd.mean(xs[0]),
        rd.MeanBackward1: lambda n, xs, o: rd.mean(xs[0], **axes_kw(n)),
        sm.SoftmaxBackward0: lambda n, xs, o: sm.softmax(xs[0], n.dim),
        sm.LogSoftmaxBackward0: lambda n, xs, o: sm.log_softmax(xs[0], n.dim),
        lo.LogSoftmaxBackward0: lambda n, xs, o: lo._ce_log_softmax(xs[0], n.dim),
        lo.MseLossBackward0: pair_loss(lo._mse_fn, "mse_cpu"),
        lo.HuberLossBackward0: huber,
        lo.SmoothL1LossBackward0: smooth_l1,
        lo.NllLossBackward0: nll,
    }
    for fn_name, cls_name in (("abs", "Abs"), ("exp", "Exp"), ("exp2", "Exp2"), ("expm1", "Expm1"), ("log", "Log"),
                              ("log2", "Log2"), ("log10", "Log10"), ("log1p", "Log1P"), ("sqrt", "Sqrt"),
                              ("rsqrt", "Rsqrt"), ("sin", "Sin"), ("cos", "Cos"), ("tan", "Tan"), ("asin", "Asin"),
                              ("acos", "Acos"), ("atan", "Atan"), ("sinh", "Sinh"), ("cosh", "Cosh"),
                              ("tanh", "Tanh"), ("sigmoid", "Sigmoid"), ("relu", "Relu"),
                              ("reciprocal", "Reciprocal"), ("erf", "Erf")):
        cls = getattr(pw, cls_name + "Backward0", None)
        fn = getattr(pw, fn_name, None)
        if cls is not None and fn is not None:
            t[cls] = (lambda f: lambda n, xs, o: f(xs[0]))(fn)
    return t, frozenset({lo.NllLossBackward0})


def _host(a):
    import numpy as np
    if type(a).__module__ != "numpy":
        a = a.get()
    return np.asarray(a)


def _gc_fail(reason, **extra):
    d = {"ok": False, "reason": reason, "inputs": []}
    d.update(extra)
    return d


def grad_check(obs, node_id):
    """Check node ``node_id`` of observer ``obs``: the fields of a ``grad_check`` message."""
    import numpy as np
    import engine
    from engine.tensor import Tensor
    from engine.autograd import observe

    if obs is None or not obs.nodes:
        return _gc_fail("no graph yet: run a cell that builds one")
    if not 0 <= node_id < len(obs.nodes):
        return _gc_fail(f"no node {node_id} in the last graph")
    r = obs.nodes[node_id]
    if r.kind == "leaf":
        return _gc_fail("gradient check is available for op nodes (this is a leaf tensor)")
    node = r.grad_fn
    if node is None or r.op == "AccumulateGrad":
        return _gc_fail("gradient check is available for op nodes")
    fwd, use_node_backward = _GradCheckRules.find(node)
    if fwd is None or getattr(node, "n_outputs", 1) != 1:
        return _gc_fail(f"no forward rule for {r.op}")
    kept = getattr(obs, "inputs_of", {}).get(node_id)
    if kept is None or r.tensor is None:
        return _gc_fail("the graph's values were not kept")
    if any(k is not None and k[2] for k in kept):
        return _gc_fail(f"{r.op} was done in place (its input was overwritten by its result): "
                        "gradient check is not available for in-place ops")
    out_shape = tuple(r.out_shapes[0])
    edges = node.next_functions
    changed = []
    xs = []
    checked = []  # input indices compared
    for i, k in enumerate(kept):
        if k is None:
            xs.append(None)
            continue
        src, version, _ = k
        a = _host(src._data)
        needs = i < len(edges) and edges[i][0] is not None
        if a.dtype.kind == "f":
            a = np.array(a, dtype=np.float64, order="C")  # a contiguous copy
            if needs:
                if a.size > GRADCHECK_MAX_NUMEL:
                    return _gc_fail(f"input {i} has {a.size} elements: too large to check")
                checked.append(i)
                if src._vc.v != version:
                    name = r.inputs[i] if i < len(r.inputs) else None
                    changed.append(f"input {i}" + (f" (node {name})" if name is not None else ""))
        else:
            a = np.array(a, order="C")
        xs.append(Tensor._make(a))
    if not checked:
        return _gc_fail("no input of this node needs a gradient")
    n_out = int(np.prod(out_shape)) if out_shape else 1
    if n_out > GRADCHECK_MAX_NUMEL:
        return _gc_fail(f"the output has {n_out} elements: too large to check")

    # cotangent: the gradient that flowed into this node, else ones / a fixed random one
    cot = None
    cot_kind = None
    for s in reversed(obs.steps):
        if s.node == node_id and s.op == r.op and s.values is not None and s.values[0]:
            g = s.values[0][0]
            if g is not None:
                g = _host(g._data).astype(np.float64)
                if tuple(g.shape) == out_shape:
                    cot, cot_kind = g, "recorded"
            break
    if cot is None:
        if n_out == 1:
            cot, cot_kind = np.ones(out_shape), "ones"
        else:
            cot, cot_kind = np.random.default_rng(0).standard_normal(out_shape), "random"

    prev_obs = observe._active
    observe._active = None  # the check itself is not part of the user's graph
    try:
        for i in checked:
            xs[i].requires_grad_(True)
        with engine.enable_grad():
            out = fwd(node, xs, out_shape)
        if tuple(out.shape) != out_shape:
            return _gc_fail(f"the forward rule of {r.op} made shape {list(out.shape)}, not {list(out_shape)}")
        # outputs that are NaN/inf (and NaN gradients flowing in) take no part in the comparison
        finite = np.isfinite(_host(out._data)) & np.isfinite(cot)
        if not finite.any():
            return _gc_fail("the node's output (or the gradient flowing into it) is not finite: nothing to compare")
        cot = np.where(finite, cot, 0.0)
        partial = not finite.all()
        with engine.no_grad():
            if use_node_backward:
                grads = node.backward(Tensor._make(cot.astype(_host(r.tensor._data).dtype)))
                grads = [grads[i] if i < len(grads) else None for i in checked]
            else:
                if type(out.grad_fn) is not type(node):
                    made = out.grad_fn.name() if out.grad_fn is not None else "no node"
                    return _gc_fail(f"the forward rule of {r.op} rebuilt {made} instead")
                grads = engine.autograd.grad(out, [xs[i] for i in checked], grad_outputs=Tensor._make(cot),
                                             allow_unused=True)
        for i in checked:
            xs[i].requires_grad_(False)
        analytic = []
        for i, g in zip(checked, grads):
            shape = xs[i]._data.shape
            if g is None:
                analytic.append(np.zeros(shape))
            else:
                ga = _host(g._data).astype(np.float64)
                analytic.append(np.broadcast_to(ga, shape) if ga.shape != shape else ga)

        def loss():
            with engine.no_grad():
                v = fwd(node, xs, out_shape)
            return float(np.sum(cot * np.where(finite, _host(v._data), 0.0)))

        t0 = time.perf_counter()
        base = loss()
        t_eval = max(time.perf_counter() - t0, 1e-6)
        eps = GRADCHECK_EPS
        deadline = time.perf_counter() + GRADCHECK_BUDGET_S
        per_input = max(1, int(GRADCHECK_BUDGET_S / (2 * t_eval * len(checked))))
        results = []
        all_ok = True
        for i, ga in zip(checked, analytic):
            flat = xs[i]._data.reshape(-1)  # contiguous: a view, perturbed in place
            gflat = ga.reshape(-1)
            n = min(flat.size, GRADCHECK_MAX_ELEMS, per_input)
            if n >= flat.size:
                idx = np.arange(flat.size)
            else:
                idx = np.sort(np.random.default_rng(1234 + i).choice(flat.size, n, replace=False))
            num = np.empty(idx.size)
            keep = np.ones(idx.size, dtype=bool)
            done = 0
            for k, j in enumerate(idx):
                if time.perf_counter() > deadline and done:
                    break
                orig = flat[j]
                flat[j] = orig + eps
                fp = loss()
                flat[j] = orig - eps
                fm = loss()
                flat[j] = orig
                num[k] = (fp - fm) / (2 * eps)
                dp, dm = (fp - base) / eps, (base - fm) / eps
                if not (np.isfinite(fp) and np.isfinite(fm)) or abs(dp - dm) > 0.1 * max(abs(dp), abs(dm)) + 1e-4:
                    keep[k] = False  # not differentiable here (a kink, a pole): skipped
                done += 1
            num, sel = num[:done], idx[:done]
            keep = keep[:done]
            a_sel = gflat[sel]
            if partial:  # gradients through NaN/inf outputs are NaN whatever the rule: left out
                keep &= np.isfinite(a_sel)
            skipped = int((~keep).sum())
            a_k, n_k = a_sel[keep], num[keep]
            entry = {"index": i, "node": r.inputs[i] if i < len(r.inputs) else None, "checked": int(keep.sum()),
                     "skipped": skipped, "numel": int(flat.size), "max_abs_diff": None, "max_rel_diff": None,
                     "analytic_norm": float(np.linalg.norm(a_sel[keep])), "numeric_norm": float(np.linalg.norm(num[keep])),
                     "ok": False}
            if a_k.size:
                diff = np.abs(a_k - n_k)
                mag = np.maximum(np.abs(a_k), np.abs(n_k))
                scale = max(1.0, float(mag.max()))
                tol = GRADCHECK_ATOL * scale + GRADCHECK_RTOL * mag
                entry["max_abs_diff"] = float(diff.max())
                entry["max_rel_diff"] = float((diff / np.maximum(mag, GRADCHECK_ATOL)).max())
                entry["ok"] = bool(np.all(diff <= tol)) and bool(np.all(np.isfinite(a_k)))
            all_ok = all_ok and entry["ok"]
            results.append(entry)
    finally:
        observe._active = prev_obs
    notes = []
    if changed:
        notes.append(", ".join(changed) + " changed in place since the graph was recorded (an optimizer step?): "
                     "compared at the current values")
    sampled = [e for e in results if e["checked"] + e["skipped"] < e["numel"]]
    if sampled:
        notes.append("compared a sample of the elements of " + ", ".join(f"input {e['index']}" for e in sampled))
    if partial:
        notes.append("outputs that are NaN/inf (or get a NaN gradient) were left out")
    if any(e["skipped"] for e in results):
        notes.append("elements where the op is not differentiable here (a kink, a NaN) were skipped")
    reason = None
    if not all_ok and all(e["checked"] == 0 for e in results):
        reason = "no element could be compared (the op is not differentiable at these values)"
    return {"ok": all_ok, "reason": reason, "eps": GRADCHECK_EPS, "cotangent": cot_kind, "op": r.op,
            "note": "; ".join(notes) or None, "inputs": results}


# --------------------------------------------------------------------------------------------
def _drop_privileges(uid, gid, nproc):
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    if nproc:
        # here, not in the manager: in a user namespace this limit then counts this sandbox's
        # processes only; set before the sandbox existed it would count all of the user's.
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def main(argv=None):
    global CH
    p = argparse.ArgumentParser()
    p.add_argument("--in-fd", type=int, required=True)
    p.add_argument("--out-fd", type=int, required=True)
    p.add_argument("--output-limit", type=int, default=1_000_000)
    p.add_argument("--max-nodes", type=int, default=2000)
    p.add_argument("--device", default="auto")
    p.add_argument("--uid", type=int, default=None)
    p.add_argument("--gid", type=int, default=None)
    p.add_argument("--nproc", type=int, default=0)
    a = p.parse_args(argv)
    _drop_privileges(a.uid, a.gid if a.gid is not None else a.uid, a.nproc)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until a cell runs
    CH = Channel(a.out_fd)
    sys.path[:] = [x for x in sys.path if os.path.abspath(x) != os.path.dirname(os.path.abspath(__file__))]
    os.chdir(os.environ.get("HOME", "/tmp"))
    t0 = time.perf_counter()
    import engine
    from engine import compat
    compat.install()
    import engine.nn, engine.optim, engine.utils.data  # noqa: E401,F401  warm the common imports
    _install_tensorboard()
    device = "cpu"
    if a.device != "cpu":
        try:
            if engine.cuda.is_available():
                device = "cuda:0"
        except Exception:
            device = "cpu"
    k = Kernel(a.output_limit, a.max_nodes)
    _patch_plotly(k)

    def on_sigint(signum, frame):
        if k.executing:
            raise KeyboardInterrupt
    signal.signal(signal.SIGINT, on_sigint)

    def ticker():
        while True:
            time.sleep(STREAM_FLUSH_S / 2)
            try:
                k.stdout.tick()
                k.stderr.tick()
                METRICS.tick()
            except Exception:
                pass
    threading.Thread(target=ticker, daemon=True, name="flush").start()
    CH.send({"type": "ready", "pid": os.getpid(), "device": device,
             "python": sys.version.split()[0], "startup_ms": round((time.perf_counter() - t0) * 1000, 3)})
    inp = os.fdopen(a.in_fd, "rb", closefd=False)
    while True:
        try:
            line = inp.readline()
        except KeyboardInterrupt:
            continue
        if not line:
            break
        try:
            msg = json.loads(line)
            kind = msg.get("type")
            if kind == "execute":
                k.execute(str(msg["req"]), str(msg["code"]))
            elif kind == "get_value":
                k.get_value(str(msg["req"]), int(msg["node_id"]), "grad" if msg.get("which") == "grad" else "value")
            elif kind == "check_grad":
                k.check_grad(str(msg["req"]), int(msg["node_id"]))
            elif kind == "shutdown":
                break
        except KeyboardInterrupt:
            continue
    METRICS.tick(force=True)
    os._exit(0)


def _patch_plotly(k):
    """``fig.show()`` sends the figure, when plotly is installed (never a dependency)."""
    import importlib.util
    try:
        if importlib.util.find_spec("plotly") is None:
            return
        import plotly.basedatatypes as bdt
    except Exception:
        return

    def show(self, *args, **kwargs):
        k.send_result(k.mime_bundle(self))
    bdt.BaseFigure.show = show


if __name__ == "__main__":
    main()
