"""The kernel's seccomp filter: system calls that cell code has no use for fail with EPERM.

bubblewrap installs it (``--seccomp FD``) on the kernel after building the sandbox, so the
kernel and everything it starts cannot:

* make new namespaces: ``unshare``, ``setns``, ``clone`` with a ``CLONE_NEW*`` flag (``clone3``
  answers ENOSYS, so the C library falls back to ``clone``, whose flags can be checked) -- no
  ``unshare -Ur`` and no uid 0 inside a nested user namespace;
* mount anything: ``mount``, ``umount2``, ``pivot_root`` and the new mount API;
* trace or inspect other processes: ``ptrace``, ``process_vm_readv/writev``, ``kcmp``;
* reach kernel facilities with a history of bugs: ``bpf``, ``perf_event_open``, ``userfaultfd``,
  the keyring (``keyctl``, ``add_key``, ``request_key``), ``io_uring``;
* change the machine: modules, ``kexec``, ``reboot``, swap, clocks, ``acct``, ``syslog``.

Everything else (threads, fork/exec, files, sockets that the network namespace leaves useless)
is allowed.  The BPF program is built once with libseccomp (through ``pyseccomp``); each kernel
gets it in a fresh memfd, since bwrap reads its file descriptor to the end.
"""
import errno
import logging
import os
import threading

log = logging.getLogger(__name__)

DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "reboot", "swapon", "swapoff", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "acct", "syslog", "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "quotactl",
    "personality", "vhangup", "chroot",
)
CLONE_NEW_FLAGS = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000)  # TIME, NS (mount), CGROUP, UTS, IPC, USER, PID, NET

_lock = threading.Lock()
_program = None  # bytes, or b"" when no filter can be built here


def program():
    """The compiled BPF program (bytes), or b"" if libseccomp is not available (said once)."""
    global _program
    with _lock:
        if _program is None:
            try:
                _program = _build()
            except Exception as e:  # noqa: BLE001 - no libseccomp: kernels still run, without it
                log.warning("no seccomp filter for kernels (%s: %s): install libseccomp2 and pyseccomp",
                            type(e).__name__, e)
                _program = b""
        return _program


def _build():
    import tempfile

    import pyseccomp as sc

    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in DENIED:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except Exception:  # noqa: BLE001 - a call this kernel/libseccomp does not know
            log.debug("seccomp: no syscall %s here", name)
    for flag in CLONE_NEW_FLAGS:
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as t:
        f.export_bpf(t)
        t.seek(0)
        return t.read()


def filter_fd():
    """A readable file descriptor holding the program (the caller closes it), or None."""
    prog = program()
    if not prog:
        return None
    fd = os.memfd_create("gradlab-seccomp", os.MFD_CLOEXEC)
    os.write(fd, prog)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
