"""backend.protocol: inbound validation, outbound models, chunking; docs/protocol.md covers every event."""
import json
import math
import os
import re
import subprocess
import sys

import pytest

from backend import protocol as P
from backend.realtime.outbox import thin_points

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def refused(event, *args):
    with pytest.raises(P.ProtocolError) as info:
        P.parse_inbound(event, args)
    assert info.value.event == event
    return info.value.reason


def test_valid_messages_parse():
    m = P.parse_inbound("execute", ({"notebook_id": "nb1", "cell_id": "c1", "code": "print(1)"},))
    assert isinstance(m, P.ExecuteIn) and m.code == "print(1)" and m.room() == "nb:nb1"
    g = P.parse_inbound("get_value", ({"notebook_id": "nb1", "node_id": 3, "which": "grad", "request_id": "r"},))
    assert (g.node_id, g.which) == (3, "grad")
    for ev in ("join", "leave", "interrupt", "restart"):
        assert P.parse_inbound(ev, ({"notebook_id": "nb1"},)).notebook_id == "nb1"


@pytest.mark.parametrize("payload,needle", [
    ({"notebook_id": 1, "cell_id": "c", "code": ""}, "notebook_id"),
    ({"notebook_id": "n", "cell_id": "c", "code": 5}, "code"),
    ({"notebook_id": "n", "cell_id": None, "code": ""}, "cell_id"),
    ({"notebook_id": "n", "cell_id": "", "code": ""}, "cell_id"),
    ({"notebook_id": "n", "cell_id": "c" * 65, "code": ""}, "cell_id"),
    ({"notebook_id": "n", "cell_id": "c"}, "code"),
    ({"notebook_id": "n", "cell_id": "c", "code": "", "x": 1}, "x"),
    ({"notebook_id": "", "cell_id": "c", "code": ""}, "notebook_id"),
    ({"notebook_id": "n" * 65, "cell_id": "c", "code": ""}, "notebook_id"),
    ({"notebook_id": "n", "cell_id": "c", "code": "x" * (P.MAX_CODE_BYTES + 1)}, "code"),
    ({"notebook_id": "n", "cell_id": "c", "code": "é" * (P.MAX_CODE_BYTES // 2 + 1)}, "code"),  # bytes, not chars
])
def test_execute_refusals(payload, needle):
    assert needle in refused("execute", payload)


def test_code_at_the_limit_is_accepted():
    P.parse_inbound("execute", ({"notebook_id": "n", "cell_id": "c", "code": "x" * P.MAX_CODE_BYTES},))


@pytest.mark.parametrize("payload,needle", [
    ({"notebook_id": "n", "node_id": "1", "which": "value", "request_id": "r"}, "node_id"),
    ({"notebook_id": "n", "node_id": 1.0, "which": "value", "request_id": "r"}, "node_id"),
    ({"notebook_id": "n", "node_id": True, "which": "value", "request_id": "r"}, "node_id"),
    ({"notebook_id": "n", "node_id": -1, "which": "value", "request_id": "r"}, "node_id"),
    ({"notebook_id": "n", "node_id": 1, "which": "data", "request_id": "r"}, "which"),
    ({"notebook_id": "n", "node_id": 1, "which": "value"}, "request_id"),
])
def test_get_value_refusals(payload, needle):
    assert needle in refused("get_value", payload)


@pytest.mark.parametrize("args", [(), ("text",), ([1],), (None,), (1,), ({"notebook_id": "n"}, {"notebook_id": "n"})])
def test_payload_must_be_one_object(args):
    assert refused("join", *args) == "payload must be one JSON object"


def test_unknown_event():
    assert refused("eval", {"code": "1"}) == "unknown event"


def test_models_are_frozen_and_strict():
    m = P.parse_inbound("join", ({"notebook_id": "n"},))
    with pytest.raises(Exception):
        m.notebook_id = "other"
    assert P.ExecuteIn.model_config["strict"] is True


def test_chunk_items_respects_the_budget():
    items = [{"id": i, "op": "MulBackward0", "pad": "x" * (i % 700)} for i in range(3000)]
    chunks, omitted = P.chunk_items(items, budget=64 * 1024)
    assert omitted == 0 and len(chunks) > 1
    assert [x for c in chunks for x in c] == items  # order kept, nothing lost
    assert all(P.json_size(c) <= 64 * 1024 for c in chunks)


def test_chunk_items_leaves_out_a_giant_item():
    chunks, omitted = P.chunk_items([{"a": 1}, {"b": "x" * 5000}, {"c": 2}], budget=1000)
    assert omitted == 1 and [x for c in chunks for x in c] == [{"a": 1}, {"c": 2}]
    assert P.chunk_items([]) == ([], 0)


def test_outbound_models_match_emitted_shapes():
    P.GraphChunkOut(notebook_id="n", cell_id="c", seq=1, index=0, count=1, nodes=[], edges=[])
    P.MetricsOut(notebook_id="n", points=[{"tag": "loss", "step": 1, "value": 0.5, "wall": 1.0}])
    P.CellStatusOut(notebook_id="n", cell_id="c", status="done", duration_ms=3.0)
    with pytest.raises(Exception):
        P.CellStatusOut(notebook_id="n", cell_id="c", status="finished")
    P.ErrorOut(reason="unknown event", event="x")


def test_non_finite_floats_become_strings():
    msg = P.outbound("node_value", {"notebook_id": "n", "request_id": "r", "node_id": 0, "which": "value",
                                    "shape": [4], "dtype": "float32", "stats": None,
                                    "values": [1.0, math.nan, math.inf, -math.inf]})
    out = json.loads(P.WireJSON.dumps(msg))
    assert out["values"] == [1.0, "NaN", "Infinity", "-Infinity"]
    json.dumps(out, allow_nan=False)


def test_thin_keeps_each_tags_last_point():
    pts = [{"tag": t, "step": i, "value": float(i), "wall": i + (0.5 if t == "b" else 0)}
           for i in range(5000) for t in ("a", "b")]
    kept, dropped = thin_points(pts, 2000)
    assert len(kept) <= 2000 and dropped == len(pts) - len(kept)
    for t in ("a", "b"):
        steps = [p["step"] for p in kept if p["tag"] == t]
        assert steps[-1] == 4999 and steps == sorted(steps)


def test_docs_cover_every_event():
    with open(os.path.join(ROOT, "docs", "protocol.md")) as f:
        doc = f.read()
    for event in list(P.INBOUND) + list(P.OUTBOUND):
        assert re.search(rf"`{event}`", doc), f"docs/protocol.md does not describe `{event}`"


def test_generated_typescript_types_are_current():
    """frontend/src/generated/protocol.ts is what tools/gen_protocol_ts.py writes from the models."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_protocol_ts.py"), "--check"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_outbound_models_send_every_field_and_refuse_unknown_ones():
    msg = json.loads(P.WireJSON.dumps(P.outbound("kernel_status", {"notebook_id": "n", "status": "idle"})))
    assert msg == {"notebook_id": "n", "status": "idle", "reason": None}
    with pytest.raises(Exception):
        P.outbound("kernel_status", {"notebook_id": "n", "status": "idle", "extra": 1})
    with pytest.raises(Exception):
        P.outbound("stream", {"notebook_id": "n", "cell_id": "c", "name": "stdout", "text": 5})
