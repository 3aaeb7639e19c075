"""Prometheus's ``ALERTS`` series -> alert events.

Prometheus writes ``ALERTS{alertname, alertstate, ...labels} 1`` at every rule evaluation
while an alert is pending or firing. :func:`alert_runs` takes the raw samples (a range
vector, so no lookback smearing) and cuts each series into runs: a gap longer than twice
the evaluation interval (or twice the series' usual spacing, if larger) ends a run.

One event per run: ``ts`` = first sample, ``end`` = last sample, or null when the run
reaches the end of the window (still firing then); ``kind`` "alert"; ``title`` the
alert name; ``attributes`` ``status`` (the alertstate) and the series labels as
``labels.<name>`` (the same keys the Alertmanager sources use).

Example::

    >>> prom.alert_events(window).frame
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from workbench import frames
from workbench.timewindow import Window

__all__ = ["alert_runs"]


def alert_runs(
    samples: pl.DataFrame, *, window: Window, source: str, eval_interval: timedelta
) -> pl.DataFrame:
    """Turn ``ALERTS`` samples (a metrics frame) into an events frame."""
    if samples.height == 0:
        return frames.empty("events")
    pair = pl.element().struct.field("key") + pl.lit("=") + pl.element().struct.field("value")
    df = samples.with_columns(key=pl.col("labels").list.eval(pair).list.join("\x1f")).sort(
        "key", "ts"
    )
    gap_us = pl.col("ts").diff().over("key").dt.total_microseconds()
    spacing = gap_us.median().over("key").fill_null(0)
    floor_us = int(eval_interval.total_seconds() * 1_000_000)
    threshold = pl.max_horizontal(spacing, pl.lit(floor_us)) * 2
    df = df.with_columns(
        run=(gap_us.is_null() | (gap_us > threshold)).cast(pl.UInt32).cum_sum().over("key"),
        threshold_us=threshold,
    )
    runs = df.group_by("key", "run", maintain_order=True).agg(
        pl.col("ts").min().alias("start"),
        pl.col("ts").max().alias("last"),
        pl.col("service").first(),
        pl.col("labels").first(),
        pl.col("threshold_us").first(),
    )
    window_end = pl.lit(window.end).cast(frames.TS)
    still = (window_end - pl.col("last")).dt.total_microseconds() <= pl.col("threshold_us")
    name = frames.attr("labels", "alertname")
    state = frames.attr("labels", "alertstate")
    prefixed = pl.col("labels").list.eval(
        pl.struct(
            key=pl.lit("labels.") + pl.element().struct.field("key"),
            value=pl.element().struct.field("value"),
        )
    )
    status = pl.concat_list(pl.struct(key=pl.lit("status"), value=state))
    out = runs.select(
        ts=pl.col("start"),
        end=pl.when(still).then(None).otherwise(pl.col("last")).cast(frames.TS),
        kind=pl.lit("alert"),
        service=pl.col("service"),
        title=pl.coalesce(name, pl.lit("ALERTS")),
        source=pl.lit(source),
        attributes=pl.concat_list(status, prefixed).cast(frames.KV),
    )
    return out.sort("ts")
