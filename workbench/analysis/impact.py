"""Impact of an incident: how long, which services, how many requests failed, and the
error budget it burned against an SLO. Pure functions over frames; no I/O.

The impact period runs from the first error (or latency) onset inside the incident window
to the end of the last such episode (see :func:`workbench.analysis.timeline.onsets`);
without onsets, from the first alert to the last alert's end; else the incident window.

Requests are counted where users meet the system: the *entry services* (those whose
spans start traces). Counts come from the request counter
(``http_server_requests_total{code}``: the sum of its increases between consecutive
samples whose later sample falls in ``[start, end)``, resets handled, codes 5xx failed),
else from a RED frame (rate x step, which for spans is the count of kept traces).

The error budget of a request-based SLO over ``slo_window_days`` is the number of failures
it allows: ``(1 - slo_target) x baseline request rate x window seconds`` (the baseline
rate: requests counted in the baseline window over the time the counts cover); the
incident burned ``failed / allowed`` of it (all failures in the impact period, as an SLO
counts them; ``excess_failed`` is the part above the baseline error ratio).

Example::

    >>> from workbench.analysis.impact import impact
    >>> imp = impact(inc, slo_target=0.999, slo_window_days=30)
    >>> imp.duration, imp.failed, f"{imp.budget_burned:.1%}"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import polars as pl

from workbench import frames
from workbench.analysis._util import check_columns
from workbench.analysis.red import REQUESTS_TOTAL
from workbench.errors import ConfigError
from workbench.timewindow import Window

__all__ = [
    "ONSET_KINDS",
    "Impact",
    "Period",
    "counter_increase",
    "entry_services",
    "impact",
    "impact_period",
    "request_counts",
]

ONSET_KINDS = ("error_spike", "latency_spike")
_REQ_SCHEMA = {
    "service": pl.String(),
    "requests": pl.Float64(),
    "failed": pl.Float64(),
    "seconds": pl.Float64(),
}


@dataclass(frozen=True)
class Period:
    """When users were affected, and the evidence for each end."""

    start: datetime
    end: datetime
    start_evidence: str
    end_evidence: str

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class Impact:
    """Who and how much was affected, and the error budget burned.

    ``requests`` / ``failed`` are counted at ``entry_services`` (user-facing) during the
    impact period; ``per_service`` has ``service, requests, failed, error_ratio,
    baseline_error_ratio`` for every affected service. ``budget_burned`` is a fraction
    (0.25 = a quarter of the SLO window's error budget). ``basis`` says where the counts
    come from; ``caveats`` what limits them.
    """

    period: Period
    services: list[str]
    entry_services: list[str]
    requests: float | None
    failed: float | None
    baseline_error_ratio: float | None
    baseline_rate: float | None
    slo_target: float
    slo_window_days: float
    basis: str
    per_service: pl.DataFrame = field(repr=False)
    caveats: list[str] = field(default_factory=list)
    #: the window the baseline ratios and rate were counted over (every number names
    #: its window)
    baseline: Window | None = None

    @property
    def start(self) -> datetime:
        return self.period.start

    @property
    def end(self) -> datetime:
        return self.period.end

    @property
    def duration(self) -> timedelta:
        return self.period.duration

    @property
    def error_ratio(self) -> float | None:
        """Share of the entry services' requests that failed during the impact."""
        if not self.requests or self.failed is None:
            return None
        return self.failed / self.requests

    @property
    def excess_failed(self) -> float | None:
        """Failures beyond what the baseline error ratio would have given."""
        if self.failed is None or self.requests is None or self.baseline_error_ratio is None:
            return None
        return max(self.failed - self.baseline_error_ratio * self.requests, 0.0)

    @property
    def allowed_failures(self) -> float | None:
        """Failures the SLO allows over its whole window at the baseline request rate."""
        if self.baseline_rate is None:
            return None
        return (1.0 - self.slo_target) * self.baseline_rate * self.slo_window_days * 86400.0

    @property
    def budget_burned(self) -> float | None:
        """``failed / allowed_failures``: the fraction of the error budget this used."""
        allowed = self.allowed_failures
        if self.failed is None or not allowed:
            return None
        return self.failed / allowed

    @property
    def budget_minutes(self) -> float:
        """The same budget as minutes of total outage over the SLO window."""
        return (1.0 - self.slo_target) * self.slo_window_days * 1440.0


def _check_slo(slo_target: float, slo_window_days: float) -> None:
    if not 0.0 < float(slo_target) < 1.0:
        raise ConfigError(
            f"slo_target must be between 0 and 1 (exclusive), got {slo_target!r}",
            hint="e.g. slo_target=0.999 for 99.9%",
        )
    if not float(slo_window_days) > 0:
        raise ConfigError(
            f"slo_window_days must be positive, got {slo_window_days!r}",
            hint="e.g. slo_window_days=30",
        )


def impact_period(timeline: pl.DataFrame, window: Window) -> Period:
    """The impact period from a timeline (:func:`~workbench.analysis.timeline.build_timeline`
    or :func:`workbench.postmortem.draft_timeline`): first onset inside ``window`` to the
    end of the last onset episode; else first alert to last alert end; else ``window``.

    >>> impact_period(tl, inc.window).duration
    """
    check_columns(timeline, ("ts", "end", "kind", "service", "title"), "timeline")
    inside = timeline.filter((pl.col("ts") >= window.start) & (pl.col("ts") < window.end))
    for kinds, what in ((ONSET_KINDS, "onset"), (("alert",), "alert")):
        rows = inside.filter(pl.col("kind").is_in(list(kinds))).sort("ts")
        if rows.height:
            first = rows.row(0, named=True)
            ends = rows.with_columns(pl.col("end").fill_null(pl.col("ts"))).sort("end")
            last = ends.row(ends.height - 1, named=True)
            end = max(last["end"], first["ts"] + timedelta(seconds=1))
            stop = "ended" if what == "alert" else "back under its threshold"
            return Period(
                first["ts"],
                end,
                f"first {what}: {first['title']}",
                f"{last['service'] or what} {stop} at {_hms(last['end'])}",
            )
    return Period(
        window.start,
        window.end,
        "no onset or alert found: the incident window's start",
        "the incident window's end",
    )


def counter_increase(
    metrics: pl.DataFrame,
    metric: str,
    *,
    start: datetime,
    end: datetime,
    by: Sequence[str] = ("service",),
) -> pl.DataFrame:
    """How much counter ``metric`` grew over the samples in ``[start, end)``, summed per
    ``by`` (``service`` and/or label names); ``seconds`` is the time those increases
    cover (first earlier sample to last later sample).

    Per series (metric, service and label set), each pair of consecutive samples whose
    later sample lies in ``[start, end)`` adds ``later - earlier``, or ``later`` when the
    counter reset. A series' first sample adds nothing (as Prometheus' ``increase``). The
    pairs are the ones :func:`workbench.analysis.red.red` puts in the steps of
    ``[start, end)``, so the counts agree with the RED frame's rates.

    >>> counter_increase(inc.metrics, "http_server_requests_total",
    ...                  start=t0, end=t1, by=("service", "code"))
    """
    check_columns(metrics, ("ts", "metric", "service", "value", "labels"), "metrics")
    labels = [c for c in by if c != "service"]
    df = metrics.filter(pl.col("metric") == metric).select(
        "ts", "service", "value", "labels", *[frames.attr("labels", k).alias(k) for k in labels]
    )
    out_schema = {c: pl.String() for c in by} | {
        "increase": pl.Float64(),
        "seconds": pl.Float64(),
    }
    if df.height == 0:
        return pl.DataFrame(schema=out_schema)
    sid = pl.struct("service", "labels").hash().alias("_sid")
    d = (
        df.with_columns(sid)
        .sort("_sid", "ts")
        .with_columns(
            pl.when(pl.col("_sid") == pl.col("_sid").shift(1))
            .then(pl.col("value").shift(1))
            .alias("_prev"),
            pl.col("ts").shift(1).alias("_prev_ts"),
        )
        .filter(pl.col("_prev").is_not_null() & (pl.col("ts") >= start) & (pl.col("ts") < end))
        .with_columns(
            pl.when(pl.col("value") >= pl.col("_prev"))
            .then(pl.col("value") - pl.col("_prev"))
            .otherwise(pl.col("value"))
            .alias("_inc")
        )
    )
    return (
        d.group_by(list(by))
        .agg(
            pl.col("_inc").sum().alias("increase"),
            ((pl.col("ts").max() - pl.col("_prev_ts").min()).dt.total_microseconds() / 1e6).alias(
                "seconds"
            ),
        )
        .cast(out_schema)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
        .sort(list(by))
    )


def request_counts(
    metrics: pl.DataFrame | None,
    red_frame: pl.DataFrame | None,
    *,
    start: datetime,
    end: datetime,
    counter: str = REQUESTS_TOTAL,
) -> tuple[pl.DataFrame, str]:
    """Requests and failed requests per service in ``[start, end)``, and where they come
    from: ``service, requests, failed, seconds`` (the time the counts cover), and a basis
    sentence."""
    if metrics is not None and metrics.height:
        inc = counter_increase(metrics, counter, start=start, end=end, by=("service", "code"))
        if inc.height:
            out = (
                inc.group_by("service")
                .agg(
                    pl.col("increase").sum().alias("requests"),
                    pl.col("increase")
                    .filter(pl.col("code").str.starts_with("5"))
                    .sum()
                    .alias("failed"),
                    pl.col("seconds").max(),
                )
                .cast(_REQ_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
                .sort("service")
            )
            return out, f"metrics: increase of {counter} (5xx codes failed)"
    if red_frame is not None and red_frame.height:
        check_columns(red_frame, ("ts", "service", "rate", "error_ratio"), "RED")
        ts = red_frame["ts"].unique().sort()
        gaps = ts.diff().drop_nulls()
        step = gaps.filter(gaps > timedelta(0)).min() if gaps.len() else None
        secs = step.total_seconds() if isinstance(step, timedelta) else 60.0
        rows = red_frame.filter((pl.col("ts") >= start) & (pl.col("ts") < end))
        out = (
            rows.group_by("service")
            .agg(
                (pl.col("rate") * secs).sum().alias("requests"),
                (pl.col("rate") * pl.col("error_ratio").fill_null(0.0) * secs)
                .sum()
                .alias("failed"),
                (pl.col("ts").n_unique() * secs).alias("seconds"),
            )
            .cast(_REQ_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
            .sort("service")
        )
        return out, (
            f"RED rates x {secs:g} s steps (from spans these count kept traces: with "
            "sampling, a fraction of the real traffic)"
        )
    return pl.DataFrame(schema=_REQ_SCHEMA), "no request counter, metrics or spans"


def entry_services(spans: pl.DataFrame | None) -> list[str]:
    """Services whose spans start traces (no parent): where users' requests enter."""
    if spans is None or spans.height == 0:
        return []
    check_columns(spans, ("parent_span_id", "service"), "spans")
    roots = spans.filter(pl.col("parent_span_id").is_null() & pl.col("service").is_not_null())
    return sorted(roots["service"].unique().to_list())


def impact(
    incident: Any,
    *,
    slo_target: float = 0.999,
    slo_window_days: float = 30,
    timeline: pl.DataFrame | None = None,
    red_frame: pl.DataFrame | None = None,
) -> Impact:
    """The impact of ``incident`` (anything with ``metrics, spans, events, window,
    baseline``).

    ``timeline`` gives the period and the affected services (onsets and alerts in it;
    default: :func:`~workbench.analysis.timeline.build_timeline` of the incident);
    ``red_frame`` (default: :func:`~workbench.analysis.red.red` of its metrics and spans)
    gives the onsets, and the request counts when there is no request counter.

    >>> imp = impact(inc, slo_target=0.999, slo_window_days=30)
    >>> print(f"{imp.failed:,.0f} failed requests, {imp.budget_burned:.1%} of the budget")
    """
    _check_slo(slo_target, slo_window_days)
    window: Window = incident.window
    baseline: Window = incident.baseline
    if red_frame is None or timeline is None:
        from workbench.analysis.red import red
        from workbench.analysis.timeline import build_timeline

        if red_frame is None:
            red_frame = red(incident.metrics, incident.spans)
        if timeline is None:
            timeline = build_timeline(incident.events, red_frame, window=window, baseline=baseline)
    period = impact_period(timeline, window)
    metrics, spans = incident.metrics, incident.spans
    caveats: list[str] = []

    hit = timeline.filter(
        pl.col("kind").is_in([*ONSET_KINDS, "alert"])
        & pl.col("service").is_not_null()
        & (pl.col("ts") < period.end)
        & (pl.col("end").fill_null(pl.col("ts")) >= period.start)
    )
    services = sorted(set(hit["service"].to_list()))
    counts, basis = request_counts(metrics, red_frame, start=period.start, end=period.end)
    base_counts, _ = request_counts(metrics, red_frame, start=baseline.start, end=baseline.end)
    entries = entry_services(spans)
    counted = set(counts["service"].to_list())
    headline = [s for s in entries if s in counted]
    if not headline:
        headline = [s for s in services if s in counted]
        if headline:
            caveats.append(
                "no span data names the entry services: the request totals add up the "
                "affected services, so a request that crossed several counts more than once"
            )
    per_service = (
        counts.filter(pl.col("service").is_in(sorted(set(services) | set(headline))))
        .join(
            base_counts.select(
                "service",
                pl.when(pl.col("requests") > 0)
                .then(pl.col("failed") / pl.col("requests"))
                .alias("baseline_error_ratio"),
            ),
            on="service",
            how="left",
        )
        .with_columns(
            pl.when(pl.col("requests") > 0)
            .then(pl.col("failed") / pl.col("requests"))
            .alias("error_ratio")
        )
        .select("service", "requests", "failed", "error_ratio", "baseline_error_ratio")
        .sort("failed", descending=True, nulls_last=True)
    )
    requests = failed = base_ratio = base_rate = None
    if headline:
        sel = counts.filter(pl.col("service").is_in(headline))
        requests, failed = float(sel["requests"].sum()), float(sel["failed"].sum())
        bsel = base_counts.filter(pl.col("service").is_in(headline))
        breq = float(bsel["requests"].sum())
        bsecs = float(cast(float, bsel["seconds"].max() or 0.0))
        if breq > 0 and bsecs > 0:
            base_ratio = float(bsel["failed"].sum()) / breq
            base_rate = breq / bsecs
        else:
            caveats.append("no requests counted in the baseline: the error budget is unknown")
    elif services:
        caveats.append("no request counts for the affected services")
    return Impact(
        period=period,
        services=services,
        entry_services=headline,
        requests=requests,
        failed=failed,
        baseline_error_ratio=base_ratio,
        baseline_rate=base_rate,
        slo_target=float(slo_target),
        slo_window_days=float(slo_window_days),
        basis=basis,
        per_service=per_service,
        caveats=caveats,
        baseline=baseline,
    )


def _hms(t: datetime | None) -> str:
    return "?" if t is None else t.strftime("%H:%M:%S")
