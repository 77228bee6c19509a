"""Server configuration, read from the environment once at start (``Config.from_env``).

Every field can be set by an environment variable; the names are listed in ``_ENV`` below.
Resource limits (``kernel_*``, ``cell_timeout_s``, ...) are read by ``backend.kernels``.
"""
import dataclasses
import logging
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent

DEVICES = ("auto", "cpu", "cuda")
SANDBOXES = ("bwrap", "none")


class ConfigError(ValueError):
    """A setting in the environment is malformed; the message names the variable."""


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: Path = field(default_factory=lambda: REPO_ROOT / "var")
    database_url: str = ""          # default: sqlite:///<data_dir>/gradlab.db
    secret_key: str = ""            # default: generated once into <data_dir>/secret_key (0600)
    redis_url: str | None = None
    device: str = "auto"            # auto | cpu | cuda: what kernels run on
    sandbox: str = "bwrap"          # bwrap | none
    # kernel resource limits (backend.kernels reads these)
    kernel_memory_mb: int = 2048
    kernel_max_procs: int = 64
    kernel_file_size_mb: int = 64
    kernel_tmp_mb: int = 512                # the kernel's private /tmp (its working directory), in RAM
    kernel_open_files: int = 256
    cell_timeout_s: int = 600
    output_limit_bytes: int = 1_000_000
    kernel_idle_cull_s: int = 1800
    kernel_pool_size: int = 1               # kernels kept started, ready for the next notebook (0: no pool)
    kernel_pool_max: int = 32               # the most the pool grows to with demand
    kernel_pool_idle_s: int = 300           # demand window: the pool keeps as many ready as were taken in it
    # serving (gunicorn: one worker process, a thread per request being served or websocket open)
    server_threads: int = 256               # an open browser tab holds one
    max_connections: int = 2000             # open connections at once, idle ones included
    request_timeout_s: int = 10             # a request's headers must arrive within this; a body may stall this long
    # request limits
    max_code_bytes: int = 100_000           # one cell's source
    max_request_bytes: int = 8_000_000      # any HTTP body (an imported .ipynb with outputs)
    max_cells: int = 1000                   # cells per notebook
    # extra origins allowed to open the websocket / POST to the API (default: same origin only)
    allowed_origins: tuple = ()
    # host names the server answers to (the Host header): a page on another name -- DNS rebinding
    # -- is refused.  Default: the loopback names when HOST is a loopback address, any otherwise
    # (a hosted server should list its public name).  "*" allows any.
    allowed_hosts: tuple = ()
    frontend_dist: Path = field(default_factory=lambda: REPO_ROOT / "frontend" / "dist")

    @classmethod
    def from_env(cls, environ=None, **overrides):
        """Build from ``environ`` (default ``os.environ``); ``overrides`` win over both.

        Creates ``data_dir`` and, unless SECRET_KEY is given, the secret key file."""
        env = os.environ if environ is None else environ
        values = {}
        for name, (var, conv) in _ENV.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            try:
                values[name] = conv(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{var}={raw!r}: {exc}") from None
        values.update(overrides)
        cfg = cls(**values)
        cfg.data_dir = Path(cfg.data_dir).expanduser().resolve()
        cfg.frontend_dist = Path(cfg.frontend_dist)
        if cfg.device not in DEVICES:
            raise ConfigError(f"GRADLAB_DEVICE must be one of {', '.join(DEVICES)}, not {cfg.device!r}")
        if cfg.sandbox not in SANDBOXES:
            raise ConfigError(f"GRADLAB_SANDBOX must be one of {', '.join(SANDBOXES)}, not {cfg.sandbox!r}")
        if not 0 < cfg.port < 65536:
            raise ConfigError(f"PORT must be between 1 and 65535, not {cfg.port}")
        for name in ("server_threads", "max_connections", "request_timeout_s"):
            if getattr(cfg, name) < 1:
                raise ConfigError(f"GRADLAB_{name.upper()} must be at least 1")
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        if not cfg.database_url:
            cfg.database_url = f"sqlite:///{cfg.data_dir / 'gradlab.db'}"
        if not cfg.secret_key:
            cfg.secret_key = load_or_create_secret(cfg.data_dir / "secret_key")
        return cfg

    def public(self):
        """The settings without secrets (for logs)."""
        d = dataclasses.asdict(self)
        d["secret_key"] = "***"
        d["database_url"] = _hide_password(self.database_url)
        if self.redis_url:
            d["redis_url"] = _hide_password(self.redis_url)
        return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}


def _positive_int(raw):
    v = int(raw)
    if v < 0:
        raise ValueError("must not be negative")
    return v


_ENV = {
    "host": ("HOST", str),
    "port": ("PORT", int),
    "data_dir": ("GRADLAB_DATA_DIR", Path),
    "database_url": ("DATABASE_URL", str),
    "secret_key": ("SECRET_KEY", str),
    "redis_url": ("REDIS_URL", str),
    "device": ("GRADLAB_DEVICE", str.lower),
    "sandbox": ("GRADLAB_SANDBOX", str.lower),
    "frontend_dist": ("GRADLAB_FRONTEND_DIST", Path),
    "allowed_hosts": ("GRADLAB_ALLOWED_HOSTS", lambda raw: tuple(h.strip().lower() for h in raw.split(",") if h.strip())),
    "allowed_origins": ("GRADLAB_ALLOWED_ORIGINS", lambda raw: tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())),
}
for _name in ("kernel_memory_mb", "kernel_max_procs", "kernel_file_size_mb", "kernel_tmp_mb", "kernel_open_files",
              "cell_timeout_s", "output_limit_bytes", "kernel_idle_cull_s", "kernel_pool_size",
              "kernel_pool_max", "kernel_pool_idle_s",
              "server_threads", "max_connections", "request_timeout_s",
              "max_code_bytes", "max_request_bytes", "max_cells"):
    _ENV[_name] = ("GRADLAB_" + _name.upper(), _positive_int)


def _hide_password(url):
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def load_or_create_secret(path):
    """The secret in ``path``; created (random, mode 0600) on first use.  Safe against two
    processes starting at once: the file is created with O_EXCL, the loser reads the winner's."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text().strip()
            if key:
                break
            import time
            time.sleep(0.02)  # the creator has not written yet
        else:
            raise ConfigError(f"{path} is empty; delete it to generate a new secret key")
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("%s is readable by others (mode %o); setting it to 0600", path, mode)
            os.chmod(path, 0o600)
        return key
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
        f.flush()
        os.fsync(f.fileno())
    return key


_device_cache = {}


def resolve_device(cfg):
    """What kernels run on: ``"cpu"`` or ``"cuda:0"``.  ``auto`` picks CUDA when cupy sees a GPU."""
    if cfg.device == "cpu":
        return "cpu"
    if "cuda" not in _device_cache:
        try:
            from engine.device import cuda_available
            _device_cache["cuda"] = bool(cuda_available())
        except Exception:  # noqa: BLE001 - no cupy, no driver: CPU
            _device_cache["cuda"] = False
    if _device_cache["cuda"]:
        return "cuda:0"
    return "cpu" if cfg.device == "auto" else "cuda:0 (unavailable)"


_sandbox_cache = {}


def sandbox_check(cfg):
    """``(ok, reason)``: whether the configured sandbox can run here (cached per process)."""
    if cfg.sandbox == "none":
        return True, "sandbox disabled (GRADLAB_SANDBOX=none)"
    if "bwrap" not in _sandbox_cache:
        exe = shutil.which("bwrap")
        if exe is None:
            _sandbox_cache["bwrap"] = (False, "bwrap not found: install the Debian package bubblewrap")
        else:
            try:
                r = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                                   capture_output=True, timeout=10)
                ok = r.returncode == 0
                reason = "bwrap works" if ok else "bwrap cannot run here: " + r.stderr.decode(errors="replace").strip()
            except (OSError, subprocess.TimeoutExpired) as exc:
                ok, reason = False, f"bwrap cannot run here: {exc}"
            _sandbox_cache["bwrap"] = (ok, reason)
    return _sandbox_cache["bwrap"]
