"""HTTP hardening shared by every response: security headers and the Host allowlist.

* ``Content-Security-Policy``: scripts, styles, workers and connections from the app's own origin
  only (no inline script; inline *styles* are allowed because CodeMirror and Plotly set element
  styles), images also from ``data:``/``blob:`` (cell outputs, chart downloads), no plugins, and
  ``frame-ancestors 'self'``: another site cannot show the app in a frame.
* ``X-Frame-Options`` (the same for older browsers), ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: same-origin``.
* The Host allowlist: a server bound to a loopback address answers only to loopback names, so a
  page on another name that resolves to 127.0.0.1 (DNS rebinding) gets a 400 instead of an
  identity and a kernel.
"""
from flask import jsonify, request

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def allowed_hosts(config):
    """The host names the server answers to; None means any."""
    hosts = tuple(config.allowed_hosts)
    if "*" in hosts:
        return None
    if hosts:
        return hosts
    bind = config.host.strip("[]").lower()
    if bind in LOOPBACK_HOSTS or bind.startswith("127."):
        return LOOPBACK_HOSTS + ((bind,) if bind not in LOOPBACK_HOSTS else ())
    return None


def host_name(host_header):
    """``example.org`` from ``example.org:5000``, ``::1`` from ``[::1]:5000``."""
    h = (host_header or "").strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h[1:]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def host_allowed(config):
    hosts = allowed_hosts(config)
    return hosts is None or host_name(request.host) in hosts


def install(app, config):
    @app.before_request
    def _check_host():
        if not host_allowed(config):
            return jsonify(error=f"host {host_name(request.host)!r} is not allowed "
                                 f"(set GRADLAB_ALLOWED_HOSTS to serve it)"), 400
        return None

    @app.after_request
    def _headers(resp):
        for k, v in HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp
