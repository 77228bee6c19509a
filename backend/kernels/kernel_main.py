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
METRICS_MAX_POINTS = 2000    # points per metrics message
CELL_FILE = "<cell-{}>"


# --------------------------------------------------------------------------------------------
# channel to the manager
class Channel:
    def __init__(self, out_fd):
        self._f = os.fdopen(out_fd, "wb", buffering=0, closefd=False)
        self._lock = threading.Lock()

    def send(self, msg):
        # NaN/inf go as JSON's NaN/Infinity/-Infinity extensions: the manager reads them as floats,
        # and the server sends them on as the strings "NaN"/"Infinity"/"-Infinity"
        line = json.dumps(msg, separators=(",", ":"))
        data = line.encode("utf-8", "replace") + b"\n"
        with self._lock:
            self._f.write(data)


CH = None  # the Channel, set in main()


# --------------------------------------------------------------------------------------------
# stdout / stderr capture
# A cell's output budget is kept per kind of output, so that a long training log cannot hide the
# plot after it: streams and text results share the text budget (``--output-limit`` bytes), images
# have twice that, HTML and other data (JSON, Plotly figures) one each.  The server checks the same
# budgets again (manager.py), with some slack, for a kernel that does not keep them.
OUTPUT_SHARES = {"text": 1, "image": 2, "html": 1, "data": 1}
_FAMILY_NAMES = {"text": "text", "image": "image", "html": "HTML", "data": "data"}


def output_family(mime):
    """Which budget a MIME type's output counts against."""
    if mime.startswith("image/"):
        return "image"
    if mime == "text/html":
        return "html"
    return "text" if mime.startswith("text/") else "data"


def output_limits(limit):
    return {family: share * limit for family, share in OUTPUT_SHARES.items()}


def bundle_sizes(data):
    """Bytes of each representation of a display result, as counted against the budgets."""
    return {mime: len(v.encode("utf-8", "replace")) if isinstance(v, str) else len(json.dumps(v, default=str))
            for mime, v in data.items()}


class CellOutput:
    """Per-cell output budgets (see OUTPUT_SHARES); ``limit``, ``used`` and ``truncated`` are the
    text budget's, which stdout and stderr share."""

    def __init__(self, limit):
        self.limits = output_limits(limit)
        self.limit = limit
        self.req = None
        self.spent = dict.fromkeys(self.limits, 0)
        self.cut = set()
        self.lock = threading.Lock()

    @property
    def used(self):
        return self.spent["text"]

    @used.setter
    def used(self, n):
        self.spent["text"] = n

    @property
    def truncated(self):
        return "text" in self.cut

    @truncated.setter
    def truncated(self, flag):
        (self.cut.add if flag else self.cut.discard)("text")

    def begin(self, req):
        with self.lock:
            self.req = req
            self.spent = dict.fromkeys(self.limits, 0)
            self.cut = set()

    def take_result(self, data):
        """A display result under the cell's budgets: text/plain is cut to RESULT_TEXT_CHARS and to
        what is left of the text budget, with its full size said; any other representation that does
        not fit its budget is left out, and that budget is closed for the rest of the cell, saying so
        once.  Returns (data or None, notice text or None)."""
        out, notes = {}, []
        sizes = bundle_sizes(data)
        with self.lock:
            for mime, value in data.items():
                family = output_family(mime)
                if family in self.cut:
                    continue
                left = self.limits[family] - self.spent[family]
                if mime == "text/plain" and isinstance(value, str):
                    n = len(value)
                    cap = max(0, min(RESULT_TEXT_CHARS, left - NOTE_ROOM))
                    if n > cap:
                        value = (value[:cap] + f"\n... [output truncated: the result's text is {n:,} characters; "
                                 f"{cap:,} shown]")
                    out[mime] = value
                    self.spent[family] += len(value.encode("utf-8", "replace"))
                    if self.spent[family] >= self.limits[family] - NOTE_ROOM:
                        self.cut.add(family)
                        notes.append(f"output truncated: the cell wrote more than {self.limits[family]:,} "
                                     "bytes of text")
                    continue
                if sizes[mime] > left:
                    self.cut.add(family)
                    notes.append(f"{mime} of {sizes[mime]:,} bytes not shown: the cell's "
                                 f"{_FAMILY_NAMES[family]} output limit of {self.limits[family]:,} bytes is "
                                 f"reached; later {_FAMILY_NAMES[family]} output of this cell is not shown")
                    continue
                out[mime] = value
                self.spent[family] += sizes[mime]
        if notes and "text/plain" not in out and out:
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
            # each tick of the flush thread sends what was logged since the last one; the server
            # throttles what reaches the browser (backend/realtime/outbox.py)
            while self.points:
                with self.lock:
                    batch, self.points = self.points[:METRICS_MAX_POINTS], self.points[METRICS_MAX_POINTS:]
                CH.send({"type": "metrics", "points": batch})
                if not force:
                    break


METRICS = MetricsSender()


def _scalar(v):
    if hasattr(v, "item"):
        v = v.item()
    return float(v)  # NaN/inf included: a diverging loss shows as such


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
        obs = observe.Observer(max_nodes=self.max_nodes, max_steps=20_000, keep_values=True,
                               max_passes=MAX_TRACE_PASSES, keep_inputs_bytes=GRAD_CHECK_KEEP_BYTES)
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
        from engine.autograd.gradcheck import NODE_CHECK_EPS
        msg = {"type": "grad_check", "req": req, "node_id": node_id, "ok": False, "reason": None,
               "eps": NODE_CHECK_EPS, "inputs": []}
        try:
            if self.last_obs is None:
                msg["reason"] = "no graph yet: run a cell that builds one"
            else:
                msg.update(self.last_obs.check_gradient(node_id))
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


_RULES = {}


def _rule_of(r):
    """The node's class's rule (``Node.rule()``): an op's forward and gradient lines; a leaf's
    accumulation.  Cached per class."""
    from engine.autograd.graph import AccumulateGrad
    cls = AccumulateGrad if r.kind == "leaf" else type(r.grad_fn)
    rule = _RULES.get(cls)
    if rule is None:
        got = cls.rule()
        rule = _RULES[cls] = {"forward": str(got["forward"])[:1000],
                              "lines": [str(x)[:1000] for x in got["lines"][:32]]}
    return rule


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
            "line": line, "cell": cell, "rule": _rule_of(r),
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
    a = np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t)
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
# "Check gradient" of one op node of the last graph is the engine's Observer.check_gradient
# (engine.autograd.gradcheck.check_node says how); the observer keeps the op inputs it needs.
GRAD_CHECK_KEEP_BYTES = 256 * 1024 * 1024  # op inputs kept for it; later nodes say "not kept"


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
