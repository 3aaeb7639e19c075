"""One definition per headline quantity: error ratio, request rate, p95, onset time.

Each is one function over the RED frame (:mod:`workbench.analysis.red`) and one window,
returning a :class:`Quantity` that names its window when printed::

    error ratio 2026-11-20 11:00–12:00 UTC: 18.0%

The RED summary, the graph's node numbers, the findings, the postmortem and the
explorer all go through these (the summary's columns are the same expressions,
:func:`workbench.analysis.red.error_ratio_over_window` and its siblings), so a quantity
shows one value per window wherever it appears.

Example::

    >>> from workbench.investigation import quantities as q
    >>> print(q.error_ratio(inv.red.frame, "checkout", window=inv.window))
    error ratio 2026-11-20 11:00–12:00 UTC: 18.0%
    >>> q.onset(inv.onsets.frame, window=inv.window).value
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from workbench.analysis._util import filter_window
from workbench.analysis.red import (
    error_ratio_over_window,
    p95_over_window,
    rate_over_window,
    red_summary,
)
from workbench.display import RATE_UNIT, format_percent, format_rate, format_value
from workbench.investigation.answer import span_label
from workbench.timewindow import Window

__all__ = [
    "ONSET_DEFINITION",
    "RED_DEFINITION",
    "SUMMARY_DEFINITION",
    "Quantity",
    "error_ratio",
    "graph_nodes",
    "onset",
    "onsets",
    "p95",
    "request_rate",
    "summary",
]

RED_DEFINITION = (
    "per service and 1-minute step: rate = req/s, error_ratio = failed (5xx or error "
    "status) / all requests, p95_ms = 95th percentile latency; from request counters and "
    "latency histograms, else from the spans entering each service"
)
SUMMARY_DEFINITION = (
    "per service over the window and the baseline: request rate = mean of the steps' "
    "req/s; error ratio = failed / all requests (steps weighted by their rate); p95 = "
    "median of the steps' p95"
)
ONSET_DEFINITION = (
    "per service, the first of 3 consecutive 1-minute steps whose error ratio (or p95) "
    "exceeds the median of the baseline's steps + max(4 x 1.4826 x MAD, 2 points for ratios, half the "
    "median for p95)"
)
_DEFS = {
    "error ratio": "failed / all requests over the window, steps weighted by their rate",
    "request rate": "mean requests per second over the window",
    "p95": "median over the window of the 1-minute p95 latency",
    "onset": "the earliest error or latency onset inside the window (" + ONSET_DEFINITION + ")",
}


@dataclass(frozen=True)
class Quantity:
    """A number with its name, unit, window and definition. ``str()`` names the window:
    ``error ratio 2026-11-20 11:00–12:00 UTC: 18.0%``; ``value`` is None when there is
    nothing to measure (no requests, no onset)."""

    name: str
    value: Any
    window: Window
    unit: str
    definition: str
    service: str | None = None

    def formatted(self) -> str:
        """The value alone, in its unit (``18.0%``, ``2.91 req/s``, ``312 ms``, ``11:05:00``)."""
        v = self.value
        if v is None:
            return "n/a"
        if isinstance(v, datetime):
            return f"{v:%H:%M:%S} UTC"
        if self.unit == "%":
            return format_percent(v)
        # as the tables write the same column (workbench.display): one format per unit
        if self.unit == RATE_UNIT:
            return format_rate(v)
        if self.unit == "ms":
            return format_value(v, "p95_ms")
        return f"{v} {self.unit}".strip()

    def label(self) -> str:
        """``error ratio of checkout 11:00–12:00 UTC``: what the number is and over when."""
        who = f" of {self.service}" if self.service else ""
        return f"{self.name}{who} {span_label(self.window)}"

    def __str__(self) -> str:
        return f"{self.label()}: {self.formatted()}"


def _one(red_frame: pl.DataFrame, service: str, window: Window, expr: pl.Expr) -> float | None:
    rows = filter_window(red_frame, "ts", window).filter(pl.col("service") == service)
    if rows.height == 0:
        return None
    v = rows.select(expr).item()
    return None if v is None else float(v)


def error_ratio(red_frame: pl.DataFrame, service: str, *, window: Window) -> Quantity:
    """The error ratio of ``service`` over ``window``: failed / all requests, each step
    weighted by its request rate.

    >>> str(error_ratio(r, "checkout", window=inc.window))
    'error ratio of checkout 2026-11-20 11:00–12:00 UTC: 18.0%'
    """
    v = _one(red_frame, service, window, error_ratio_over_window())
    return Quantity("error ratio", v, window, "%", _DEFS["error ratio"], service)


def request_rate(red_frame: pl.DataFrame, service: str, *, window: Window) -> Quantity:
    """The request rate of ``service`` over ``window``: mean requests per second."""
    v = _one(red_frame, service, window, rate_over_window())
    return Quantity("request rate", v, window, RATE_UNIT, _DEFS["request rate"], service)


def p95(red_frame: pl.DataFrame, service: str, *, window: Window) -> Quantity:
    """The p95 latency of ``service`` over ``window``: median of the steps' p95 (ms)."""
    v = _one(red_frame, service, window, p95_over_window())
    return Quantity("p95", v, window, "ms", _DEFS["p95"], service)


def summary(red_frame: pl.DataFrame, *, window: Window, baseline: Window) -> pl.DataFrame:
    """The RED summary (:func:`workbench.analysis.red.red_summary`): the three quantities
    above for every service, window and baseline side by side."""
    return red_summary(red_frame, window=window, baseline=baseline)


def onsets(red_frame: pl.DataFrame, *, baseline: Window) -> pl.DataFrame:
    """Per service and kind (``error_spike``, ``latency_spike``), when it began: the rows
    of :func:`workbench.analysis.timeline.onsets` for the error ratio and the p95, with a
    ``kind`` column, earliest first (the same onsets the timeline draws)."""
    from workbench.analysis.timeline import onsets as find

    parts = [
        find(red_frame, column, baseline=baseline).with_columns(kind=pl.lit(kind))
        for column, kind in (("error_ratio", "error_spike"), ("p95_ms", "latency_spike"))
    ]
    return pl.concat(parts, how="vertical").sort("onset", "service", "kind")


def onset(onset_rows: pl.DataFrame, *, window: Window, service: str | None = None) -> Quantity:
    """When the incident (or ``service``) began: the earliest onset in ``onset_rows``
    (:func:`onsets`) that lies inside ``window``; None when there is none."""
    rows = filter_window(onset_rows, "onset", window)
    if service is not None:
        rows = rows.filter(pl.col("service") == service)
    v = rows["onset"].min() if rows.height else None
    return Quantity("onset", v, window, "", _DEFS["onset"], service)


def graph_nodes(
    nodes: pl.DataFrame, summary_frame: pl.DataFrame, seconds: float, *, side: str = "inc"
) -> pl.DataFrame:
    """Graph nodes whose ``rate_per_s``, ``error_ratio`` and ``p95_ms`` are the RED
    quantities of the same window (``summary_frame`` is :func:`summary`), so the graph
    shows the numbers every other view shows; ``requests`` and ``errors`` become rate x
    ``seconds`` (the window's) and that times the error ratio. Services without RED
    (inferred peers: databases, external APIs) keep the spans' numbers. ``side`` is
    ``"inc"`` (the window's columns) or ``"base"`` (the baseline's)."""
    red_cols = summary_frame.select(
        "service",
        _r=pl.col(f"rate_{side}"),
        _e=pl.col(f"error_ratio_{side}"),
        _p=pl.col(f"p95_{side}_ms"),
    )
    out = nodes.join(red_cols, on="service", how="left", maintain_order="left")
    has = pl.col("_r").is_not_null()
    return out.with_columns(
        rate_per_s=pl.when(has).then(pl.col("_r")).otherwise(pl.col("rate_per_s")),
        error_ratio=pl.when(has).then(pl.col("_e")).otherwise(pl.col("error_ratio")),
        p95_ms=pl.when(has).then(pl.col("_p")).otherwise(pl.col("p95_ms")),
        requests=pl.when(has)
        .then((pl.col("_r") * seconds).round(0).cast(pl.Int64))
        .otherwise(pl.col("requests")),
        errors=pl.when(has)
        .then((pl.col("_r") * seconds * pl.col("_e").fill_null(0.0)).round(0).cast(pl.Int64))
        .otherwise(pl.col("errors")),
    ).drop("_r", "_e", "_p")
