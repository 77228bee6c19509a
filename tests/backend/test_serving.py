"""The production server (backend/serving.py) against real clients on loopback: slow clients are
dropped without holding threads, malformed framing is answered, and the worker process lives and
dies with the server."""
import os
import resource
import selectors
import signal
import socket
import time

import pytest
import requests
import socketio

START_TIMEOUT = 60           # a server (or a replaced worker) answers within this
REQUEST_TIMEOUT = 2          # GRADLAB_REQUEST_TIMEOUT_S for this module's server
ATTACKERS = 800
THREADS = 32


@pytest.fixture(scope="module")
def server_env():
    return {"GRADLAB_REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT), "GRADLAB_SERVER_THREADS": str(THREADS)}


def _children(pid):
    """Child processes of ``pid``, forked by any of its threads."""
    kids = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return sorted(kids)


def worker_pid(server):
    """The one gunicorn worker under the server process (the arbiter)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        kids = _children(server.proc.pid)
        if kids:
            return kids[0]
        time.sleep(0.05)
    raise AssertionError("the server has no worker process")


def threads_of(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def open_partial(server, n, head=b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(head)
        socks.append(s)
    return socks


def wait_closed_by_server(socks, trickle, deadline):
    """Keep each socket trickling (``trickle`` bytes every 0.5 s) until the server closes it; the
    number still open at ``deadline``."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    open_ = set(socks)
    next_trickle = 0.0
    while open_ and time.monotonic() < deadline:
        now = time.monotonic()
        if trickle and now >= next_trickle:
            for s in list(open_):
                try:
                    s.send(trickle)
                except (BlockingIOError, OSError):
                    pass
            next_trickle = now + 0.5
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                open_.discard(s)
    sel.close()
    for s in socks:
        s.close()
    return len(open_)


def test_slowloris_connections_hold_no_thread_and_are_dropped(server):
    worker = worker_pid(server)
    before = threads_of(worker)
    started = time.monotonic()
    socks = open_partial(server, ATTACKERS)
    # everyone else is served while 800 connections trickle their headers
    for _ in range(5):
        r = requests.get(server.url + "/healthz", timeout=10)
        assert r.status_code == 200
    during = threads_of(worker)
    print(f"worker threads: {before} before, {during} with {ATTACKERS} slow connections open")
    assert during <= before + THREADS, (before, during)
    assert during < ATTACKERS // 4, f"{during} threads for {ATTACKERS} slow connections"
    # ...and the header clock runs from the connection's start, however steadily it trickles
    left = wait_closed_by_server(socks, b"X-Slow: 1\r\n", started + REQUEST_TIMEOUT + 15)
    assert left == 0, f"{left} of {ATTACKERS} slow connections still open after {REQUEST_TIMEOUT} s + 15 s"
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    assert f"closed" in server.log() and "did not send a request within 2 s" in server.log()


def test_a_stalled_body_is_dropped_and_a_moving_one_is_served(server, client_session):
    s = client_session(server)
    cookie = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
    body = b'{"title": "slow but steady", "cells": [{"source": "1 + 1"}]}'
    head = (f"POST /api/notebooks HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nCookie: {cookie}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    # stalled: ten bytes of the body, then nothing
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    stalled.sendall(head + body[:10])
    # moving: one byte at a time, taking 2.5 x the timeout in all
    moving = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    moving.sendall(head)
    t0 = time.monotonic()
    for b in body:
        moving.sendall(bytes([b]))
        time.sleep(REQUEST_TIMEOUT * 2.5 / len(body))
    assert time.monotonic() - t0 > REQUEST_TIMEOUT * 2
    reply = moving.recv(65536)
    assert reply.startswith(b"HTTP/1.1 201"), reply[:200]
    assert b"slow but steady" in reply or b"Content-Length" in reply
    stalled.settimeout(REQUEST_TIMEOUT + 10)
    assert stalled.recv(4096) == b"", "the stalled upload was answered instead of dropped"
    moving.close()
    stalled.close()
    titles = [n["title"] for n in s.get(server.url + "/api/notebooks", timeout=10).json()["notebooks"]]
    assert titles.count("slow but steady") == 1


def _exchange(server, raw):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(raw)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_oversized_header_block_and_chunked_body_are_refused(server):
    huge = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: " + b"a" * 70_000 + b"\r\n\r\n"
    assert _exchange(server, huge).startswith(b"HTTP/1.1 431 ")
    chunked = (b"POST /api/notebooks HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n")
    assert _exchange(server, chunked).startswith(b"HTTP/1.1 411 ")
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


def test_keepalive_connection_serves_several_requests(server):
    with requests.Session() as s:
        for _ in range(5):
            r = s.get(server.url + "/healthz", timeout=10)
            assert r.status_code == 200 and r.json()["status"] == "ok"


def test_a_crashed_worker_is_replaced_and_the_notebooks_stay(start_server, tmp_path, client_session):
    srv = start_server(tmp_path / "crash")
    s = client_session(srv)
    nb = s.post(srv.url + "/api/notebooks", json={"title": "kept", "cells": [{"source": "x = 1"}]}, timeout=10).json()
    first = worker_pid(srv)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        kids = [p for p in _children(srv.proc.pid) if p != first]
        if kids:
            try:
                if requests.get(srv.url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
        time.sleep(0.1)
    else:
        raise AssertionError("no worker answered after the first one was killed:\n" + srv.log())
    r = s.get(f"{srv.url}/api/notebooks/{nb['id']}", timeout=10)
    assert r.status_code == 200 and r.json()["title"] == "kept"


def test_the_worker_and_its_kernels_die_with_the_server(start_server, tmp_path, client_session):
    srv = start_server(tmp_path / "dies")
    s = client_session(srv)
    nb = s.post(srv.url + "/api/notebooks", json={"title": "k", "cells": [{"source": "import os; os.getpid()"}]},
                timeout=10).json()
    sio = socketio.Client(reconnection=False)
    sio.connect(srv.url, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in s.cookies.items())},
                transports=["websocket"], wait_timeout=20)
    try:
        assert sio.call("join", {"notebook_id": nb["id"]}, timeout=START_TIMEOUT)["ok"]
    finally:
        sio.disconnect()
    worker = worker_pid(srv)
    kernels = _children(worker)
    assert kernels, "joining started no kernel"
    os.kill(srv.proc.pid, signal.SIGKILL)  # the server alone, not its process group
    srv.proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (alive(worker) or any(alive(k) for k in kernels)):
        time.sleep(0.05)
    assert not alive(worker), "the worker outlived the server"
    assert not any(alive(k) for k in kernels), "a kernel outlived the server"
    # the port is free again: a new server starts on it at once
    srv.start()
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200


def test_sigterm_stops_the_server_with_a_websocket_open(start_server, tmp_path, client_session):
    srv = start_server(tmp_path / "term")
    s = client_session(srv)
    sio = socketio.Client(reconnection=False)
    sio.connect(srv.url, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in s.cookies.items())},
                transports=["websocket"], wait_timeout=20)
    worker = worker_pid(srv)
    srv.proc.send_signal(signal.SIGTERM)
    rc = srv.proc.wait(timeout=30)
    assert rc == 0, srv.log()
    assert not alive(worker)
    sio.disconnect()
