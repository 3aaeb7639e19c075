"""The explorer as a tool to explore (demo incident, no browser): a log line opens its
trace and span, traces can be searched, a brush zooms the time axes and Whole window
zooms out, the suspects say which window they ranked and rank again on request, and the
graph's "errors start at" is the ranking's origin."""

from __future__ import annotations

import json

import pytest

from widgets import IncidentExplorer
from workbench import Incident, Window

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ex() -> IncidentExplorer:
    return IncidentExplorer(Incident.demo(), background=False)


def test_graph_errors_start_at_the_rankings_origin(ex: IncidentExplorer) -> None:
    ex.show_tab("graph")
    graph = ex.views["graph"]
    graph.render()
    origin = graph.origin()
    assert origin == ex.suspects.ranking[0] == "checkout"
    assert "Errors start at: <b>checkout</b> (suspect #1" in graph.info.value
    assert "frontend" not in graph.info.value.split("(")[0]  # a victim is not an origin


def test_a_log_line_opens_its_trace_and_span(ex: IncidentExplorer) -> None:
    logs = ex.views["logs"]
    ex.show_tab("logs")
    logs.render()
    logs.patterns.value = 0
    traced = [i for i, t in enumerate(logs.shown_lines["_traced"]) if t]
    assert traced, "some lines of the top pattern were written in sampled traces"
    logs.line_list.value = traced[0]
    assert not logs.open_trace_button.disabled
    line = logs.shown_lines.row(traced[0], named=True)
    logs.open_trace_button.click()
    assert ex.tab == "traces"
    assert (ex.selected_trace, ex.selected_span) == (line["trace_id"], line["span_id"])
    details = ex.views["traces"].details.value
    assert "The log line's span" in details and line["span_id"] in details


def test_trace_search_by_operation_status_duration_and_id(ex: IncidentExplorer) -> None:
    traces = ex.views["traces"]
    ex.show_tab("traces")
    traces.search(operation="POST /checkout", status="failed", min_duration_ms=0)
    t = traces.table
    assert t.height > 0 and t["failed"].all()
    wanted = t["trace_id"][0]
    traces.search(operation="", status="any", trace_id=wanted[:10])
    assert traces.table["trace_id"].to_list() == [wanted]
    traces.search(trace_id="")
    mixed = traces.table
    assert 0 < int(mixed["failed"].sum()) < mixed.height  # slow traces beside failed ones
    slow = mixed.filter(~mixed["failed"])["duration_ms"].min()
    traces.search(status="ok", min_duration_ms=slow)
    assert traces.table.height > 0 and (traces.table["duration_ms"] >= slow).all()
    traces.search(status="any", min_duration_ms=0)


def test_brush_zooms_the_time_axes_and_suspects_rank_again(ex: IncidentExplorer) -> None:
    overview = ex.views["overview"]
    ex.show_tab("overview")
    narrow = Window("2026-11-20T11:00:00Z", "2026-11-20T11:20:00Z")
    overview._brushed({"ts": [narrow.start.timestamp() * 1000, narrow.end.timestamp() * 1000]})
    assert ex.window == narrow
    overview.render()
    spec = json.dumps(overview.chart.spec)
    assert '"domain": ["2026-11-20T11:00:00.000Z", "2026-11-20T11:20:00.000Z"]' in spec
    sus_view = ex.views["suspects"]
    ex.show_tab("suspects")
    sus_view.render()
    assert "this ranking is of 2026-11-20 11:00:00 – 12:00:00 UTC" in sus_view.note.value
    assert sus_view.rerank_button.layout.display == ""
    sus_view.rerank_button.click()
    assert ex.suspects.window == narrow
    assert "Ranked on <b>2026-11-20 11:00:00 – 11:20:00 UTC</b>" in sus_view.note.value
    assert sus_view.rerank_button.layout.display == "none"
    # Whole window zooms out and clears what the picker said before
    overview.window_error.value = "<p role='alert'>stale</p>"
    ex.reset_window()
    ex.show_tab("overview")
    overview.render()
    assert overview.zoom is None and overview.window_error.value == ""
    assert '"domain": ["2026-11-20T11:00:00.000Z"' not in json.dumps(overview.chart.spec)
