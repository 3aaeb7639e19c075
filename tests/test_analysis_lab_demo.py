"""The first analysis set on the lab's demo incident: topology, origin, onsets, charts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from workbench.analysis.graph import graph_diff, service_graph
from workbench.analysis.logs import top_error_messages
from workbench.analysis.red import red, red_from_metrics, red_from_spans
from workbench.analysis.timeline import build_timeline, onsets
from workbench.charts import (
    red_panels,
    render,
    service_graph_chart,
    timeline_chart,
    top_errors_chart,
)
from workbench.incident import Incident


@pytest.fixture(scope="module")
def demo(lab_demo_dir: Path) -> dict[str, Any]:
    inc = Incident.from_directory(lab_demo_dir)
    inc.load()
    return {
        "inc": inc,
        "truth": json.loads((lab_demo_dir / "truth.json").read_text()),
        "topology": json.loads((lab_demo_dir / "topology.json").read_text()),
        "red": red(inc.metrics, inc.spans, step="1m"),
    }


def test_graph_has_exactly_the_topology_edges(demo: dict[str, Any]) -> None:
    inc = demo["inc"]
    g = service_graph(inc.spans, window=inc.full_window)
    want = {(s["name"], c["to"]) for s in demo["topology"]["services"] for c in s["calls"]}
    got = set(zip(g.edges["caller"], g.edges["callee"], strict=True))
    assert got == want
    assert set(g.nodes["service"]) == {s["name"] for s in demo["topology"]["services"]}


def test_root_cause_is_the_deepest_failing_node_and_first_error_onset(
    demo: dict[str, Any],
) -> None:
    inc, root = demo["inc"], demo["truth"]["root_cause_service"]
    g = service_graph(inc.spans, window=inc.window)
    assert g.failing_origins()[0] == root
    on = onsets(demo["red"], "error_ratio", baseline=inc.baseline)
    assert on["service"][0] == root
    fault_start = pl.Series([demo["truth"]["start"]]).str.to_datetime(time_zone="UTC")[0]
    # the onset lies within two steps of the injected fault's start
    assert abs((on["onset"][0] - fault_start).total_seconds()) <= 120
    d = graph_diff(service_graph(inc.spans, window=inc.baseline), g)
    up = d.filter(pl.col("change") == "errors_up")
    assert root in set(up["callee"])


def test_metrics_and_spans_agree_on_the_failing_service(demo: dict[str, Any]) -> None:
    inc, root = demo["inc"], demo["truth"]["root_cause_service"]
    for r in (
        red_from_metrics(inc.metrics, window=inc.window),
        red_from_spans(inc.spans, window=inc.window, step="5m"),
    ):
        peak = (
            r.group_by("service")
            .agg(pl.col("error_ratio").max())
            .sort("error_ratio", descending=True)
        )
        assert peak["service"][0] == root
        assert peak["error_ratio"][0] > 0.15


def test_timeline_puts_the_root_cause_deploy_before_its_error_spike(
    demo: dict[str, Any],
) -> None:
    inc, root = demo["inc"], demo["truth"]["root_cause_service"]
    tl = build_timeline(inc.events, demo["red"], window=inc.window, baseline=inc.baseline)
    spike = tl.filter((pl.col("kind") == "error_spike") & (pl.col("service") == root))
    assert spike.height == 1
    deploys = tl.filter(
        (pl.col("kind") == "deploy")
        & (pl.col("service") == root)
        & (pl.col("ts") >= inc.window.start)
        & (pl.col("ts") <= spike["ts"][0])
    )
    assert deploys.height >= 1
    assert tl.filter(pl.col("kind") == "incident").height == 1
    assert tl.filter(pl.col("kind") == "alert").height >= 1


def test_the_root_cause_has_a_new_frequent_error_message(demo: dict[str, Any]) -> None:
    inc, root = demo["inc"], demo["truth"]["root_cause_service"]
    top = top_error_messages(inc.logs, window=inc.window, baseline=inc.baseline, n=5)
    mine = top.filter((pl.col("service") == root) & pl.col("new"))
    assert mine.height >= 1 and mine["count"][0] >= 10


def test_demo_charts_render_offline_with_few_rows(demo: dict[str, Any]) -> None:
    inc = demo["inc"]
    g = service_graph(inc.spans, window=inc.window)
    tl = build_timeline(inc.events, demo["red"], window=inc.window, baseline=inc.baseline)
    top = top_error_messages(inc.logs, window=inc.window, baseline=inc.baseline)
    charts = [
        service_graph_chart(g),
        red_panels(demo["red"], inc.window, inc.baseline),
        timeline_chart(tl),
        top_errors_chart(top),
    ]
    for c in charts:
        rows = sum(len(v) for v in c.to_dict().get("datasets", {}).values())
        assert 0 < rows <= 4000
    svg = render.to_svg(charts[0])
    assert f">{demo['truth']['root_cause_service']}<" in svg
    page = render.to_html(charts, title=inc.title)
    assert re.findall(r"<script[^>]*\bsrc\s*=", page, flags=re.I) == []
