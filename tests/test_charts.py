"""Chart builders aggregate before plotting, stay readable as SVG, and render offline."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta
from pathlib import Path

import altair as alt
import networkx as nx
import polars as pl
import pytest

from tests.analysis_builders import T0, spans_frame
from tests.test_analysis_graph import shop_traces
from workbench.analysis.graph import service_graph
from workbench.analysis.red import RED_SCHEMA
from workbench.charts import (
    red_panels,
    render,
    service_graph_chart,
    timeline_chart,
    top_errors_chart,
)
from workbench.charts._style import ERROR_SCHEME, MAX_ROWS
from workbench.charts.graph import layered_layout
from workbench.display import format_window
from workbench.errors import ConfigError
from workbench.timewindow import Window

BASE = Window(T0, T0 + timedelta(hours=1))
INC = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))


def _rows(chart: alt.TopLevelMixin) -> int:
    spec = chart.to_dict()
    return sum(len(v) for v in spec.get("datasets", {}).values())


def _red_frame(services: int, steps: int) -> pl.DataFrame:
    n = services * steps
    svc = [f"svc-{i:03d}" for i in range(services) for _ in range(steps)]
    return pl.DataFrame(
        {
            "ts": [T0 + timedelta(minutes=120 * (j % steps) / steps) for j in range(n)],
            "service": svc,
            "rate": [10.0] * n,
            "error_ratio": [
                0.5 if (j // steps) == 7 and (j % steps) > steps // 2 else 0.01 for j in range(n)
            ],
            "p50_ms": [5.0] * n,
            "p95_ms": [50.0 + (j % 7) for j in range(n)],
            "p99_ms": [90.0] * n,
        },
        schema=RED_SCHEMA,
    )


def test_layered_layout_puts_callers_left_of_callees_and_survives_cycles() -> None:
    g = nx.DiGraph([("web", "api"), ("api", "db"), ("web", "cdn"), ("db", "api")])
    lay = layered_layout(g)
    assert lay["web"][0] == 0
    assert lay["api"][0] == lay["db"][0] == 1  # a cycle shares one layer
    assert layered_layout(nx.DiGraph()) == {}


def test_service_graph_chart_draws_every_service_and_edge() -> None:
    g = service_graph(spans_frame(shop_traces()))
    chart = service_graph_chart(g)
    spec = chart.to_dict()
    data = list(spec["datasets"].values())
    assert sorted(len(d) for d in data) == [3, 4]  # 3 edges, 4 nodes
    svg = render.to_svg(chart)
    for name in ("frontend", "checkout", "payments", "orders-db"):
        assert f">{name}<" in svg
    node_color = spec["layer"][2]["encoding"]["color"]
    assert node_color["scale"]["range"] == list(ERROR_SCHEME)
    assert node_color["scale"]["range"][0] == "#eeeeee"  # neutral grey at 0 %, not warm
    assert node_color["scale"]["domain"][0] == 0.0
    assert 'class="mark-symbol role-legend-symbol' in svg or "error ratio" in svg


def test_service_graph_chart_caps_nodes_keeping_the_failing_ones() -> None:
    rows = []
    for k in range(30):
        for i in range(3):
            rows.append({"trace_id": f"{k}-{i}", "span_id": "a", "service": "gateway", "ms": 5})
            rows.append(
                {
                    "trace_id": f"{k}-{i}",
                    "span_id": "b",
                    "parent": "a",
                    "service": f"svc{k}",
                    "ms": 3,
                    "status": "error" if k == 17 else "ok",
                }
            )
    g = service_graph(spans_frame(rows))
    chart = service_graph_chart(g, max_nodes=10, selectable=True)
    spec = chart.to_dict()
    nodes = next(d for d in spec["datasets"].values() if d and "requests" in d[0])
    names = {n["service"] for n in nodes}
    assert len(names) == 10 and "svc17" in names
    assert "10 of 31 services" in json.dumps(spec["title"])
    assert [p["name"] for p in spec["params"]] == ["service"]  # altair hoists layer params


def test_red_panels_cap_services_and_rows() -> None:
    big = _red_frame(services=300, steps=720)  # 216,000 rows in, a few thousand out
    chart = red_panels(big, INC, BASE, max_services=12)
    assert _rows(chart) <= MAX_ROWS
    spec = chart.to_dict()
    services = {r["service"] for d in spec["datasets"].values() for r in d}
    assert len(services) == 12
    assert "svc-007" in services  # the one whose errors rose comes first
    assert "12 of 300 services" in json.dumps(spec["title"])


def test_red_panels_render_to_svg_with_windows_shaded() -> None:
    r = _red_frame(services=3, steps=120)
    chart = red_panels(r, INC, BASE, brush=True)
    svg = render.to_svg(chart)
    assert svg.startswith("<svg")
    for text in ("svc-000", "request rate (req/s)", "errors (%)", "p95 latency (ms)"):
        assert text in svg
    assert svg.count("#D55E00") >= 3  # the incident window, shaded in every panel row


def test_red_panels_shade_each_window_once_per_panel() -> None:
    """One rectangle per panel and window, the baseline's ending where the incident's
    begins (the windows meet at 01:00): the shading is computed on one row per panel."""
    r = _red_frame(services=3, steps=120)
    svg = render.to_svg(red_panels(r, INC, BASE))
    # attributes in any order around them (older vl-convert writes aria-label first)
    rects = re.findall(
        r'<path[^>]*?\sd="M([\d.]+),0h([\d.]+)v70h-[\d.]+Z"[^>]*?\sfill="(#[0-9A-F]{6})"', svg
    )
    by_fill: dict[str, list[tuple[float, float]]] = {}
    for x, w, fill in rects:
        by_fill.setdefault(fill, []).append((float(x), float(w)))
    assert len(by_fill["#56B4E9"]) == 9 and len(by_fill["#D55E00"]) == 9  # 3 services x 3
    for (bx, bw), (ix, iw) in zip(by_fill["#56B4E9"], by_fill["#D55E00"], strict=True):
        assert bw > 50 and iw > 50 and abs(bx + bw - ix) < 1.0


def test_red_lines_tell_screen_readers_the_values_the_tooltips_show() -> None:
    """Each panel's line carries an ARIA label (what a screen reader reads); its value is
    written as the tooltip and the tables write it (``2.91 req/s``, ``35.9%``,
    ``496 ms``), not the chart's raw number (``0.3591``, ``35.91``, ``496.26``)."""
    from workbench.display import format_percent, format_rate, format_value

    r = _red_frame(services=2, steps=30).with_columns(
        rate=pl.lit(2.9134), error_ratio=pl.lit(0.35913), p95_ms=pl.lit(496.26)
    )
    svg = render.to_svg(red_panels(r, INC, BASE))
    lines = re.findall(r'<path[^>]*?\saria-label="(time \(UTC\)[^"]*)"', svg)
    assert len(lines) == 6, lines  # 2 services x 3 measures
    want = {
        "request rate (req/s)": format_rate(2.9134),
        "errors (%)": format_percent(0.35913),
        "p95 latency (ms)": format_value(496.26, "p95_ms"),
    }
    assert set(want.values()) == {"2.91 req/s", "35.9%", "496 ms"}
    for label in lines:
        parts = dict(p.split(": ", 1) for p in label.split("; "))
        assert parts["value"] == want[parts["measure"]], label
        assert parts["time (UTC)"] == "10:00" and parts["service"].startswith("svc-")


def _timeline() -> pl.DataFrame:
    """A timeline with the incident and baseline windows, a deploy and an error spike."""
    return pl.DataFrame(
        {
            "ts": [INC.start, BASE.start, T0 + timedelta(minutes=70), T0 + timedelta(minutes=75)],
            "end": [INC.end, BASE.end, None, T0 + timedelta(minutes=90)],
            "kind": ["incident", "baseline", "deploy", "error_spike"],
            "service": [None, None, "checkout", "checkout"],
            "title": ["incident window", "baseline window", "deploy v2", "errors rise"],
            "source": ["workbench", "workbench", "argocd", "red"],
            "evidence": ["", "", "revision=v2", "threshold 2%"],
        }
    )


def test_timeline_and_top_errors_render() -> None:
    tl = _timeline()
    svg = render.to_svg(timeline_chart(tl))
    assert "deploy · checkout" in svg and "errors rise · checkout" in svg
    assert "lane: error_spike" not in svg and "what: errors rise" in svg  # as the table says
    top = pl.DataFrame(
        {
            "service": ["checkout", "cart"],
            "pattern": ["order <*> rejected", "cache miss <*>"],
            "count": [55, 30],
            "baseline_count": [0, 6],
            "new": [True, False],
            "example": ["order 1 rejected", "cache miss 2"],
        }
    )
    svg = render.to_svg(top_errors_chart(top))
    assert "NEW  checkout: order &lt;*&gt; rejected" in svg


def test_html_export_inlines_the_javascript_and_loads_nothing_remote() -> None:
    g = service_graph(spans_frame(shop_traces()))
    page = render.to_html([service_graph_chart(g), red_panels(_red_frame(2, 60), INC, BASE)])
    srcs = re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']?([^\"' >]+)", page, flags=re.I)
    assert srcs == []
    assert not re.search(r"<link[^>]+href\s*=\s*[\"']?https?:", page, flags=re.I)
    assert page.count("<script") == 2  # the bundle once, then the specs
    assert "vegaEmbed(" in page and "wb-chart-1" in page


@pytest.mark.browser
def test_html_export_draws_charts_in_an_offline_browser(offline_chromium) -> None:
    g = service_graph(spans_frame(shop_traces()))
    page_html = render.to_html([service_graph_chart(g), red_panels(_red_frame(2, 60), INC, BASE)])
    page = offline_chromium.new_page()
    page.set_content(page_html)
    page.wait_for_selector("#wb-chart-1 svg", timeout=20_000)
    assert page.locator("svg").count() >= 2
    assert "frontend" in page.inner_text("#wb-chart-0")
    assert offline_chromium.blocked == []


def test_png_json_and_bad_extension(tmp_path) -> None:
    chart = timeline_chart(
        pl.DataFrame(
            {
                "ts": [INC.start],
                "end": [INC.end],
                "kind": ["incident"],
                "service": [None],
                "title": ["incident window"],
            },
            schema_overrides={"service": pl.String},
        )
    )
    assert render.to_png(chart)[:8] == b"\x89PNG\r\n\x1a\n"
    p = render.save(chart, tmp_path / "t.json")
    major = alt.SCHEMA_VERSION.split(".")[0]  # v6 with altair 6, v5 with altair 5.5
    assert json.loads(p.read_text())["$schema"].startswith(
        f"https://vega.github.io/schema/vega-lite/{major}."
    )
    with pytest.raises(ConfigError, match=r"\.svg, \.png"):
        render.save(chart, tmp_path / "t.gif")


def test_enable_offline_switches_to_the_offline_jupyter_renderer() -> None:
    before = alt.renderers.active
    try:
        assert render.enable_offline() == "jupyter"
        assert alt.renderers.active == "workbench-jupyter"
        from altair.jupyter import JupyterChart

        bundle = alt.renderers.get()(alt.Chart(pl.DataFrame({"a": [1]})).mark_point().to_dict())
        assert JupyterChart._is_offline is True
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        assert "application/vnd.jupyter.widget-view+json" in data
        # online mode imports vega-embed from esm.sh; offline the bundle is inlined
        assert not re.search(r"from\s*[\"']https?://", JupyterChart._esm)
        assert render.enable_offline("svg") == "svg"
        assert alt.renderers.active == "workbench-svg"
        point = alt.Chart(pl.DataFrame({"a": [1]})).mark_point().encode(x="a:Q")
        svg = alt.renderers.get()(point.to_dict())
        assert svg["image/svg+xml"].lstrip().startswith("<svg")
        assert 'font-family="DejaVu Sans, Verdana' in svg["image/svg+xml"]
    finally:
        alt.renderers.enable(before)
        from altair.jupyter import JupyterChart

        JupyterChart.enable_offline(False)


def test_in_a_run_made_static_charts_are_their_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the kernel of a run whose outputs are made static (``workbench demo``) "auto"
    shows each chart as its Vega-Lite spec, for the exporter to draw (a live widget
    there is 1.5 MB of state nobody sees); the spec is the chart's, as the widget's is."""
    from workbench.notebook import STATIC_RUN_ENV

    before = alt.renderers.active
    point = alt.Chart(pl.DataFrame({"a": [1]})).mark_point().encode(x="a:Q")
    try:
        monkeypatch.setenv(STATIC_RUN_ENV, "1")
        assert render.enable_offline() == "spec"
        bundle = point._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        major = alt.SCHEMA_VERSION.split(".")[0]
        assert data[f"application/vnd.vegalite.{major}+json"] == point.to_dict()
        assert not any("widget" in mime for mime in data)
        monkeypatch.delenv(STATIC_RUN_ENV)
        assert render.enable_offline() in ("jupyter", "svg")  # svg: without anywidget
    finally:
        alt.renderers.enable(before)


def test_service_graph_chart_marks_new_and_vanished_edges_from_a_diff() -> None:
    from workbench.analysis.graph import graph_diff

    base = service_graph(spans_frame(shop_traces(20, failing=0)))
    inc_rows = [r for r in shop_traces(20, failing=10, start=1000) if r["service"] != "payments"]
    inc_rows += [
        {"trace_id": "p", "span_id": "p1", "service": "payments", "ms": 3, "start": 1000},
        {
            "trace_id": "p",
            "span_id": "p2",
            "parent": "p1",
            "service": "payments",
            "kind": "client",
            "ms": 1,
            "start": 1000,
            "attrs": {"peer.service": "fraud"},
        },
    ]
    inc = service_graph(spans_frame(inc_rows))
    chart = service_graph_chart(inc, diff=graph_diff(base, inc))
    spec = chart.to_dict()
    edges = next(d for d in spec["datasets"].values() if d and "callee" in d[0])
    change = {(e["caller"], e["callee"]): e["change"] for e in edges}
    assert change[("checkout", "payments")] == "vanished"
    assert change[("payments", "fraud")] == "new"
    assert change[("frontend", "checkout")] == "errors_up"
    svg = render.to_svg(chart)
    assert "edge vs baseline" in svg
    # the legend's entries differ in colour: "same" grey, "errors_up" vermillion
    from workbench.charts.graph import CHANGE_COLOURS

    stroke = spec["layer"][0]["encoding"]["stroke"]
    colours = dict(zip(stroke["scale"]["domain"], stroke["scale"]["range"], strict=True))
    assert colours["errors_up"] == CHANGE_COLOURS["errors_up"] != CHANGE_COLOURS["same"]
    legend = svg[svg.index("edge vs baseline") - 3000 :]
    assert CHANGE_COLOURS["errors_up"].lower() in legend.lower()


def test_graph_chart_keeps_services_without_requests_and_rejects_unknown_colours() -> None:
    rows = [
        {"trace_id": "t", "span_id": "a", "service": "web", "ms": 5},
        {"trace_id": "t", "span_id": "b", "parent": "a", "service": "api", "ms": 3},
        # a service whose spans hang off a parent missing from the data
        {"trace_id": "t", "span_id": "c", "parent": "missing", "service": "batch", "ms": 1},
        {"trace_id": "t", "span_id": "d", "parent": "c", "service": "batch", "ms": 1},
    ]
    g = service_graph(spans_frame(rows))
    spec = service_graph_chart(g, color_by="p95_ms").to_dict()
    nodes = next(d for d in spec["datasets"].values() if d and "requests" in d[0])
    assert {n["service"] for n in nodes} == {"web", "api", "batch"}
    assert all(n["_color"] is not None for n in nodes)  # Vega-Lite would drop nulls
    with pytest.raises(ConfigError, match="colour nodes by 'nope'"):
        service_graph_chart(g, color_by="nope")


def test_svg_cache_renders_each_spec_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    calls: list[int] = []

    def draw(n: int) -> str:
        calls.append(n)
        return f"<svg>{n}</svg>"

    a, b = {"mark": "point"}, {"mark": "bar"}
    assert render.cached_svg(a, lambda: draw(1)) == "<svg>1</svg>"
    assert render.cached_svg(a, lambda: draw(2)) == "<svg>1</svg>"  # from the cache
    assert render.cached_svg(b, lambda: draw(3)) == "<svg>3</svg>"  # another spec: drawn
    assert render.cached_svg(a, lambda: draw(4), kind="vega") == "<svg>4</svg>"
    monkeypatch.setenv("WORKBENCH_SVG_CACHE", "0")
    assert render.cached_svg(a, lambda: draw(5)) == "<svg>5</svg>"
    assert calls == [1, 3, 4, 5]
    # a real chart: the cached SVG is the one vl-convert drew
    chart = alt.Chart(pl.DataFrame({"a": [1, 2]})).mark_point().encode(x="a:Q")
    monkeypatch.delenv("WORKBENCH_SVG_CACHE")
    first = render.to_svg(chart)
    assert first.lstrip().startswith("<svg") and render.to_svg(chart) == first
    assert len(list((tmp_path / "svg").glob("*.svg"))) == 4


def test_the_notebooks_charts_name_their_encodings_as_channel_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The incident notebook's charts give altair channel objects (``alt.X2("end:T")``),
    not shorthand strings: altair turns each string into a channel through ``from_dict``,
    which first rebuilds its table of ~570 schema classes (3-4 ms each time, ~60 ms for
    the demo's four charts). Same specs either way."""
    from altair.utils import schemapi

    from workbench.analysis.graph import graph_diff

    built: list[int] = []
    real = schemapi._FromDict.__init__

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        built.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(schemapi._FromDict, "__init__", counted)
    graph = service_graph(spans_frame(shop_traces(20, failing=5)))
    timeline = _timeline()
    top = pl.DataFrame({"service": ["checkout"], "pattern": ["order <*> rejected"], "count": [5]})
    charts = [
        red_panels(_red_frame(3, 20), INC, BASE),
        service_graph_chart(graph, diff=graph_diff(graph, graph)),
        timeline_chart(timeline),
        top_errors_chart(top),
    ]
    specs = [c.to_dict() for c in charts]
    assert built == []
    assert specs[0]["spec"]["layer"][0]["encoding"]["x2"] == {"field": "_we"}


def test_top_errors_chart_fits_a_notebook_output_area() -> None:
    """With 70-character messages the chart was 1021 px wide: its service legend and the
    end of its subtitle fell outside JupyterLab's ~950 px output area (look9)."""
    long = "upstream checkout returned <*> while processing POST <*> *errors.errorString: x"
    top = pl.DataFrame(
        {
            "service": ["api-gateway", "recommendation", "checkout"],
            "pattern": [long, long + " y", long + " z"],
            "count": [1800, 300, 1400],
            "baseline_count": [77, 200, 0],
            "new": [False, False, True],
        }
    )
    win = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    svg = render.to_svg(top_errors_chart(top, window=win, baseline=BASE))
    width = float(re.search(r'<svg[^>]*width="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    assert width <= 950, width
    assert "NEW = not in baseline" in svg
    # the counts name the windows they were taken over (the axis said "in the window")
    assert f"error lines in the window {format_window(win)}" in svg
    assert f"baseline count ({format_window(BASE)})" in svg
    # the most frequent first, as the title says (the layer used to sort labels A to Z)
    order = [svg.index(f"{s}: ") for s in ("api-gateway", "checkout", "recommendation")]
    assert order == sorted(order), order


def test_runs_out_chart_axis_labels_do_not_touch() -> None:
    """The capacity notebook's days axis read "...160 170180" at a 180-day horizon: ticks
    every 10 days, the last label flush with the end (look9)."""
    from datetime import UTC, datetime

    from workbench.charts.capacity import runs_out_chart

    table = pl.DataFrame(
        {
            "service": ["checkout", "payment", "auth"],
            "resource": ["cpu", "memory", "cpu"],
            "days_left": [14.0, 50.0, float("inf")],
            "utilisation_peak": [0.58, 0.44, 0.33],
            "saturates_at": [
                datetime(2026, 12, 3, tzinfo=UTC),
                datetime(2027, 1, 8, tzinfo=UTC),
                None,
            ],
        }
    )
    svg = render.to_svg(runs_out_chart(table, horizon_days=180))
    axis = svg[svg.index('aria-label="X-axis') :]
    axis = axis[: axis.index('aria-label="Y-axis')] if 'aria-label="Y-axis' in axis else axis
    spans: list[tuple[float, float]] = []  # each label's left and right edge
    pattern = r'text-anchor="(\w+)" transform="translate\(([\d.]+),[\d.]+\)"[^>]*>(\d+)</text>'
    for anchor, x, label in re.findall(pattern, axis):
        w, c = 6.4 * len(label), float(x)  # DejaVu Sans digits at 10 px
        left = {"start": c, "end": c - w}.get(anchor, c - w / 2)
        if spans and left <= spans[-1][0]:
            break  # past the axis labels
        spans.append((left, left + w))
    assert len(spans) >= 5, axis[:500]
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
    assert min(gaps) >= 4, gaps  # 170 ended 2 px before a flush 180 began


def test_graph_change_legend_reads_as_words() -> None:
    """The explorer's graph legend said ``errors_up`` (look10): its labels are words."""
    g = service_graph(spans_frame(shop_traces()))
    a, b = g.edges.row(0, named=True)["caller"], g.edges.row(0, named=True)["callee"]
    diff = pl.DataFrame({"caller": [a], "callee": [b], "change": ["errors_up"]})
    svg = render.to_svg(service_graph_chart(g, diff=diff))
    assert "errors up" in svg and ">errors_up<" not in svg


def test_a_graph_diffs_change_reads_as_words_in_tables_and_tooltips() -> None:
    """The notebook's "What changed in the graph" table and the graph's edge tooltip
    showed the identifier ``errors_up`` (look10 listed it); the frame keeps it for code."""
    from workbench.display import format_value, html_table

    g = service_graph(spans_frame(shop_traces()))
    a, b = g.edges.row(0, named=True)["caller"], g.edges.row(0, named=True)["callee"]
    diff = pl.DataFrame({"caller": [a], "callee": [b], "change": ["errors_up"]})
    page = html_table(diff)
    assert "errors up" in page and "errors_up" not in page
    assert format_value("errors_up", "change") == "errors up"
    assert format_value("errors_up", "service") == "errors_up"  # a name stays a name
    assert format_value("new", "change") == "new"
    spec = json.dumps(service_graph_chart(g, diff=diff).to_dict())
    assert '"field": "change_text", "title": "vs baseline"' in spec
    assert '"change_text": "errors up"' in spec


def test_graph_edges_say_they_count_the_traces_and_a_diff_keeps_them_off_the_scale() -> None:
    """The demo's graph coloured nodes by their RED error ratio (checkout 18%) on a scale
    to 44%: the error ratio of the sampled traces on the api-gateway -> checkout edge,
    which the explorer colours by change, not by ratio. The scale now spans what it
    colours, and the edges' numbers say they come from the traces kept."""
    from workbench.analysis.graph import ServiceGraph, graph_diff
    from workbench.charts.graph import EDGE_SOURCE

    g = service_graph(spans_frame(shop_traces(20, failing=10)))
    # nodes carry other numbers than the spans' (as the investigation's RED nodes do)
    nodes = g.nodes.with_columns(pl.col("error_ratio") * 0.25)
    red = ServiceGraph(edges=g.edges, nodes=nodes, seconds=g.seconds, window=g.window)
    top_node = max(v for v in nodes["error_ratio"].to_list() if v)
    assert max(v for v in g.edges["error_ratio"].to_list() if v) > top_node

    def scale_top(spec: dict) -> float:
        enc = next(
            layer["encoding"]["color"]
            for layer in spec["layer"]
            if "color" in layer.get("encoding", {})
            and layer["encoding"]["color"].get("field") == "_color"
        )
        return float(enc["scale"]["domain"][-1])

    with_diff = service_graph_chart(red, diff=graph_diff(red, red)).to_dict()
    assert scale_top(with_diff) == max(0.2, top_node)  # error_scale's floor, not the edges'
    plain = service_graph_chart(red).to_dict()  # edges coloured by ratio: on the scale
    assert scale_top(plain) >= max(v for v in g.edges["error_ratio"].to_list() if v)
    text = json.dumps(plain)
    assert f"error ratio {EDGE_SOURCE}" in text and f"calls {EDGE_SOURCE}" in text
    assert EDGE_SOURCE in " ".join(plain["title"]["subtitle"])


def test_red_panels_of_given_services_come_most_changed_first_as_they_say() -> None:
    """The postmortem passed its services sorted by name and the explorer's focus its
    neighbours by name: the panels said "most changed first" over api-gateway, checkout,
    frontend (checkout's errors rose most) and sat beside a table in another order."""
    r = _red_frame(services=10, steps=60)  # svc-007's errors rise in the window
    chart = red_panels(r, INC, BASE, services=["svc-001", "svc-002", "svc-007", "svc-001"])
    spec = chart.to_dict()
    rows = [x for d in spec["datasets"].values() for x in d if "_order" in x]
    order = sorted({(x["_order"], x["service"]) for x in rows})
    assert order[0][1] == "svc-007"  # the others' order: ties, unchanged
    assert [o for o, _ in order] == [0, 1, 2]  # one panel each, a repeat dropped
    assert "3 of 10 services, most changed first" in json.dumps(spec["title"])


def test_runs_out_chart_writes_the_peak_as_the_table_does() -> None:
    """The bars' labels read "58" beside a table saying "58.2%" (look18); the tooltip
    showed the raw days (13.7) and peak (58)."""
    from datetime import UTC, datetime

    from workbench.charts.capacity import runs_out_chart

    table = pl.DataFrame(
        {
            "service": ["checkout", "auth"],
            "resource": ["cpu", "memory"],
            "days_left": [13.7, float("inf")],
            "utilisation_peak": [0.582, 0.557],
            "saturates_at": [datetime(2026, 12, 3, tzinfo=UTC), None],
        }
    )
    chart = runs_out_chart(table, horizon_days=180)
    svg = render.to_svg(chart)
    assert ">58.2%<" in svg and ">55.7%<" in svg and ">58<" not in svg
    rows = next(d for d in chart.to_dict()["datasets"].values() if d and "service" in d[0])
    assert [(r["peak_text"], r["days_text"], r["date"]) for r in rows] == [
        ("58.2%", "14 d", "2026-12-03"),
        ("55.7%", "—", "not within the horizon"),
    ]
