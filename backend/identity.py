"""Anonymous identity: every browser gets a random owner id (``uid``) in Flask's signed session
cookie (HttpOnly, SameSite=Lax) on its first request.  Notebooks belong to that id.

* ``current_owner()`` — in a Flask request (and in Flask-SocketIO handlers, which run inside the
  connect request's context with ``manage_session=False``): the uid, or None.
* ``owner_from_environ(environ, app=None)`` — the uid from a raw WSGI environ's cookie (for code
  outside a request context); None when there is no valid cookie.
* ``ensure_owner()`` — ``before_request`` hook: gives the browser a uid if it has none.
"""
import datetime as _dt
import secrets

from flask import current_app, has_request_context, request, session

SESSION_KEY = "uid"
COOKIE_NAME = "gradlab_session"
COOKIE_LIFETIME = _dt.timedelta(days=365)


def configure(app):
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=COOKIE_LIFETIME,
    )
    app.before_request(ensure_owner)


def new_owner_id():
    return "u_" + secrets.token_urlsafe(16)


def _valid(uid):
    return isinstance(uid, str) and 3 <= len(uid) <= 64


NO_IDENTITY_PATHS = ("/healthz",)


def ensure_owner():
    if request.path in NO_IDENTITY_PATHS:  # health probes get no cookie
        return
    uid = session.get(SESSION_KEY)
    if not _valid(uid):
        session[SESSION_KEY] = new_owner_id()
        session.permanent = True


def current_owner():
    """The request's owner id, or None outside a request / without a cookie."""
    if not has_request_context():
        return None
    uid = session.get(SESSION_KEY)
    return uid if _valid(uid) else None


def owner_from_environ(environ, app=None):
    """The owner id from the session cookie in a WSGI ``environ`` (signature checked), or None."""
    app = app or current_app._get_current_object()
    request = app.request_class(environ)
    try:
        sess = app.session_interface.open_session(app, request)
    except Exception:  # noqa: BLE001 - a garbled cookie is no identity
        return None
    uid = sess.get(SESSION_KEY) if sess is not None else None
    return uid if _valid(uid) else None
