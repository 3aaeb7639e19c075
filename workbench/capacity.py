"""Long-range usage and limits for capacity work, aggregated where the data lives.

:func:`load_usage` asks a backend for each service's usage of each resource and its
limit, bucketed by the server into coarse steps (the peak of the usage and the tightest
limit in each bucket), and returns a :class:`Usage`: the two frames
:func:`workbench.analysis.capacity.capacity_table` needs. The bucketing is a capability
the source implements (:class:`~workbench.sources.capabilities.CapacityAggregation`);
this module never asks which backend it is. Today:

* **Prometheus, Thanos, Mimir, VictoriaMetrics**: ``max_over_time``/``min_over_time``
  range queries at the bucket step (:mod:`workbench.sources.capacity_queries`), split
  into step-aligned time chunks that run concurrently (``source.max_concurrency``).
* **PostgreSQL / TimescaleDB**: ``date_bin`` / ``time_bucket`` on the server
  (:meth:`PostgresSource.metrics_aggregated` for per-service series, a three-level SQL
  aggregation for per-pod series), one time chunk at a time.
* **Files** (a lab directory, Parquet, a frame): a lazy polars scan doing the same.

Memory stays flat as the range grows: the step is raised (to the next "nice" step) so a
series never has more than ``max_points`` buckets, and peaks survive because each bucket
holds the maximum, not a sample.

Example::

    >>> from workbench import PrometheusSource, Window
    >>> from workbench.capacity import load_usage
    >>> prom = PrometheusSource("http://prometheus:9090")
    >>> u = load_usage(prom, Window.last("30d"), services=["checkout", "payment"],
    ...                resources=["cpu", "memory"], step="5m")
    >>> u.table(threshold=0.8).head()          # runs out first
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import polars as pl

from workbench.display import format_percent, format_points
from workbench.errors import BadData, ConfigError
from workbench.sources import capacity_queries as cq
from workbench.sources import chunking
from workbench.sources.capabilities import BucketRequest, CapacityAggregation
from workbench.timewindow import Window, parse_duration

__all__ = ["CapacityRanking", "Usage", "effective_step", "findings", "load_usage", "open_source"]

log = logging.getLogger(__name__)

Profile = Literal["auto", "raw", "recorded"]


@dataclass(frozen=True)
class Usage:
    """Per service and resource: bucketed usage and limits, and how they were loaded.

    ``usage`` and ``capacity`` have ``ts, service, resource, value`` (``ts`` = bucket
    start). ``step`` is the bucket width actually used (raised from the one asked for
    when the range needed it); ``queries`` what the server was asked; ``partial`` and
    ``reasons`` say what could not be loaded.
    """

    usage: pl.DataFrame
    capacity: pl.DataFrame
    window: Window
    step: timedelta
    source: str
    backend: str
    profile: str
    resources: tuple[str, ...]
    queries: tuple[str, ...] = ()
    requests: int = 0
    elapsed_s: float = 0.0
    partial: bool = False
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def pairs_without_capacity(self) -> list[tuple[str, str]]:
        """(service, resource) pairs with usage but no positive limit."""
        have = self.capacity.filter(pl.col("value") > 0).select("service", "resource").unique()
        return sorted(
            self.usage.select("service", "resource")
            .unique()
            .join(have, on=["service", "resource"], how="anti")
            .rows()
        )

    def table(self, *, threshold: float = 0.8, horizon_days: int = 365) -> pl.DataFrame:
        """The runs-out-first table (:func:`~workbench.analysis.capacity.capacity_table`)
        over the pairs that have a limit (see :meth:`pairs_without_capacity` for the rest).

        >>> u.table(threshold=0.8, horizon_days=180)
        """
        from workbench.analysis.capacity import capacity_table

        usage, cap = self._with_capacity()
        return capacity_table(usage, capacity=cap, threshold=threshold, horizon_days=horizon_days)

    def ranking(self, *, threshold: float = 0.8, horizon_days: int = 365) -> CapacityRanking:
        """:meth:`table` for people: shows as a readable table (percentages, dates, "not
        within the horizon" for ``inf``/``null``); the frame is ``.table``.

        >>> r = u.ranking(threshold=0.8, horizon_days=180)
        >>> r.table.filter(pl.col("days_left") < 30)
        """
        return CapacityRanking(
            self.table(threshold=threshold, horizon_days=horizon_days), threshold, horizon_days
        )

    def utilisation(self) -> pl.DataFrame:
        """``ts, service, resource, used, capacity, utilisation`` for pairs with a limit."""
        from workbench.analysis.capacity import utilisation

        usage, cap = self._with_capacity()
        return utilisation(usage, cap)

    def _with_capacity(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        missing = self.pairs_without_capacity()
        usage = self.usage
        if missing:
            drop = pl.DataFrame(missing, schema=["service", "resource"], orient="row")
            usage = usage.join(drop, on=["service", "resource"], how="anti")
        cap = self.capacity.filter(pl.col("value") > 0)
        if usage.is_empty():
            raise BadData(
                f"no service/resource in {self.window} has both usage and a limit",
                source=self.source,
                field="capacity",
                hint="check the resource queries (profile, metric names) and the window",
            )
        return usage, cap

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "backend": self.backend,
            "profile": self.profile,
            "window": str(self.window),
            "step": f"{self.step.total_seconds():g}s",
            "services": self.usage["service"].n_unique(),
            "resources": list(self.resources),
            "usage_rows": self.usage.height,
            "requests": self.requests,
            "elapsed_s": round(self.elapsed_s, 3),
            "partial": self.partial,
        }

    def _repr_html_(self) -> str:
        import html

        from workbench.display import format_duration, format_value
        from workbench.investigation.answer import span_label

        # written for people: "cpu, memory, disk", "108,783", "no", not Python reprs; the
        # window and step as every view writes them, not "2026-10-23T00:00:00Z..", "600s"
        shown = {**self.summary(), "window": span_label(self.window)}
        shown["step"] = format_duration(self.step)
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k.removesuffix('_s').replace('_', ' '))}</th>"
            f"<td>{html.escape(format_value(v, k))}</td></tr>"
            for k, v in shown.items()
        )
        warn = "".join(f"<li>{html.escape(r)}</li>" for r in (*self.reasons, *self.notes))
        return f"<table>{rows}</table>" + (f"<ul>{warn}</ul>" if warn else "")


@dataclass(frozen=True)
class CapacityRanking:
    """What runs out first (:meth:`Usage.ranking`): the frame is ``table``."""

    table: pl.DataFrame
    threshold: float
    horizon_days: int

    def _repr_html_(self) -> str:
        from workbench.summaries import capacity_html

        return (
            f"<div><b>Runs out first</b> (threshold {format_percent(self.threshold, digits=0)}, horizon "
            f"{self.horizon_days} days)</div>" + capacity_html(self.table)
        )

    def _repr_markdown_(self) -> str:
        from workbench.summaries import capacity_markdown

        return capacity_markdown(self.table)


def effective_step(
    window: Window, step: str | timedelta, *, max_points: int | None = 4032
) -> timedelta:
    """``step``, raised to the smallest "nice" step giving at most ``max_points`` buckets
    over ``window`` (so memory does not grow with the range).

    >>> effective_step(Window.parse("2026-08-01T00:00:00Z..2026-11-01T00:00:00Z"), "5m")
    datetime.timedelta(seconds=3600)
    """
    st = parse_duration(step)
    if st <= timedelta(0):
        raise ConfigError(f"step must be positive, not {step!r}")
    if max_points is None:
        return st
    return max(st, chunking.choose_step(window, target_points=max_points))


def load_usage(
    source: Any,
    window: Window | str,
    *,
    services: Sequence[str] | None = None,
    resources: Sequence[str | cq.ResourceQuery] | None = None,
    step: str | timedelta = "5m",
    max_points: int | None = 4032,
    profile: Profile = "auto",
    res: str | timedelta = "1m",
    chunk_points: int = 1440,
) -> Usage:
    """Bucketed usage and limits per service and resource from ``source``.

    ``source``: any source with the capacity-aggregation capability (Prometheus and its
    kin, PostgreSQL/TimescaleDB, file sources), a directory or Parquet path, or a
    metrics frame. ``resources``: names from the profile (``cpu``,
    ``memory``, ``connections`` for ``raw`` metrics; ``cpu``, ``memory``, ``disk`` for
    ``recorded`` ``service:*`` rules) or :class:`~workbench.sources.capacity_queries.
    ResourceQuery` objects; ``None`` = all of the profile. ``profile="auto"`` uses the
    recording rules when the backend has them. ``step``: the finest bucket wanted
    (raised so a series has at most ``max_points`` buckets); ``res``: the resolution at
    which per-pod series are summed before bucketing; ``chunk_points``: buckets per
    series per request.

    >>> u = load_usage(history_path(), "", resources=["cpu"])     # the lab history
    >>> u.usage.head()
    """
    t0 = time.perf_counter()
    agg = _aggregator(source)
    win = _window(window, agg)
    st = effective_step(win, step, max_points=max_points)
    if chunk_points < 1:
        raise ConfigError("chunk_points must be at least 1")
    prof = _profile(profile, agg, win)
    specs = cq.resolve_resources(resources, cq.PRESETS[prof])
    svc = list(services) if services else None
    got = agg.capacity_buckets(
        BucketRequest(win, specs, svc, st, parse_duration(res), chunk_points=chunk_points)
    )
    usage, cap, queries, requests, reasons = (
        got.usage,
        got.limit,
        got.queries,
        got.requests,
        got.reasons,
    )
    notes = []
    if st != parse_duration(step):
        notes.append(
            f"step raised from {parse_duration(step).total_seconds():g}s to "
            f"{st.total_seconds():g}s to keep at most {max_points} buckets per series"
        )
    if usage.is_empty() and not reasons:
        raise BadData(
            f"no usage of {', '.join(s.name for s in specs)} in {win}"
            + (f" for {', '.join(svc)}" if svc else ""),
            source=_name(source),
            field="metric",
            hint=f"profile {prof!r} reads {', '.join(s.usage.metric for s in specs)}; "
            "check the window, the services and the profile",
        )
    return Usage(
        usage=usage.sort("service", "resource", "ts"),
        capacity=cap.sort("service", "resource", "ts"),
        window=win,
        step=st,
        source=_name(source),
        backend=agg.capacity_label,
        profile=prof,
        resources=tuple(s.name for s in specs),
        queries=tuple(dict.fromkeys(queries)),
        requests=requests,
        elapsed_s=time.perf_counter() - t0,
        partial=bool(reasons),
        reasons=tuple(reasons),
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------------ dispatch
def _name(source: Any) -> str:
    return str(
        getattr(source, "name", None) or (source if isinstance(source, str | Path) else "frame")
    )


def _aggregator(source: Any) -> CapacityAggregation:
    """The source itself when it aggregates capacity; a path or frame as local data."""
    if isinstance(source, CapacityAggregation):
        return source
    if isinstance(source, pl.DataFrame | pl.LazyFrame | str | Path):
        from workbench.sources.files.capacity import FrameCapacity

        return FrameCapacity.of(source)
    raise ConfigError(
        f"cannot load capacity data from {type(source).__name__}",
        hint="use a source with the capacity-aggregation capability "
        "(workbench.sources.capabilities.CapacityAggregation), a directory/Parquet path "
        "or a metrics frame",
    )


def _window(window: Window | str, agg: CapacityAggregation) -> Window:
    if isinstance(window, Window):
        return window
    if window:
        return Window.parse(window)
    span = agg.capacity_span()
    if span is None:
        raise ConfigError("a window is needed for a server source", hint='e.g. "now-30d..now"')
    return span


def _profile(profile: Profile, agg: CapacityAggregation, win: Window) -> str:
    if profile in ("raw", "recorded"):
        return profile
    if profile != "auto":
        raise ConfigError(f"unknown profile {profile!r}", hint="auto, raw or recorded")
    names = [r.usage.metric for r in cq.RECORDED.values()]
    return "recorded" if agg.capacity_has_metric(names, win) else "raw"


# ------------------------------------------------------------------------------ notebook
def open_source(sources_config: str | Path = "", source: str = "") -> Any:
    """What the capacity notebook reads: the embedded lab history (generated once, cached)
    when ``sources_config`` is ``""``, else source ``source`` of that ``workbench.toml``
    (``""`` = the first one serving metrics).

    >>> src = open_source()                      # the lab history, no server needed
    >>> src = open_source("workbench.toml", "prom")
    """
    if not sources_config:
        from workbench.lab.demo import history_path

        return history_path()
    from workbench.config import load_config

    sources = load_config(sources_config)
    if source:
        if source not in sources:
            raise ConfigError(
                f"no source {source!r} in {sources_config}",
                hint=f"its sources are {', '.join(sources) or 'none'}",
            )
        return sources[source]
    for s in sources.values():
        if "metrics" in getattr(s, "capabilities", ()):
            return s
    raise ConfigError(f"no source in {sources_config} serves metrics")


def findings(table: pl.DataFrame, usage: Usage, *, threshold: float, horizon_days: int) -> str:
    """A few Markdown lines: what runs out first and when, which resources' growth uses
    up their headroom within the horizon, and anything that was not loaded."""
    from workbench.investigation.answer import span_label

    lines = []
    soon = table.filter(pl.col("days_left") <= horizon_days)
    if soon.height:
        r = soon.row(0, named=True)
        band = ""
        if r["earliest"] is not None:
            late = r["latest"].strftime("%Y-%m-%d") if r["latest"] else "beyond the horizon"
            band = f" (80% band {r['earliest']:%Y-%m-%d} – {late})"
        lines.append(
            f"**Runs out first:** `{r['service']}` {r['resource']} crosses "
            f"{format_percent(threshold, digits=0)} on {r['saturates_at']:%Y-%m-%d}{band}, "
            f"{r['days_left']:.0f} days after the last day of data; peak now "
            f"{format_percent(r['utilisation_peak'])}, growing {format_points(r['growth_per_day'])}/day."
        )
        rest = [
            f"`{x['service']}` {x['resource']} ({x['days_left']:.0f} d)"
            for x in soon.slice(1, 9).iter_rows(named=True)
        ]
        if rest:
            lines.append(
                f"**Growth outpaces headroom within {horizon_days} days:** "
                + ", ".join(rest)
                + (" ..." if soon.height > 10 else "")
            )
    else:
        lines.append(
            f"Nothing crosses {format_percent(threshold, digits=0)} within {horizon_days} days."
        )
    fastest = table.sort("growth_per_day", descending=True).row(0, named=True)
    lines.append(
        f"**Fastest growing:** `{fastest['service']}` {fastest['resource']} "
        f"({format_points(fastest['growth_per_day'])}/day)."
    )
    missing = usage.pairs_without_capacity()
    if missing:
        lines.append(
            "**No limit known** (left out of the table): "
            + ", ".join(f"`{s}` {r}" for s, r in missing[:10])
        )
    for why in (*usage.reasons, *usage.notes):
        lines.append(f"_Note:_ {why}")
    lines.append(
        f"_Loaded {span_label(usage.window)} from {usage.source} ({usage.backend}, {usage.profile} "
        f"metrics) in {usage.step.total_seconds() / 60:g}-minute buckets._"
    )
    return "\n\n".join(lines)
