"""``python -m backend``: serve the playground (HOST, PORT, GRADLAB_DATA_DIR, ... from the
environment; see backend/config.py) with the production server in backend/serving.py."""
import logging
import sys

from .config import Config, ConfigError, resolve_device, sandbox_check


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("backend")
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"gradlab: bad configuration: {exc}", file=sys.stderr)
        return 2
    ok, reason = sandbox_check(config)
    if not ok:
        log.error("sandbox %s cannot run (%s): the server runs, but kernels will refuse to start. "
                  "Install bubblewrap, or set GRADLAB_SANDBOX=none on a machine you trust.", config.sandbox, reason)
    log.info("data in %s, database %s, sandbox %s, device %s", config.data_dir, config.public()["database_url"],
             config.sandbox, resolve_device(config))
    from .serving import serve
    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
