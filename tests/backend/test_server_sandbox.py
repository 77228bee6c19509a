"""Hostile cells sent through the real server: each tries something and fails, and the server
(and the same notebook) carries on.  Complements test_sandbox.py, which drives kernels directly."""
import json

import pytest
import requests

from test_realtime import START, Live, new_notebook, result_text


@pytest.fixture(scope="module")
def server_env():
    return {"GRADLAB_SERVER_MARKER": "server-secret-env-value"}


@pytest.fixture
def owner(server, client_session):
    return client_session(server)


def _run(c, nb, cell, code):
    evs = c.run(nb, cell, code, timeout=START)
    return evs, result_text(evs) if any(e == "result" for e, _ in evs) else None


def test_hostile_cells_fail_and_the_server_carries_on(server, owner):
    nb = new_notebook(server, owner, cells=("",) * 6)
    ids = [c["id"] for c in nb["cells"]]
    c = Live(server, owner, "websocket")
    try:
        c.join(nb["id"])
        port = server.port
        db = str(server.data_dir / "gradlab.db")
        key = str(server.data_dir / "secret_key")
        # 1. the server's own port, from inside the kernel
        _, out = _run(c, nb["id"], ids[0], f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    r = "connected"
except OSError as e:
    r = "refused: " + type(e).__name__
r""")
        assert out and out.startswith("'refused"), out
        # 2. the database file and the secret key
        _, out = _run(c, nb["id"], ids[1], f"""
import os
[os.path.exists({db!r}), os.path.exists({key!r})]""")
        assert out == "[False, False]"
        # 3. the server's environment
        _, out = _run(c, nb["id"], ids[2], "import os\n'GRADLAB_SERVER_MARKER' in os.environ")
        assert out == "False"
        # 4. writing outside /tmp
        _, out = _run(c, nb["id"], ids[3], """
import os
try:
    open(os.path.expanduser('~') + '/../../etc/gradlab-pwned', 'w').write('x')
    r = 'wrote'
except OSError as e:
    r = 'denied'
r""")
        assert out == "'denied'"
        # the server is fine, and so is the notebook's kernel
        assert requests.get(server.url + "/healthz", timeout=10).json()["status"] == "ok"
        _, out = _run(c, nb["id"], ids[4], "import torch\n(torch.ones(2) * 21).sum().item()")
        assert out == "42.0"
        saved = owner.get(f"{server.url}/api/notebooks/{nb['id']}", timeout=10).json()
        assert json.dumps(saved["cells"][4]["outputs"]).count("42.0") >= 1
    finally:
        c.close()
