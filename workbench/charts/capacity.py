"""Capacity charts: what runs out first, the trend with its forecast, and the daily and
weekly shape. Every builder aggregates first (daily peaks, hour-of-week means), so a
chart carries a few hundred rows whatever the range.

Example::

    >>> from workbench.analysis.capacity import capacity_table, daily_peaks, forecast_path
    >>> from workbench.charts.capacity import runs_out_chart, trend_chart, seasonality_chart
    >>> runs_out_chart(table, horizon_days=180)
    >>> trend_chart(forecast_path(daily_peaks(util), threshold=0.8), table, threshold=0.8)
    >>> seasonality_chart(util, pairs=[("checkout", "cpu")])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import altair as alt
import polars as pl

from workbench.charts._style import OKABE_ITO
from workbench.charts._text import percent_expr
from workbench.display import format_percent

__all__ = ["runs_out_chart", "seasonality_chart", "top_pairs", "trend_chart"]

_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def top_pairs(table: pl.DataFrame, n: int = 4) -> list[tuple[str, str]]:
    """The first ``n`` (service, resource) pairs of a runs-out-first table."""
    return [tuple(r) for r in table.select("service", "resource").head(n).rows()]


def _label(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(series=pl.col("service") + " / " + pl.col("resource"))


def runs_out_chart(table: pl.DataFrame, *, horizon_days: int = 365, top: int = 15) -> alt.Chart:
    """Bars of days until each resource crosses the threshold (soonest on top; beyond the
    horizon drawn at the horizon, pale), labelled with the recent peak utilisation."""
    df = _label(table.head(top)).with_columns(
        days=pl.when(pl.col("days_left").is_finite())
        .then(pl.col("days_left").clip(upper_bound=horizon_days))
        .otherwise(float(horizon_days)),
        within=pl.col("days_left") <= horizon_days,
        rank=pl.int_range(1, pl.len() + 1),
    )
    # the label and tooltip write numbers as the table beside the chart does ("58.2%",
    # "14 d"); the label read "58" under a table saying 58.2%
    df = df.with_columns(
        peak_text=pl.Series([format_percent(v) for v in df["utilisation_peak"].to_list()]),
        days_text=pl.Series(
            [
                f"{d:.0f} d" if d is not None and math.isfinite(d) else "—"
                for d in df["days_left"].to_list()
            ],
            dtype=pl.String,
        ),
    )
    data = df.select(
        "series",
        "service",
        "resource",
        "days",
        "within",
        "peak_text",
        "days_text",
        "rank",
        pl.col("saturates_at")
        .dt.strftime("%Y-%m-%d")
        .fill_null("not within the horizon")
        .alias("date"),
    )
    order = data["series"].to_list()
    base = alt.Chart(data).encode(
        y=alt.Y("series:N", sort=order, title=None),
        x=alt.X(
            "days:Q",
            title=f"days until the threshold (capped at {horizon_days})",
            scale=alt.Scale(domain=[0, horizon_days]),
            # about 9 ticks: at 10-day steps the last label, flush with the axis end,
            # ran into the one before it ("170180")
            axis=alt.Axis(tickCount=9, labelOverlap=True),
        ),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("resource:N", scale=alt.Scale(range=list(OKABE_ITO)), title="resource"),
        opacity=alt.condition("datum.within", alt.value(1.0), alt.value(0.3)),
        tooltip=[
            alt.Tooltip("service:N"),
            alt.Tooltip("resource:N"),
            alt.Tooltip("peak_text:N", title="peak"),
            alt.Tooltip("date:N", title="crosses the threshold"),
            alt.Tooltip("days_text:N", title="days left"),
        ],
    )
    text = base.mark_text(align="left", dx=3, fontSize=10).encode(text=alt.Text("peak_text:N"))
    return (bars + text).properties(
        title="Runs out first (label: recent peak utilisation)",
        width=520,
        height=max(120, 18 * len(order)),
    )


def trend_chart(
    path: pl.DataFrame,
    table: pl.DataFrame | None = None,
    *,
    threshold: float = 0.8,
    columns: int = 2,
) -> alt.FacetChart:
    """Per (service, resource): observed daily peak utilisation (points), the fitted trend
    continued into the future (line) with its 80 % band, the threshold (dashed) and the
    forecast saturation date (vertical rule). ``path`` is
    :func:`~workbench.analysis.capacity.forecast_path` output."""
    cap = max(1.2, threshold * 1.5)  # the line stops, the band is clipped, above this
    df = _label(path).with_columns(
        pl.col("lower", "upper").clip(upper_bound=cap),
        fitted=pl.when(pl.col("fitted") <= cap).then(pl.col("fitted")),
    )
    rows = df.select("day", "series", "peak", "fitted", "lower", "upper")
    base = alt.Chart().encode(
        x=alt.X(
            "day:T",
            title="day (UTC)",
            scale=alt.Scale(type="utc"),
            axis=alt.Axis(format="%b %d", labelOverlap=True),
        )
    )
    band = base.mark_area(opacity=0.2, color=OKABE_ITO[0]).encode(
        y=alt.Y("lower:Q", title="daily peak utilisation", axis=alt.Axis(format="%")),
        y2="upper:Q",
    )
    line = base.mark_line(color=OKABE_ITO[0]).encode(y="fitted:Q")
    pts = (
        base.mark_point(size=14, filled=True, color=OKABE_ITO[7])
        .transform_calculate(_peak_text=percent_expr("datum.peak"))
        .encode(
            y="peak:Q",
            tooltip=[
                alt.Tooltip("day:T", format="%Y-%m-%d"),
                alt.Tooltip("_peak_text:N", title="peak"),
            ],
        )
    )
    thr = (
        alt.Chart().mark_rule(strokeDash=[4, 3], color=OKABE_ITO[5]).encode(y=alt.datum(threshold))
    )
    layers = [band, line, pts, thr]
    if table is not None:
        sat = _label(table).filter(pl.col("saturates_at").is_not_null())
        rules = sat.select("series", pl.col("saturates_at").alias("sat"))
        rows = rows.join(rules, on="series", how="left")
        layers.append(
            alt.Chart()
            .mark_rule(color=OKABE_ITO[5])
            .encode(x="sat:T")
            .transform_filter("isValid(datum.sat)")
        )
    return (
        alt.layer(*layers, data=rows)
        .properties(width=300, height=160)
        .facet(facet=alt.Facet("series:N", title=None), columns=columns)
        .properties(
            title=f"Daily peak utilisation, trend and forecast (threshold {format_percent(threshold, digits=0)})"
        )
    )


def seasonality_chart(
    util: pl.DataFrame, *, pairs: Sequence[tuple[str, str]], columns: int = 2
) -> alt.FacetChart:
    """Hour-of-day x day-of-week mean utilisation (UTC) per (service, resource): the daily
    and weekly shape. ``util`` is :func:`~workbench.analysis.capacity.utilisation` output."""
    keep = pl.DataFrame(list(pairs), schema=["service", "resource"], orient="row")
    df = (
        util.join(keep, on=["service", "resource"])
        .group_by(
            "service",
            "resource",
            hour=pl.col("ts").dt.hour(),
            dow=pl.col("ts").dt.weekday(),
        )
        .agg(u=pl.col("utilisation").mean())
        .with_columns(
            day=pl.col("dow").replace_strict(dict(enumerate(_WEEKDAYS, 1)), return_dtype=pl.String)
        )
        .pipe(_label)
    )
    top = float(cast(float, df["u"].max() or 1.0))
    data = df.select("series", "hour", "day", "u")
    return (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="hour of day (UTC)"),
            y=alt.Y("day:O", sort=_WEEKDAYS, title=None),
            color=alt.Color(
                "u:Q",
                title="mean utilisation",
                scale=alt.Scale(scheme="blues", domain=[0, math.ceil(top * 10) / 10]),
                legend=alt.Legend(format="%"),
            ),
            tooltip=["series", "day", "hour", alt.Tooltip("_u_text:N", title="u")],
        )
        .transform_calculate(_u_text=percent_expr("datum.u"))
        .properties(width=300, height=120)
        .facet(facet=alt.Facet("series:N", title=None), columns=columns)
        .properties(title="Daily and weekly shape (mean utilisation by hour and weekday)")
    )
