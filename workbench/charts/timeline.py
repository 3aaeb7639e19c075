"""The incident timeline as a chart: one lane per kind of event.

Example::

    >>> from workbench.charts import timeline_chart
    >>> timeline_chart(build_timeline(inc.events, r, window=inc.window))
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from workbench.analysis._util import check_columns
from workbench.analysis.timeline import KIND_LABEL
from workbench.charts._style import (
    BASELINE_FILL,
    INCIDENT_FILL,
    MAX_ROWS,
    OKABE_ITO,
    interactive_subtitle,
    time_x,
)

__all__ = ["KIND_COLORS", "timeline_chart"]

#: Lane order and colour of each timeline kind (Okabe-Ito, colour-blind safe).
KIND_COLORS = {
    "deploy": OKABE_ITO[0],
    "rollback": OKABE_ITO[4],
    "config": OKABE_ITO[2],
    "chaos": OKABE_ITO[7],
    "error_spike": OKABE_ITO[3],
    "latency_spike": OKABE_ITO[1],
    # back under the onset threshold: green, the lane label says "recovery"
    "recovery": OKABE_ITO[2],
    "alert": OKABE_ITO[5],
    "log_surge": "#777777",
    "annotation": "#999999",
}


def timeline_chart(
    timeline: pl.DataFrame,
    *,
    width: int = 720,
    max_items: int = 400,
    max_lanes: int = 24,
    labels: bool = True,
    zoom: Any = None,
) -> alt.LayerChart | alt.FacetChart:  # alt.layer may hoist a facet (altair 6)
    """One lane per kind and service (alerts, error and latency onsets, deploys,
    rollbacks, config, chaos; one lane per kind, marks labelled with their service,
    when that would exceed ``max_lanes``): intervals as bars, instants as ticks; the
    incident window shaded orange and the baseline blue. Live, hover a mark for its title
    and evidence (static exports leave that line of the subtitle out).
    ``max_items`` caps the rows drawn (the earliest are kept; the subtitle says so).
    ``zoom`` (a window) sets the time axis to that range and keeps the items in it.
    """
    check_columns(timeline, ("ts", "end", "kind", "service", "title"), "timeline")
    windows = timeline.filter(pl.col("kind").is_in(["incident", "baseline"]))
    items = timeline.filter(~pl.col("kind").is_in(["incident", "baseline"]))
    if zoom is not None:  # items that overlap the zoomed range
        end = pl.col("end").fill_null(pl.col("ts"))
        items = items.filter((pl.col("ts") < zoom.end) & (end >= zoom.start))
    total = items.height
    items = items.sort("ts").head(min(max_items, MAX_ROWS))
    if "evidence" not in items.columns:
        items = items.with_columns(pl.lit("").alias("evidence"))
    kinds = [k for k in KIND_COLORS if k in set(items["kind"].to_list())]
    kinds += sorted(set(items["kind"].to_list()) - set(kinds))
    items = items.with_columns(
        pl.col("end").fill_null(pl.col("ts")).alias("end"),
        pl.col("service").fill_null("").alias("service"),
        (pl.col("end").is_not_null() & (pl.col("end") > pl.col("ts"))).alias("interval"),
    )
    # one lane per kind and service while that stays readable, else one per kind
    per_service = items.select("kind", "service").unique().height <= max_lanes
    # lanes named as the timeline table names the kinds ("errors rise", "recovered")
    label = pl.col("kind").replace_strict(KIND_LABEL, default=pl.col("kind"))
    lane = (
        pl.when(pl.col("service") != "").then(label + " · " + pl.col("service")).otherwise(label)
        if per_service
        else label
    )
    kind_rank = {k: i for i, k in enumerate(kinds)}
    items = items.with_columns(lane.alias("lane"), label.alias("what"))
    lanes = (
        items.group_by("lane")
        .agg(pl.col("kind").first(), pl.col("ts").min())
        .with_columns(pl.col("kind").replace_strict(kind_rank, return_dtype=pl.Int32).alias("_k"))
        .sort("_k", "ts", "lane")["lane"]
        .to_list()
    )
    labels = labels and not per_service
    palette = [KIND_COLORS.get(k, "#777777") for k in kinds]
    color = alt.Color(
        "kind:N", scale=alt.Scale(domain=kinds, range=palette), legend=None, title="kind"
    )
    y = alt.Y("lane:N", sort=lanes, title=None, axis=alt.Axis(labelFontSize=11, labelLimit=260))
    tip = [
        alt.Tooltip("what:N"),
        alt.Tooltip("service:N"),
        alt.Tooltip("title:N"),
        alt.Tooltip("utchoursminutesseconds(ts):T", title="start (UTC)"),
        alt.Tooltip("utchoursminutesseconds(end):T", title="end (UTC)"),
        alt.Tooltip("evidence:N"),
    ]
    height = max(80, 26 * max(1, len(lanes)))
    layers: list[alt.Chart] = []
    shade = windows.with_columns(
        pl.col("kind")
        .replace_strict(
            {"incident": INCIDENT_FILL, "baseline": BASELINE_FILL}, return_dtype=pl.String
        )
        .alias("fill")
    )
    if shade.height:
        layers.append(
            alt.Chart(shade)
            .mark_rect(opacity=0.12, clip=True)
            .encode(
                time_x(zoom=zoom),
                x2=alt.X2("end:T"),
                color=alt.Color("fill:N", scale=None),
                tooltip=[alt.Tooltip("title:N")],
            )
        )
    bars = (
        alt.Chart(items)
        .transform_filter("datum.interval")
        .mark_bar(height=10, opacity=0.8, cornerRadius=2, clip=True)
        .encode(time_x(zoom=zoom), x2=alt.X2("end:T"), y=y, color=color, tooltip=tip)
    )
    ticks = (
        alt.Chart(items)
        .transform_filter("!datum.interval")
        .mark_tick(thickness=3, size=16, clip=True)
        .encode(time_x(zoom=zoom), y=y, color=color, tooltip=tip)
    )
    layers += [bars, ticks]
    if labels:
        layers.append(
            alt.Chart(items)
            .mark_text(align="left", dx=4, dy=-11, fontSize=10, color="#333333")
            .encode(time_x(zoom=zoom), y=y, text=alt.Text("service:N"), tooltip=tip)
        )
    sub = "orange = incident window, blue = baseline"
    if zoom is not None:
        sub = f"zoomed to {zoom.start:%H:%M:%S}–{zoom.end:%H:%M:%S} UTC; " + sub
    if total > items.height:
        sub = f"earliest {items.height} of {total} items; " + sub
    chart = alt.layer(*layers).properties(width=width, height=height)
    return interactive_subtitle(chart, "Timeline", sub, "hover a mark for its title and evidence")
