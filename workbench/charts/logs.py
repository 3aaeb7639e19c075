"""The most frequent error log messages as a bar chart.

Example::

    >>> from workbench.analysis.logs import top_error_messages
    >>> from workbench.charts import top_errors_chart
    >>> top_errors_chart(top_error_messages(inc.logs, window=inc.window, baseline=inc.baseline))
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from workbench.analysis._util import check_columns
from workbench.charts._style import OKABE_ITO
from workbench.display import format_window

__all__ = ["top_errors_chart"]


def top_errors_chart(
    top: pl.DataFrame,
    *,
    n: int = 15,
    width: int = 420,
    max_label: int = 70,
    window: Any = None,
    baseline: Any = None,
) -> alt.LayerChart | alt.FacetChart:  # alt.layer may hoist a facet (altair 6)
    """Horizontal bars of the most frequent error messages (from
    :func:`workbench.analysis.logs.top_error_messages`), coloured by service; a black
    tick marks the baseline count, a ``NEW`` prefix flags messages the baseline never had.

    Each label starts with its service, so there is no colour legend: with 70-character
    labels the chart stays within a notebook's output area (about 950 px), where a legend
    on the right was cut off along with the subtitle's end. ``window`` and ``baseline``
    (the windows the counts were taken over) name them on the axis and in the subtitle.

    >>> top_errors_chart(inv.top_errors.frame, window=inv.window, baseline=inv.baseline)
    """
    check_columns(top, ("service", "pattern", "count"), "top errors")
    df = top.sort("count", descending=True).head(n)
    if "baseline_count" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.Int64).alias("baseline_count"))
    if "new" not in df.columns:
        df = df.with_columns(pl.lit(False).alias("new"))
    if "example" not in df.columns:
        df = df.with_columns(pl.col("pattern").alias("example"))
    short = (
        pl.when(pl.col("pattern").str.len_chars() > max_label)
        .then(pl.col("pattern").str.slice(0, max_label - 1) + "…")
        .otherwise(pl.col("pattern"))
    )
    df = df.with_columns(
        pl.col("service").fill_null("(all)"),
        (
            pl.when(pl.col("new")).then(pl.lit("NEW  ")).otherwise(pl.lit(""))
            + pl.col("service").fill_null("(all)")
            + ": "
            + short
        ).alias("label"),
    ).with_row_index("rank")
    services = sorted(set(df["service"].to_list()))
    palette = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(services))]
    # most frequent first: a layer unions the y domains of its charts and keeps a sort
    # only with an aggregate op (a plain field sort was dropped: labels went A to Z)
    y = alt.Y(
        "label:N",
        sort=alt.EncodingSortField(field="rank", op="min", order="ascending"),
        title=None,
        axis=alt.Axis(labelLimit=520),
    )
    tip = [
        alt.Tooltip("service:N"),
        alt.Tooltip("pattern:N"),
        alt.Tooltip("count:Q", format=","),
        alt.Tooltip("baseline_count:Q", format=",", title="baseline"),
        alt.Tooltip("example:N"),
    ]
    bars = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            alt.X(
                "count:Q",
                title="error lines in the window"
                + (f" {format_window(window)}" if window is not None else ""),
            ),
            y,
            color=alt.Color(
                "service:N",
                scale=alt.Scale(domain=services, range=palette),
                legend=None,  # the label names the service
            ),
            tooltip=tip,
        )
    )
    base_tick = (
        alt.Chart(df)
        .mark_tick(color="black", thickness=2)
        .encode(alt.X("baseline_count:Q"), y, tooltip=tip)
    )
    return alt.layer(bars, base_tick).properties(
        width=width,
        height=max(60, 22 * df.height),
        title=alt.Title(
            "Most frequent error messages",
            subtitle="variable parts masked as <*>; black tick = baseline count"
            + (f" ({format_window(baseline)})" if baseline is not None else "")
            + "; NEW = not in baseline",
            anchor="start",
        ),
    )
