"""Optional abilities a source declares by implementing them, so callers ask the source
instead of branching on its kind.

:class:`CapacityAggregation`: bucketed usage and limits per service and resource over
long ranges, computed where the data lives (PromQL ``max_over_time`` on Prometheus and
its kin, ``date_bin``/``time_bucket`` on PostgreSQL/TimescaleDB, a lazy polars scan for
files). :func:`workbench.capacity.load_usage` reads any source that has it.

Example::

    >>> from workbench.sources.capabilities import BucketRequest, CapacityAggregation
    >>> isinstance(prom, CapacityAggregation)
    True
    >>> prom.capacity_buckets(BucketRequest(window, specs, ["checkout"], step, res, 1440))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import polars as pl

from workbench.timewindow import Window

if TYPE_CHECKING:
    from workbench.sources.capacity_queries import ResourceQuery

__all__ = [
    "BUCKET_COLUMNS",
    "EPOCH",
    "BucketRequest",
    "Buckets",
    "CapacityAggregation",
    "as_buckets",
    "concat_buckets",
    "empty_buckets",
    "time_chunks",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BUCKET_COLUMNS: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "service": pl.String(),
    "resource": pl.String(),
    "value": pl.Float64(),
}


@dataclass(frozen=True)
class BucketRequest:
    """What to aggregate: ``specs`` per service (``services=None``: all) over ``window``
    in ``step`` buckets (a bucket ``[T, T + step)``, aligned to the epoch), per-pod series
    summed at ``res`` first, ``chunk_points`` buckets per series per request."""

    window: Window
    specs: list[ResourceQuery]
    services: list[str] | None
    step: timedelta
    res: timedelta
    chunk_points: int = 1440


@dataclass(frozen=True)
class Buckets:
    """Bucketed ``usage`` (peak per bucket) and ``limit`` (tightest per bucket) frames of
    ``ts, service, resource, value``; the queries sent, how many requests, and the
    reasons the result is partial (empty when whole)."""

    usage: pl.DataFrame
    limit: pl.DataFrame
    queries: list[str] = field(default_factory=list)
    requests: int = 0
    reasons: list[str] = field(default_factory=list)


class CapacityAggregation:
    """Capability mixin: the source buckets usage and limits where the data lives.

    ``capacity_label`` names it in results (``Usage.backend``): the source's ``kind``.
    """

    @property
    def capacity_label(self) -> str:
        return str(getattr(self, "kind", type(self).__name__))

    def capacity_span(self) -> Window | None:
        """The window the data covers, when it is cheap to know (files); else None."""
        return None

    def capacity_has_metric(self, metrics: list[str], window: Window) -> bool:
        """Whether any of ``metrics`` has a sample in ``window`` (for the auto profile)."""
        raise NotImplementedError

    def capacity_buckets(self, request: BucketRequest) -> Buckets:
        """Usage and limits bucketed per service, resource and step."""
        raise NotImplementedError


def empty_buckets() -> pl.DataFrame:
    return pl.DataFrame(schema=BUCKET_COLUMNS)


def as_buckets(df: pl.DataFrame, resource: str) -> pl.DataFrame:
    """``ts, service, value`` of one resource in the bucket schema."""
    return df.select(
        pl.col("ts").cast(pl.Datetime("us", "UTC")),
        pl.col("service").cast(pl.String),
        pl.lit(resource, pl.String).alias("resource"),
        pl.col("value").cast(pl.Float64),
    )


def concat_buckets(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else empty_buckets()


def ms(t: datetime) -> int:
    d = t - EPOCH
    return (d.days * 86400 + d.seconds) * 1000 + d.microseconds // 1000


def at_ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


def td_ms(d: timedelta) -> int:
    return round(d.total_seconds() * 1000)


def time_chunks(win: Window, step: timedelta, points: int) -> list[Window]:
    """``win`` split at multiples of ``points * step`` (buckets never straddle chunks)."""
    span = td_ms(step) * points
    out = []
    lo = ms(win.start)
    end = ms(win.end)
    while lo < end:
        hi = min((lo // span + 1) * span, end)
        out.append(Window(at_ms(lo), at_ms(hi)))
        lo = hi
    return out
