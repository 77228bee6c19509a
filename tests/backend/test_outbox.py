"""backend/realtime/outbox.py without a server: what is emitted, in which order, in which size."""
import itertools
import json
import math
import time

from backend import protocol as P
from backend.realtime.outbox import Outbox, emit


class Sink:
    """Stands in for the SocketIO object: records each emit as the client would decode it."""

    def __init__(self):
        self.sent = []

    def emit(self, event, message, to=None):
        self.sent.append((event, json.loads(P.WireJSON.dumps(message)), to))

    def events(self):
        return [e for e, _, _ in self.sent]


def box():
    sink = Sink()
    return sink, Outbox(sink, "nb1", itertools.count(1))


def test_every_message_is_built_by_its_model():
    sink = Sink()
    assert emit(sink, "cell_status", {"notebook_id": "n", "cell_id": "c", "status": "done"}, "room")
    assert sink.sent == [("cell_status", {"notebook_id": "n", "cell_id": "c", "status": "done", "duration_ms": None,
                                          "execution_count": None}, "room")]
    assert not emit(sink, "cell_status", {"notebook_id": "n", "cell_id": "c", "status": "finished"}, "room")
    assert not emit(sink, "no_such_event", {"notebook_id": "n"}, "room")
    assert len(sink.sent) == 1  # the two bad ones were not sent


def test_stream_text_is_flushed_before_anything_else():
    sink, b = box()
    b.stream("c1", "stdout", "a")  # the first one goes at once
    b.stream("c1", "stdout", "b")
    b.stream("c1", "stdout", "c")  # coalesced with "b"
    b.stream("c1", "stderr", "!")
    b.send("result", {"cell_id": "c1", "data": {"text/plain": "1"}, "execution_count": 1})
    assert [(e, p.get("text")) for e, p, _ in sink.sent] == [
        ("stream", "a"), ("stream", "bc"), ("stream", "!"), ("result", None)]
    assert all(p["notebook_id"] == "nb1" and to == "nb:nb1" for _, p, to in sink.sent)


def test_metrics_are_throttled_merged_and_thinned():
    sink, b = box()
    pt = lambda i: {"tag": "loss", "step": i, "value": 1.0 / (i + 1), "wall": float(i)}  # noqa: E731
    b.metrics([pt(0)])  # the first message goes at once
    for i in range(1, 3001):
        b.metrics([pt(i)])
    assert sink.events() == ["metrics"]
    time.sleep(1.5 / P.METRICS_MAX_RATE)  # the timer's flush
    assert sink.events() == ["metrics", "metrics"]
    second = sink.sent[1][1]
    assert len(second["points"]) == P.METRICS_MAX_POINTS and second["coalesced"] == 3000 - P.METRICS_MAX_POINTS
    assert second["points"][-1]["step"] == 3000  # the newest point is kept


def test_non_finite_numbers_go_as_strings():
    sink, b = box()
    b.metrics([{"tag": "loss", "step": 0, "value": math.nan, "wall": 1.0},
               {"tag": "loss", "step": 1, "value": -math.inf, "wall": 1.0}])
    assert [p["value"] for p in sink.sent[0][1]["points"]] == ["NaN", "-Infinity"]


def test_graphs_are_chunked_under_the_message_limit():
    sink, b = box()
    node = lambda i: {"id": i, "op": "MulBackward0", "kind": "op", "module": "m" * 200, "name": None,  # noqa: E731
                      "inputs": [i - 1], "in_shapes": [[4]], "in_dtypes": ["float32"], "out_shapes": [[4]],
                      "out_dtypes": ["float32"], "line": 1, "cell": 1}
    graph = {"nodes": [node(i) for i in range(3000)], "edges": [[i - 1, i] for i in range(1, 3000)],
             "groups": [{"module": "", "nodes": list(range(3000))}], "dropped": 0, "dropped_steps": 0}
    b.graph("c1", graph)
    chunks = [p for e, p, _ in sink.sent if e == "graph_chunk"]
    (summary,) = [p for e, p, _ in sink.sent if e == "graph"]
    assert sink.events()[-1] == "graph" and len(chunks) == summary["count"] > 1
    assert [c["index"] for c in chunks] == list(range(summary["count"]))
    assert sum(len(c["nodes"]) for c in chunks) == summary["node_count"] == 3000
    assert all(len(json.dumps(p)) < P.MAX_MESSAGE_BYTES for _, p, _ in sink.sent)


def test_an_oversized_result_is_replaced_by_a_note():
    sink, b = box()
    b.send("result", {"cell_id": "c1", "data": {"image/png": "x" * (P.MAX_MESSAGE_BYTES + 1)}, "execution_count": 1})
    (event, payload, _), = sink.sent
    assert payload["truncated"] is True and "omitted" in payload["data"]["text/plain"]
