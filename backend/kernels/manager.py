"""Kernel manager: one sandboxed kernel process per open notebook, and the events it produces.

``KernelManager(config, on_event)`` starts kernels (``backend/kernels/sandbox.py``), queues
cells per notebook, forwards what kernels send as events, enforces the limits, and detects
crashes.  Every method returns quickly and never raises for a kernel's sake: outcomes arrive as
events, ``on_event(notebook_id, name, data)``, called from the manager's threads (one reader
thread per kernel, one for its raw stdout/stderr, one housekeeping thread).  ``on_event`` must
not block for long.

Methods
-------
``ensure(notebook_id) -> bool``            start (from the pre-warmed pool when it has one) or reuse
``execute(notebook_id, cell_id, code) -> bool``  queue a cell (starts the kernel if needed)
``interrupt(notebook_id)``                 SIGINT: KeyboardInterrupt in the running cell; queued cells are cancelled
``restart(notebook_id)``                   new process, namespace gone
``shutdown(notebook_id)`` / ``shutdown_all()``
``request_value(notebook_id, node_id, which, request_id)``  value or grad of a node of the last graph
``request_grad_check(notebook_id, node_id, request_id)``  analytic vs finite-difference gradient of a node
``status(notebook_id) -> dict``            {"status", "device", "execution_count", "running", "queued"}

Events (name: data fields)
--------------------------
``kernel_status``   {status: "starting"|"idle"|"busy"|"dead"|"restarting", reason?: str}
                    ``reason`` comes with "dead": a human sentence ("the kernel crashed: segmentation
                    fault (SIGSEGV)", "shut down", "sandbox unavailable: ... set GRADLAB_SANDBOX=none ...").
``device``          {device: "cpu" | "cuda:0"}  once per kernel start.
``cell_status``     {cell_id, status: "queued"|"running"|"done"|"error"|"idle", duration_ms?: float,
                    execution_count?: int}  ``duration_ms`` with done/error (kernel-measured run time;
                    manager wall time when the kernel died); "idle" = a queued cell cancelled by
                    interrupt/restart/shutdown, never run.
``stream``          {cell_id, name: "stdout"|"stderr", text}  batched (~50 ms / 8 KB); C-level writes to
                    fd 1/2 also arrive as "stderr".
``result``          {cell_id, data: {mime: payload}, execution_count}  mimes: "text/plain" (repr),
                    "image/png" (base64), "application/vnd.plotly.v1+json" (figure dict).  Several per
                    cell are possible (display_image(), fig.show(), the final expression's value).
``error``           {cell_id, ename, evalue, traceback: [str], line: int|null}  traceback trimmed to the
                    user's cells ("Cell [3], line 2, in <module>"); ``line``: failing line of this cell.
``graph``           {cell_id, nodes, edges, groups, dropped, dropped_steps}  after a cell whose ops
                    recorded autograd nodes.
                    nodes: [{id, op (grad_fn name or "leaf"), kind: "leaf"|"op"|"output", module (path,
                    "" at top level), name (leaf's parameter/variable name or null), inputs: [id|null],
                    in_shapes: [[int]|null], in_dtypes: [str|null], out_shapes: [[int]], out_dtypes: [str],
                    line: int|null (source line in cell ``cell``), cell: int|null (execution count of the
                    cell whose code made the node)}]
                    edges: [[src_id, dst_id]] (gradient flows dst -> src); groups: [{module, nodes: [id]}];
                    dropped: nodes not recorded past the limit.
``backward_trace``  {cell_id, pass_index, steps}  one per backward pass (at most 10 per cell).
                    steps: [{index, node: id|null, op ("AccumulateGrad" for leaves), grads_in: [summary|null],
                    grads_out: [summary|null], leaf: id|null}] in execution order; summary: {shape, dtype,
                    norm?, mean?, min?, max?, value? (single element)}.
``metrics``         {points: [{tag, step, value: float|null, wall: unix seconds}]}  from SummaryWriter.
``node_value``      {request_id, node_id, which: "value"|"grad", shape: [int]|null, dtype: str|null,
                    stats: {numel, nan, inf, min?, max?, mean?, std?, norm?, histogram?: {counts[20],
                    edges[21]}}|null, values: [number|null]|null (flattened; every ``stride``-th element
                    when ``downsampled``), downsampled: bool, stride: int}  shape null = no such tensor.
``grad_check``      {request_id, node_id, ok, reason: str|null, eps, op?, cotangent?: "recorded"|"ones"|"random",
                    note?: str|null, inputs: [{index, node, checked, skipped, numel, max_abs_diff,
                    max_rel_diff, analytic_norm, numeric_norm, ok}]}  answer to ``request_grad_check``
                    (docs/protocol.md, "Gradient check").
``notice``          {cell_id: str|null, text}  "output truncated ...", time limit reached, ...
"""
import collections
import itertools
import json
import logging
import os
import signal
import subprocess
import threading
import time

from . import cgroups, protocol, sandbox, seccomp

log = logging.getLogger(__name__)


MAX_PENDING_VALUES = 32   # get_value requests a kernel may have outstanding
MAX_PENDING_CHECKS = 1    # check_grad requests a kernel may have outstanding (each costs seconds)


def _count(pending, kind):
    return sum(1 for k, _ in pending.values() if k == kind)


RAW_TAIL_BYTES = 4096
# A message that breaks the protocol (not JSON, wrong schema, over the size limit) is dropped with a
# notice; a kernel that sends more than this many of them is broken (or hostile) and is stopped.
MAX_PROTOCOL_VIOLATIONS = 10
# Cells one notebook may have waiting behind the running one ("Run all" of a long notebook fits).
MAX_QUEUED_CELLS = 200
MAX_QUEUED_CODE_BYTES = 4 * 1024 * 1024
INTERRUPT_GRACE_S = 3.0   # after a timeout's SIGINT, before the kernel is killed
TICK_S = 0.2

_SIGNAMES = {signal.SIGSEGV: "segmentation fault (SIGSEGV)", signal.SIGKILL: "killed (SIGKILL)",
             signal.SIGABRT: "aborted (SIGABRT)", signal.SIGBUS: "bus error (SIGBUS)",
             signal.SIGFPE: "floating point exception (SIGFPE)", signal.SIGILL: "illegal instruction (SIGILL)",
             signal.SIGTERM: "terminated (SIGTERM)", signal.SIGXFSZ: "file size limit exceeded (SIGXFSZ)",
             signal.SIGXCPU: "CPU time limit exceeded (SIGXCPU)"}


def _joining(cgroup, pre):
    """preexec_fn: join the kernel's cgroup first, then the rlimits and the rest of ``pre``."""
    def run():
        cgroup.join()
        if pre is not None:
            pre()
    return run


class _Kernel:
    """One kernel process and the manager's bookkeeping about it."""

    _ids = itertools.count(1)

    def __init__(self, config):
        self.kid = next(self._ids)
        self.config = config
        self.notebook_id = None
        self.proc = None
        self.pid = None          # host pid of the Python process (the SIGINT target)
        self.cgroup = None       # cgroups.KernelCgroup, where the host allows one
        self.device = "cpu"
        self.ready = threading.Event()
        self.dead = False
        self.death_reason = None
        self.expected_exit = None  # reason when the manager itself ends it
        self.lock = threading.RLock()
        self.queue = collections.deque()  # (cell_id, code)
        self.running = None      # dict(cell_id, req, t0, out_bytes, truncated, interrupted_at)
        self.execution_count = 0
        self.last_active = time.monotonic()
        self.raw_tail = b""
        self.start_t = time.monotonic()
        self.startup_s = None
        self.pending_values = {}  # req -> (answer type, request_id)
        self._w = None
        self._wlock = threading.Lock()

    def send(self, msg):
        import json
        data = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
        with self._wlock:
            if self._w is None:
                return False
            try:
                os.write(self._w, data) if len(data) < 65536 else self._write_all(data)
                return True
            except OSError:
                return False

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self._w, view)
            view = view[n:]

    def close_pipe(self):
        with self._wlock:
            if self._w is not None:
                try:
                    os.close(self._w)
                except OSError:
                    pass
                self._w = None

    def kill(self):
        for pid in (self.pid,):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        self.close_pipe()


class KernelManager:
    def __init__(self, config, on_event):
        self.config = config
        self.on_event = on_event
        self.lock = threading.RLock()
        self.kernels = {}        # notebook_id -> _Kernel
        self.pool = []           # started kernels not bound to a notebook
        self.pool_size = max(0, int(getattr(config, "kernel_pool_size", 0)))
        self.closed = False
        self._refilling = False
        self._req = itertools.count(1)
        self._sandbox_error = None
        import queue
        self._spawn_q = queue.Queue()
        threading.Thread(target=self._spawner, daemon=True, name="kernel-spawner").start()
        self._housekeeper = threading.Thread(target=self._housekeeping, daemon=True, name="kernel-housekeeping")
        self._housekeeper.start()
        if self.pool_size:
            self._refill_pool()

    # -- events ----------------------------------------------------------------------------------
    def _emit(self, notebook_id, name, data):
        if notebook_id is None:
            return
        try:
            self.on_event(notebook_id, name, data)
        except Exception:  # a handler's bug must not kill a reader thread
            log.exception("on_event failed for %s", name)

    # -- starting --------------------------------------------------------------------------------
    def _spawn(self):
        """Start a kernel from the spawner thread (see ``_spawner``); returns the _Kernel."""
        import concurrent.futures
        fut = concurrent.futures.Future()
        self._spawn_q.put(fut)
        return fut.result()

    def _spawner(self):
        """The one thread that forks kernels.  bwrap's ``--die-with-parent`` uses PR_SET_PDEATHSIG,
        which fires when the parent THREAD exits: kernels forked from a short-lived thread (a
        socket handler, the pool refiller) would be killed with it.  This thread lives as long
        as the manager."""
        while True:
            fut = self._spawn_q.get()
            if fut is None:
                return
            try:
                fut.set_result(self._spawn_now())
            except BaseException as e:
                fut.set_exception(e)

    def _spawn_now(self):
        """Start one kernel process and its reader threads; returns the _Kernel (maybe not ready)."""
        k = _Kernel(self.config)
        in_r, in_w = os.pipe()     # manager -> kernel
        out_r, out_w = os.pipe()   # kernel -> manager
        raw_r, raw_w = os.pipe()   # kernel's fd 1/2
        sec_fd = seccomp.filter_fd() if getattr(self.config, "sandbox", "bwrap") != "none" else None
        # one cgroup for the kernel and all it starts: its memory (plus its /tmp, which lives in
        # RAM) and process limits hold across forks
        mem_mb = int(self.config.kernel_memory_mb)
        k.cgroup = cgroups.KernelCgroup.create(
            (mem_mb + int(getattr(self.config, "kernel_tmp_mb", 512))) * 1024 * 1024 if mem_mb > 0 else 0,
            int(self.config.kernel_max_procs) + 4)  # + bwrap and its init
        sec_fds = (sec_fd,) if sec_fd is not None else ()
        try:
            argv, env, pre = sandbox.kernel_command(self.config, in_r, out_w, seccomp_fd=sec_fd)
            if k.cgroup is not None:
                pre = _joining(k.cgroup, pre)
            k.proc = subprocess.Popen(argv, env=env, preexec_fn=pre, pass_fds=(in_r, out_w) + sec_fds,
                                      stdin=subprocess.DEVNULL, stdout=raw_w, stderr=raw_w,
                                      start_new_session=True, close_fds=True)
        except BaseException:
            for fd in (in_r, in_w, out_r, out_w, raw_r, raw_w) + sec_fds:
                os.close(fd)
            if k.cgroup is not None:  # nothing joined it
                k.cgroup.remove()
            raise
        for fd in (in_r, out_w, raw_w) + sec_fds:
            os.close(fd)
        k._w = in_w
        if getattr(self.config, "sandbox", "bwrap") == "none":
            k.pid = k.proc.pid
        threading.Thread(target=self._reader, args=(k, out_r), daemon=True, name=f"kernel-{k.kid}-reader").start()
        threading.Thread(target=self._raw_reader, args=(k, raw_r), daemon=True, name=f"kernel-{k.kid}-raw").start()
        return k

    def _find_python_pid(self, k):
        """Host pid of the kernel's Python inside bwrap: the child of bwrap's init (or itself)."""
        if k.pid or k.proc is None:
            return k.pid
        outer = k.proc.pid
        try:
            kids = open(f"/proc/{outer}/task/{outer}/children").read().split()
            for c in kids:  # bwrap -> (ns init) -> python
                grand = open(f"/proc/{c}/task/{c}/children").read().split()
                k.pid = int(grand[0]) if grand else int(c)
                return k.pid
        except (OSError, ValueError, IndexError):
            pass
        return None

    def _refill_pool(self):
        with self.lock:
            if self._refilling or self.closed or len(self.pool) >= self.pool_size:
                return
            self._refilling = True

        def run():
            try:
                while True:
                    with self.lock:
                        if self.closed or len(self.pool) >= self.pool_size:
                            return
                    try:
                        k = self._spawn()
                    except sandbox.SandboxUnavailable as e:
                        self._sandbox_error = str(e)
                        return
                    except Exception:
                        log.exception("could not pre-start a kernel")
                        return
                    if not k.ready.wait(60) or k.dead:
                        k.expected_exit = "pool start failed"
                        k.kill()
                        return
                    with self.lock:
                        if self.closed:
                            k.expected_exit = "shut down"
                            k.kill()
                            return
                        self.pool.append(k)
            finally:
                with self.lock:
                    self._refilling = False
        threading.Thread(target=run, daemon=True, name="kernel-pool").start()

    def ensure(self, notebook_id):
        """Start a kernel for the notebook unless it has a live one.  False if it can't start."""
        with self.lock:
            k = self.kernels.get(notebook_id)
            if k is not None and not k.dead:
                return True
            if self.closed:
                return False
            self._emit(notebook_id, "kernel_status", {"status": "starting"})
            k = None
            while self.pool:
                cand = self.pool.pop(0)
                if not cand.dead:
                    k = cand
                    break
            if k is None:
                try:
                    k = self._spawn()
                except sandbox.SandboxUnavailable as e:
                    self._emit(notebook_id, "kernel_status", {"status": "dead", "reason": str(e)})
                    return False
                except Exception as e:
                    log.exception("kernel start failed")
                    self._emit(notebook_id, "kernel_status", {"status": "dead", "reason": f"kernel could not start: {e}"})
                    return False
            k.notebook_id = notebook_id
            k.last_active = time.monotonic()
            self.kernels[notebook_id] = k
        if self.pool_size:
            self._refill_pool()
        if k.ready.is_set() and not k.dead:
            self._announce(k)
        # otherwise the reader announces it when "ready" arrives
        return True

    def _announce(self, k):
        self._emit(k.notebook_id, "device", {"device": k.device})
        with k.lock:
            busy = k.running is not None
        self._emit(k.notebook_id, "kernel_status", {"status": "busy" if busy else "idle"})
        self._pump(k)

    # -- cells -----------------------------------------------------------------------------------
    def execute(self, notebook_id, cell_id, code):
        max_bytes = int(getattr(self.config, "max_code_bytes", 100_000))
        if len(code.encode("utf-8", "replace")) > max_bytes:
            self._emit(notebook_id, "error", {"cell_id": cell_id, "ename": "CodeTooLarge",
                                              "evalue": f"the cell is larger than {max_bytes} bytes",
                                              "traceback": [], "line": None})
            self._emit(notebook_id, "cell_status", {"cell_id": cell_id, "status": "error", "duration_ms": 0.0})
            return False
        if not self.ensure(notebook_id):
            with self.lock:
                reason = self._sandbox_error
            self._emit(notebook_id, "error", {"cell_id": cell_id, "ename": "KernelUnavailable",
                                              "evalue": reason or "the kernel could not start",
                                              "traceback": [], "line": None})
            self._emit(notebook_id, "cell_status", {"cell_id": cell_id, "status": "error", "duration_ms": 0.0})
            return False
        with self.lock:
            k = self.kernels.get(notebook_id)
        with k.lock:  # code counted in characters, like the cells already queued
            full = (len(k.queue) >= MAX_QUEUED_CELLS
                    or sum(len(c) for _, c in k.queue) + len(code) > MAX_QUEUED_CODE_BYTES)
            if not full:
                k.queue.append((cell_id, code))
                k.last_active = time.monotonic()
        if full:
            self._emit(notebook_id, "error", {"cell_id": cell_id, "ename": "QueueFull",
                                              "evalue": f"{MAX_QUEUED_CELLS} cells (or "
                                                        f"{MAX_QUEUED_CODE_BYTES // 1024 // 1024} MiB of code) are "
                                                        "already waiting to run in this notebook: interrupt or wait",
                                              "traceback": [], "line": None})
            self._emit(notebook_id, "cell_status", {"cell_id": cell_id, "status": "error", "duration_ms": 0.0})
            return False
        self._emit(notebook_id, "cell_status", {"cell_id": cell_id, "status": "queued"})
        self._pump(k)
        return True

    def _pump(self, k):
        """Send the next queued cell if the kernel is ready and free."""
        with k.lock:
            if k.dead or not k.ready.is_set() or k.running is not None or not k.queue:
                return
            cell_id, code = k.queue.popleft()
            req = f"c{next(self._req)}"
            k.running = {"cell_id": cell_id, "req": req, "t0": time.monotonic(), "out_bytes": 0,
                         "truncated": False, "interrupted_at": None, "started": False,
                         "interrupt_pending": False}
            k.last_active = time.monotonic()
        self._emit(k.notebook_id, "cell_status", {"cell_id": cell_id, "status": "running"})
        self._emit(k.notebook_id, "kernel_status", {"status": "busy"})
        if not k.send({"type": "execute", "req": req, "code": code}):
            pass  # the reader notices the death

    def interrupt(self, notebook_id):
        with self.lock:
            k = self.kernels.get(notebook_id)
        if k is None or k.dead:
            return False
        self._cancel_queue(k, "interrupted")
        with k.lock:
            if k.running is None:
                return True
            if not k.running["started"]:
                # the kernel has not begun the cell yet (SIGINT would be ignored there): deliver the
                # interrupt when it reports "started"
                k.running["interrupt_pending"] = True
                return True
        return self._sigint(k)

    def _sigint(self, k):
        pid = self._find_python_pid(k)
        if not pid:
            return False
        try:
            os.kill(pid, signal.SIGINT)
            return True
        except OSError:
            return False

    def _cancel_queue(self, k, why):
        with k.lock:
            cancelled = list(k.queue)
            k.queue.clear()
        for cell_id, _ in cancelled:
            self._emit(k.notebook_id, "cell_status", {"cell_id": cell_id, "status": "idle"})

    def request_value(self, notebook_id, node_id, which, request_id):
        with self.lock:
            k = self.kernels.get(notebook_id)
        if k is None or k.dead or not k.ready.is_set():
            self._emit(notebook_id, "node_value", {"request_id": request_id, "node_id": node_id, "which": which,
                                                   "shape": None, "dtype": None, "stats": None, "values": None,
                                                   "downsampled": False, "stride": 1})
            return False
        which = "grad" if which == "grad" else "value"
        req = f"v{next(self._req)}"
        with k.lock:
            busy = _count(k.pending_values, "node_value") >= MAX_PENDING_VALUES
            if not busy:
                k.pending_values[req] = ("node_value", request_id)
        if busy:  # a client flooding requests: answer at once instead of filling the kernel's pipe
            self._emit(notebook_id, "node_value", {"request_id": request_id, "node_id": node_id, "which": which,
                                                   "shape": None, "dtype": None, "stats": None, "values": None,
                                                   "downsampled": False, "stride": 1})
            return False
        return k.send({"type": "get_value", "req": req, "node_id": int(node_id), "which": which})

    def request_grad_check(self, notebook_id, node_id, request_id):
        """Ask the kernel to check the gradient of node ``node_id`` of its last graph; the answer
        arrives as a ``grad_check`` event (at once, ok false, when no kernel is running)."""
        with self.lock:
            k = self.kernels.get(notebook_id)
        if k is None or k.dead or not k.ready.is_set():
            why = "the kernel is starting: try again when it is idle" if k is not None and not k.dead \
                else "the kernel is not running"
            self._emit(notebook_id, "grad_check", {"request_id": request_id, "node_id": node_id, "ok": False,
                                                   "reason": why, "eps": None, "inputs": []})
            return False
        req = f"g{next(self._req)}"
        with k.lock:
            busy = _count(k.pending_values, "grad_check") >= MAX_PENDING_CHECKS
            if not busy:
                k.pending_values[req] = ("grad_check", request_id)
        if busy:  # each check costs the kernel seconds: one at a time per notebook
            self._emit(notebook_id, "grad_check", {"request_id": request_id, "node_id": node_id, "ok": False,
                                                   "reason": "another gradient check is still running: try again "
                                                             "when it has answered", "eps": None, "inputs": []})
            return False
        return k.send({"type": "check_grad", "req": req, "node_id": int(node_id)})

    def status(self, notebook_id):
        with self.lock:
            k = self.kernels.get(notebook_id)
        if k is None:
            return {"status": "dead", "device": None, "execution_count": 0, "running": None, "queued": 0}
        with k.lock:
            st = "dead" if k.dead else ("starting" if not k.ready.is_set() else ("busy" if k.running else "idle"))
            return {"status": st, "device": k.device, "execution_count": k.execution_count,
                    "running": k.running["cell_id"] if k.running else None, "queued": len(k.queue),
                    "reason": k.death_reason}

    # -- ending ----------------------------------------------------------------------------------
    def _end(self, k, reason, emit_dead=True):
        """End a kernel on the manager's initiative."""
        with k.lock:
            if k.expected_exit is None:
                k.expected_exit = reason
            k.emit_dead = emit_dead
        self._cancel_queue(k, reason)
        k.send({"type": "shutdown"})
        k.kill()

    def restart(self, notebook_id):
        with self.lock:
            old = self.kernels.pop(notebook_id, None)
        self._emit(notebook_id, "kernel_status", {"status": "restarting"})
        if old is not None:
            self._end(old, "restarted", emit_dead=False)
        # ensure() emits starting -> idle; "restarting" already said it
        return self.ensure(notebook_id)

    def shutdown(self, notebook_id, reason="shut down"):
        with self.lock:
            k = self.kernels.pop(notebook_id, None)
        if k is None:
            return False
        self._end(k, reason)
        return True

    def shutdown_all(self):
        with self.lock:
            self.closed = True
            ks = list(self.kernels.items())
            self.kernels.clear()
            pool, self.pool = self.pool, []
        for _, k in ks:
            self._end(k, "server shutting down")
        for k in pool:
            self._end(k, "server shutting down", emit_dead=False)
        self._spawn_q.put(None)
        for _, k in ks + [(None, p) for p in pool]:
            if k.proc is not None:
                try:
                    k.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass

    # -- reading ---------------------------------------------------------------------------------
    def _reader(self, k, fd):
        f = os.fdopen(fd, "rb", buffering=1 << 16)
        violation = None
        bad = 0
        try:
            while True:
                line = f.readline(protocol.MAX_LINE_BYTES + 1)
                if not line:
                    break
                problem = None
                if len(line) > protocol.MAX_LINE_BYTES and not line.endswith(b"\n"):
                    problem = f"message longer than {protocol.MAX_LINE_BYTES} bytes"
                    while line and not line.endswith(b"\n"):  # skip the rest of it
                        line = f.readline(1 << 20)
                else:
                    try:
                        msg = protocol.parse_line(line)
                    except protocol.ProtocolViolation as e:
                        problem = str(e)
                if problem is not None:
                    bad += 1
                    if bad > MAX_PROTOCOL_VIOLATIONS:
                        violation = f"{bad} malformed messages, the last: {problem}"
                        break
                    self._protocol_notice(k, problem)
                    continue
                try:
                    self._handle(k, msg)
                except Exception:
                    log.exception("handling a kernel message failed")
        except Exception as e:
            violation = f"reading failed: {e}"
        finally:
            f.close()
        if violation:
            with k.lock:
                if k.expected_exit is None:
                    k.expected_exit = f"the kernel broke the protocol: {violation}"
                    k.protocol_error = True
            k.kill()
        self._on_exit(k)

    def _raw_reader(self, k, fd):
        """What C code / subprocesses write to fd 1/2: forwarded as stderr, tail kept for crash reasons."""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            k.raw_tail = (k.raw_tail + data)[-RAW_TAIL_BYTES:]
            with k.lock:
                run = k.running
            if run is not None:
                self._stream(k, run, "stderr", data.decode("utf-8", "replace"))
        os.close(fd)

    def _protocol_notice(self, k, problem):
        """One dropped kernel message: said under the running cell (if any); the kernel lives on."""
        log.warning("kernel %s: dropped a message: %s", k.notebook_id, problem)
        with k.lock:
            run = k.running
        if run is not None and k.notebook_id is not None:
            self._emit(k.notebook_id, "notice", {"cell_id": run["cell_id"],
                                                 "text": f"a message from the kernel was dropped: {problem}"[:2000]})

    def _take_output(self, k, run, n):
        """Count n bytes of a cell's output against its limit (the kernel enforces the limit itself;
        this guards against a kernel that does not).  False, after one notice, once it is spent."""
        limit = int(getattr(self.config, "output_limit_bytes", 1_000_000))
        with k.lock:
            if run["truncated"]:
                return False
            if run["out_bytes"] + n > limit + 65536:
                run["truncated"] = True
                notice = True
            else:
                run["out_bytes"] += n
                return True
        if notice:
            self._emit(k.notebook_id, "notice", {"cell_id": run["cell_id"],
                                                 "text": f"output truncated: the cell wrote more than {limit} bytes"})
        return False

    def _stream(self, k, run, name, text):
        if self._take_output(k, run, len(text.encode("utf-8", "replace"))):
            self._emit(k.notebook_id, "stream", {"cell_id": run["cell_id"], "name": name, "text": text})

    def _cell_of(self, k, req):
        with k.lock:
            run = k.running
        if run is not None and (req is None or run["req"] == req):
            return run
        return None

    def _handle(self, k, m):
        t = m.type
        nb = k.notebook_id
        if t == "ready":
            with k.lock:
                k.device = m.device
                k.startup_s = time.monotonic() - k.start_t
            self._find_python_pid(k)
            k.ready.set()
            if nb is not None:
                self._announce(k)
            return
        if t == "metrics":
            self._emit(nb, "metrics", {"points": [p.model_dump() for p in m.points]})
            return
        if t in ("node_value", "grad_check"):
            with k.lock:
                kind, rid = k.pending_values.get(m.req, (None, None))
                if kind == t:  # an answer of the other type under this id is forged: ignore it
                    del k.pending_values[m.req]
            if kind != t:
                return
            d = m.model_dump(exclude={"type", "req"})
            d["request_id"] = rid
            self._emit(nb, t, d)
            return
        run = self._cell_of(k, getattr(m, "req", None))
        if run is None:
            return  # stale or forged: nothing is running under that id
        cell_id = run["cell_id"]
        k.last_active = time.monotonic()
        if t == "started":
            with k.lock:
                run["started"] = True
                pending, run["interrupt_pending"] = run["interrupt_pending"], False
            if pending:
                self._sigint(k)
            return
        if t == "stream":
            self._stream(k, run, m.name, m.text)
        elif t == "result":
            k.execution_count = m.execution_count
            size = sum(len(v) if isinstance(v, str) else len(json.dumps(v, default=str)) for v in m.data.values())
            if self._take_output(k, run, size):
                self._emit(nb, "result", {"cell_id": cell_id, "data": m.data, "execution_count": m.execution_count})
        elif t == "error":
            self._emit(nb, "error", {"cell_id": cell_id, "ename": m.ename, "evalue": m.evalue,
                                     "traceback": m.traceback, "line": m.line})
        elif t == "graph":
            d = m.model_dump(exclude={"type", "req"})
            d["cell_id"] = cell_id
            self._emit(nb, "graph", d)
        elif t == "backward_trace":
            self._emit(nb, "backward_trace", {"cell_id": cell_id, "pass_index": m.pass_index,
                                              "steps": [s.model_dump() for s in m.steps]})
        elif t == "notice":
            self._emit(nb, "notice", {"cell_id": cell_id, "text": m.text})
        elif t == "done":
            with k.lock:
                k.running = None
                k.execution_count = m.execution_count
                more = bool(k.queue)
            self._emit(nb, "cell_status", {"cell_id": cell_id, "status": "done" if m.status == "ok" else "error",
                                           "duration_ms": m.duration_ms, "execution_count": m.execution_count})
            if not more:
                self._emit(nb, "kernel_status", {"status": "idle"})
            self._pump(k)

    # -- death -----------------------------------------------------------------------------------
    def _on_exit(self, k):
        proc = k.proc
        rc = None
        if proc is not None:
            try:
                rc = proc.wait(5)
            except subprocess.TimeoutExpired:
                k.kill()
                try:
                    rc = proc.wait(5)
                except subprocess.TimeoutExpired:
                    rc = None
        k.close_pipe()
        if getattr(k, "cgroup", None) is not None:
            k.cgroup.remove()
        with k.lock:
            k.dead = True
            expected = k.expected_exit
            run, k.running = k.running, None
            emit_dead = getattr(k, "emit_dead", True)
        reason = expected or self._crash_reason(k, rc, run)
        k.death_reason = reason
        k.ready.set()
        nb = k.notebook_id
        with self.lock:
            if k in self.pool:
                self.pool.remove(k)
            if nb is not None and self.kernels.get(nb) is k:
                # keep the dead kernel registered so status() can say why; ensure() replaces it
                pass
        if nb is None:
            return
        if run is not None:
            dur = round((time.monotonic() - run["t0"]) * 1000, 3)
            if expected is None or getattr(k, "protocol_error", False) or run.get("interrupted_at"):
                self._emit(nb, "error", {"cell_id": run["cell_id"], "ename": "KernelDied", "evalue": reason,
                                         "traceback": [], "line": None})
            self._emit(nb, "cell_status", {"cell_id": run["cell_id"], "status": "error", "duration_ms": dur})
        self._cancel_queue(k, reason)
        if emit_dead:
            self._emit(nb, "kernel_status", {"status": "dead", "reason": reason})

    def _crash_reason(self, k, rc, run):
        tail = k.raw_tail.decode("utf-8", "replace")
        mem = int(getattr(self.config, "kernel_memory_mb", 0))
        bwrapped = getattr(self.config, "sandbox", "bwrap") != "none"
        sig = None
        if rc is not None and rc < 0:
            sig = -rc
        elif bwrapped and rc is not None and rc > 128 and rc - 128 in _SIGNAMES:
            sig = rc - 128  # bwrap reports a signal death as 128 + signal
        if "MemoryError" in tail or "Cannot allocate memory" in tail or "out of memory" in tail.lower():
            return f"the kernel ran out of memory (limit {mem} MB) and died"
        if sig is not None:
            name = _SIGNAMES.get(sig, f"signal {sig}")
            if sig == signal.SIGKILL:
                return ("the kernel was killed (SIGKILL), most likely for using too much memory "
                        f"(limit {mem} MB)")
            return f"the kernel crashed: {name}"
        if rc is None:
            return "the kernel stopped responding"
        if rc == 0:
            return "the kernel exited"
        return f"the kernel exited with code {rc}"

    # -- housekeeping ----------------------------------------------------------------------------
    def _housekeeping(self):
        while not self.closed:
            time.sleep(TICK_S)
            try:
                self._tick()
            except Exception:
                log.exception("kernel housekeeping failed")

    def _tick(self):
        now = time.monotonic()
        timeout = float(getattr(self.config, "cell_timeout_s", 0) or 0)
        cull = float(getattr(self.config, "kernel_idle_cull_s", 0) or 0)
        with self.lock:
            items = list(self.kernels.items())
        for nb, k in items:
            if k.dead:
                continue
            with k.lock:
                run = k.running
                idle = run is None and not k.queue
                since = now - k.last_active
            if run is not None and timeout > 0:
                elapsed = now - run["t0"]
                if elapsed > timeout and run["interrupted_at"] is None:
                    run["interrupted_at"] = now
                    self._emit(nb, "notice", {"cell_id": run["cell_id"],
                                              "text": f"the cell ran longer than {timeout:g} s: interrupting it"})
                    self._sigint(k)
                elif run["interrupted_at"] is not None and now - run["interrupted_at"] > INTERRUPT_GRACE_S:
                    with self.lock:
                        if self.kernels.get(nb) is k:
                            pass
                    self._end(k, f"the cell ran longer than {timeout:g} s and did not stop when interrupted: "
                                 "the kernel was killed")
            elif idle and cull > 0 and since > cull:
                with self.lock:
                    if self.kernels.get(nb) is k:
                        del self.kernels[nb]
                    else:
                        continue
                self._end(k, f"shut down after {cull:g} s without activity")
