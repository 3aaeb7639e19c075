"""RED small multiples: one row per service, columns rate / error ratio / p95.

The incident window is shaded orange, the baseline window blue, and a dashed line marks
each series' value over the baseline (as the RED summary states it). Services are capped
(the most changed first) and time is re-bucketed so a chart never carries more than
:data:`~workbench.charts._style.MAX_ROWS` rows.

Example::

    >>> from workbench.analysis.red import red
    >>> from workbench.charts import red_panels
    >>> red_panels(red(inc.metrics, inc.spans), window=inc.window, baseline=inc.baseline)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

import altair as alt
import polars as pl

from workbench.analysis._util import check_columns, filter_window, truncate_every
from workbench.analysis.red import RED_COLUMNS
from workbench.charts._style import (
    BASELINE_FILL,
    INCIDENT_FILL,
    MAX_ROWS,
    NUMBER_LABEL,
    OKABE_ITO,
    iso,
    stable_floats,
    time_scale,
    time_x,
)
from workbench.charts._text import ms_expr, percent_expr, rate_expr
from workbench.display import RATE_UNIT
from workbench.timewindow import Window

__all__ = ["MEASURES", "TIME_BRUSH", "downsample_red", "pick_services", "red_panels"]

#: column -> panel title, in panel order
MEASURES = {
    "rate": f"request rate ({RATE_UNIT})",
    "error_pct": "errors (%)",
    "p95_ms": "p95 latency (ms)",
}
#: Name of the interval selection on time (``JupyterChart.selections.time``).
TIME_BRUSH = "time"


def pick_services(
    red_frame: pl.DataFrame,
    *,
    window: Window | None = None,
    baseline: Window | None = None,
    max_services: int = 12,
) -> list[str]:
    """The services most worth a panel: largest error-ratio rise, then p95 rise (when
    both windows are given), else highest peak error ratio, then busiest."""
    if window is not None and baseline is not None:
        from workbench.analysis.red import red_summary

        s = red_summary(red_frame, window=window, baseline=baseline)
        return s["service"].head(max_services).to_list()
    ranked = (
        red_frame.group_by("service")
        .agg(pl.col("error_ratio").max().fill_null(0).alias("e"), pl.col("rate").mean().alias("r"))
        .sort(["e", "r", "service"], descending=[True, True, False], nulls_last=True)
    )
    return ranked["service"].head(max_services).to_list()


def downsample_red(red_frame: pl.DataFrame, *, max_points: int) -> pl.DataFrame:
    """Re-bucket a RED frame to at most ``max_points`` steps per service: mean rate,
    request-weighted error ratio, highest p50/p95/p99 (spikes stay visible)."""
    per_service = cast(int, red_frame.group_by("service").len()["len"].max() or 0)
    if per_service <= max_points:
        return red_frame
    lo = cast("datetime | None", red_frame["ts"].min())
    hi = cast("datetime | None", red_frame["ts"].max())
    span = (hi - lo).total_seconds() if lo is not None and hi is not None else 0.0
    step = timedelta(seconds=max(1, math.ceil(span / max(max_points - 1, 1))))
    return (
        red_frame.with_columns(pl.col("ts").dt.truncate(truncate_every(step)))
        .group_by("ts", "service")
        .agg(
            pl.col("rate").mean(),
            (
                (pl.col("rate") * pl.col("error_ratio")).sum()
                / pl.col("rate").filter(pl.col("error_ratio").is_not_null()).sum()
            ).alias("error_ratio"),
            pl.col("p50_ms").max(),
            pl.col("p95_ms").max(),
            pl.col("p99_ms").max(),
        )
        .select(RED_COLUMNS)
        .sort("service", "ts")
    )


def _baseline_lines(red_frame: pl.DataFrame, baseline: Window) -> pl.DataFrame:
    """``service, measure, baseline``: each panel's dashed line, the quantity over the
    baseline window by its one definition (:func:`workbench.analysis.red.rate_over_window`
    and its siblings), the number the RED summary's ``..._base`` columns show (the
    error panel's line was the median of steps: 0.7% where the table says 0.9%)."""
    from workbench.analysis.red import error_ratio_over_window, p95_over_window, rate_over_window

    return (
        filter_window(red_frame, "ts", baseline)
        .group_by("service")
        .agg(
            rate_over_window().alias("rate"),
            (error_ratio_over_window() * 100.0).alias("error_pct"),
            p95_over_window().alias("p95_ms"),
        )
        .unpivot(index="service", on=list(MEASURES), variable_name="measure", value_name="baseline")
        .with_columns(pl.col("measure").replace_strict(MEASURES, return_dtype=pl.String))
    )


def red_panels(
    red_frame: pl.DataFrame,
    window: Window | None = None,
    baseline: Window | None = None,
    *,
    services: Sequence[str] | None = None,
    max_services: int = 12,
    panel_width: int = 210,
    panel_height: int = 70,
    brush: bool = False,
    zoom: Window | None = None,
) -> alt.FacetChart:
    """Small multiples of a RED frame (see :mod:`workbench.analysis.red`).

    ``window`` (incident) and ``baseline`` are shaded; the dashed line is each panel's
    quantity over the baseline window, as the RED summary states it. ``services`` picks the rows, most changed first whatever the order
    given (default: up to ``max_services`` chosen by :func:`pick_services`). ``brush=True`` adds an interval selection on time
    named :data:`TIME_BRUSH`, for widgets. ``zoom`` (a window) sets every time axis to
    that range and draws only what lies in it (what a brush in the explorer does).
    """
    check_columns(red_frame, RED_COLUMNS, "RED")
    total = red_frame["service"].n_unique()
    if services:
        # the caller's services, most changed first as the subtitle says (they came
        # focus first then alphabetical in the explorer, alphabetical in the postmortem,
        # under "most changed first" and beside a table in that order)
        rank = {
            s: i
            for i, s in enumerate(
                pick_services(red_frame, window=window, baseline=baseline, max_services=total)
            )
        }
        chosen = sorted(dict.fromkeys(services), key=lambda s: rank.get(s, total))
    else:
        chosen = pick_services(
            red_frame, window=window, baseline=baseline, max_services=max_services
        )
    df = red_frame.filter(pl.col("service").is_in(chosen))
    base_lines = _baseline_lines(df, baseline) if baseline is not None else None
    max_points = max(10, MAX_ROWS // max(1, len(chosen) * len(MEASURES)))
    df = downsample_red(df, max_points=max_points)
    df = df.with_columns((pl.col("error_ratio") * 100.0).alias("error_pct"))
    long = df.unpivot(
        index=["ts", "service"], on=list(MEASURES), variable_name="measure", value_name="value"
    ).with_columns(pl.col("measure").replace_strict(MEASURES, return_dtype=pl.String))
    if base_lines is not None:
        long = long.join(base_lines, on=["service", "measure"], how="left")
    if zoom is not None:
        long = filter_window(long, "ts", zoom)
    order = {s: i for i, s in enumerate(chosen)}
    long = long.with_columns(
        pl.col("service").replace_strict(order, return_dtype=pl.Int32).alias("_order")
    ).sort("_order", "measure", "ts")
    long = stable_floats(long)

    base = alt.Chart().properties(width=panel_width, height=panel_height)
    layers: list[alt.Chart] = []
    for w, color in ((baseline, BASELINE_FILL), (window, INCIDENT_FILL)):
        if w is None:
            continue
        # one row per panel first, then its two ends: the same rectangle as computing the
        # ends on every row and taking their minimum, at a fraction of the cost (the
        # demo's RED panels drew in 0.39 s instead of 0.56 s, the SVG the same bytes)
        layers.append(
            base.transform_aggregate(_n="count()")
            .transform_calculate(_ws=f"toDate('{iso(w.start)}')", _we=f"toDate('{iso(w.end)}')")
            .mark_rect(color=color, opacity=0.13, clip=True)
            .encode(x=alt.X("_ws:T", scale=time_scale(zoom)), x2=alt.X2("_we:T"))
        )
    line = base.mark_line(
        strokeWidth=1.4, color=OKABE_ITO[0], interpolate="step-after", clip=True
    ).encode(
        time_x(zoom=zoom),
        alt.Y("value:Q", title=None, axis=alt.Axis(tickCount=3, labelExpr=NUMBER_LABEL)),
        tooltip=[
            alt.Tooltip("service:N"),
            alt.Tooltip("measure:N"),
            alt.Tooltip("utchoursminutes(ts):T", title="time (UTC)"),
            alt.Tooltip("_text:N", title="value"),
        ],
        description=alt.Description("_aria:N"),
    )
    # the tooltip writes the value as the tables do (workbench.display), in the browser
    rate_m, err_m = (json.dumps(MEASURES[k]) for k in ("rate", "error_pct"))
    line = line.transform_calculate(
        _text=f"datum.measure === {rate_m} ? ({rate_expr('datum.value')}) : "
        f"datum.measure === {err_m} ? ({percent_expr('datum.value', scaled=True)}) : "
        f"({ms_expr('datum.value')})"
    ).transform_calculate(
        # what a screen reader says of the line: the tooltip's words, not the raw y
        _aria="'time (UTC): ' + utcFormat(datum.ts, '%H:%M') + '; value: ' + datum._text"
        " + '; service: ' + datum.service + '; measure: ' + datum.measure"
    )
    if brush:
        line = line.add_params(
            alt.selection_interval(name=TIME_BRUSH, encodings=["x"], resolve="global")
        )
    layers.append(line)
    if baseline is not None:
        layers.append(
            base.mark_rule(strokeDash=[4, 3], color="#555555", strokeWidth=1).encode(
                y=alt.Y("mean(baseline):Q")
            )
        )
    note = (
        f"{len(chosen)} of {total} services, most changed first"
        if len(chosen) < total
        else f"{total} services"
    )
    shading = []
    if zoom is not None:
        shading.append(f"zoomed to {zoom.start:%H:%M:%S}–{zoom.end:%H:%M:%S} UTC")
    if window is not None:
        shading.append("orange = incident window")
    if baseline is not None:
        shading.append("blue = baseline, dashed = its value over the baseline")
    return (
        alt.layer(*layers, data=long)
        .facet(
            row=alt.Row(
                "service:N",
                sort=alt.SortField("_order"),
                header=alt.Header(labelAngle=0, labelAlign="left", title=None),
            ),
            column=alt.Column(
                "measure:N", sort=list(MEASURES.values()), header=alt.Header(title=None)
            ),
        )
        .resolve_scale(y="independent")
        .properties(title=alt.Title("RED per service", subtitle="; ".join([note, *shading])))
    )
