"""What the kernel-manager tests share: a manager configuration, the check that bubblewrap can
run here, and ``Events``, the event sink that records what a KernelManager emits."""
import dataclasses
import itertools
import shutil
import threading
import time

from backend.kernels import sandbox


@dataclasses.dataclass
class KernelCfg:
    """The configuration fields KernelManager reads (tests override the limits they exercise)."""
    data_dir: str = "/nonexistent"
    sandbox: str = "bwrap"
    device: str = "cpu"
    kernel_memory_mb: int = 1024
    kernel_max_procs: int = 48
    kernel_file_size_mb: int = 8
    kernel_tmp_mb: int = 32
    kernel_open_files: int = 128
    cell_timeout_s: int = 30
    output_limit_bytes: int = 20_000
    kernel_idle_cull_s: int = 600
    kernel_pool_size: int = 1
    max_code_bytes: int = 10_000


def bwrap_usable():
    return shutil.which("bwrap") is not None and sandbox.probe(KernelCfg()) == ""


class Events:
    """Records ``(notebook_id, event, payload)`` as the manager emits them; waits for one."""

    def __init__(self):
        self.items = []
        self.cond = threading.Condition()
        self.ids = itertools.count(1)

    def __call__(self, nb, name, data):
        with self.cond:
            self.items.append((nb, name, data))
            self.cond.notify_all()

    def wait(self, pred, timeout=20):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for it in self.items:
                    if pred(*it):
                        return it
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; events: {self.items[-15:]}")
                self.cond.wait(left)

    def of(self, cell_id, name=None):
        with self.cond:
            return [d for _, n, d in self.items if d.get("cell_id") == cell_id and (name is None or n == name)]

    def run(self, mgr, nb, code, timeout=20):
        """Run a cell to its end; (cell id, the final cell_status payload)."""
        cid = f"cell{next(self.ids)}"
        mgr.execute(nb, cid, code)
        _, _, st = self.wait(lambda n, name, d: name == "cell_status" and d.get("cell_id") == cid
                             and d["status"] in ("done", "error", "idle"), timeout)
        return cid, st

    def value(self, mgr, nb, code, timeout=20):
        """Run a cell; its final expression's repr (or ``error:<ename>:<evalue>``)."""
        cid, st = self.run(mgr, nb, code, timeout)
        if st["status"] != "done":
            errs = self.of(cid, "error")
            return "error:" + (errs[0]["ename"] + ":" + errs[0]["evalue"] if errs else "?")
        res = self.of(cid, "result")
        return res[0]["data"]["text/plain"] if res else None
