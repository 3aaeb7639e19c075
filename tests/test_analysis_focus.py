"""Pure tests of analysis.focus and analysis.waterfall on hand-built frames with known
answers, and the waterfall chart rendered offline by vl-convert."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from tests.analysis_builders import T0, spans_frame
from workbench import frames
from workbench.analysis import focus
from workbench.analysis.graph import service_graph
from workbench.analysis.templates import mine_templates
from workbench.analysis.waterfall import INDENT, trace_waterfall
from workbench.charts import render
from workbench.charts.waterfall import trace_waterfall_chart
from workbench.errors import ConfigError
from workbench.timewindow import Window

# t1: web -> api -> db, the db call fails and the error climbs to the root (origin: db)
# t2: web -> api, fine and slow;  t3: web -> cache, fine and fast;  t4: web alone, later
SPANS = spans_frame(
    [
        {"trace_id": "t1", "span_id": "a", "service": "web", "ms": 100, "status": "error"},
        {"trace_id": "t1", "span_id": "b", "parent": "a", "service": "api", "ms": 80,
         "start": 0.010, "status": "error", "name": "GET /x"},
        {"trace_id": "t1", "span_id": "c", "parent": "b", "service": "api", "ms": 45,
         "start": 0.015, "kind": "internal", "name": "validate"},
        {"trace_id": "t1", "span_id": "d", "parent": "b", "service": "db", "ms": 40,
         "start": 0.050, "status": "error", "name": "SELECT"},
        {"trace_id": "t2", "span_id": "e", "service": "web", "ms": 300, "start": 1},
        {"trace_id": "t2", "span_id": "f", "parent": "e", "service": "api", "ms": 250,
         "start": 1.02},
        {"trace_id": "t3", "span_id": "g", "service": "web", "ms": 20, "start": 2},
        {"trace_id": "t3", "span_id": "h", "parent": "g", "service": "cache", "ms": 5,
         "start": 2.005},
        {"trace_id": "t4", "span_id": "i", "service": "web", "ms": 50, "start": 3600},
    ]
)  # fmt: skip
WINDOW = Window(T0, T0 + timedelta(minutes=30))


def test_neighbourhood_and_service_filters() -> None:
    g = service_graph(SPANS)
    assert focus.neighbourhood(g, "api") == ["api", "db", "web"]
    assert focus.neighbourhood(g.edges, "cache") == ["cache", "web"]
    assert focus.neighbourhood(g, "lonely") == ["lonely"]
    assert focus.for_services(SPANS, []).height == SPANS.height
    assert set(focus.for_services(SPANS, ["db"])["span_id"]) == {"d"}
    # whole traces are kept
    assert set(focus.traces_touching(SPANS, ["db"])["span_id"]) == {"a", "b", "c", "d"}
    assert focus.traces_touching(SPANS, ["nope"]).height == 0


def test_trace_table_failed_first_then_slowest() -> None:
    t = focus.trace_table(SPANS, window=WINDOW)
    assert t["trace_id"].to_list() == ["t1", "t2", "t3"]  # t4 starts after the window
    first = t.row(0, named=True)
    assert first["failed"] and first["error_service"] == "db" and first["error_name"] == "SELECT"
    assert first["root_service"] == "web" and first["spans"] == 4 and first["services"] == 3
    assert first["duration_ms"] == pytest.approx(100.0)
    assert t.row(1, named=True)["error_service"] is None
    assert focus.trace_table(SPANS, window=WINDOW, services=["cache"])["trace_id"].to_list() == [
        "t3"
    ]
    assert focus.trace_table(SPANS, n=1).height == 1
    assert focus.trace_table(SPANS, services=["nope"]).schema == pl.Schema(focus.TRACE_TABLE_SCHEMA)


def test_node_changes() -> None:
    base = service_graph(SPANS.filter(pl.col("trace_id") == "t2"))
    inc = service_graph(SPANS.filter(pl.col("trace_id") == "t1"))
    n = focus.node_changes(base, inc).sort("service")
    api = n.filter(pl.col("service") == "api").row(0, named=True)
    assert api["p95_ratio"] == pytest.approx(80 / 250)
    assert api["error_ratio_delta"] == pytest.approx(1.0)
    assert n.filter(pl.col("service") == "db")["p95_ratio"][0] is None  # no baseline


def _logs() -> pl.DataFrame:
    rows = []
    for i in range(20):  # steady over the baseline and the window
        for off in (-1800, 0):
            rows.append((off + 90 * i, "api", "info", f"served request {i} in {i + 3} ms"))
    for i in range(6):  # new in the window
        rows.append((900 + 10 * i, "db", "error", f"deadlock detected on table t{i}"))
    return pl.DataFrame(
        {
            "ts": [T0 + timedelta(seconds=r[0]) for r in rows],
            "service": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "message": [r[3] for r in rows],
            "trace_id": [None] * len(rows),
            "span_id": [None] * len(rows),
            "attributes": [frames.kv({})] * len(rows),
        },
        schema=frames.SCHEMAS["logs"],
    )


def test_pattern_table_search_and_lines() -> None:
    mined = mine_templates(_logs())
    base = Window(T0 - timedelta(minutes=30), T0)
    t = focus.pattern_table(mined, WINDOW, base)
    assert t["service"].to_list() == ["db", "api"]  # the new pattern first
    assert t.row(0, named=True)["new"] and t.row(0, named=True)["n_incident"] == 6
    assert focus.pattern_table(mined, WINDOW, base, services=["api"])["service"].to_list() == [
        "api"
    ]
    hits = focus.pattern_table(mined, WINDOW, base, search="DEADLOCK")
    assert hits["service"].to_list() == ["db"]
    assert focus.pattern_table(mined, WINDOW, base, search="no such words").height == 0
    lines = focus.pattern_lines(mined, t["template_id"][0], window=WINDOW, n=4)
    assert lines.height == 4 and lines["ts"].is_sorted()
    assert lines["message"][0] == "deadlock detected on table t0"
    tl = focus.surges_as_timeline(t)
    assert tl["kind"].to_list() == ["log_surge"]
    assert tl["title"][0].startswith("new log pattern: deadlock")


def test_trace_waterfall_order_critical_path_and_origin() -> None:
    wf = trace_waterfall(SPANS, "t1")
    assert wf["span_id"].to_list() == ["a", "b", "c", "d"]  # depth first, by start
    assert wf["depth"].to_list() == [0, 1, 2, 2]
    assert [x.replace(INDENT, "..") for x in wf["label"]] == [
        "web: op",
        "..api: GET /x",
        "....api: validate",
        "....db: SELECT",
    ]
    assert wf["error_origin"].to_list() == [False, False, False, True]
    assert wf["offset_ms"].to_list() == pytest.approx([0.0, 10.0, 15.0, 50.0])
    assert wf["end_ms"].to_list() == pytest.approx([100.0, 90.0, 60.0, 90.0])
    # the critical path goes root -> api -> db; validate overlaps the db call, off it
    assert wf["on_critical_path"].to_list() == [True, True, False, True]
    with pytest.raises(ConfigError, match="not in the spans"):
        trace_waterfall(SPANS, "nope")
    with pytest.raises(ConfigError, match="max_spans"):
        trace_waterfall(SPANS, "t1", max_spans=2)


def test_waterfall_labels_unique_and_chart_renders_offline() -> None:
    dup = spans_frame(
        [
            {"trace_id": "x", "span_id": "r", "service": "web", "ms": 50},
            {"trace_id": "x", "span_id": "s1", "parent": "r", "service": "db", "ms": 5,
             "start": 0.001, "name": "SELECT"},
            {"trace_id": "x", "span_id": "s2", "parent": "r", "service": "db", "ms": 5,
             "start": 0.010, "name": "SELECT", "status": "error"},
        ]
    )  # fmt: skip
    wf = trace_waterfall(dup, "x")
    assert wf["label"].to_list() == ["web: op", f"{INDENT}db: SELECT", f"{INDENT}db: SELECT #2"]
    svg = render.to_svg(trace_waterfall_chart(trace_waterfall(SPANS, "t1")))
    assert "error starts here" in svg and "critical path" in svg and "db: SELECT" in svg
    capped = trace_waterfall_chart(wf, max_spans=2).to_dict()
    rows = next(iter(capped["datasets"].values()))
    assert len(rows) == 2 and "first 2 of 3 spans" in str(capped["title"])


def test_trace_table_searches_by_id_service_operation_status_and_duration() -> None:
    def ids(**search: object) -> list[str]:
        return focus.trace_table(SPANS, window=WINDOW, **search)["trace_id"].to_list()  # type: ignore[arg-type]

    assert ids(trace_id="T3") == ["t3"]  # a prefix, any case
    assert ids(operation="select", status="failed") == ["t1"]
    assert ids(status="ok") == ["t2", "t3"]
    assert ids(service="cache") == ["t3"]
    every = focus.trace_table(SPANS, window=WINDOW)
    cut = sorted(every["duration_ms"].to_list())[1]
    long = every.filter(pl.col("duration_ms") >= cut)["trace_id"].to_list()
    assert 0 < len(long) < every.height and ids(min_duration_ms=cut) == long
    # with room for two, one failed and one slow trace that did not fail
    two = focus.trace_table(SPANS, window=WINDOW, n=2)
    assert two["failed"].to_list() == [True, False]
    with pytest.raises(ValueError, match="status"):
        focus.trace_table(SPANS, status="broken")
