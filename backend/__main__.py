"""``python -m backend``: serve the playground (HOST, PORT, GRADLAB_DATA_DIR, ... from the
environment; see backend/config.py)."""
import logging
import signal
import sys
import threading

from .config import Config, ConfigError, resolve_device, sandbox_check


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("backend")
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"gradlab: bad configuration: {exc}", file=sys.stderr)
        return 2
    from .app import create_app, socketio

    app = create_app(config)
    ok, reason = sandbox_check(config)
    if not ok:
        log.error("sandbox %s cannot run (%s): the server runs, but kernels will refuse to start. "
                  "Install bubblewrap, or set GRADLAB_SANDBOX=none on a machine you trust.", config.sandbox, reason)
    log.info("data in %s, database %s, sandbox %s, device %s", config.data_dir, config.public()["database_url"],
             config.sandbox, resolve_device(config))
    if config.kernel_pool_size > 0:
        threading.Thread(target=app.extensions["kernels"].warm, name="kernel-warmup", daemon=True).start()

    def _terminate(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _terminate)

    log.info("serving Gradlab on http://%s:%d", config.host, config.port)
    try:
        socketio.run(app, host=config.host, port=config.port, allow_unsafe_werkzeug=True,
                     use_reloader=False, log_output=False)
    finally:
        app.extensions["kernels"].shutdown_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
