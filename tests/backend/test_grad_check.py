"""``check_grad`` → ``grad_check`` (docs/protocol.md, "Gradient check") against the real server process:
a node's analytic gradient compared with central finite differences, computed in the kernel."""
import time

import pytest

from tests.backend.test_realtime import RUN, assemble, live, new_notebook, notebook, owner  # noqa: F401  (fixtures)

WXB = ("import torch\n"
       "x = torch.tensor(3.0, requires_grad=True)\n"
       "w = torch.tensor(2.0, requires_grad=True)\n"
       "b = torch.tensor(1.0, requires_grad=True)\n"
       "y = w*x + b\n"
       "z = y**2\n"
       "z.backward()\n")

MLP = ("import torch, torch.nn as nn, torch.nn.functional as F\n"
       "torch.manual_seed(0)\n"
       "model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))\n"
       "x = torch.randn(32, 20)\n"
       "target = torch.randn(32, 3)\n"
       "loss = F.mse_loss(model(x), target)\n"
       "loss.backward()\n")


def graph_nodes(events):
    graphs = assemble(events, "graph_chunk", "graph", ("nodes", "edges", "groups"))
    assert len(graphs) == 1, events
    return next(iter(graphs.values()))[1]["nodes"]


def check(c, nb, node_id, request_id):
    m = c.mark()
    ack = c.call("check_grad", {"notebook_id": nb, "node_id": node_id, "request_id": request_id}, timeout=RUN)
    assert ack.get("ok"), ack
    return c.wait(lambda e, p: e == "grad_check" and p.get("request_id") == request_id, m, RUN, "grad_check")[1]


def test_wxb_nodes_check_ok_and_only_the_asker_hears(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    nodes = graph_nodes(c.run(nb, cell, WXB))
    by_op = {n["op"]: n for n in nodes}
    watcher = live()
    watcher.join(nb)
    wm = watcher.mark()
    for op, n_inputs in (("MulBackward0", 2), ("AddBackward0", 2), ("PowBackward0", 1)):
        node = by_op[op]
        res = check(c, nb, node["id"], "gc-" + op)
        assert res["notebook_id"] == nb and res["node_id"] == node["id"]
        assert res["ok"] is True, res
        assert res["reason"] is None
        assert 0 < res["eps"] <= 1e-5
        assert res["cotangent"] == "recorded"  # the gradient that flowed into the node in backward()
        assert [i["index"] for i in res["inputs"]] == list(range(n_inputs))
        for inp in res["inputs"]:
            assert inp["node"] == node["inputs"][inp["index"]]
            assert inp["checked"] == 1 and inp["ok"] is True
            # float64 central differences, eps = 1e-6, of f = cot*node(v) (cot = 1 or 14), linear or
            # quadratic in each input: no truncation error.  Rounding x+-eps moves the step by
            # <= ulp(7)/2 = 4.4e-16 (4.4e-10 relative, * |g| <= 42: 1.9e-8), and f (|f| <= 98) is off
            # by <= 2 ulp = 2.8e-14 in each of f(x+eps), f(x-eps): /(2 eps) 2.8e-8.  <= 4.7e-8
            # absolute, <= 3.4e-9 relative (|g| >= 14), scalar IEEE operations on any machine: 1e-6
            # is a 21x margin.
            assert inp["max_abs_diff"] < 1e-6 and inp["max_rel_diff"] < 1e-6
            assert inp["analytic_norm"] == pytest.approx(inp["numeric_norm"], rel=1e-6)
    # d z / d w = 2 y x = 42 flows out of MulBackward0 into w; the analytic gradients 14*3 and 14*2
    # are exact in float64 and the norm of one element is its magnitude: equal after round(.., 6)
    mul = check(c, nb, by_op["MulBackward0"]["id"], "gc-mul-again")
    assert [round(i["analytic_norm"], 6) for i in mul["inputs"]] == [42.0, 28.0]
    time.sleep(0.2)
    assert not [e for e, _, _ in watcher.since(wm) if e == "grad_check"]


def test_a_leaf_or_an_unknown_node_gets_a_reason(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    m = c.mark()
    c.join(nb)
    c.wait(lambda e, p: e == "kernel_status" and p["status"] == "idle", m, 120, "idle kernel")
    res = check(c, nb, 0, "before-any-graph")
    assert res["ok"] is False and "run a cell" in res["reason"]
    nodes = graph_nodes(c.run(nb, cell, WXB))
    leaf = next(n for n in nodes if n["kind"] == "leaf")
    res = check(c, nb, leaf["id"], "leaf")
    assert res["ok"] is False and res["inputs"] == []
    assert "available for op nodes" in res["reason"]
    res = check(c, nb, 9999, "nosuch")
    assert res["ok"] is False and "no node 9999" in res["reason"]


def test_linear_relu_mse_graph_checks_ok(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    nodes = graph_nodes(c.run(nb, cell, MLP))
    addmm = [n for n in nodes if n["op"] == "AddmmBackward0"]
    assert len(addmm) == 2
    for k, node in enumerate(addmm):
        res = check(c, nb, node["id"], f"addmm-{k}")
        assert res["ok"] is True, res
        checked = {i["index"]: i for i in res["inputs"]}
        # bias and weight get gradients; the first layer's input x needs none
        assert set(checked) == ({0, 2} if k == 0 else {0, 1, 2})
        # In float64 the loss sum(cot * (x @ W.T + b)) is linear in every checked element (no truncation
        # error) and adds K + n = 21 + 512 terms (first Linear) whose magnitudes sum to S = 2.6: any
        # summation order is within (K + n) * 2**-53 * S = 1.5e-13, /eps = 1e-6: <= 1.5e-7 per
        # derivative (second Linear: 1.5e-8); the backend's own ok-test (1e-5 + 1e-3*|g|) is wider still.
        for inp in res["inputs"]:
            assert inp["checked"] > 0 and inp["max_abs_diff"] < 1e-6, inp
    for op in ("ReluBackward0", "MseLossBackward0", "TBackward0"):
        node = next(n for n in nodes if n["op"] == op)
        res = check(c, nb, node["id"], "n-" + op)
        assert res["ok"] is True, res
    # an optimizer step changes the parameters in place: still checked, at the current values, and said so
    c.run(nb, notebook["cells"][1]["id"], "torch.optim.SGD(model.parameters(), lr=0.1).step()")
    res = check(c, nb, addmm[0]["id"], "after-step")
    assert res["ok"] is True and "changed in place" in res["note"]


def test_an_unsupported_op_says_so(live, notebook):
    c = live()
    nb, cell = notebook["id"], notebook["cells"][0]["id"]
    c.join(nb)
    nodes = graph_nodes(c.run(nb, cell, "import torch\nx = torch.randn(4, 3, requires_grad=True)\n"
                                        "v, i = x.max(1)\nv.sum().backward()\n"))
    node = next(n for n in nodes if n["kind"] != "leaf" and n["op"] != "SumBackward0")
    res = check(c, nb, node["id"], "unsupported")
    assert res["ok"] is False and res["reason"] == f"no forward rule for {node['op']}"


def test_refused_when_not_joined_or_malformed(server, client_session, live, notebook):
    nb = notebook["id"]
    c = live()
    c.join(nb)
    for payload, needle in (({"notebook_id": nb, "node_id": "1", "request_id": "r"}, "node_id"),
                            ({"notebook_id": nb, "node_id": -1, "request_id": "r"}, "node_id"),
                            ({"notebook_id": nb, "node_id": 1}, "request_id"),
                            ({"notebook_id": nb, "node_id": 1, "request_id": "r", "which": "grad"}, "which")):
        m = c.mark()
        c.emit("check_grad", payload)
        assert needle in c.error(m, "check_grad")["reason"]
    ack = c.call("check_grad", {"notebook_id": nb, "node_id": 1, "request_id": "x" * 65}, timeout=10)
    assert ack["ok"] is False and "request_id" in ack["reason"]
    # another owner's client, not joined: refused, and no answer ever comes
    other = live(client_session(server))
    m = other.mark()
    other.emit("check_grad", {"notebook_id": nb, "node_id": 0, "request_id": "spy"})
    assert other.error(m, "check_grad")["reason"] == "not joined to this notebook"
    time.sleep(0.3)
    assert not [e for e, _, _ in other.since(m) if e == "grad_check"]
    assert c.sio.connected
