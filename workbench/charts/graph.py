"""The service dependency graph as an altair node-link chart.

Callers on the left, callees to the right (a layered layout computed with networkx;
cycles are collapsed for layering), nodes coloured by error ratio on a colour-blind-safe
sequential scale, edges as wide as their call rate with an arrowhead toward the callee.
Services with no spans of their own (databases seen only from their clients) are squares.

Example::

    >>> from workbench.analysis.graph import service_graph
    >>> from workbench.charts import service_graph_chart
    >>> service_graph_chart(service_graph(inc.spans, window=inc.window))
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import altair as alt
import polars as pl
from polars.datatypes import DataTypeClass

from workbench.charts._style import NUMBER_LABEL, error_scale, stable_floats
from workbench.charts._text import percent_expr
from workbench.display import (
    RATE_UNIT,
    format_percent,
    format_rate,
    format_value,
    format_window,
)
from workbench.errors import ConfigError

if TYPE_CHECKING:
    import networkx as nx

    from workbench.analysis.graph import ServiceGraph

__all__ = ["CHANGE_COLOURS", "SERVICE_SELECTION", "layered_layout", "service_graph_chart"]

#: edge colour per graph_diff change (Okabe-Ito): worse in vermillion and orange, better
#: in green, new in blue, unchanged and vanished in greys
CHANGE_COLOURS = {
    "same": "#999999",
    "new": "#0072B2",
    "vanished": "#cccccc",
    "errors_up": "#D55E00",
    "slower": "#E69F00",
    "errors_down": "#009E73",
    "faster": "#009E73",
}
# edge dash per graph_diff change: new dashed, vanished dotted, the rest solid
_DASHES = {
    "same": [1, 0],
    "new": [8, 4],
    "vanished": [2, 4],
    "errors_up": [1, 0],
    "slower": [1, 0],
    "errors_down": [1, 0],
    "faster": [1, 0],
}
#: Name of the point selection on nodes (``JupyterChart.selections.service``).
SERVICE_SELECTION = "service"


def layered_layout(g: nx.DiGraph) -> dict[str, tuple[int, float]]:
    """``{node: (layer, position)}``: layer = longest call path from an entry service
    (callers left of callees; a cycle shares one layer), position = order within the
    layer, by the mean position of the callers (fewer crossings)."""
    import networkx as nx

    if g.number_of_nodes() == 0:
        return {}
    cond = nx.condensation(g)
    layer_of_comp: dict[int, int] = {}
    for depth, comps in enumerate(nx.topological_generations(cond)):
        for c in comps:
            layer_of_comp[c] = depth
    mapping = cond.graph["mapping"]
    layer = {n: layer_of_comp[mapping[n]] for n in g.nodes}
    pos: dict[str, float] = {}
    for depth in range(max(layer.values()) + 1):
        members = [n for n in g.nodes if layer[n] == depth]

        def key(n: str) -> tuple[float, str]:
            preds = [pos[p] for p in g.predecessors(n) if p in pos]
            return (sum(preds) / len(preds) if preds else -1.0, str(n))

        for i, n in enumerate(sorted(members, key=key)):
            pos[n] = float(i)
    return {n: (layer[n], pos[n]) for n in g.nodes}


def _pick_nodes(graph: ServiceGraph, max_nodes: int) -> list[str]:
    nodes = graph.nodes
    if nodes.height <= max_nodes:
        return nodes["service"].to_list()
    ranked = nodes.sort(
        [pl.col("error_ratio").fill_null(0) * pl.col("requests"), "rate_per_s"],
        descending=True,
    )
    return ranked["service"].head(max_nodes).to_list()


#: the tooltip lines of a node or an edge: each number as text written by
#: :mod:`workbench.display` (``2.91 req/s``, ``18.0%``, ``496 ms``), not a d3 format of
#: its own (which wrote ``0.0%`` where the tables say ``0.035%`` and ``496.0`` for ``496 ms``)
_TEXT_TIPS = [
    alt.Tooltip("_rate_text:N", title="request rate"),
    alt.Tooltip("_error_text:N", title="error ratio"),
    alt.Tooltip("_p95_text:N", title="p95"),
]


#: an edge's numbers are counted in the traces, which are usually sampled (and tail
#: sampling keeps failing ones): say so, beside nodes that carry every request's RED
#: numbers (an edge at 44% into a service whose requests fail at 18% read as a contradiction)
EDGE_SOURCE = "in the traces kept"
_EDGE_TEXT_TIPS = [
    alt.Tooltip("_rate_text:N", title=f"request rate {EDGE_SOURCE}"),
    alt.Tooltip("_error_text:N", title=f"error ratio {EDGE_SOURCE}"),
    alt.Tooltip("_p95_text:N", title=f"p95 {EDGE_SOURCE}"),
]


def _tooltip_texts(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` (graph nodes or edges) with the text its tooltip shows for each number."""
    texts = {
        "_rate_text": [format_rate(v) for v in df["rate_per_s"].to_list()],
        "_error_text": [format_percent(v) for v in df["error_ratio"].to_list()],
        "_p95_text": [format_value(v, "p95_ms") for v in df["p95_ms"].to_list()],
    }
    if "service" in df.columns:  # a node
        texts["_inferred_text"] = [format_value(v) for v in df["inferred"].to_list()]
        texts["_description"] = [
            f"service: {s}; requests: {format_value(n)}; request rate: {r}; "
            f"error ratio: {e}; p95: {p}; seen only from its callers: {i}"
            for s, n, r, e, p, i in zip(
                df["service"].to_list(),
                df["requests"].to_list(),
                texts["_rate_text"],
                texts["_error_text"],
                texts["_p95_text"],
                texts["_inferred_text"],
                strict=True,
            )
        ]
    return df.with_columns(pl.Series(k, v, dtype=pl.String) for k, v in texts.items())


def service_graph_chart(
    graph: ServiceGraph,
    *,
    width: int = 720,
    height: int | None = None,
    max_nodes: int = 60,
    color_by: str = "error_ratio",
    title: str | None = None,
    selectable: bool = False,
    diff: pl.DataFrame | None = None,
) -> alt.LayerChart:
    """Node-link chart of a :class:`~workbench.analysis.graph.ServiceGraph`.

    ``color_by`` is a node column (``error_ratio`` by default, or e.g. ``p95_ms``).
    At most ``max_nodes`` services are drawn (the most failing, then the busiest); the
    title says when some were left out. ``selectable=True`` adds a point selection
    named :data:`SERVICE_SELECTION` on the nodes, for widgets. ``diff`` (from
    :func:`~workbench.analysis.graph.graph_diff`) dashes new edges, dots vanished ones
    and adds the change to the tooltips.
    """
    keep = set(_pick_nodes(graph, max_nodes))
    g = graph.to_networkx().subgraph(keep).copy()
    change: dict[tuple[str, str], str] = {}
    vanished: list[tuple[str, str, dict]] = []
    if diff is not None:
        change = {(r[0], r[1]): r[2] for r in diff.select("caller", "callee", "change").rows()}
        vanished = [
            (a, b, {"calls": 0, "rate_per_s": 0.0, "errors": 0})
            for (a, b), v in change.items()
            if v == "vanished" and a in g and b in g and not g.has_edge(a, b)
        ]
    # vanished edges shape the layers too, so they point the same way as the others
    shape = g.copy()
    shape.add_edges_from((a, b) for a, b, _ in vanished)
    lay = layered_layout(shape)
    n_layers = max((v[0] for v in lay.values()), default=0) + 1
    tallest = max((sum(1 for v in lay.values() if v[0] == k) for k in range(n_layers)), default=1)
    h = height or max(160, min(900, 60 * tallest + 40))
    margin_x, margin_y = 70.0, 30.0

    def xy(n: str) -> tuple[float, float]:
        layer, p = lay[n]
        members = sum(1 for v in lay.values() if v[0] == layer)
        x = margin_x + (width - 2 * margin_x) * (layer / max(n_layers - 1, 1))
        y = margin_y + (h - 2 * margin_y) * ((p + 0.5) / members)
        return x, y

    node_rows = []
    for n, data in g.nodes(data=True):
        x, y = xy(n)
        node_rows.append({"service": n, "x": x, "y": y, **data})
    edge_list = list(g.edges(data=True)) + vanished
    edge_rows = []
    for a, b, data in edge_list:
        x, y = xy(a)
        x2, y2 = xy(b)
        t = 0.62
        edge_rows.append(
            {
                "caller": a,
                "callee": b,
                "x": x,
                "y": y,
                "x2": x2,
                "y2": y2,
                "ax": x + (x2 - x) * t,
                "ay": y + (y2 - y) * t,
                "angle": (math.degrees(math.atan2(y2 - y, x2 - x)) + 90.0) % 360.0,
                "change": change.get((a, b), "same"),
                # the tooltip's words ("errors up"); ``change`` stays the identifier
                "change_text": change.get((a, b), "same").replace("_", " "),
                **data,
            }
        )
    node_schema: dict[str, pl.DataType | DataTypeClass] = {
        "service": pl.String,
        "x": pl.Float64,
        "y": pl.Float64,
        "requests": pl.Int64,
        "rate_per_s": pl.Float64,
        "errors": pl.Int64,
        "error_ratio": pl.Float64,
        "p50_ms": pl.Float64,
        "p95_ms": pl.Float64,
        "p99_ms": pl.Float64,
        "inferred": pl.Boolean,
    }
    # extra node columns (e.g. a baseline comparison) ride along, so they can colour
    node_schema.update({c: t for c, t in graph.nodes.schema.items() if c not in node_schema})
    nodes = pl.DataFrame(node_rows, schema=node_schema)
    edges = pl.DataFrame(
        edge_rows,
        schema={
            "caller": pl.String,
            "callee": pl.String,
            "x": pl.Float64,
            "y": pl.Float64,
            "x2": pl.Float64,
            "y2": pl.Float64,
            "ax": pl.Float64,
            "ay": pl.Float64,
            "angle": pl.Float64,
            "change": pl.String,
            "change_text": pl.String,
            "calls": pl.Int64,
            "rate_per_s": pl.Float64,
            "errors": pl.Int64,
            "error_ratio": pl.Float64,
            "p50_ms": pl.Float64,
            "p95_ms": pl.Float64,
            "p99_ms": pl.Float64,
            "inferred": pl.Boolean,
        },
    )
    # a distinct field name keeps the edges' legend-less stroke scale from swallowing the
    # nodes' colour legend (Vega-Lite merges legends of one field)
    # colour fields with nulls filled: Vega-Lite drops rows whose encoded
    # quantitative field is null (a vanished edge, a service with no requests)
    edges = edges.with_columns(pl.col("error_ratio").fill_null(0.0).alias("edge_error_ratio"))
    if color_by not in nodes.columns:
        raise ConfigError(
            f"cannot colour nodes by {color_by!r}",
            hint=f"use one of {', '.join(c for c in nodes.columns if nodes[c].dtype.is_numeric())}",
        )
    nodes = nodes.with_columns(
        pl.col(color_by)
        .cast(pl.Float64)
        .fill_null(pl.col(color_by).min())
        .fill_null(0.0)
        .alias("_color")
    )
    nodes = nodes.with_columns(
        pl.when(pl.col("inferred"))
        .then(pl.lit("square"))
        .otherwise(pl.lit("circle"))
        .alias("shape")
    )
    nodes, edges = stable_floats(nodes), stable_floats(edges)  # same data, same spec
    px = alt.X("x:Q", scale=None, axis=None)
    py = alt.Y("y:Q", scale=None, axis=None)
    # the colour scale spans what it colours: the edges' error ratios (from the traces)
    # only when edges are coloured by them, not when ``diff`` colours them by change
    coloured = nodes["error_ratio"].to_list()
    if diff is None:
        coloured += edges["error_ratio"].to_list()
    max_ratio = max([v for v in coloured if v], default=0.0)
    if color_by == "error_ratio":
        color_scale = error_scale(max_ratio)
        color_title = "error ratio"
    else:
        color_scale = alt.Scale(scheme="viridis", reverse=True)
        color_title = color_by
    max_rate = max(cast(float, edges["rate_per_s"].max() or 1.0), 1e-9)
    # the legend's ticks as format_percent writes them: "0%", "10.0%" (not "0.0%")
    pct_label = percent_expr("datum.value")
    # tooltips say each number as the tables do (workbench.display: one format per unit)
    nodes, edges = _tooltip_texts(nodes), _tooltip_texts(edges)
    edge_tip = [
        alt.Tooltip("caller:N"),
        alt.Tooltip("callee:N"),
        alt.Tooltip("calls:Q", format=",", title=f"calls {EDGE_SOURCE}"),
        *_EDGE_TEXT_TIPS,
    ]
    if diff is not None:
        edge_tip.append(alt.Tooltip("change_text:N", title="vs baseline"))
    edge_color: object = (
        alt.Stroke("edge_error_ratio:Q", scale=error_scale(max_ratio), legend=None)
        if color_by == "error_ratio"
        else alt.value("#888888")
    )
    present = [c for c in _DASHES if c in set(edges["change"].to_list())]
    change_legend = alt.Legend(
        title="edge vs baseline",
        symbolSize=500,
        symbolStrokeWidth=3,
        labelExpr="replace(datum.label, '_', ' ')",  # "errors up", not an identifier
    )
    if diff is not None:
        # colour and dash on one field: one legend whose entries differ in both
        edge_color = alt.Stroke(
            "change:N",
            scale=alt.Scale(domain=present, range=[CHANGE_COLOURS[c] for c in present]),
            legend=change_legend,
        )
    width_enc = alt.StrokeWidth(
        "rate_per_s:Q", scale=alt.Scale(domain=[0, max_rate], range=[1, 9]), legend=None
    )
    lines = (
        alt.Chart(edges)
        .mark_rule(opacity=0.75, strokeCap="round")
        .encode(
            px,
            py,
            x2=alt.X2("x2:Q"),
            y2=alt.Y2("y2:Q"),
            stroke=edge_color,
            strokeWidth=width_enc,
            tooltip=edge_tip,
        )
    )
    if diff is not None:
        # the colour legend lists the changes; dashes only repeat new and vanished (a
        # second legend of grey solid lines could not tell "same" from "errors_up")
        lines = lines.encode(
            strokeDash=alt.StrokeDash(
                "change:N",
                scale=alt.Scale(domain=present, range=[_DASHES[c] for c in present]),
                legend=None,
            )
        )
    arrows = (
        alt.Chart(edges)
        .mark_point(shape="triangle", filled=True, size=70, opacity=0.9)
        .encode(
            alt.X("ax:Q", scale=None, axis=None),
            alt.Y("ay:Q", scale=None, axis=None),
            angle=alt.Angle("angle:Q", scale=None),
            color=alt.ColorValue("#444444"),
            tooltip=edge_tip,
        )
    )
    node_tip = [
        alt.Tooltip("service:N"),
        alt.Tooltip("requests:Q", format=","),
        *_TEXT_TIPS,
        alt.Tooltip("_inferred_text:N", title="seen only from its callers"),
    ]
    node_enc: dict[str, object] = {
        "color": alt.Color(
            "_color:Q",
            scale=color_scale,
            title=color_title,
            legend=alt.Legend(labelExpr=pct_label)
            if color_by == "error_ratio"
            else alt.Legend(labelExpr=NUMBER_LABEL),
        ),
        "shape": alt.Shape("shape:N", scale=None),
        "tooltip": node_tip,
        # what a screen reader says of a node: the tooltip's words (the colour channel's
        # raw 0.18 otherwise stands in for "error ratio: 18.0%")
        "description": alt.Description("_description:N"),
    }
    points = alt.Chart(nodes).mark_point(
        filled=True, size=420, stroke="#333333", strokeWidth=1.2, opacity=1.0
    )
    if selectable:
        sel = alt.selection_point(name=SERVICE_SELECTION, fields=["service"], on="click")
        points = points.add_params(sel)
        node_enc["opacity"] = alt.condition(sel, alt.value(1.0), alt.value(0.35))
    points = points.encode(px, py, **node_enc)
    labels = (
        alt.Chart(nodes)
        .mark_text(dy=20, fontSize=11, color="#222222")
        .encode(px, py, text=alt.Text("service:N"))
    )
    shown = g.number_of_nodes()
    total = graph.nodes.height
    edges_by_ratio = diff is None and color_by == "error_ratio"
    head = title or "Service dependency graph"
    sub = (
        f"{shown} of {total} services (most failing, then busiest)"
        if shown < total
        else (
            f"{total} services, {g.number_of_edges()} edges; edge width = {RATE_UNIT}, "
            "arrow points to the callee"
        )
    )
    if diff is not None:
        sub += "; edges vs baseline: dashed = new, dotted = vanished"
    # a line of its own: the edges' numbers are not the nodes' (see EDGE_SOURCE)
    edge_line = (
        f"edges count the calls {EDGE_SOURCE}"
        f"{' (colour: their error ratio)' if edges_by_ratio else ''}"
    )
    subtitle = [sub, edge_line]
    if graph.window is not None:  # every number in a tooltip is over this window
        subtitle.append(f"numbers over {format_window(graph.window)}")
    return (
        alt.layer(lines, arrows, points, labels)
        .resolve_legend(stroke="independent", color="independent")
        .properties(
            width=width,
            height=h,
            title=alt.Title(head, subtitle=subtitle),
            view=alt.ViewBackground(stroke=None),
        )
    )
