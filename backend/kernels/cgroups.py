"""A control group per kernel, so its limits hold for the kernel and everything it starts.

RLIMIT_AS bounds one process; a cell that forks five children gets five times the memory.  When
the server runs as root and the host has the memory and pids controllers, each kernel is put in
a cgroup of its own (``memory.max`` with swap off, ``pids.max``) before it executes anything: the
child joins it in ``preexec_fn``, so every process the cell starts is counted too, and so are the
pages of the kernel's ``/tmp`` tmpfs.  The OOM killer then acts inside the kernel's group only.

cgroup v2 (``/sys/fs/cgroup`` or a hybrid ``unified`` mount with the controllers enabled) and v1
(separate ``memory`` and ``pids`` hierarchies) are both handled; groups are made below the
server's own, so a limit the host sets on the server still holds.  Unprivileged, or without the
controllers, kernels keep the per-process rlimits (``available()`` says why).
"""
import itertools
import logging
import os
import time

log = logging.getLogger(__name__)

ROOT = "/sys/fs/cgroup"
_names = itertools.count(1)


def _own_paths():
    """{controller or "": path} of this process, from /proc/self/cgroup."""
    out = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for c in (ctrls.split(",") if ctrls else [""]):
                    out[c] = path
    except OSError:
        pass
    return out


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def _v2_base():
    own = _own_paths().get("", "/")
    for mount in (ROOT, os.path.join(ROOT, "unified")):
        try:
            with open(os.path.join(mount, "cgroup.controllers")) as f:
                ctrls = f.read().split()
        except OSError:
            continue
        if "memory" in ctrls and "pids" in ctrls:
            return os.path.join(mount, own.lstrip("/"))
    return None


def _v1_bases():
    own = _own_paths()
    mem, pids = os.path.join(ROOT, "memory"), os.path.join(ROOT, "pids")
    if not (os.path.exists(os.path.join(mem, "cgroup.procs")) and os.path.exists(os.path.join(pids, "cgroup.procs"))):
        return None
    return (os.path.join(mem, own.get("memory", "/").lstrip("/")), os.path.join(pids, own.get("pids", "/").lstrip("/")))


def available():
    """'' if kernels get cgroups here, else the reason they do not."""
    if os.geteuid() != 0:
        return "not running as root (kernels keep per-process rlimits)"
    if _v2_base() is None and _v1_bases() is None:
        return "no cgroup memory and pids controllers on this host"
    return ""


def _alive(pid):
    try:
        os.kill(pid, 0)  # PermissionError would mean alive (another user's): not caught, not swept
    except ProcessLookupError:
        return False
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
        if len(parts) == 4 and name.startswith("gradlab-kernel-") and parts[2].isdigit():
            pid = int(parts[2])
            if pid != os.getpid() and not _alive(pid):
                try:
                    os.rmdir(os.path.join(parent, name))
                except OSError:
                    pass


class KernelCgroup:
    """One kernel's group(s); ``join()`` runs in the child before exec; ``remove()`` after it exits."""

    def __init__(self, dirs):
        self.dirs = dirs

    @classmethod
    def create(cls, memory_bytes, pids_max):
        """A new group with these limits, or None when the host does not allow one (see available())."""
        if available():
            return None
        name = f"gradlab-kernel-{os.getpid()}-{next(_names)}"
        try:
            base = _v2_base()
            if base is not None:
                parent = os.path.join(base, "gradlab")
                os.makedirs(parent, exist_ok=True)
                try:  # the controllers must be enabled for the children of every level
                    _write(os.path.join(base, "cgroup.subtree_control"), "+memory +pids")
                except OSError:
                    pass
                _write(os.path.join(parent, "cgroup.subtree_control"), "+memory +pids")
                _sweep(parent)
                d = os.path.join(parent, name)
                os.mkdir(d)
                if memory_bytes > 0:
                    _write(os.path.join(d, "memory.max"), memory_bytes)
                    _write(os.path.join(d, "memory.swap.max"), 0)
                _write(os.path.join(d, "pids.max"), pids_max)
                return cls([d])
            mem_base, pids_base = _v1_bases()
            dm, dp = os.path.join(mem_base, "gradlab", name), os.path.join(pids_base, "gradlab", name)
            for parent in (os.path.dirname(dm), os.path.dirname(dp)):
                _sweep(parent)
            os.makedirs(dm)
            os.makedirs(dp)
            if memory_bytes > 0:
                _write(os.path.join(dm, "memory.limit_in_bytes"), memory_bytes)
                sw = os.path.join(dm, "memory.memsw.limit_in_bytes")
                if os.path.exists(sw):
                    _write(sw, memory_bytes)
            _write(os.path.join(dp, "pids.max"), pids_max)
            return cls([dm, dp])
        except OSError as e:
            log.warning("kernel cgroup not created (%s): kernels keep per-process rlimits", e)
            return None

    def join(self):
        """Move the calling process into the group (call in the child, before exec)."""
        pid = str(os.getpid())
        for d in self.dirs:
            _write(os.path.join(d, "cgroup.procs"), pid)

    def remove(self, timeout=5.0):
        """Delete the group once its processes are gone."""
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
