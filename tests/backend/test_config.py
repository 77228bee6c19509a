"""Configuration from the environment and the secret key file."""
import os
import stat

import pytest

from backend.config import REPO_ROOT, Config, ConfigError, load_or_create_secret, sandbox_check


def test_defaults(tmp_path):
    cfg = Config.from_env({"GRADLAB_DATA_DIR": str(tmp_path / "d")})
    assert (cfg.host, cfg.port, cfg.device, cfg.sandbox, cfg.redis_url) == ("127.0.0.1", 5000, "auto", "bwrap", None)
    assert cfg.data_dir == (tmp_path / "d").resolve() and cfg.data_dir.is_dir()
    assert cfg.database_url == f"sqlite:///{cfg.data_dir / 'gradlab.db'}"
    assert (cfg.kernel_memory_mb, cfg.kernel_max_procs, cfg.kernel_file_size_mb, cfg.kernel_open_files) == (
        2048, 64, 64, 256)
    assert (cfg.cell_timeout_s, cfg.output_limit_bytes, cfg.kernel_idle_cull_s, cfg.kernel_pool_size,
            cfg.max_code_bytes) == (600, 1_000_000, 1800, 1, 100_000)
    assert len(cfg.secret_key) == 64


def test_default_data_dir_is_repo_var():
    assert Config().data_dir == REPO_ROOT / "var"


def test_environment_overrides(tmp_path):
    env = {"HOST": "0.0.0.0", "PORT": "8123", "GRADLAB_DATA_DIR": str(tmp_path), "SECRET_KEY": "s3cret",
           "DATABASE_URL": "postgresql://u:pw@db/gradlab", "REDIS_URL": "redis://r:6379/0",
           "GRADLAB_DEVICE": "CPU", "GRADLAB_SANDBOX": "none", "GRADLAB_KERNEL_MEMORY_MB": "512",
           "GRADLAB_CELL_TIMEOUT_S": "30", "GRADLAB_KERNEL_POOL_SIZE": "0", "GRADLAB_MAX_CODE_BYTES": "10"}
    cfg = Config.from_env(env)
    assert (cfg.host, cfg.port, cfg.secret_key, cfg.device, cfg.sandbox) == ("0.0.0.0", 8123, "s3cret", "cpu", "none")
    assert (cfg.kernel_memory_mb, cfg.cell_timeout_s, cfg.kernel_pool_size, cfg.max_code_bytes) == (512, 30, 0, 10)
    assert cfg.redis_url == "redis://r:6379/0"
    assert not (tmp_path / "secret_key").exists()          # SECRET_KEY given: no file
    pub = cfg.public()
    assert pub["secret_key"] == "***" and "pw" not in pub["database_url"]
    assert sandbox_check(cfg) == (True, "sandbox disabled (GRADLAB_SANDBOX=none)")


@pytest.mark.parametrize("var, value, message", [
    ("PORT", "http", "PORT='http'"),
    ("PORT", "70000", "PORT must be between"),
    ("GRADLAB_DEVICE", "tpu", "GRADLAB_DEVICE must be one of auto, cpu, cuda"),
    ("GRADLAB_SANDBOX", "docker", "GRADLAB_SANDBOX must be one of bwrap, none"),
    ("GRADLAB_KERNEL_MEMORY_MB", "-5", "must not be negative"),
    ("GRADLAB_SERVER_THREADS", "0", "GRADLAB_SERVER_THREADS must be at least 1"),
    ("GRADLAB_REQUEST_TIMEOUT_S", "0", "GRADLAB_REQUEST_TIMEOUT_S must be at least 1"),
])
def test_bad_values_name_the_variable(tmp_path, var, value, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_env({"GRADLAB_DATA_DIR": str(tmp_path), var: value})


def test_secret_key_file_is_private_and_stable(tmp_path):
    a = Config.from_env({"GRADLAB_DATA_DIR": str(tmp_path)}).secret_key
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Config.from_env({"GRADLAB_DATA_DIR": str(tmp_path)}).secret_key == a
    os.chmod(path, 0o644)                      # loosened by someone: tightened again, same key
    assert load_or_create_secret(path) == a
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
