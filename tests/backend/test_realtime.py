"""The Socket.IO protocol against the real server process (B1's ``server`` fixture), with a real
``socketio.Client`` over websocket carrying the session cookie.  docs/protocol.md is the spec."""
import json
import threading
import time

import pytest
import socketio

START = 120  # a cold kernel start (bwrap, imports) on a busy CI machine
RUN = 60


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def new_notebook(server, session, cells=("",)):
    r = session.post(server.url + "/api/notebooks", json={"title": "realtime test",
                                                          "cells": [{"source": c} for c in cells]}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def size(payload):
    return len(json.dumps(payload, separators=(",", ":")))


def in_order(client):
    """Make the Python client handle messages in arrival order, as a browser does.

    python-engineio's client runs each incoming message's handler in a new thread, so a test
    could see a chunk after the message that followed it; the server sends them in order."""
    eio = client.eio
    trigger = eio._trigger_event

    def ordered(event, *args, **kwargs):
        if event == "message":
            kwargs["run_async"] = False
        return trigger(event, *args, **kwargs)

    eio._trigger_event = ordered
    return client


class Live:
    """A socketio.Client that records every event it receives, with waiting helpers."""

    def __init__(self, server, session, transport="websocket"):
        self.events = []  # (event, payload, size in bytes)
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        in_order(self.sio)
        self.sio.on("*", self._any)
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        self.sio.connect(server.url, headers={"Cookie": cookie}, transports=[transport], wait_timeout=20)

    def _any(self, event, *args):
        payload = args[0] if args else None
        with self.cond:
            self.events.append((event, payload, size(payload)))
            self.cond.notify_all()

    def close(self):
        self.sio.disconnect()

    def emit(self, event, *args):
        self.sio.emit(event, *args)

    def call(self, event, payload, timeout=START):
        return self.sio.call(event, payload, timeout=timeout)

    def mark(self):
        with self.cond:
            return len(self.events)

    def wait(self, pred, since=0, timeout=RUN, what="event"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events[since:]:
                    if pred(ev[0], ev[1]):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(e, p if s < 400 else f"<{s} bytes>") for e, p, s in self.events[since:]][-30:]
                    raise AssertionError(f"timed out waiting for {what}; saw {seen}")
                self.cond.wait(left)

    def since(self, mark):
        with self.cond:
            return list(self.events[mark:])

    def error(self, since, event=None, timeout=15):
        return self.wait(lambda e, p: e == "error" and (event is None or p.get("event") == event), since,
                         timeout, f"error for {event}")[1]

    def restart(self, notebook_id):
        """Restart the kernel; wait for ``restarting`` and then ``idle``; the kernel_status seen."""
        m = self.mark()
        assert self.call("restart", {"notebook_id": notebook_id}, timeout=START)["ok"]
        self.wait(lambda e, p: e == "kernel_status" and p["status"] == "restarting", m, START, "restarting")
        r = next(i for i, (e, p, _) in enumerate(self.since(m), m) if e == "kernel_status" and p["status"] == "restarting")
        self.wait(lambda e, p: e == "kernel_status" and p["status"] == "idle", r, START, "idle after restart")
        return [p["status"] for e, p, _ in self.since(r) if e == "kernel_status"]

    def join(self, notebook_id):
        m = self.mark()
        ack = self.call("join", {"notebook_id": notebook_id})
        assert ack.get("ok"), ack
        self.wait(lambda e, p: e == "kernel_status" and p["notebook_id"] == notebook_id, m, START,
                  "kernel_status after join")
        return ack

    def run(self, notebook_id, cell_id, code, timeout=RUN):
        """Execute and wait for the cell to end; the events of the cell, in order."""
        m = self.mark()
        ack = self.call("execute", {"notebook_id": notebook_id, "cell_id": cell_id, "code": code})
        assert ack.get("ok"), ack
        self.wait(lambda e, p: e == "cell_status" and p.get("cell_id") == cell_id
                  and p.get("status") in ("done", "error"), m, timeout, f"end of cell {cell_id}")
        return [(e, p) for e, p, _ in self.since(m) if isinstance(p, dict) and p.get("cell_id") == cell_id]


def stdout_of(events):
    return "".join(p["text"] for e, p in events if e == "stream" and p["name"] == "stdout")


def status_of(events):
    return [p["status"] for e, p in events if e == "cell_status"]


def result_text(events):
    res = [p for e, p in events if e == "result"]
    assert res, events
    return res[-1]["data"]["text/plain"]


def assemble(events, chunk_event, final_event, key):
    """Reassemble chunked transfers by seq: {seq: (final payload, items)}."""
    chunks, out = {}, {}
    for e, p in events:
        if e == chunk_event:
            chunks.setdefault(p["seq"], []).append(p)
        elif e == final_event:
            parts = sorted(chunks.pop(p["seq"], []), key=lambda c: c["index"])
            assert [c["index"] for c in parts] == list(range(p["count"]))
            items = {k: [x for c in parts for x in c[k]] for k in key}
            out[p["seq"]] = (p, items)
    return out


@pytest.fixture
def owner(server, client_session):
    s = client_session(server)
    assert s.cookies, "the server set no session cookie"
    return s


@pytest.fixture
def live(server, owner):
    conns = []

    def connect(session=None, transport="websocket"):
        c = Live(server, session or owner, transport)
        conns.append(c)
        return c

    yield connect
    for c in conns:
        try:
            c.close()
        except Exception:
            pass


@pytest.fixture
def notebook(server, owner):
    return new_notebook(server, owner, cells=("", "", ""))


# ---------------------------------------------------------------------------------------------
# running cells
# ---------------------------------------------------------------------------------------------
def test_join_reports_kernel_and_device(live, notebook):
    c = live()
    m = c.mark()
    ack = c.join(notebook["id"])
    assert ack["notebook_id"] == notebook["id"]
    evs = c.since(m)
    names = [e for e, _, _ in evs]
    assert names[0] == "joined"
    dev = c.wait(lambda e, p: e == "device", m, 10, "device")[1]
    assert dev["device"] == "cpu" or dev["device"].startswith("cuda")
    assert all(p["notebook_id"] == notebook["id"] for _, p, _ in evs)


def test_cell_streams_and_returns_a_result(live, notebook):
    c = live()
    nb = notebook["id"]
    cell = notebook["cells"][0]["id"]
    c.join(nb)
    evs = c.run(nb, cell, "print('hello')\nprint('world')\n6 * 7")
    assert stdout_of(evs) == "hello\nworld\n"
    assert result_text(evs) == "42"
    st = status_of(evs)
    assert st[-1] == "done" and "running" in st and st.index("running") < len(st) - 1
    names = [e for e, _ in evs]
    assert names.index("stream") < names.index("result") < len(names) - 1  # output before done
    assert evs[-1][1].get("duration_ms") is not None


def test_state_persists_between_cells(live, notebook):
    c = live()
    nb = notebook["id"]
    a, b = notebook["cells"][0]["id"], notebook["cells"][1]["id"]
    c.join(nb)
    assert status_of(c.run(nb, a, "import torch\nt = torch.tensor([1.0, 2.0])\nk = 21"))[-1] == "done"
    evs = c.run(nb, b, "print(k * 2)\n(t * 2).tolist()")
    assert stdout_of(evs) == "42\n"
    assert result_text(evs) == "[2.0, 4.0]"  # 1*2, 2*2: exact, printed exactly


def test_user_error_is_a_cell_error(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    evs = c.run(nb, cell, "x = 1\n1 / 0")
    err = [p for e, p in evs if e == "cell_error"]
    assert err and err[0]["ename"] == "ZeroDivisionError"
    assert status_of(evs)[-1] == "error"


def test_seed_graph_and_backward_trace(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    code = ("import torch\n"
            "x = torch.tensor(3.0, requires_grad=True)\n"
            "w = torch.tensor(2.0, requires_grad=True)\n"
            "b = torch.tensor(1.0, requires_grad=True)\n"
            "y = w*x + b\n"
            "z = y**2\n"
            "z.backward()\n"
            "print(w.grad.item(), b.grad.item(), x.grad.item())\n")
    evs = c.run(nb, cell, code)
    assert status_of(evs)[-1] == "done", evs
    assert stdout_of(evs) == "42.0 14.0 28.0\n"

    graphs = assemble(evs, "graph_chunk", "graph", ("nodes", "edges", "groups"))
    assert len(graphs) == 1
    summary, g = next(iter(graphs.values()))
    nodes = g["nodes"]
    assert summary["node_count"] == len(nodes) and summary["edge_count"] == len(g["edges"])
    assert summary["group_count"] == len(g["groups"])
    ops = [n["op"] for n in nodes if n["kind"] != "leaf"]
    assert ops == ["MulBackward0", "AddBackward0", "PowBackward0"]
    leaves = [n for n in nodes if n["kind"] == "leaf"]
    assert len(leaves) == 3 and all(n["op"] == "leaf" for n in leaves)
    assert sorted(n["name"] for n in leaves) == ["b", "w", "x"]
    by_id = {n["id"]: n for n in nodes}
    mul, add, pw = (n for n in nodes if n["kind"] != "leaf")
    # each node carries its class's rule from the engine
    assert mul["rule"]["lines"] == ["grad_self = grad * other", "grad_other = grad * self"]
    assert pw["rule"]["forward"].startswith("result = self **") and len(pw["rule"]["lines"]) == 1
    assert all(n["rule"]["lines"] == ["leaf.grad += grad"] for n in leaves)
    assert all(by_id[i]["kind"] == "leaf" for i in mul["inputs"])
    assert add["inputs"][0] == mul["id"] and by_id[add["inputs"][1]]["kind"] == "leaf"
    assert pw["inputs"] == [add["id"]]
    assert (mul["line"], pw["line"]) == (5, 6)
    edges = {tuple(e) if isinstance(e, list) else (e["source"], e["target"]) for e in g["edges"]}
    assert (mul["id"], add["id"]) in edges and (add["id"], pw["id"]) in edges
    # the graph arrives before the cell's done
    names = [e for e, _ in evs]
    assert names.index("graph") < len(names) - 1

    traces = assemble(evs, "backward_trace_chunk", "backward_trace", ("steps",))
    assert len(traces) == 1
    tsum, t = next(iter(traces.values()))
    steps = t["steps"]
    assert tsum["step_count"] == len(steps) and tsum["pass_index"] == 0
    assert [s["op"] for s in steps] == ["PowBackward0", "AddBackward0", "AccumulateGrad", "MulBackward0",
                                        "AccumulateGrad", "AccumulateGrad"]
    # 2*7, 14*3, 14*2: products of small integers, exact in float32 on any machine
    assert steps[0]["grads_out"][0]["value"] == 14.0
    assert [gr["value"] for gr in steps[3]["grads_out"]] == [42.0, 28.0]
    acc = [s["grads_in"][0]["value"] for s in steps if s["op"] == "AccumulateGrad"]
    assert acc == [14.0, 42.0, 28.0]  # b, then w, then x: PyTorch's order
    assert [by_id[s["leaf"]]["name"] for s in steps if s["op"] == "AccumulateGrad"] == ["b", "w", "x"]

    # a node's value and grad on demand, answered to the asking client only
    watcher = live()
    watcher.join(nb)
    wm = watcher.mark()
    m = c.mark()
    w_leaf = by_id[steps[4]["leaf"]]
    ack = c.call("get_value", {"notebook_id": nb, "node_id": w_leaf["id"], "which": "grad", "request_id": "r-1"},
                 timeout=RUN)
    assert ack.get("ok"), ack
    val = c.wait(lambda e, p: e == "node_value" and p.get("request_id") == "r-1", m, RUN, "node_value")[1]
    assert val["node_id"] == w_leaf["id"] and val["which"] == "grad"
    assert val["stats"]["max"] == 42.0  # 14*3 (above): exact
    assert val["shape"] == [] and val["values"] == [42.0]
    time.sleep(0.2)
    assert not [e for e, _, _ in watcher.since(wm) if e == "node_value"]


def test_metrics_from_summary_writer_arrive_throttled(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    n = 300
    code = ("import time\n"
            "from torch.utils.tensorboard import SummaryWriter\n"
            "w = SummaryWriter()\n"
            f"for i in range({n}):\n"
            "    w.add_scalar('loss', 1.0 / (i + 1), i)\n"
            "    w.add_scalar('acc', i / 1000, global_step=i)\n"
            "    time.sleep(0.004)\n"
            "w.close()\n")
    m = c.mark()
    t0 = time.monotonic()
    evs = c.run(nb, cell, code)
    elapsed = time.monotonic() - t0
    assert status_of(evs)[-1] == "done", evs
    msgs = [p for e, p, _ in c.since(m) if e == "metrics" and p["notebook_id"] == nb]
    assert msgs
    points = [pt for p in msgs for pt in p["points"]]
    assert sum(p["coalesced"] for p in msgs) == 0  # under 2,000 points per interval: every point
    loss = [pt for pt in points if pt["tag"] == "loss"]
    assert [pt["step"] for pt in loss] == list(range(n))
    # 1/1 is exact; 1/300 is at worst stored as float32: 2**-24 / 300 = 2e-10 off, far below 1e-6
    assert loss[0]["value"] == 1.0 and abs(loss[-1]["value"] - 1.0 / n) < 1e-6
    assert [pt["step"] for pt in points if pt["tag"] == "acc"] == list(range(n))
    # throttled: at most 10 messages a second (plus the first and the final flush)
    assert len(msgs) <= elapsed * 10 + 2, (len(msgs), elapsed)
    assert len(msgs) < n  # merged, not one message per point


def test_non_finite_metrics_and_many_prints(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    code = ("from torch.utils.tensorboard import SummaryWriter\n"
            "w = SummaryWriter()\n"
            "w.add_scalar('loss', float('nan'), 0)\n"
            "w.add_scalars('run', {'a': 1.0, 'b': 2.0}, 1)\n"
            "for i in range(5000):\n"
            "    print(i)\n")
    m = c.mark()
    evs = c.run(nb, cell, code)
    assert status_of(evs)[-1] == "done", evs
    assert stdout_of(evs) == "".join(f"{i}\n" for i in range(5000))
    assert len([e for e, _ in evs if e == "stream"]) < 500  # coalesced, not one message per print
    points = [pt for e, p, _ in c.since(m) if e == "metrics" for pt in p["points"]]
    loss = [pt for pt in points if pt["tag"] == "loss"]
    assert len(loss) == 1 and loss[0]["value"] == "NaN"
    assert sorted(pt["value"] for pt in points if pt["tag"] != "loss") == [1.0, 2.0]  # literals passed through: exact


def test_a_diverging_loss_reaches_the_client_as_nan(live, notebook):
    """Non-finite numbers are sent as the strings "NaN", "Infinity" and "-Infinity" (plain JSON has
    no such numbers): in metrics, and in every other message (here a gradient summary)."""
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    code = ("import torch\n"
            "from torch.utils.tensorboard import SummaryWriter\n"
            "w = SummaryWriter()\n"
            "loss = torch.tensor(1.0)\n"
            "for i in range(4):\n"
            "    w.add_scalar('loss', loss, i)\n"
            "    loss = loss * 1e30\n"  # float32: 1e30, then inf
            "w.add_scalar('loss', loss - loss, 4)\n"  # inf - inf
            "w.add_scalars('run', {'low': float('-inf')}, 0)\n"
            "x = torch.tensor(float('nan'), requires_grad=True)\n"
            "(x * x).backward()\n")
    m = c.mark()
    evs = c.run(nb, cell, code)
    assert status_of(evs)[-1] == "done", evs
    points = [pt for e, p, _ in c.since(m) if e == "metrics" for pt in p["points"]]
    loss = [pt["value"] for pt in points if pt["tag"] == "loss"]
    assert loss[0] == 1.0 and loss[1] > 1e29 and loss[2:] == ["Infinity", "Infinity", "NaN"]
    assert [pt["value"] for pt in points if pt["tag"] == "run/low"] == ["-Infinity"]
    _, t = next(iter(assemble(evs, "backward_trace_chunk", "backward_trace", ("steps",)).values()))
    mul = next(s for s in t["steps"] if s["op"] == "MulBackward0")
    assert [g["value"] for g in mul["grads_out"]] == ["NaN", "NaN"]


def test_interrupt_a_busy_loop(live, notebook):
    c = live()
    nb, a, b = notebook["id"], notebook["cells"][0]["id"], notebook["cells"][1]["id"]
    c.join(nb)
    m = c.mark()
    assert c.call("execute", {"notebook_id": nb, "cell_id": a, "code": "n = 0\nwhile True:\n    n += 1\n"})["ok"]
    c.wait(lambda e, p: e == "cell_status" and p["cell_id"] == a and p["status"] == "running", m, START, "running")
    time.sleep(0.3)
    assert c.call("interrupt", {"notebook_id": nb}, timeout=RUN)["ok"]
    c.wait(lambda e, p: e == "cell_status" and p["cell_id"] == a and p["status"] == "error", m, 30, "interrupted")
    err = [p for e, p, _ in c.since(m) if e == "cell_error" and p["cell_id"] == a]
    assert err and err[0]["ename"] == "KeyboardInterrupt"
    evs = c.run(nb, b, "n > 0")  # same kernel, state kept
    assert result_text(evs) == "True"


def test_interrupt_right_after_execute_is_not_lost(live, notebook):
    """An interrupt that reaches the kernel before the cell's code has begun is held until it has:
    the cell still ends with KeyboardInterrupt instead of running on."""
    c = live()
    nb, a, b = notebook["id"], notebook["cells"][0]["id"], notebook["cells"][1]["id"]
    c.join(nb)
    assert status_of(c.run(nb, b, "1"))[-1] == "done"  # the kernel is up: the next cell runs at once
    # a long literal makes the kernel spend a while compiling before the loop starts: the window in
    # which a SIGINT used to be ignored
    code = "data = [" + ",".join(["1.5"] * 20000) + "]\nwhile True:\n    pass\n"
    for _ in range(3):
        m = c.mark()
        assert c.call("execute", {"notebook_id": nb, "cell_id": a, "code": code})["ok"]
        assert c.call("interrupt", {"notebook_id": nb}, timeout=RUN)["ok"]  # no wait for "running"
        c.wait(lambda e, p: e == "cell_status" and p["cell_id"] == a and p["status"] == "error", m, 30, "interrupted")
        err = [p for e, p, _ in c.since(m) if e == "cell_error" and p["cell_id"] == a]
        assert err and err[0]["ename"] == "KeyboardInterrupt"
    evs = c.run(nb, b, "print('next cell runs')")  # and nothing is left pending for the next cell
    assert status_of(evs)[-1] == "done" and stdout_of(evs) == "next cell runs\n"


def test_restart_gives_a_fresh_kernel(live, notebook):
    c = live()
    nb, a, b = notebook["id"], notebook["cells"][0]["id"], notebook["cells"][1]["id"]
    c.join(nb)
    assert status_of(c.run(nb, a, "secret = 7"))[-1] == "done"
    statuses = c.restart(nb)
    assert statuses[0] == "restarting" and statuses[-1] == "idle"
    evs = c.run(nb, b, "secret")
    err = [p for e, p in evs if e == "cell_error"]
    assert err and err[0]["ename"] == "NameError"


def test_kernel_crash_reaches_the_client(live, notebook):
    c = live()
    nb, a, b = notebook["id"], notebook["cells"][0]["id"], notebook["cells"][1]["id"]
    c.join(nb)
    m = c.mark()
    evs = c.run(nb, a, "import os, signal\nprint('going down', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n",
                timeout=START)
    assert status_of(evs)[-1] == "error"
    dead = c.wait(lambda e, p: e == "kernel_status" and p["status"] == "dead", m, 30, "kernel dead")[1]
    assert dead.get("reason")
    # the client can go on: restart and run
    assert c.restart(nb)[-1] == "idle"
    assert result_text(c.run(nb, b, "1 + 1")) == "2"


def test_outputs_are_persisted(server, owner, live, notebook):
    c = live()
    nb, cell, bad = notebook["id"], notebook["cells"][0]["id"], notebook["cells"][1]["id"]
    c.join(nb)
    c.run(nb, cell, "for i in range(3):\n    print('line', i)\n'the end'")
    c.run(nb, bad, "raise ValueError('nope')")
    got = owner.get(f"{server.url}/api/notebooks/{nb}", timeout=10).json()
    cells = {x["id"]: x for x in got["cells"]}
    outs = cells[cell]["outputs"]
    assert [o["output_type"] for o in outs] == ["stream", "execute_result"]
    assert outs[0]["name"] == "stdout" and outs[0]["text"] == "line 0\nline 1\nline 2\n"
    assert outs[1]["data"]["text/plain"] == "'the end'"
    assert cells[cell]["status"] == "done" and cells[cell]["execution_count"] is not None
    err = cells[bad]["outputs"]
    assert err[-1]["output_type"] == "error" and err[-1]["ename"] == "ValueError"
    assert cells[bad]["status"] == "error"


def test_large_graph_is_chunked_under_1mb(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    code = ("import torch\n"
            "x = torch.ones(4, requires_grad=True)\n"
            "y = x\n"
            "for i in range(1500):\n"
            "    y = y * 1.0001\n"
            "y.sum().backward()\n")
    m = c.mark()
    evs = c.run(nb, cell, code, timeout=START)
    assert status_of(evs)[-1] == "done", evs
    sizes = [s for _, _, s in c.since(m)]
    assert max(sizes) < 1_000_000
    chunks = [p for e, p in evs if e == "graph_chunk"]
    assert len(chunks) >= 2  # really chunked
    summary, g = next(iter(assemble(evs, "graph_chunk", "graph", ("nodes", "edges", "groups")).values()))
    assert summary["node_count"] == len(g["nodes"]) >= 1502
    assert [n["op"] for n in g["nodes"]].count("MulBackward0") == 1500
    tsum, t = next(iter(assemble(evs, "backward_trace_chunk", "backward_trace", ("steps",)).values()))
    assert tsum["step_count"] == len(t["steps"]) >= 1502


# ---------------------------------------------------------------------------------------------
# refusing what is malformed or not allowed
# ---------------------------------------------------------------------------------------------
BAD = [
    ("execute", ({"notebook_id": 5, "cell_id": "c", "code": "1"},), "notebook_id"),  # wrong type
    ("execute", ({"notebook_id": "NB", "cell_id": "c"},), "code"),  # missing field
    ("execute", ({"notebook_id": "NB", "cell_id": "c", "code": 123},), "code"),  # wrong type
    ("execute", ({"notebook_id": "NB", "cell_id": "c", "code": "1", "evil": True},), "evil"),  # unknown field
    ("execute", ("print(1)",), "one JSON object"),  # not a dict
    ("execute", ([1, 2, 3],), "one JSON object"),
    ("join", (), "one JSON object"),  # no payload
    ("join", ({"notebook_id": "x" * 65},), "notebook_id"),  # over-long id
    ("get_value", ({"notebook_id": "NB", "node_id": "1", "which": "value", "request_id": "r"},), "node_id"),
    ("get_value", ({"notebook_id": "NB", "node_id": 1, "which": "both", "request_id": "r"},), "which"),
    ("interrupt", (None,), "one JSON object"),
    ("frobnicate", ({"notebook_id": "NB"},), "unknown event"),
]


def test_malformed_messages_get_errors_and_the_connection_stays(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    sid = c.sio.sid
    for event, args, needle in BAD:
        args = tuple(json.loads(json.dumps(a).replace('"NB"', json.dumps(nb))) for a in args)
        m = c.mark()
        c.emit(event, *args)
        err = c.error(m, event)
        assert needle in err["reason"], (event, args, err)
    # a huge string, under the 1 MB transport limit but over the code limit
    m = c.mark()
    c.emit("execute", {"notebook_id": nb, "cell_id": cell, "code": "#" * 600_000})
    assert "code" in c.error(m, "execute")["reason"]
    # an ack'd call gets the refusal in its ack too
    ack = c.call("execute", {"notebook_id": nb, "cell_id": 7, "code": "1"}, timeout=10)
    assert ack["ok"] is False and "cell_id" in ack["reason"]
    # still the same live connection, still joined, still running cells
    assert c.sio.connected and c.sio.sid == sid
    assert result_text(c.run(nb, cell, "'still here'")) == "'still here'"


def test_malformed_messages_over_polling(live, notebook):
    c = live(transport="polling")
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    m = c.mark()
    c.emit("execute", {"notebook_id": nb, "cell_id": cell})
    assert "code" in c.error(m, "execute")["reason"]
    assert result_text(c.run(nb, cell, "3 * 3")) == "9"


def test_joining_someone_elses_notebook_is_refused(server, client_session, live, notebook):
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    mine = live()
    mine.join(nb)
    other = live(client_session(server))
    m = other.mark()
    ack = other.call("join", {"notebook_id": nb}, timeout=30)
    assert ack["ok"] is False
    err = other.error(m, "join")
    assert err["reason"] == "notebook not found"
    # unknown id: the same answer
    m = other.mark()
    other.emit("join", {"notebook_id": "no-such-notebook"})
    assert other.error(m, "join")["reason"] == "notebook not found"
    # not joined: cannot act on it, and hears nothing of it
    for event, payload in [("execute", {"notebook_id": nb, "cell_id": cell, "code": "print('pwned')"}),
                           ("interrupt", {"notebook_id": nb}), ("restart", {"notebook_id": nb}),
                           ("get_value", {"notebook_id": nb, "node_id": 0, "which": "value", "request_id": "x"})]:
        m = other.mark()
        other.emit(event, payload)
        assert other.error(m, event)["reason"] == "not joined to this notebook"
    m = other.mark()
    evs = mine.run(nb, cell, "print('mine')")
    assert stdout_of(evs) == "mine\n"  # the refused execute never ran
    time.sleep(0.3)
    assert not [e for e, p, _ in other.since(m) if isinstance(p, dict) and p.get("notebook_id") == nb]


def test_connection_without_cookie_can_join_nothing(server, notebook):
    sio = in_order(socketio.Client(reconnection=False))
    got = []
    sio.on("error", lambda p: got.append(p))
    sio.connect(server.url, transports=["websocket"], wait_timeout=20)
    try:
        ack = sio.call("join", {"notebook_id": notebook["id"]}, timeout=30)
        assert ack == {"ok": False, "reason": "notebook not found"}
    finally:
        sio.disconnect()


def test_leave_stops_events(live, notebook):
    c = live()
    second = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    second.join(nb)
    evs = c.run(nb, cell, "print('both')")
    assert stdout_of(evs) == "both\n"
    second.wait(lambda e, p: e == "stream" and p["text"] == "both\n", 0, 10, "stream on the second tab")
    assert second.call("leave", {"notebook_id": nb}, timeout=10)["ok"]
    m = second.mark()
    c.run(nb, cell, "print('only one')")
    time.sleep(0.3)
    assert not [e for e, p, _ in second.since(m) if e == "stream"]
    second.emit("execute", {"notebook_id": nb, "cell_id": cell, "code": "1"})
    assert second.error(m, "execute")["reason"] == "not joined to this notebook"


def test_a_message_over_the_transport_limit_drops_only_that_connection(live, notebook):
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    big = live()
    big.join(nb)
    big.emit("execute", {"notebook_id": nb, "cell_id": cell, "code": "#" * 1_500_000})
    deadline = time.monotonic() + 20
    while big.sio.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not big.sio.connected  # Engine.IO cut it (max_http_buffer_size = 1 MB)
    assert not [p for e, p, _ in big.since(0) if e == "cell_status" and p.get("status") == "running"]
    fresh = live()  # the server is fine
    fresh.join(nb)
    assert result_text(fresh.run(nb, cell, "'ok'")) == "'ok'"


def test_execute_on_a_deleted_notebook_is_refused(server, owner, live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    assert owner.delete(f"{server.url}/api/notebooks/{nb}", timeout=30).status_code == 200
    m = c.mark()
    ack = c.call("execute", {"notebook_id": nb, "cell_id": cell, "code": "print('ghost')"}, timeout=30)
    assert ack == {"ok": False, "reason": "notebook not found"}
    assert c.error(m, "execute")["reason"] == "notebook not found"
    c.emit("restart", {"notebook_id": nb})  # and it is no longer joined
    assert c.error(m, "restart")["reason"] == "not joined to this notebook"


def test_big_output_keeps_the_kernel_and_the_notebook_stays_small(server, owner, live, notebook):
    c = live()
    nb, cell, other = notebook["id"], notebook["cells"][0]["id"], notebook["cells"][1]["id"]
    c.join(nb)
    assert status_of(c.run(nb, cell, "kept = 41"))[-1] == "done"
    evs = c.run(nb, cell, "print('x' * 263_000)")  # one write over the protocol's 256 KiB message cap
    assert status_of(evs)[-1] == "done", evs
    assert stdout_of(evs) == "x" * 263_000 + "\n"
    evs = c.run(nb, other, "class Big:\n    def __repr__(self):\n        return 'y' * 6_000_000\n"
                           "for _ in range(10):\n    display(Big())\n'x' * 9_000_000")
    assert status_of(evs)[-1] == "done", evs
    assert result_text(c.run(nb, cell, "kept + 1")) == "42"  # the kernel and its variables survived
    got = owner.get(f"{server.url}/api/notebooks/{nb}", timeout=10)
    assert len(got.content) < 1_200_000  # 10 x 6 MB + 9 MB of results, persisted within the 1 MB limit
    outs = {x["id"]: x for x in got.json()["cells"]}[other]["outputs"]
    assert any("6,000,000 characters" in o.get("data", {}).get("text/plain", "") for o in outs)


def test_kill9_mid_cell_keeps_what_was_shown(server, owner, live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    m = c.mark()
    code = "import time\nfor i in range(3):\n    print('line', i, flush=True)\ntime.sleep(120)"
    assert c.call("execute", {"notebook_id": nb, "cell_id": cell, "code": code})["ok"]
    c.wait(lambda e, p: e == "stream" and "line 2" in p["text"], m, START, "the lines")

    def saved():
        got = owner.get(f"{server.url}/api/notebooks/{nb}", timeout=10).json()
        return {x["id"]: x for x in got["cells"]}[cell]

    deadline = time.monotonic() + 10  # saved within a checkpoint interval (1 s) of being shown
    while "line 2" not in "".join(o.get("text", "") for o in saved()["outputs"]):
        assert time.monotonic() < deadline, saved()
        time.sleep(0.1)
    assert saved()["status"] == "running"
    server.kill9()  # mid-cell
    server.start()
    after = saved()
    assert after["outputs"][0]["text"] == "line 0\nline 1\nline 2\n"
    assert after["status"] == "error"
    assert after["outputs"][-1]["ename"] == "RunInterrupted" and "server stopped" in after["outputs"][-1]["evalue"]
