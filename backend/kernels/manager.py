"""Kernel manager: one sandboxed kernel process per open notebook, and the events it produces.

``KernelManager(config, on_event)`` starts kernels (``backend/kernels/sandbox.py``), queues
cells per notebook, forwards what kernels send as events, enforces the limits, and detects
crashes.  Every method returns quickly and never raises for a kernel's sake: outcomes arrive as
events, ``on_event(notebook_id, name, data)``, called from the manager's threads (one reader
thread per kernel, one for its raw stdout/stderr, one housekeeping thread).  ``on_event`` must
not block for long.

Methods
-------
``ensure(notebook_id) -> bool``            start (from the pre-started pool when it has one) or reuse
``execute(notebook_id, cell_id, code) -> bool``  queue a cell (starts the kernel if needed)
``interrupt(notebook_id)``                 SIGINT: KeyboardInterrupt in the running cell; queued cells are cancelled
``restart(notebook_id)``                   new process, namespace gone
``shutdown(notebook_id)`` / ``shutdown_all()``
``request_value(notebook_id, node_id, which, request_id)``  value or grad of a node of the last graph
``request_grad_check(notebook_id, node_id, request_id)``  analytic vs finite-difference gradient of a node
``status(notebook_id) -> dict``            {"status", "device", "execution_count", "running", "queued"}
``pool_stats() -> dict``                   {"ready", "starting", "target", "min", "max"} of the pool

The pool
--------
A kernel costs ~0.2 s of CPU to start (bubblewrap, the interpreter, importing numpy and the
engine), so many notebooks opened at once would wait seconds for CPU.  The manager keeps kernels
started ahead, bound to no notebook (``kernel_pool_size`` of them at least).  ``ensure`` takes one
(a ready one, else the one that started first) and binds it to the notebook for good: it is never
given back nor handed to another notebook; a restart takes another.  The pool's target is the
number of kernels notebooks took in the last ``kernel_pool_idle_s`` seconds, between
``kernel_pool_size`` and ``kernel_pool_max``: drained faster than it refills, it grows; when demand
goes, its newest idle kernels are stopped until it is back at ``kernel_pool_size``.  One thread
(``_pool_keeper``) does that, starting ``pool_parallel`` kernels at a time, none while notebooks
wait for a kernel started for them nor while the host has less than max(kernel_memory_mb, 512 MB)
of memory available, backing off after failed starts.  ``kernel_pool_size`` 0: no pool.

Without a pool kernel, the notebook's kernel is forked for it, at most ``start_parallel`` (the
number of cores, at least 2) starting at a time, first come first served -- forked all at once
they would share the CPU and all be ready late.  ``ensure`` returns once it is forked (a few ms),
or at once when it has to wait its turn; either way it reports ``idle`` when ready.

Pool kernels are started exactly as any kernel (sandbox, seccomp, cgroup, rlimits, own uid).  CPU
priority follows what a kernel does (``_set_priority``): a pool kernel low (cgroup CPU weight
POOL_CPU_WEIGHT, and niceness POOL_NICE where the server may undo it), so that filling the pool
yields to running cells; a kernel a notebook waits for high (START_CPU_WEIGHT) until it is ready;
then the weight every kernel has.  No cell runs before the last change.

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
from .kernel_main import bundle_sizes, output_family, output_limits

log = logging.getLogger(__name__)


MAX_PENDING_VALUES = 32   # get_value requests a kernel may have outstanding
MAX_PENDING_CHECKS = 1    # check_grad requests a kernel may have outstanding (each costs seconds)


def _count(pending, kind):
    return sum(1 for k, _ in pending.values() if k == kind)


RAW_TAIL_BYTES = 4096
# A message that breaks the protocol (not JSON, wrong schema, over the size limit) is dropped with a
# notice; a kernel that sends more than this many of them is broken (or hostile) and is stopped.
MAX_PROTOCOL_VIOLATIONS = 10
OUTPUT_SLACK = 65536          # bytes over a cell's output budget the server lets through before it cuts
# Cells one notebook may have waiting behind the running one ("Run all" of a long notebook fits).
MAX_QUEUED_CELLS = 200
MAX_QUEUED_CODE_BYTES = 4 * 1024 * 1024
INTERRUPT_GRACE_S = 3.0   # after a timeout's SIGINT, before the kernel is killed
TICK_S = 0.2
# the pre-started kernel pool (see ``KernelManager._pool_keeper``)
POOL_TICK_S = 1.0            # the pool is looked at this often, and at once when a notebook takes a kernel
POOL_START_TIMEOUT_S = 60.0  # a pool kernel not ready by then is stopped
POOL_RETRY_MAX_S = 60.0      # the longest wait after failed pool starts (1, 2, 4 ... s)
# CPU priority of a kernel by what it is doing (``KernelManager._set_priority``): cgroup CPU weights
# (cgroup v2 cpu.weight; a kernel's group has cgroups.KERNEL_CPU_WEIGHT, 100, once it is ready)
POOL_CPU_WEIGHT = 5          # a pool kernel: filling the pool yields to running cells
START_CPU_WEIGHT = 400       # a kernel a notebook waits for, until it is ready (no cell has run in it)
POOL_NICE = 10               # a pool kernel's niceness too, where the server may undo it (as root)
POOL_MIN_FREE_MB = 512       # no kernel is pre-started below max(this, kernel_memory_mb) of available memory

_SIGNAMES = {signal.SIGSEGV: "segmentation fault (SIGSEGV)", signal.SIGKILL: "killed (SIGKILL)",
             signal.SIGABRT: "aborted (SIGABRT)", signal.SIGBUS: "bus error (SIGBUS)",
             signal.SIGFPE: "floating point exception (SIGFPE)", signal.SIGILL: "illegal instruction (SIGILL)",
             signal.SIGTERM: "terminated (SIGTERM)", signal.SIGXFSZ: "file size limit exceeded (SIGXFSZ)",
             signal.SIGXCPU: "CPU time limit exceeded (SIGXCPU)"}


def _child_setup(cgroup, pre, nice=0):
    """preexec_fn: join the kernel's cgroup first, then the rlimits and the rest of ``pre``, then
    the niceness (pool kernels start niced: see ``KernelManager._spawn_now``)."""
    def run():
        if cgroup is not None:
            cgroup.join()
        if pre is not None:
            pre()
        if nice:
            os.nice(nice)
    return run


def _level(k):
    """What a kernel is for, for its CPU priority: "pool", "start" (a notebook waits for it) or "run"."""
    if k.notebook_id is None:
        return "pool"
    return "run" if k.became_ready else "start"


def _weights():
    run = getattr(cgroups, "KERNEL_CPU_WEIGHT", 100)
    return {"pool": POOL_CPU_WEIGHT, "start": START_CPU_WEIGHT, "run": run}


_WEIGHTS = _weights()


def _process_tree(pid):
    """``pid`` and its descendants (from /proc; those that exit meanwhile are skipped)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return out


def _mem_available_mb():
    """MemAvailable of the host in MiB (None where /proc/meminfo does not say)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _precompile_kernel():
    """Write the bytecode of kernel_main and of the engine next to their sources, once per server
    (a few ms when it is current): kernels cannot write it (PYTHONDONTWRITEBYTECODE, read-only
    binds), so without it every kernel would compile what it imports.  Best effort."""
    import compileall
    import py_compile
    try:
        py_compile.compile(str(sandbox.KERNEL_MAIN), doraise=True)
        compileall.compile_dir(str(sandbox.REPO_ROOT / "engine"), quiet=2)
    except Exception as e:  # noqa: BLE001 - a read-only checkout: kernels compile as they start
        log.info("kernel code not precompiled (%s): kernels compile it as they start", e)


class _Kernel:
    """One kernel process and the manager's bookkeeping about it."""

    _ids = itertools.count(1)

    def __init__(self, config, pooled=False):
        self.kid = next(self._ids)
        self.config = config
        self.pooled = pooled     # started for the pool (taken by at most one notebook, never given back)
        self.notebook_id = None
        self.proc = None
        self.pid = None          # host pid of the Python process (the SIGINT target)
        self.cgroup = None       # cgroups.KernelCgroup, where the host allows one
        self.device = "cpu"
        self.ready = threading.Event()
        self.became_ready = False  # "ready" arrived (``ready`` is also set when it dies)
        self.start_said = False  # "starting" was emitted for its notebook
        self.announced = False   # device + idle emitted for its notebook: cells may be sent
        self.priority = None     # "pool", "start" or "run" (see KernelManager._set_priority)
        self.niced = False       # started with POOL_NICE
        self.counted = False     # one of the notebooks' kernels starting (KernelManager._starting)
        self.exited = threading.Event()  # the manager is done with its process (cgroup removed)
        self.dead = False
        self.death_reason = None
        self.expected_exit = None  # reason when the manager itself ends it
        self.lock = threading.RLock()
        self.queue = collections.deque()  # (cell_id, code)
        self.running = None      # dict(cell_id, req, t0, out_bytes (per family), truncated (families), ...)
        self.execution_count = 0
        self.last_active = time.monotonic()
        self.raw_tail = b""
        self.start_t = time.monotonic()
        self.startup_s = None
        self.pending_values = {}  # req -> (answer type, request_id)
        self._w = None
        self._wlock = threading.Lock()

    def send(self, msg):
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
        self.pool = []           # kernels started for no notebook yet (starting or ready), oldest first
        self.pool_size = max(0, int(getattr(config, "kernel_pool_size", 0) or 0))
        self.pool_max = max(self.pool_size, int(getattr(config, "kernel_pool_max", self.pool_size) or 0))
        self.pool_window_s = max(0.0, float(getattr(config, "kernel_pool_idle_s", 300) or 0))
        self.pool_parallel = min(8, max(2, (os.cpu_count() or 2) // 2))
        # kernels of notebooks forked at once; more wait their turn, first come first served: all
        # sharing the CPU at once, every one of them would be ready late
        self.start_parallel = max(2, os.cpu_count() or 2)
        self._waiting = collections.deque()  # notebooks' kernels not forked yet
        self._starting = 0                   # notebooks' kernels forked and not ready yet
        self._takes = collections.deque(maxlen=max(1, self.pool_max))  # when notebooks asked for a kernel
        self._pool_wake = threading.Event()
        self._pool_failures = 0
        self._pool_retry_at = 0.0
        self._pool_low_memory = False
        # only a privileged server may lower a kernel's niceness again when a notebook takes it
        self._pool_nice = POOL_NICE if os.geteuid() == 0 else 0
        self.closed = False
        self._req = itertools.count(1)
        self._sandbox_error = None
        import queue
        self._spawn_q = queue.Queue()
        self._spawn_lock = threading.Lock()
        _precompile_kernel()
        threading.Thread(target=self._spawner, daemon=True, name="kernel-spawner").start()
        self._housekeeper = threading.Thread(target=self._housekeeping, daemon=True, name="kernel-housekeeping")
        self._housekeeper.start()
        if self.pool_size:
            threading.Thread(target=self._pool_keeper, daemon=True, name="kernel-pool").start()

    # -- events ----------------------------------------------------------------------------------
    def _emit(self, notebook_id, name, data):
        if notebook_id is None:
            return
        try:
            self.on_event(notebook_id, name, data)
        except Exception:  # a handler's bug must not kill a reader thread
            log.exception("on_event failed for %s", name)

    # -- starting --------------------------------------------------------------------------------
    def _spawn(self, k):
        """Start kernel ``k``'s process from the spawner thread (see ``_spawner``); waits for the
        fork, not for the kernel to be ready."""
        import concurrent.futures
        fut = concurrent.futures.Future()
        with self._spawn_lock:
            if self.closed:
                raise RuntimeError("the server is shutting down")
            self._spawn_q.put((fut, k))
        return fut.result()

    def _spawner(self):
        """The one thread that forks kernels.  bwrap's ``--die-with-parent`` uses PR_SET_PDEATHSIG,
        which fires when the parent THREAD exits: kernels forked from a short-lived thread (a
        socket handler, the pool keeper) would be killed with it.  This thread lives as long
        as the manager."""
        while True:
            item = self._spawn_q.get()
            if item is None:
                break
            fut, k = item
            try:
                if self.closed:
                    raise RuntimeError("the server is shutting down")
                self._spawn_now(k)
            except BaseException as e:
                self._spawn_failed(fut, k, e)
            else:
                if fut is not None:
                    fut.set_result(k)
        while True:  # shut down: nothing more is started
            try:
                item = self._spawn_q.get_nowait()
            except Exception:
                return
            if item is not None:
                self._spawn_failed(item[0], item[1], RuntimeError("the server is shutting down"))

    def _spawn_failed(self, fut, k, e):
        """A fork that failed: the waiting caller is told, or (a notebook's kernel started in the
        background) the notebook."""
        if fut is not None:
            fut.set_exception(e)
            return
        if isinstance(e, sandbox.SandboxUnavailable):
            with self.lock:
                self._sandbox_error = str(e)
            self._failed_start(k, str(e))
            return
        if not self.closed:
            log.error("kernel start failed", exc_info=e)
        self._failed_start(k, f"kernel could not start: {e}")

    # -- notebooks' kernels wait their turn to start --------------------------------------------
    def _request_start(self, k):
        """Fork notebook kernel ``k`` when its turn comes: now (returning once it is forked) unless
        ``start_parallel`` kernels are starting already."""
        with self.lock:
            self._waiting.append(k)
        forked = self._start_waiting(own=k)
        if forked is not None:
            try:
                forked.result()
            except BaseException as e:
                self._spawn_failed(None, k, e)

    def _start_waiting(self, own=None):
        """Fork the kernels that wait, oldest first, while fewer than ``start_parallel`` start.
        A future of the fork of kernel ``own`` when it is one of them."""
        import concurrent.futures
        mine = None
        while True:
            with self.lock:
                if self.closed or not self._waiting or self._starting >= self.start_parallel:
                    return mine
                k = self._waiting.popleft()
                self._starting += 1
                k.counted = True
            fut = concurrent.futures.Future() if k is own else None
            with self._spawn_lock:
                closed = self.closed
                if not closed:
                    self._spawn_q.put((fut, k))
            if closed:
                self._failed_start(k, "the server is shutting down")
            elif fut is not None:
                mine = fut

    def _start_done(self, k):
        """Kernel ``k`` is ready, or gone: the next waiting one may start."""
        with self.lock:
            if not k.counted:
                return
            k.counted = False
            self._starting -= 1
            drained = not self._waiting
        self._start_waiting()
        if drained:
            self._pool_wake.set()  # the pool may fill again

    def _spawn_now(self, k):
        """Start kernel ``k``'s process and its reader threads; returns ``k`` (maybe not ready).
        It starts at the CPU priority of what it is for (see ``_set_priority``)."""
        in_r, in_w = os.pipe()     # manager -> kernel
        out_r, out_w = os.pipe()   # kernel -> manager
        raw_r, raw_w = os.pipe()   # kernel's fd 1/2
        sec_fd = seccomp.filter_fd() if getattr(self.config, "sandbox", "bwrap") != "none" else None
        # one cgroup for the kernel and all it starts: its memory (plus its /tmp, which lives in
        # RAM) and process limits hold across forks
        mem_mb = int(self.config.kernel_memory_mb)
        with k.lock:
            level = _level(k)
        weight = {"cpu_weight": _WEIGHTS[level]} if hasattr(cgroups, "KERNEL_CPU_WEIGHT") else {}
        k.cgroup = cgroups.KernelCgroup.create(
            (mem_mb + int(getattr(self.config, "kernel_tmp_mb", 512))) * 1024 * 1024 if mem_mb > 0 else 0,
            int(self.config.kernel_max_procs) + 4, **weight)  # + bwrap and its init
        nice = self._pool_nice if level == "pool" else 0
        sec_fds = (sec_fd,) if sec_fd is not None else ()
        try:
            argv, env, pre = sandbox.kernel_command(self.config, in_r, out_w, seccomp_fd=sec_fd)
            proc = subprocess.Popen(argv, env=env, preexec_fn=_child_setup(k.cgroup, pre, nice),
                                    pass_fds=(in_r, out_w) + sec_fds, stdin=subprocess.DEVNULL, stdout=raw_w,
                                    stderr=raw_w, start_new_session=True, close_fds=True)
        except BaseException:
            for fd in (in_r, in_w, out_r, out_w, raw_r, raw_w) + sec_fds:
                os.close(fd)
            if k.cgroup is not None:  # nothing joined it
                k.cgroup.remove()
            raise
        for fd in (in_r, out_w, raw_w) + sec_fds:
            os.close(fd)
        with k.lock:
            k.proc = proc
            k._w = in_w
            k.priority = level
            k.niced = nice > 0
            k.start_t = time.monotonic()
            if getattr(self.config, "sandbox", "bwrap") == "none":
                k.pid = proc.pid
            ended = k.expected_exit is not None  # shut down (or restarted) while it was being forked
        if ended:
            k.kill()
        self._set_priority(k)  # a notebook may have taken it meanwhile
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

    def _set_priority(self, k):
        """Give kernel ``k`` the CPU priority of what it does now: a pool kernel low, so that filling
        the pool yields to running cells; a kernel a notebook waits for high, until it is ready
        (no cell runs before: the user's code never runs at it); a ready kernel of a notebook the
        same as every other kernel.  Through the kernel's cgroup CPU weight where it has one, and
        niceness 0 again for every thread of every process of a kernel started niced."""
        with k.lock:
            if k.proc is None or k.dead:
                return  # _spawn_now calls this again once it has forked
            level = _level(k)
            changed = level != k.priority
            k.priority = level
            renice = k.niced and level != "pool"
            if renice and level == "run":
                k.niced = False  # its Python runs: no process of it is to come
            setter = getattr(k.cgroup, "set_cpu_weight", None) if changed else None
            if setter is not None:
                setter(_WEIGHTS[level])
            if not renice:
                return
            for pid in _process_tree(k.proc.pid):
                try:
                    tids = os.listdir(f"/proc/{pid}/task")
                except OSError:
                    continue
                for tid in tids:
                    try:
                        os.setpriority(os.PRIO_PROCESS, int(tid), 0)
                    except (OSError, ValueError):
                        pass

    # -- the pool ----------------------------------------------------------------------------------
    def _pool_target(self, now):
        """Kernels the pool should hold: as many as notebooks took in the last ``kernel_pool_idle_s``
        seconds, at least ``kernel_pool_size``, at most ``kernel_pool_max``.  Call under the lock."""
        takes = self._takes
        while takes and now - takes[0] > self.pool_window_s:
            takes.popleft()
        return min(self.pool_max, max(self.pool_size, len(takes)))

    def pool_stats(self):
        """{ready, starting, target, min, max}: the pre-started kernels no notebook has yet."""
        with self.lock:
            live = [k for k in self.pool if not k.dead]
            ready = sum(1 for k in live if k.ready.is_set())
            return {"ready": ready, "starting": len(live) - ready,
                    "target": self._pool_target(time.monotonic()) if self.pool_size else 0,
                    "min": self.pool_size, "max": self.pool_max if self.pool_size else 0}

    def _take_pooled(self):
        """A pool kernel for a notebook (ready ones first, then the one that started first), or
        None; the demand is counted either way.  Call under the lock."""
        if not self.pool_size:
            return None
        self._takes.append(time.monotonic())
        self._pool_wake.set()
        live = [k for k in self.pool if not k.dead and k.notebook_id is None]
        pick = next((k for k in live if k.ready.is_set()), None) or (live[0] if live else None)
        if pick is not None:
            self.pool.remove(pick)
        return pick

    def _pool_keeper(self):
        """Keeps the pool at its target: starts kernels (``pool_parallel`` at a time, none while
        notebooks wait for a kernel to be started for them) when it is short, stops the newest
        idle ones when demand has gone, stops pool kernels that never get ready, and backs off
        after failed starts."""
        while True:
            self._pool_wake.wait(POOL_TICK_S)
            self._pool_wake.clear()
            if self.closed:
                return
            try:
                self._pool_step()
            except Exception:
                log.exception("kernel pool upkeep failed")

    def _pool_step(self):
        now = time.monotonic()
        with self.lock:
            if self.closed:
                return
            target = self._pool_target(now)
            live = [k for k in self.pool if not k.dead]
            starting = [k for k in live if not k.ready.is_set()]
            late = [k for k in starting if k.proc is not None and now - k.start_t > POOL_START_TIMEOUT_S]
            idle = [k for k in live if k.ready.is_set()]
            surplus = len(live) - target
            victims = idle[::-1][:max(0, surplus)]   # the newest idle ones
            for k in victims:
                self.pool.remove(k)
            n = 0
            # none while notebooks wait for a kernel of their own: the CPU is theirs first
            if surplus < 0 and now >= self._pool_retry_at and not self._waiting:
                n = max(0, min(-surplus, self.pool_parallel - len(starting)))
            if n and not self._memory_allows():
                n = 0
            new = [_Kernel(self.config, pooled=True) for _ in range(n)]
            self.pool.extend(new)
        for k in late:
            if k.expected_exit is None:
                self._pool_failed()
            self._end(k, f"the kernel did not start within {POOL_START_TIMEOUT_S:g} s", emit_dead=False)
        for k in victims:
            self._end(k, "the pool shrank", emit_dead=False)
        for k in new:
            try:
                self._spawn(k)
            except Exception as e:
                unavailable = isinstance(e, sandbox.SandboxUnavailable)
                with self.lock:
                    if k in self.pool:
                        self.pool.remove(k)
                    if unavailable:
                        self._sandbox_error = str(e)
                    taken = k.notebook_id is not None  # a notebook took it while it was being forked
                if not unavailable and not self.closed:
                    log.exception("could not pre-start a kernel")
                if taken:
                    self._failed_start(k, str(e) if unavailable else f"kernel could not start: {e}")
                self._pool_failed()

    def _pool_failed(self):
        """A pool kernel could not start: wait 1, 2, 4 ... 60 s before the next try."""
        with self.lock:
            self._pool_failures += 1
            self._pool_retry_at = time.monotonic() + min(POOL_RETRY_MAX_S, 2.0 ** (self._pool_failures - 1))

    def _memory_allows(self):
        """Whether one more idle kernel leaves the memory a running kernel may need: the pool starts
        none while the host has less than max(kernel_memory_mb, POOL_MIN_FREE_MB) available."""
        need = max(int(getattr(self.config, "kernel_memory_mb", 0) or 0), POOL_MIN_FREE_MB)
        avail = _mem_available_mb()
        ok = avail is None or avail >= need
        if ok == self._pool_low_memory:  # say it when it changes
            self._pool_low_memory = not ok
            if ok:
                log.info("kernel pool: memory available again (%d MB), refilling", avail)
            else:
                log.warning("kernel pool: only %d MB of memory available (< %d MB): not pre-starting kernels",
                            avail, need)
        return ok

    # -- notebooks -------------------------------------------------------------------------------
    def ensure(self, notebook_id):
        """Start a kernel for the notebook unless it has a live one.  False if it can't start.

        A pool kernel is bound to the notebook at once (it never serves another); without one a
        new kernel is forked for it, outside the manager's lock (see ``_request_start``).  Either
        way the kernel reports ``starting``, then ``device`` and ``idle`` once it is ready."""
        with self.lock:
            k = self.kernels.get(notebook_id)
            if k is not None and not k.dead:
                return True
            if self.closed:
                return False
            k = self._take_pooled()
            cold = k is None
            if cold:
                k = _Kernel(self.config)
            k.notebook_id = notebook_id
            k.last_active = time.monotonic()
            self.kernels[notebook_id] = k
        if not cold:
            self._set_priority(k)
        with k.lock:  # under the kernel's lock: "starting" is said before the reader can say "idle"
            self._emit(notebook_id, "kernel_status", {"status": "starting"})
            k.start_said = True
            announce = k.ready.is_set() and not k.dead and not k.announced
            k.announced = k.announced or announce
            died = k.dead
        if died:  # it died in between: say so after "starting"
            self._emit(notebook_id, "kernel_status", {"status": "dead", "reason": k.death_reason or "the kernel died"})
            return False
        if announce:
            self._announce(k)
        if not cold:
            return True
        problem = sandbox.probe(self.config) if getattr(self.config, "sandbox", "bwrap") != "none" else ""
        if problem:  # said at once (the probe is run once per server)
            with self.lock:
                self._sandbox_error = problem
            self._failed_start(k, problem)
            return False
        self._request_start(k)  # forked when its turn comes (at once unless many are starting)
        return True

    def _failed_start(self, k, reason):
        """A kernel whose process could not be started: dead, with the cells queued meanwhile."""
        self._start_done(k)
        with k.lock:
            if k.dead:
                return
            k.dead = True
            k.death_reason = reason
            queued = list(k.queue)
            k.queue.clear()
        k.ready.set()
        k.exited.set()
        nb = k.notebook_id
        for cell_id, _ in queued:
            self._emit(nb, "error", {"cell_id": cell_id, "ename": "KernelUnavailable", "evalue": reason,
                                     "traceback": [], "line": None})
            self._emit(nb, "cell_status", {"cell_id": cell_id, "status": "error", "duration_ms": 0.0})
        self._emit(nb, "kernel_status", {"status": "dead", "reason": reason})

    def _announce(self, k):
        """The kernel is ready and bound (said once per kernel): its device, its state, its queue."""
        self._emit(k.notebook_id, "device", {"device": k.device})
        with k.lock:
            busy = k.running is not None
        self._emit(k.notebook_id, "kernel_status", {"status": "busy" if busy else "idle"})
        self._pump(k)

    # -- cells -----------------------------------------------------------------------------------
    def execute(self, notebook_id, cell_id, code, _again=True):
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
            dead = k.dead
            full = (len(k.queue) >= MAX_QUEUED_CELLS
                    or sum(len(c) for _, c in k.queue) + len(code) > MAX_QUEUED_CODE_BYTES)
            if not full and not dead:
                k.queue.append((cell_id, code))
                k.last_active = time.monotonic()
        if dead and _again:  # it died since ensure(): a new kernel (or the reason it cannot start)
            return self.execute(notebook_id, cell_id, code, _again=False)
        if dead:
            self._emit(notebook_id, "error", {"cell_id": cell_id, "ename": "KernelUnavailable",
                                              "evalue": k.death_reason or "the kernel could not start",
                                              "traceback": [], "line": None})
            self._emit(notebook_id, "cell_status", {"cell_id": cell_id, "status": "error", "duration_ms": 0.0})
            return False
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
            if k.dead or not k.announced or k.running is not None or not k.queue:
                return
            cell_id, code = k.queue.popleft()
            req = f"c{next(self._req)}"
            k.running = {"cell_id": cell_id, "req": req, "t0": time.monotonic(), "out_bytes": {},
                         "truncated": set(), "interrupted_at": None, "started": False,
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
        with self.lock:
            unforked = k in self._waiting
            if unforked:
                self._waiting.remove(k)
        if unforked:  # it never ran: nothing to stop, no reader to say it ended
            with k.lock:
                k.dead = True
                k.death_reason = k.expected_exit
            k.ready.set()
            k.exited.set()
            if emit_dead:
                self._emit(k.notebook_id, "kernel_status", {"status": "dead", "reason": k.death_reason})
            return
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
        self._pool_wake.set()
        for _, k in ks:
            self._end(k, "server shutting down")
        for k in pool:
            self._end(k, "server shutting down", emit_dead=False)
        with self._spawn_lock:
            self._spawn_q.put(None)
        deadline = time.monotonic() + 5
        for k in [k for _, k in ks] + pool:
            if k.proc is not None:
                try:
                    k.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for k in [k for _, k in ks] + pool:  # their readers remove their cgroups
            if k.proc is not None:
                k.exited.wait(max(0.0, deadline - time.monotonic()))

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

    def _take_output(self, k, run, n, family="text"):
        """Count n bytes of a cell's output against its budget for ``family`` (see
        kernel_main.OUTPUT_SHARES; the kernel keeps the budgets itself, this guards against a kernel
        that does not, with OUTPUT_SLACK bytes of slack).  False, after one notice, once it is spent."""
        limit = output_limits(int(getattr(self.config, "output_limit_bytes", 1_000_000)))[family]
        with k.lock:
            spent = run["out_bytes"]
            if family in run["truncated"]:
                return False
            if spent.get(family, 0) + n > limit + OUTPUT_SLACK:
                run["truncated"].add(family)
            else:
                spent[family] = spent.get(family, 0) + n
                return True
        self._emit(k.notebook_id, "notice", {"cell_id": run["cell_id"],
                                             "text": f"output truncated: the cell wrote more than {limit:,} "
                                                     f"bytes of {family} output"})
        return False

    def _take_result(self, k, run, data):
        """The representations of a display result that fit their budgets (None when none does)."""
        sizes = bundle_sizes(data)
        kept = {mime: v for mime, v in data.items() if self._take_output(k, run, sizes[mime], output_family(mime))}
        return kept or None

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
            self._find_python_pid(k)
            with k.lock:
                if k.became_ready:
                    return  # said once
                k.device = m.device
                k.startup_s = time.monotonic() - k.start_t
                k.became_ready = True
                k.ready.set()
                announce = k.start_said and not k.announced and not k.dead
                k.announced = k.announced or announce
            self._set_priority(k)  # before any cell is sent
            self._start_done(k)
            if k.pooled:
                with self.lock:
                    self._pool_failures = 0
                self._pool_wake.set()  # the next one may start
            if announce:
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
            data = self._take_result(k, run, m.data)
            if data:
                self._emit(nb, "result", {"cell_id": cell_id, "data": data, "execution_count": m.execution_count})
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
        try:
            self._exited(k)
        finally:
            k.exited.set()
            self._start_done(k)

    def _exited(self, k):
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
            # a dead kernel stays registered under its notebook so status() can say why; ensure()
            # replaces it
        if k.pooled and nb is None:
            if expected is None and not k.became_ready:
                log.warning("a pool kernel failed to start: %s %s", reason,
                            k.raw_tail.decode("utf-8", "replace")[-500:])
                self._pool_failed()
            self._pool_wake.set()
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
