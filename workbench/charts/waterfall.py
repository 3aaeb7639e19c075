"""One trace as a waterfall chart: a bar per span in call order, the critical path in
blue, spans off it in grey, spans in error in orange and the span where the error starts
in vermillion with a ✕ (Okabe-Ito colours, and the ✕ and bar outline do not rely on
colour at all).

Example::

    >>> from workbench.analysis.waterfall import trace_waterfall
    >>> from workbench.charts.waterfall import trace_waterfall_chart
    >>> trace_waterfall_chart(trace_waterfall(inc.spans, trace_id))
"""

from __future__ import annotations

import altair as alt
import polars as pl

from workbench.analysis._util import check_columns
from workbench.charts._style import OKABE_ITO

__all__ = ["ROLE_COLORS", "trace_waterfall_chart"]

#: bar role -> colour (colour-blind safe), in legend order
ROLE_COLORS = {
    "critical path": OKABE_ITO[0],
    "off the critical path": "#BBBBBB",
    "error": OKABE_ITO[1],
    "error starts here": OKABE_ITO[5],
}


def trace_waterfall_chart(
    waterfall: pl.DataFrame, *, width: int = 640, max_spans: int = 300, title: str | None = None
) -> alt.LayerChart | alt.FacetChart:  # alt.layer may hoist a facet (altair 6)
    """Bars from each span's offset to its end (ms from the trace start), one row per span
    in call order (from :func:`workbench.analysis.waterfall.trace_waterfall`). At most
    ``max_spans`` rows are drawn (the first in call order; the subtitle says so)."""
    check_columns(
        waterfall,
        ("order", "label", "offset_ms", "end_ms", "on_critical_path", "error_origin", "status"),
        "waterfall",
    )
    total = waterfall.height
    df = waterfall.sort("order").head(max_spans)
    role = (
        pl.when(pl.col("error_origin"))
        .then(pl.lit("error starts here"))
        .when(pl.col("status") == "error")
        .then(pl.lit("error"))
        .when(pl.col("on_critical_path"))
        .then(pl.lit("critical path"))
        .otherwise(pl.lit("off the critical path"))
    )
    df = df.with_columns(role.alias("role"))
    # labels left-aligned in a fixed gutter, so the call depth shows as indentation
    gutter = 290
    y = alt.Y(
        "label:N",
        sort=alt.SortField("order"),
        title=None,
        axis=alt.Axis(
            labelAlign="left", labelPadding=gutter, labelLimit=gutter - 10, labelFontSize=11
        ),
    )
    x = alt.X("offset_ms:Q", title="ms from the start of the trace")
    tip = [
        alt.Tooltip("service:N"),
        alt.Tooltip("name:N"),
        alt.Tooltip("status:N"),
        alt.Tooltip("role:N"),
        alt.Tooltip("duration_ms:Q", format=".1f", title="duration ms"),
        alt.Tooltip("offset_ms:Q", format=".1f", title="starts at ms"),
        alt.Tooltip("self_ms:Q", format=".1f", title="self ms"),
        alt.Tooltip("cp_ms:Q", format=".1f", title="on critical path ms"),
    ]
    roles = list(ROLE_COLORS)
    bars = (
        alt.Chart(df)
        .mark_bar(height=12, cornerRadius=1)
        .encode(
            x,
            x2="end_ms:Q",
            y=y,
            color=alt.Color(
                "role:N",
                scale=alt.Scale(domain=roles, range=[ROLE_COLORS[r] for r in roles]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            stroke=alt.condition("datum.status === 'error'", alt.value("#000000"), alt.value(None)),
            strokeWidth=alt.condition("datum.error_origin", alt.value(2), alt.value(1)),
            tooltip=tip,
        )
    )
    marks = (
        alt.Chart(df)
        .transform_filter("datum.error_origin")
        .mark_text(align="left", dx=4, fontSize=12, fontWeight="bold", color="#000000")
        .encode(alt.X("end_ms:Q"), y=y, text=alt.value("✕ error starts here"), tooltip=tip)
    )
    n_err = int(df["error_origin"].sum())
    sub = f"{total} spans; blue = critical path"
    if n_err:
        sub += "; ✕ = where the error starts"
    if total > df.height:
        sub = f"first {df.height} of {total} spans in call order; " + sub
    return alt.layer(bars, marks).properties(
        width=width,
        height=max(60, 16 * df.height),
        title=alt.Title(title or "Trace waterfall", subtitle=sub),
    )
