"""How a kernel process is started: the bubblewrap command line, its environment and rlimits.

What a sandboxed kernel sees (``config.sandbox == 'bwrap'``):

* its own network namespace (no interface but a down loopback: no network at all), its own pid,
  IPC, UTS and cgroup namespaces, ``--die-with-parent``;
* read-only: ``/usr`` (and the ``/bin``, ``/lib*``, ``/sbin`` links or binds), a few files of
  ``/etc`` the dynamic loader needs, the Python installation, the virtual environment (which
  holds the offline digits under ``share/gradlab``), the repository's ``engine/`` and
  ``backend/kernels/`` — never the rest of the repository nor the data directory (database,
  secret key);
* a private tmpfs ``/tmp`` of ``kernel_tmp_mb`` (also ``HOME``), a minimal ``/dev``, its own ``/proc``;
* an environment built from nothing (``--clearenv``): PATH, PYTHONPATH, HOME, thread counts, ...
* rlimits set before exec: address space, file size, open files, no core files; the process
  count limit is applied by the kernel itself (see below).

The uid: when the server runs as an unprivileged user, bwrap makes a user namespace in which the
kernel is uid/gid 65534 (``--unshare-user --uid 65534 --gid 65534``).  When the server runs as
root that would be no protection: uid 65534 in such a namespace is still root (uid 0) to the host
kernel, so it could read root-only files in the bound directories and RLIMIT_NPROC would not
apply (the kernel never enforces it for root).  So as root, bwrap (privileged) makes no user
namespace and the kernel switches, before any user code, to its own unprivileged host uid
(``KERNEL_UID_BASE + slot``: one per kernel, so the process limit counts each kernel alone),
after which it holds no capability.
"""
import logging
import os
import resource
import shutil
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

KERNELS_DIR = Path(__file__).resolve().parent
REPO_ROOT = KERNELS_DIR.parent.parent
KERNEL_MAIN = KERNELS_DIR / "kernel_main.py"
KERNEL_BOOT = KERNELS_DIR / "kernel_boot.py"  # runs KERNEL_MAIN from its cached bytecode
KERNEL_UID_BASE = int(os.environ.get("GRADLAB_KERNEL_UID_BASE", "1000000"))
KERNEL_UID_SLOTS = 50_000
UNPRIV_UID = 65534

_slot_lock = threading.Lock()
_slot = [os.getpid() * 7919 % KERNEL_UID_SLOTS]  # servers on one host start at different slots


class SandboxUnavailable(RuntimeError):
    pass


def _uids_in_use():
    """Real uids of the processes on this host (another server's kernels included)."""
    uids = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status") as f:
                    for line in f:
                        if line.startswith("Uid:"):
                            uids.add(int(line.split()[1]))
                            break
            except (OSError, ValueError, IndexError):
                pass
    return uids


def _next_uid():
    """A kernel uid no process has (RLIMIT_NPROC counts all of a uid's processes, whoever started them)."""
    busy = _uids_in_use()
    with _slot_lock:
        for _ in range(KERNEL_UID_SLOTS):
            _slot[0] = (_slot[0] + 1) % KERNEL_UID_SLOTS
            if KERNEL_UID_BASE + _slot[0] not in busy:
                break
        return KERNEL_UID_BASE + _slot[0]


def python_paths():
    """(interpreter to run, directories it needs read-only)."""
    exe = sys.executable
    dirs = [sys.prefix, os.path.realpath(sys.prefix)]
    base = os.path.realpath(sys.base_prefix)
    real_exe = os.path.realpath(exe)
    if not real_exe.startswith("/usr/"):
        dirs.append(base)
        # the interpreter binary may live outside base_prefix (pyenv shims, uv): bind its dir
        dirs.append(os.path.dirname(real_exe))
    out = []
    for d in dirs:
        if d.startswith("/usr/") or d == "/usr" or not os.path.isdir(d):
            continue
        if any(d == o or d.startswith(o + os.sep) for o in out):
            continue
        out = [o for o in out if not o.startswith(d + os.sep)] + [d]
    return exe, out


def kernel_env(config):
    exe, _ = python_paths()
    threads = "1"
    return {
        "PATH": os.pathsep.join([os.path.dirname(exe), "/usr/local/bin", "/usr/bin", "/bin"]),
        "PYTHONPATH": str(REPO_ROOT),
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "NUMEXPR_NUM_THREADS": threads,
    }


def _system_binds():
    args = ["--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
              "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group"):
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    return args


def _gpu_binds(config):
    if getattr(config, "device", "auto") == "cpu":
        return []
    args = []
    for name in sorted(os.listdir("/dev")) if os.path.isdir("/dev") else []:
        if name.startswith("nvidia"):
            args += ["--dev-bind", "/dev/" + name, "/dev/" + name]
    return args


def bwrap_args(config, privileged):
    """The bwrap part of the command line (everything before the kernel's own argv)."""
    bwrap = shutil.which("bwrap") or "/usr/bin/bwrap"
    args = [bwrap]
    if privileged:
        # no user namespace (see the module docstring): every other namespace, no capability
        # but the two the kernel needs to switch to its own uid, then it has none at all.
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-all", "--unshare-user", "--uid", str(UNPRIV_UID), "--gid", str(UNPRIV_UID)]
    args += ["--die-with-parent", "--clearenv", "--hostname", "gradlab-kernel"]
    args += _system_binds()
    # the private /tmp first: a checkout or venv that lives under /tmp is bound on top of it
    # (sized: a tmpfs lives in RAM, and without a size it may take half of it)
    tmp_bytes = int(getattr(config, "kernel_tmp_mb", 512)) * 1024 * 1024
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    _, pydirs = python_paths()
    binds = pydirs + [str(REPO_ROOT / "engine"), str(KERNELS_DIR)]
    # bwrap would create the missing parents of a bind mode 0700 (root's): the kernel's uid could
    # not traverse them, so make them first, world-traversable (they are empty directories)
    parents = set()
    for d in binds:
        p = os.path.dirname(d)
        while p not in ("/", "") and not p.startswith("/usr"):
            parents.add(p)
            p = os.path.dirname(p)
    for p in sorted(parents, key=lambda x: (x.count("/"), x)):
        if p not in binds:
            args += ["--perms", "0755", "--dir", p]
    for d in binds:
        args += ["--ro-bind", d, d]
    args += _gpu_binds(config)
    env = kernel_env(config)
    for k, v in env.items():
        args += ["--setenv", k, v]
    args += ["--chdir", "/tmp"]
    return args


def limits_preexec(config):
    """``preexec_fn`` setting the rlimits in the child before exec (and a session of its own)."""
    mem = int(config.kernel_memory_mb) * 1024 * 1024
    fsize = int(config.kernel_file_size_mb) * 1024 * 1024
    nofile = int(config.kernel_open_files)

    def pre():
        if mem > 0:
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return pre


def kernel_command(config, in_fd, out_fd, max_nodes=2000, seccomp_fd=None):
    """argv, env and preexec_fn for one kernel; raises SandboxUnavailable if bwrap can't run.
    ``seccomp_fd`` (see seccomp.filter_fd) is handed to bwrap, which installs the filter."""
    exe, _ = python_paths()
    kargs = [str(KERNEL_BOOT), "--in-fd", str(in_fd), "--out-fd", str(out_fd),
             "--output-limit", str(int(config.output_limit_bytes)), "--max-nodes", str(max_nodes),
             "--device", str(getattr(config, "device", "auto"))]
    mode = getattr(config, "sandbox", "bwrap")
    nproc = str(int(config.kernel_max_procs))
    if mode == "none":
        log.warning("kernel starting WITHOUT a sandbox (GRADLAB_SANDBOX=none): user code runs with the "
                    "server's rights; use this only on a trusted laptop")
        env = kernel_env(config)
        return [exe, "-s"] + kargs, env, limits_preexec(config)
    problem = probe(config)
    if problem:
        raise SandboxUnavailable(problem)
    privileged = os.geteuid() == 0
    extra = ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
    argv = bwrap_args(config, privileged) + extra + [exe, "-s"] + kargs + ["--nproc", nproc]
    if privileged:
        uid = _next_uid()
        argv += ["--uid", str(uid), "--gid", str(uid)]
    return argv, None, limits_preexec(config)


_probe_lock = threading.Lock()
_probe_result = {}


def probe(config):
    """'' if bwrap runs here with the arguments we use, else a message saying what to do."""
    privileged = os.geteuid() == 0
    key = (privileged, getattr(config, "device", "auto"))
    with _probe_lock:
        if key in _probe_result:
            return _probe_result[key]
        bwrap = shutil.which("bwrap")
        if bwrap is None and not os.path.exists("/usr/bin/bwrap"):
            msg = "bubblewrap (bwrap) is not installed"
        else:
            try:
                r = subprocess.run(bwrap_args(config, privileged) + ["/usr/bin/env", "true"],
                                   capture_output=True, timeout=20, text=True)
                msg = "" if r.returncode == 0 else (r.stderr.strip() or f"bwrap exited with {r.returncode}")
            except (OSError, subprocess.TimeoutExpired) as e:
                msg = str(e)
        if msg:
            msg = (f"sandbox unavailable: {msg[:300]}. Install bubblewrap (Debian: apt-get install "
                   "bubblewrap) and allow user namespaces, or set GRADLAB_SANDBOX=none to run "
                   "unsandboxed on a trusted laptop")
        _probe_result[key] = msg
        return msg
