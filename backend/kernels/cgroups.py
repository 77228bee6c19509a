"""A control group per kernel, so its limits hold for the kernel and everything it starts.

RLIMIT_AS bounds one process; a cell that forks five children gets five times the memory.  Where
the host allows it, each kernel is put in a cgroup of its own (``memory.max`` with swap off,
``pids.max``, and a CPU weight) before it executes anything: the child joins it in ``preexec_fn``,
so every process the cell starts is counted too, and so are the pages of the kernel's ``/tmp``
tmpfs.  The OOM killer then acts inside the kernel's group only, and a kernel that spins on every
core gets no more CPU than any other kernel.

Layout (``S`` is the cgroup the server runs in, so a limit the host sets on the server still holds
for its kernels)::

    S/gradlab-server/            the server itself (cgroup v2, only when S had to be emptied)
    S/gradlab/                   all kernels: cpu.weight 50 (v1: cpu.shares 512)
    S/gradlab/gradlab-kernel-<server pid>-<n>/
                                 one kernel: memory.max, memory.swap.max 0, pids.max,
                                 cpu.weight 100 (v1: cpu.shares 1024)

Every kernel has the same weight, so N busy kernels share the CPU evenly whatever the number of
processes each runs; their common parent weighs half of a default sibling (the server, or its
processes on v1 and in a root cgroup), so when the CPU is contended the server is still scheduled.
Weights only matter under contention: an idle machine gives a lone kernel every core.

* cgroup v2 (``/sys/fs/cgroup``, or the ``unified`` mount of a hybrid host when the controllers are
  on it): the memory, pids (and cpu, when available) controllers are enabled in
  ``S/cgroup.subtree_control`` and ``S/gradlab/cgroup.subtree_control``.  A cgroup other than the
  root may not both hold processes and enable controllers for its children ("no internal
  processes"), so when S holds processes (the server, the process that started it) they are first
  moved to the leaf ``S/gradlab-server``; if S holds processes that are not the server's ancestors
  or descendants, that is refused and kernels keep the rlimits.
  As root any S works.  Unprivileged, S must be a subtree delegated to the server's user (systemd
  ``Delegate=yes``: a service with it, or ``systemd-run --user --scope -p Delegate=yes``), i.e.
  ``S/cgroup.procs`` and ``S/cgroup.subtree_control`` are writable.
* cgroup v1 (root only): one group in each of the ``memory``, ``pids`` and (when mounted) ``cpu``
  hierarchies, below the server's group in that hierarchy.

Without any of this kernels keep the per-process rlimits (``available()`` says why).
"""
import errno
import itertools
import logging
import os
import threading
import time

log = logging.getLogger(__name__)

ROOT = "/sys/fs/cgroup"
REQUIRED = ("memory", "pids")  # without both there is no group per kernel
PARENT = "gradlab"
SERVER_LEAF = "gradlab-server"
PREFIX = "gradlab-kernel-"
KERNEL_CPU_WEIGHT = 100   # cgroup v2 cpu.weight of each kernel's group (the default: all equal)
KERNELS_CPU_WEIGHT = 50   # ... of the group that holds them all: half of the server's default


def v1_shares(weight):
    """cgroup v1 cpu.shares for a v2 cpu.weight (100 <-> 1024, the defaults of each)."""
    return max(2, weight * 1024 // 100)


_names = itertools.count(1)
_lock = threading.Lock()
_layout = None   # _Layout once set up
_failed = ""     # why setting up failed (then kernels keep the rlimits)


class _Unavailable(Exception):
    pass


# -- where things are --------------------------------------------------------------------------
def _proc_cgroups(pid="self"):
    """{controller or "" (v2): path} of a process, from /proc/<pid>/cgroup."""
    out = {}
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for c in (ctrls.split(",") if ctrls else [""]):
                    out[c] = path
    except (OSError, ValueError):
        pass
    return out


def _unescape(s):
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _mounts():
    """(v2 mount or None, {v1 controller: mount}); a mount is (mount point, root of the mount)."""
    v2, v1 = None, {}
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            left, right = line.split(" - ", 1)
            fields, rest = left.split(), right.split()
            root, point, fstype = _unescape(fields[3]), _unescape(fields[4]), rest[0]
            opts = rest[2].split(",") if len(rest) > 2 else []
        except (ValueError, IndexError):
            continue
        if fstype == "cgroup2" and (v2 is None or point == ROOT):
            v2 = (point, root)
        elif fstype == "cgroup":
            for o in opts:
                if o in ("memory", "pids", "cpu") and (o not in v1 or point.startswith(ROOT + "/")):
                    v1[o] = (point, root)
    if not lines:  # no mountinfo: the usual places
        if os.path.exists(os.path.join(ROOT, "cgroup.controllers")):
            v2 = (ROOT, "/")
        elif os.path.exists(os.path.join(ROOT, "unified", "cgroup.controllers")):
            v2 = (os.path.join(ROOT, "unified"), "/")
        for c in ("memory", "pids", "cpu"):
            if os.path.exists(os.path.join(ROOT, c, "cgroup.procs")):
                v1[c] = (os.path.join(ROOT, c), "/")
    return v2, v1


def _dir(mount, path):
    """The directory of cgroup ``path`` (as /proc/<pid>/cgroup names it) under ``mount``."""
    point, root = mount
    if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
        path = path[len(root.rstrip("/")):]
    return os.path.join(point, path.lstrip("/")).rstrip("/") or "/"


def _read(path):
    with open(path) as f:
        return f.read()


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


class _Layout:
    """Where kernel groups go: ``parents`` {controller: parent dir} (v2: one dir for all)."""

    def __init__(self, version, parents, cpu, server=None):
        self.version, self.parents, self.cpu, self.server = version, parents, cpu, server

    def dirs(self, name):
        return sorted({os.path.join(p, name) for p in self.parents.values()})

    def describe(self):
        where = sorted(set(self.parents.values()))
        ctrls = "memory, pids" + (", cpu" if self.cpu else " (no cpu controller: no CPU weight)")
        server = f"; the server moved to {self.server}" if self.server else ""
        return f"cgroup v{self.version} ({ctrls}) under {', '.join(where)}{server}"


def _v2_server_group(mount):
    """S: the server's v2 group (the parent of the server's leaf, once it has been moved there)."""
    own = _dir(mount, _proc_cgroups().get("", "/"))
    if os.path.basename(own) == SERVER_LEAF:
        return os.path.dirname(own)
    return own


def _v2_plan(mount):
    """(S, controllers to enable) or raise _Unavailable; reads only."""
    s = _v2_server_group(mount)
    try:
        have = _read(os.path.join(s, "cgroup.controllers")).split()
    except OSError as e:
        raise _Unavailable(f"cannot read the server's cgroup {s} ({e.strerror})") from None
    missing = [c for c in REQUIRED if c not in have]
    if missing:
        raise _Unavailable(f"the controllers {', '.join(missing)} are not available in the server's cgroup {s} "
                           "(systemd: run the server with Delegate=yes)")
    if os.geteuid() != 0:
        writable = all(os.access(os.path.join(s, f), os.W_OK) for f in ("cgroup.procs", "cgroup.subtree_control"))
        if not (writable and os.access(s, os.W_OK)):
            raise _Unavailable(f"not running as root and the server's cgroup {s} is not delegated to it "
                               "(systemd: Delegate=yes, e.g. systemd-run --user --scope -p Delegate=yes)")
    return s, list(REQUIRED) + (["cpu"] if "cpu" in have else [])


def _plan():
    """('v2', (mount, S, controllers)) or ('v1', {controller: mount}); raises _Unavailable."""
    v2, v1 = _mounts()
    reason = None
    if v2 is not None:
        try:
            return "v2", (v2,) + _v2_plan(v2)
        except _Unavailable as e:
            reason = str(e)
    if all(c in v1 for c in REQUIRED):
        if os.geteuid() != 0:
            raise _Unavailable(reason if reason and "delegated" in reason else
                               "not running as root, and no delegated cgroup v2 subtree")
        return "v1", v1
    raise _Unavailable(reason or "no cgroup memory and pids controllers on this host")


def available():
    """'' if kernels get cgroups here, else the reason they do not (kernels then keep the
    per-process rlimits).  Changes nothing on the host."""
    if _failed:
        return _failed
    if _layout is not None:
        return ""
    try:
        _plan()
    except _Unavailable as e:
        return str(e)
    return ""


# -- setting up (once per server) --------------------------------------------------------------
def _ppid(pid):
    try:
        return int(_read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _lineage(pid):
    """pid, its parent, ... up to pid 1."""
    out = []
    while pid > 0 and pid not in out:
        out.append(pid)
        if pid == 1:
            break
        pid = _ppid(pid)
    return out


def _related(pid, me):
    """Whether ``pid`` is ``me``, one of its ancestors or one of its descendants."""
    return pid in _lineage(me) or me in _lineage(pid)


def _procs(group):
    try:
        return [int(x) for x in _read(os.path.join(group, "cgroup.procs")).split()]
    except OSError:
        return []


def _enable(group, ctrls):
    """Enable ``ctrls`` for the children of ``group``; the ones that could be enabled."""
    try:
        have = set(_read(os.path.join(group, "cgroup.subtree_control")).split())
    except OSError:
        have = set()
    need = [c for c in ctrls if c not in have]
    required = [c for c in need if c in REQUIRED]
    if required:  # these together or not at all (OSError goes to the caller: EBUSY means processes in it)
        _write(os.path.join(group, "cgroup.subtree_control"), " ".join("+" + c for c in required))
    for c in need:
        if c not in REQUIRED:
            try:  # cpu can be refused (e.g. realtime threads in the group): no weight then
                _write(os.path.join(group, "cgroup.subtree_control"), "+" + c)
            except OSError as e:
                log.warning("cgroup controller %s not enabled in %s (%s)", c, group, e.strerror)
    enabled = set(_read(os.path.join(group, "cgroup.subtree_control")).split())
    return [c for c in ctrls if c in enabled]


def _empty_into_leaf(s):
    """Move the processes of S (the server, the process that started it, their children) to
    ``S/gradlab-server``, so S may enable controllers for its children."""
    me = os.getpid()
    leaf = os.path.join(s, SERVER_LEAF)
    for _ in range(5):  # a thread may fork while we move: go again
        procs = _procs(s)
        if not procs:
            return
        foreign = [p for p in procs if not _related(p, me)]
        if foreign:
            raise _Unavailable(f"the server's cgroup {s} also holds other processes ({', '.join(map(str, foreign[:5]))}); "
                               "run the server in a cgroup of its own (a systemd service or scope with Delegate=yes)")
        os.makedirs(leaf, exist_ok=True)
        for p in procs:
            try:
                _write(os.path.join(leaf, "cgroup.procs"), p)
            except ProcessLookupError:
                pass
    if _procs(s):
        raise _Unavailable(f"could not empty the server's cgroup {s}")


def _setup_v2(mount, s, ctrls):
    try:
        enabled = _enable(s, ctrls)
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise
        _empty_into_leaf(s)  # the no-internal-processes rule
        enabled = _enable(s, ctrls)
    parent = os.path.join(s, PARENT)
    os.makedirs(parent, exist_ok=True)
    cpu = "cpu" in enabled
    if cpu:
        _write(os.path.join(parent, "cpu.weight"), KERNELS_CPU_WEIGHT)
    _enable(parent, enabled)
    _sweep(parent)
    leaf = os.path.join(s, SERVER_LEAF)
    return _Layout(2, {"": parent}, cpu, leaf if os.path.isdir(leaf) else None)


def _setup_v1(mounts):
    own = _proc_cgroups()
    parents, cpu = {}, "cpu" in mounts
    for c in REQUIRED + (("cpu",) if cpu else ()):
        parent = os.path.join(_dir(mounts[c], own.get(c, "/")), PARENT)
        try:
            os.makedirs(parent, exist_ok=True)
            if c == "cpu":
                _write(os.path.join(parent, "cpu.shares"), v1_shares(KERNELS_CPU_WEIGHT))
        except OSError as e:
            if c != "cpu":
                raise
            log.warning("no CPU weight for kernels: %s (%s)", parent, e.strerror)
            cpu = False
            continue
        _sweep(parent)
        parents[c] = parent
    return _Layout(1, parents, cpu)


def _setup():
    """The layout, set up on first use (and again if a parent group was removed meanwhile);
    raises _Unavailable."""
    global _layout, _failed
    with _lock:
        if _layout is not None and all(os.path.isdir(p) for p in _layout.parents.values()):
            return _layout
        if _failed:
            raise _Unavailable(_failed)
        first = _layout is None
        try:
            kind, plan = _plan()
        except _Unavailable as e:
            _failed = str(e)
            log.info("kernels get no cgroup: %s; they keep per-process rlimits", _failed)
            raise
        for attempt in range(3):
            try:
                _layout = _setup_v2(*plan) if kind == "v2" else _setup_v1(plan)
                break
            except FileNotFoundError:  # a parent being removed by another server's last kernel: again
                if attempt < 2:
                    continue
                _failed = "setting up kernel cgroups failed: their parent group keeps disappearing"
            except (OSError, _Unavailable) as e:
                _failed = f"setting up kernel cgroups failed: {e}"
            log.warning("%s; kernels keep per-process rlimits", _failed)
            raise _Unavailable(_failed)
        if first:
            log.info("kernel cgroups: %s", _layout.describe())
        return _layout


# -- groups ------------------------------------------------------------------------------------
def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        pass
    return True


def _sweep(parent):
    """Remove the groups left by servers that are gone (killed before they could clean up); a
    group that still has processes cannot be removed and stays."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) == 4 and name.startswith(PREFIX) and parts[2].isdigit():
            pid = int(parts[2])
            if pid != os.getpid() and not _alive(pid):
                try:
                    os.rmdir(os.path.join(parent, name))
                except OSError:
                    pass


def groups_of(pid):
    """{"memory"|"pids"|"cpu": directory} of the groups a process is in (one directory for all
    on cgroup v2), as the layout here would use them; {} without cgroups."""
    try:
        kind, plan = _plan()
    except _Unavailable:
        return {}
    own = _proc_cgroups(pid)
    if kind == "v2":
        d = _dir(plan[0], own.get("", "/"))
        return {c: d for c in REQUIRED + ("cpu",)}
    return {c: _dir(m, own.get(c, "/")) for c, m in plan.items()}


class KernelCgroup:
    """One kernel's group(s); ``join()`` runs in the child before exec; ``remove()`` after it exits."""

    def __init__(self, dirs, version=None, cpu=None):
        self.dirs = dirs
        self.version = version
        self.cpu = cpu  # the file of its CPU weight (cpu.weight or cpu.shares); None without

    @classmethod
    def create(cls, memory_bytes, pids_max, cpu_weight=KERNEL_CPU_WEIGHT):
        """A new group with these limits, or None when the host does not allow one (see available()).
        ``cpu_weight`` is a cgroup v2 cpu.weight (1..10000, 100 the default; scaled for v1)."""
        if available():
            return None
        name = f"{PREFIX}{os.getpid()}-{next(_names)}"
        for attempt in range(3):
            try:
                layout = _setup()
            except _Unavailable:
                return None
            made = []
            try:
                for d in layout.dirs(name):
                    os.mkdir(d)
                    made.append(d)
                cpu = _limit(layout, name, memory_bytes, pids_max, cpu_weight)
                return cls(made, layout.version, cpu)
            except FileNotFoundError:  # a parent was removed meanwhile (its last kernel left): again
                _rmdirs(made)
            except OSError as e:
                _rmdirs(made)
                log.warning("kernel cgroup not created (%s): kernels keep per-process rlimits", e)
                return None
        log.warning("kernel cgroup not created: its parent group keeps disappearing; kernels keep rlimits")
        return None

    def set_cpu_weight(self, weight):
        """Change the group's CPU weight (a v2 cpu.weight, scaled for v1), e.g. when a kernel
        started at a low weight is taken into use.  Within its own group a process's niceness
        only weighs it against the kernel's other processes, not against other kernels.  False
        where the group has no CPU weight."""
        if self.cpu is None:
            return False
        try:
            _write(self.cpu, weight if self.version == 2 else v1_shares(weight))
        except OSError:
            return False
        return True

    def join(self):
        """Move the calling process into the group (call in the child, before exec)."""
        pid = str(os.getpid())
        for d in self.dirs:
            _write(os.path.join(d, "cgroup.procs"), pid)

    def remove(self, timeout=5.0):
        """Delete the group once its processes are gone (and its parent, if it was the last)."""
        end = time.monotonic() + timeout
        for d in self.dirs:
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > end:
                        log.warning("kernel cgroup %s not removed: still has processes", d)
                        break
                    time.sleep(0.05)
            try:  # fails while another kernel (of any server) is in it; recreated when needed
                os.rmdir(os.path.dirname(d))
            except OSError:
                pass


def _limit(layout, name, memory_bytes, pids_max, cpu_weight=KERNEL_CPU_WEIGHT):
    """Write the limits of new group ``name``; the file of its CPU weight (None without)."""
    if layout.version == 2:
        d = os.path.join(layout.parents[""], name)
        if memory_bytes > 0:
            _write(os.path.join(d, "memory.max"), memory_bytes)
            if os.path.exists(os.path.join(d, "memory.swap.max")):
                _write(os.path.join(d, "memory.swap.max"), 0)
        _write(os.path.join(d, "pids.max"), pids_max)
        if not layout.cpu:
            return None
        _write(os.path.join(d, "cpu.weight"), cpu_weight)
        return os.path.join(d, "cpu.weight")
    dm, dp = (os.path.join(layout.parents[c], name) for c in REQUIRED)
    if memory_bytes > 0:
        _write(os.path.join(dm, "memory.limit_in_bytes"), memory_bytes)
        sw = os.path.join(dm, "memory.memsw.limit_in_bytes")
        if os.path.exists(sw):
            _write(sw, memory_bytes)
    _write(os.path.join(dp, "pids.max"), pids_max)
    if not layout.cpu:
        return None
    f = os.path.join(layout.parents["cpu"], name, "cpu.shares")
    _write(f, v1_shares(cpu_weight))
    return f


def _rmdirs(dirs):
    for d in dirs:
        try:
            os.rmdir(d)
        except OSError:
            pass
