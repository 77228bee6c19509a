"""The REST API against the real server process (``python -m backend``, see conftest.py)."""
import re
import stat
from pathlib import Path

import nbformat
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def api(s, method, path, **kw):
    return s.request(method, s.url + "/api" + path, timeout=30, **kw)


def new_notebook(s, title="T", cells=None):
    body = {"title": title}
    if cells is not None:
        body["cells"] = cells
    r = api(s, "POST", "/notebooks", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_healthz(server):
    r = requests.get(server.url + "/healthz", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["db"] == "ok" and body["version"] == "0.1.0"
    assert body["sandbox"] in ("bwrap", "none") and isinstance(body["sandbox_ok"], bool)
    assert body["device"] in ("cpu", "cuda:0")
    assert "Set-Cookie" not in r.headers          # probes get no identity


def test_identity_cookie(server, client_session):
    s = client_session()
    cookie = next(c for c in s.cookies if c.name == "gradlab_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    raw = requests.get(server.url + "/api/me", timeout=10)
    assert "HttpOnly" in raw.headers["Set-Cookie"] and "SameSite=Lax" in raw.headers["Set-Cookie"]
    assert api(s, "GET", "/me").json()["owner"] == s.owner          # stable for the same browser
    assert client_session().owner != s.owner                          # another browser, another owner
    forged = requests.Session()
    forged.cookies.set("gradlab_session", cookie.value[:-3] + "abc", domain="127.0.0.1")
    assert forged.get(server.url + "/api/me", timeout=10).json()["owner"] != s.owner


def test_notebook_round_trip(client_session):
    s = client_session()
    assert api(s, "GET", "/notebooks").json() == {"notebooks": []}
    nb = new_notebook(s, "First", [{"kind": "markdown", "source": "# Hi"}, {"kind": "code", "source": "x = 41"}])
    assert nb["title"] == "First" and len(nb["cells"]) == 2
    assert api(s, "GET", f"/notebooks/{nb['id']}").json() == nb

    r = api(s, "POST", f"/notebooks/{nb['id']}/cells", json={"source": "print(x + 1)"})
    assert r.status_code == 201
    c3 = r.json()
    assert (c3["position"], c3["kind"], c3["status"]) == (2, "code", "idle")
    c0 = api(s, "POST", f"/notebooks/{nb['id']}/cells", json={"kind": "markdown", "source": "top", "index": 0}).json()
    r = api(s, "PATCH", f"/notebooks/{nb['id']}/cells/{c3['id']}", json={"source": "print(x + 2)"})
    assert r.status_code == 200 and r.json()["source"] == "print(x + 2)"
    r = api(s, "POST", f"/notebooks/{nb['id']}/cells/{c3['id']}/move", json={"index": 0})
    assert r.json()["order"][0] == c3["id"]
    got = api(s, "GET", f"/notebooks/{nb['id']}").json()
    assert [c["source"] for c in got["cells"]] == ["print(x + 2)", "top", "# Hi", "x = 41"]
    assert api(s, "DELETE", f"/notebooks/{nb['id']}/cells/{c0['id']}").status_code == 200
    got = api(s, "GET", f"/notebooks/{nb['id']}").json()
    assert [c["source"] for c in got["cells"]] == ["print(x + 2)", "# Hi", "x = 41"]
    assert [c["position"] for c in got["cells"]] == [0, 1, 2]

    r = api(s, "PATCH", f"/notebooks/{nb['id']}", json={"title": "Renamed", "device": "cpu"})
    assert (r.json()["title"], r.json()["device"]) == ("Renamed", "cpu")
    dup = api(s, "POST", f"/notebooks/{nb['id']}/duplicate").json()
    assert dup["title"] == "Renamed (copy)" and [c["source"] for c in dup["cells"]] == [
        "print(x + 2)", "# Hi", "x = 41"]
    listed = api(s, "GET", "/notebooks").json()["notebooks"]
    assert [n["id"] for n in listed] == [dup["id"], nb["id"]] and listed[0]["cell_count"] == 3
    assert api(s, "DELETE", f"/notebooks/{nb['id']}").json() == {"deleted": nb["id"]}
    assert api(s, "GET", f"/notebooks/{nb['id']}").status_code == 404
    assert [n["id"] for n in api(s, "GET", "/notebooks").json()["notebooks"]] == [dup["id"]]


def test_other_owner_gets_404_everywhere(server, client_session):
    a, b = client_session(), client_session()
    nb = new_notebook(a, "A's", [{"kind": "code", "source": "secret = 1"}])
    cell = nb["cells"][0]["id"]
    attempts = [
        ("GET", f"/notebooks/{nb['id']}", None),
        ("PATCH", f"/notebooks/{nb['id']}", {"title": "B's now"}),
        ("DELETE", f"/notebooks/{nb['id']}", None),
        ("POST", f"/notebooks/{nb['id']}/duplicate", None),
        ("POST", f"/notebooks/{nb['id']}/cells", {"source": "x"}),
        ("PATCH", f"/notebooks/{nb['id']}/cells/{cell}", {"source": "pwned"}),
        ("DELETE", f"/notebooks/{nb['id']}/cells/{cell}", None),
        ("POST", f"/notebooks/{nb['id']}/cells/{cell}/move", {"index": 0}),
        ("GET", f"/notebooks/{nb['id']}/export.ipynb", None),
    ]
    for method, path, body in attempts:
        r = api(b, method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json() == {"error": "notebook not found"}, (method, path)
    # same answer as for a notebook that never existed
    assert api(b, "GET", "/notebooks/doesnotexist").json() == {"error": "notebook not found"}
    assert api(b, "GET", "/notebooks").json() == {"notebooks": []}
    assert b.get(server.url + f"/notebooks/{nb['id']}", timeout=10).status_code == 404
    assert a.get(server.url + f"/notebooks/{nb['id']}", timeout=10).status_code == 200
    assert api(a, "GET", f"/notebooks/{nb['id']}").json() == nb         # untouched


@pytest.mark.parametrize("method, path, body, status, reason", [
    ("POST", "/notebooks", {"title": 5}, 400, "title: Input should be a valid string"),
    ("POST", "/notebooks", {"title": "x" * 201}, 400, "title: String should have at most 200 characters"),
    ("POST", "/notebooks", {"owner": "someone"}, 400, "owner: unknown field"),
    ("POST", "/notebooks", {"cells": [{"kind": "raw"}]}, 400, "cells.0.kind: Input should be 'code' or 'markdown'"),
    ("POST", "/notebooks", [1, 2], 400, "must be a JSON object"),
    ("PATCH", "/notebooks/{nb}", {}, 400, "nothing to change"),
    ("PATCH", "/notebooks/{nb}", {"title": "   "}, 400, "title must not be empty"),
    ("PATCH", "/notebooks/{nb}", {"device": "tpu"}, 400, "device: Input should be 'auto', 'cpu' or 'cuda'"),
    ("POST", "/notebooks/{nb}/cells", {"index": -1}, 400, "index: Input should be greater than or equal to 0"),
    ("POST", "/notebooks/{nb}/cells", {"index": 9}, 400, "index must be between 0 and 1"),
    ("POST", "/notebooks/{nb}/cells", {"source": 3}, 400, "source: Input should be a valid string"),
    ("PATCH", "/notebooks/{nb}/cells/{cell}", {"source": None, "kind": None}, 400, "nothing to change"),
    ("PATCH", "/notebooks/{nb}/cells/nocell", {"source": "x"}, 404, "cell not found"),
    ("POST", "/notebooks/{nb}/cells/{cell}/move", {"index": "1"}, 400, "index: Input should be a valid integer"),
    ("POST", "/notebooks/{nb}/cells/{cell}/move", {}, 400, "index: Field required"),
    ("POST", "/starters/no-such-starter", None, 404, "starter not found"),
])
def test_validation_errors(client_session, method, path, body, status, reason):
    s = client_session()
    nb = new_notebook(s, "v", [{"source": "x"}])
    r = api(s, method, path.format(nb=nb["id"], cell=nb["cells"][0]["id"]), json=body)
    assert r.status_code == status, r.text
    assert reason in r.json()["error"]


def test_bad_json_and_content_type(client_session):
    s = client_session()
    r = api(s, "POST", "/notebooks", data=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"].startswith("invalid JSON")
    r = api(s, "POST", "/notebooks", data=b"title=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "must be JSON" in r.json()["error"]


def test_deeply_nested_json_is_400(client_session):
    s = client_session()
    nb = new_notebook(s)
    deep = b"[" * 100_000 + b"]" * 100_000
    for method, path, body in [("POST", "/notebooks", b'{"title": ' + deep + b"}"),
                               ("POST", "/notebooks", b'{"title": "t", "cells": ' + deep + b"}"),
                               ("PATCH", f"/notebooks/{nb['id']}", b'{"title": ' + deep + b"}"),
                               ("POST", "/notebooks/import", b'{"cells": ' + deep + b', "nbformat": 4}')]:
        r = api(s, method, path, data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (method, path, r.status_code, r.text[:200])
        assert "nested too deeply" in r.json()["error"], r.text[:200]
    assert api(s, "GET", f"/notebooks/{nb['id']}").status_code == 200  # and the server goes on


def test_cross_origin_write_refused(client_session):
    s = client_session()
    r = api(s, "POST", "/notebooks", json={"title": "x"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = api(s, "POST", "/notebooks", json={"title": "x"}, headers={"Origin": s.url})
    assert r.status_code == 201


def test_oversized_bodies(client_session):
    s = client_session()
    nb = new_notebook(s, "big", [{"source": "x"}])
    cell = nb["cells"][0]["id"]
    r = api(s, "PATCH", f"/notebooks/{nb['id']}/cells/{cell}", json={"source": "#" * 100_001})
    assert r.status_code == 413 and "the limit is 100000 bytes" in r.json()["error"]
    r = api(s, "PATCH", f"/notebooks/{nb['id']}/cells/{cell}", json={"source": "é" * 50_001})  # bytes, not chars
    assert r.status_code == 413
    r = api(s, "POST", f"/notebooks/{nb['id']}/cells", json={"source": "#" * 100_001})
    assert r.status_code == 413
    assert api(s, "PATCH", f"/notebooks/{nb['id']}/cells/{cell}", json={"source": "#" * 100_000}).status_code == 200
    r = api(s, "POST", "/notebooks", data=b" " * 8_000_001, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "request body too large" in r.json()["error"]
    r = api(s, "POST", "/notebooks/import", files={"file": ("big.ipynb", b" " * 8_000_001)})
    assert r.status_code == 413
    assert [c["source"] for c in api(s, "GET", f"/notebooks/{nb['id']}").json()["cells"]] == ["#" * 100_000]


def test_export_validates_and_reimports_identically(client_session):
    s = client_session()
    nb = new_notebook(s, "Export me", [{"kind": "markdown", "source": "# Gradients\n\n$z = y^2$"},
                                       {"kind": "code", "source": "import torch\nx = torch.ones(3)\nx * 2"},
                                       {"kind": "code", "source": "1/0"}])
    r = api(s, "GET", f"/notebooks/{nb['id']}/export.ipynb")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="Export me.ipynb"'
    parsed = nbformat.reads(r.text, as_version=4)
    nbformat.validate(parsed)
    assert parsed.metadata.kernelspec.name == "python3"
    assert [(c.cell_type, c.source) for c in parsed.cells] == [(c["kind"], c["source"]) for c in nb["cells"]]

    for upload in ({"files": {"file": ("Export me.ipynb", r.content, "application/x-ipynb+json")}},
                   {"data": r.content, "headers": {"Content-Type": "application/json"}}):
        back = api(s, "POST", "/notebooks/import", **upload)
        assert back.status_code == 201, back.text
        back = back.json()
        assert back["id"] != nb["id"] and back["title"] == "Export me"
        assert [(c["kind"], c["source"], c["outputs"]) for c in back["cells"]] == [
            (c["kind"], c["source"], c["outputs"]) for c in nb["cells"]]


def test_outputs_survive_export_import(server, client_session):
    """Outputs written server-side (as the realtime layer does) come back through .ipynb."""
    from backend.storage import Repo
    s = client_session()
    nb = new_notebook(s, "outs", [{"source": "print('hi'); 2 + 2"}])
    outputs = [{"output_type": "stream", "name": "stdout", "text": "hi\n"},
               {"output_type": "execute_result", "data": {"text/plain": "4"}, "metadata": {}, "execution_count": 1},
               {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["ValueError: bad"]}]
    repo = Repo.from_url(f"sqlite:///{server.data_dir / 'gradlab.db'}")   # the same database, another process
    repo.set_cell_outputs(nb["id"], nb["cells"][0]["id"], outputs, execution_count=1, status="done")
    repo.engine.dispose()
    got = api(s, "GET", f"/notebooks/{nb['id']}").json()["cells"][0]
    assert (got["outputs"], got["execution_count"], got["status"]) == (outputs, 1, "done")
    text = api(s, "GET", f"/notebooks/{nb['id']}/export.ipynb").text
    nbformat.validate(nbformat.reads(text, as_version=4))
    back = api(s, "POST", "/notebooks/import", data=text.encode(), headers={"Content-Type": "application/json"}).json()
    assert back["cells"][0]["outputs"] == outputs and back["cells"][0]["execution_count"] == 1


@pytest.mark.parametrize("payload, reason", [
    (b"this is not json", "not a notebook: invalid JSON"),
    (b'{"cells": "nope", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "invalid notebook"),
    (b'{"hello": "world"}', "no 'cells' list"),
])
def test_import_malformed_is_400_with_reason(client_session, payload, reason):
    s = client_session()
    r = api(s, "POST", "/notebooks/import", files={"file": ("bad.ipynb", payload)})
    assert r.status_code == 400
    assert reason in r.json()["error"]
    r = api(s, "POST", "/notebooks/import", files={"wrong": ("bad.ipynb", payload)})
    assert r.status_code == 400 and "'file' field" in r.json()["error"]
    assert api(s, "GET", "/notebooks").json()["notebooks"] == []


def test_starters(client_session):
    s = client_session()
    cat = api(s, "GET", "/starters").json()["starters"]
    assert len(cat) == 6 and {"name", "title", "description", "cells"} <= set(cat[0])
    r = api(s, "POST", "/starters/autograd-by-hand")
    assert r.status_code == 201
    nb = r.json()
    assert nb["title"] == "Autograd by hand" and len(nb["cells"]) == cat[1]["cells"]
    assert any("z.backward()" in c["source"] for c in nb["cells"])
    assert [n["id"] for n in api(s, "GET", "/notebooks").json()["notebooks"]] == [nb["id"]]


def test_pages(server, client_session):
    s = client_session()
    r = s.get(server.url + "/", timeout=10)
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    built = (ROOT / "frontend" / "dist" / "index.html")
    assert built.is_file(), "make test builds the front end before the tests"
    assert r.text == built.read_text() and 'id="app"' in r.text
    script = re.search(r'src="(/assets/[^"]+\.js)"', r.text).group(1)
    js = s.get(server.url + script, timeout=10)
    assert js.status_code == 200 and "javascript" in js.headers["Content-Type"] and len(js.content) > 1000
    assert s.get(server.url + "/notebooks/nope", timeout=10).status_code == 404
    assert s.get(server.url + "/assets/app.js", timeout=10).status_code == 404
    r = s.get(server.url + "/api/nothing-here", timeout=10)
    assert r.status_code == 404 and r.json() == {"error": "not found"}
    r = s.put(server.url + "/api/notebooks", timeout=10)
    assert r.status_code == 405 and r.json() == {"error": "method not allowed"}


def test_edit_survives_kill9_and_secret_is_stable(server, client_session):
    key_path = server.data_dir / "secret_key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = key_path.read_text()
    s = client_session()
    nb = new_notebook(s, "durable", [{"source": "old"}])
    cell = nb["cells"][0]["id"]
    r = api(s, "PATCH", f"/notebooks/{nb['id']}/cells/{cell}", json={"source": "new = 1"})
    assert r.status_code == 200
    server.kill9()                      # immediately after the 200
    server.start()
    # same key, so the same cookie still names the same owner
    assert key_path.read_text() == key and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert api(s, "GET", "/me").json()["owner"] == s.owner
    got = api(s, "GET", f"/notebooks/{nb['id']}").json()
    assert got["cells"][0]["source"] == "new = 1"
    server.restart()                    # a clean stop too
    assert api(s, "GET", f"/notebooks/{nb['id']}").json()["cells"][0]["source"] == "new = 1"
    assert key_path.read_text() == key


def test_socket_connect_sees_the_cookie_identity(tmp_path):
    """In a Socket.IO connect handler (manage_session=False), flask.session / current_owner() and
    owner_from_environ() both give the HTTP cookie's owner.  In-process: this tests identity.py only."""
    from flask import request
    from backend.app import create_app, socketio
    from backend.config import Config
    from backend.identity import current_owner, owner_from_environ

    app = create_app(Config.from_env({"GRADLAB_DATA_DIR": str(tmp_path), "GRADLAB_KERNEL_POOL_SIZE": "0"}))
    seen = {}

    @socketio.on("connect", namespace="/identity-test")
    def _connect(auth=None):
        seen["session"] = current_owner()
        seen["environ"] = owner_from_environ(request.environ)

    http = app.test_client()
    owner = http.get("/api/me").get_json()["owner"]
    sio = socketio.test_client(app, namespace="/identity-test", flask_test_client=http)
    assert sio.is_connected("/identity-test")
    assert seen == {"session": owner, "environ": owner}
    sio.disconnect("/identity-test")
    anon = socketio.test_client(app, namespace="/identity-test")   # no cookie: no owner
    assert seen == {"session": None, "environ": None}
    anon.disconnect("/identity-test")


def test_serves_the_built_front_end(tmp_path, client_session, start_server):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=app>GRADLAB-SPA</div>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside dist")
    srv = start_server(tmp_path / "data", {"GRADLAB_FRONTEND_DIST": str(dist)})
    a, b = client_session(srv), client_session(srv)
    nb = new_notebook(a, "mine")
    for path in ("/", f"/notebooks/{nb['id']}", "/login", "/join"):
        r = a.get(srv.url + path, timeout=10)
        assert r.status_code == 200 and "GRADLAB-SPA" in r.text, path
    assert a.get(srv.url + "/assets/app.js", timeout=10).text == "console.log(1)"
    r = b.get(srv.url + f"/notebooks/{nb['id']}", timeout=10)          # someone else's URL
    assert r.status_code == 404 and "GRADLAB-SPA" not in r.text
    assert a.get(srv.url + "/assets/../../secret.txt", timeout=10).status_code == 404
    assert a.get(srv.url + "/%2e%2e/secret.txt", timeout=10).status_code == 404


def test_page_without_a_built_front_end_says_so(tmp_path):
    from backend.app import create_app
    from backend.config import Config

    cfg = Config.from_env({}, data_dir=tmp_path / "data", frontend_dist=tmp_path / "no-dist")
    app = create_app(cfg)
    r = app.test_client().get("/")
    assert r.status_code == 200 and b"front end is not built" in r.data and b"/api/notebooks" in r.data
    assert app.test_client().get("/assets/app.js").status_code == 404


def test_security_headers_on_every_kind_of_response(server, client_session):
    s = client_session()
    nb = new_notebook(s)
    for path in ["/", f"/notebooks/{nb['id']}", "/api/notebooks", "/healthz", "/api/nope", "/notebooks/nope"]:
        r = s.get(server.url + path, timeout=10)
        csp = r.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp and "unsafe-eval" not in csp, path
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN" and r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"


def test_unknown_host_is_refused_and_gets_no_identity(server):
    import requests
    port = server.url.rsplit(":", 1)[1]
    for host in ("localhost", "127.0.0.1", f"localhost:{port}", f"127.0.0.1:{port}"):
        assert requests.get(server.url + "/healthz", headers={"Host": host}, timeout=10).status_code == 200
    for host in (f"evil.example:{port}", "rebind.attacker.test", f"127.0.0.1.nip.io:{port}"):
        r = requests.post(server.url + "/api/notebooks", json={"title": "x"}, headers={"Host": host}, timeout=10)
        assert r.status_code == 400 and "not allowed" in r.json()["error"], host
        assert "Set-Cookie" not in r.headers
    # the Socket.IO connection is refused the same way (and allowed under a loopback name)
    import socketio
    for host, ok in (("evil.example", False), (f"localhost:{port}", True)):
        sio = socketio.Client(reconnection=False)
        try:
            sio.connect(server.url, headers={"Host": host}, transports=["polling"], wait_timeout=10)
            connected = sio.connected
        except socketio.exceptions.ConnectionError:
            connected = False
        finally:
            sio.disconnect()
        assert connected is ok, host


def test_allowed_hosts_setting():
    from backend.config import Config
    from backend.security import allowed_hosts, host_name
    assert "localhost" in allowed_hosts(Config(host="127.0.0.1"))
    assert allowed_hosts(Config(host="0.0.0.0")) is None  # hosting: the admin names the public host
    assert allowed_hosts(Config(host="0.0.0.0", allowed_hosts=("gradlab.school.org",))) == ("gradlab.school.org",)
    assert allowed_hosts(Config(host="127.0.0.1", allowed_hosts=("*",))) is None
    assert [host_name(h) for h in ("a.org:80", "[::1]:5000", "::1", "A.ORG")] == ["a.org", "::1", "::1", "a.org"]
