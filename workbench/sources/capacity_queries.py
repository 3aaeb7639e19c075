"""What to ask a backend for capacity work: per service, a resource's usage and its limit,
aggregated by the server into coarse buckets.

A :class:`ResourceQuery` names two :class:`SeriesSpec` (usage, limit). Each spec says
which metric holds it, whether it is a gauge or a counter (used per second: a rate), and
whether it is already one series per service (a recording rule) or many series (pods)
that add up. From that this module writes:

* **PromQL**: ``max_over_time`` of the per-service usage over each step bucket
  (a subquery when the per-service value is itself an aggregation), ``min_over_time`` of
  the limit (the tighter limit in a bucket), ``offset 1ms`` so a bucket is
  ``[T, T + step)`` like SQL's ``date_bin``;
* **SQL** for :class:`~workbench.sources.postgres.PostgresSource`: ``date_bin`` (plain
  PostgreSQL) or ``time_bucket`` (TimescaleDB) of the same three steps (per series at the
  raw resolution, summed per service, max/min per bucket);
* the same plan for local Parquet, run lazily by polars (see :mod:`workbench.capacity`).

Two presets cover the lab's metric names (LAB_FORMAT.md):

``RAW``       ``process_cpu_seconds_total`` vs ``container_cpu_limit_cores``,
              ``process_resident_memory_bytes`` vs ``container_memory_limit_bytes``,
              ``db_client_connections_usage{state="used"}`` vs ``db_client_connections_max``
``RECORDED``  the ``service:*`` recording rules of the capacity history
              (``service:cpu_usage_cores:rate5m`` vs ``service:cpu_limit_cores:sum``, memory,
              disk)

Example::

    >>> from workbench.sources.capacity_queries import RAW, promql_bucketed
    >>> promql_bucketed(RAW["cpu"].usage, step="1h", services=["checkout"], res="1m")
    'max by (service) (max_over_time((sum by (service) (rate(process_cpu_seconds_total{...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from workbench.errors import ConfigError
from workbench.sources.prometheus import promql
from workbench.timewindow import parse_duration

__all__ = [
    "PRESETS",
    "RAW",
    "RECORDED",
    "ResourceQuery",
    "SeriesSpec",
    "duration_text",
    "promql_bucketed",
    "promql_raw",
    "resolve_resources",
    "sql_bucketed",
    "sql_params",
]

SERVICE_LABEL = "service"


@dataclass(frozen=True)
class SeriesSpec:
    """One metric as a per-service value.

    ``metric``: the metric name; ``kind``: ``"gauge"`` or ``"counter"`` (then the value is
    its per-second rate); ``match``: extra equality matchers (``{"state": "used"}``);
    ``per_service``: the metric already has one series per service (a recording rule), so
    no summing over pods is needed.
    """

    metric: str
    kind: Literal["gauge", "counter"] = "gauge"
    match: Mapping[str, str] = field(default_factory=dict)
    per_service: bool = False

    def __post_init__(self) -> None:
        promql.metric_name(self.metric)
        if self.kind not in ("gauge", "counter"):
            raise ConfigError(f"kind must be 'gauge' or 'counter', not {self.kind!r}")


@dataclass(frozen=True)
class ResourceQuery:
    """A resource of a service: its ``usage`` against its ``limit`` (same unit).

    >>> ResourceQuery("connections", SeriesSpec("db_client_connections_usage",
    ...     match={"state": "used"}), SeriesSpec("db_client_connections_max"), unit="1")
    """

    name: str
    usage: SeriesSpec
    limit: SeriesSpec
    unit: str = ""


RAW: dict[str, ResourceQuery] = {
    "cpu": ResourceQuery(
        "cpu",
        SeriesSpec("process_cpu_seconds_total", "counter"),
        SeriesSpec("container_cpu_limit_cores"),
        "cores",
    ),
    "memory": ResourceQuery(
        "memory",
        SeriesSpec("process_resident_memory_bytes"),
        SeriesSpec("container_memory_limit_bytes"),
        "bytes",
    ),
    "connections": ResourceQuery(
        "connections",
        SeriesSpec("db_client_connections_usage", match={"state": "used"}),
        SeriesSpec("db_client_connections_max"),
        "connections",
    ),
}

RECORDED: dict[str, ResourceQuery] = {
    "cpu": ResourceQuery(
        "cpu",
        SeriesSpec("service:cpu_usage_cores:rate5m", per_service=True),
        SeriesSpec("service:cpu_limit_cores:sum", per_service=True),
        "cores",
    ),
    "memory": ResourceQuery(
        "memory",
        SeriesSpec("service:memory_usage_bytes:sum", per_service=True),
        SeriesSpec("service:memory_limit_bytes:sum", per_service=True),
        "bytes",
    ),
    "disk": ResourceQuery(
        "disk",
        SeriesSpec("service:disk_used_bytes:sum", per_service=True),
        SeriesSpec("service:disk_capacity_bytes:sum", per_service=True),
        "bytes",
    ),
}

PRESETS: dict[str, dict[str, ResourceQuery]] = {"raw": RAW, "recorded": RECORDED}


def resolve_resources(
    resources: Sequence[str | ResourceQuery] | None, preset: Mapping[str, ResourceQuery]
) -> list[ResourceQuery]:
    """Resource names (looked up in ``preset``) or :class:`ResourceQuery` objects."""
    if not resources:
        return list(preset.values())
    out = []
    for r in resources:
        if isinstance(r, ResourceQuery):
            out.append(r)
        elif r in preset:
            out.append(preset[r])
        else:
            raise ConfigError(
                f"unknown resource {r!r}",
                hint=f"use one of {', '.join(preset)} or pass a ResourceQuery",
            )
    return out


def duration_text(d: timedelta) -> str:
    """A PromQL duration (``"300s"``, ``"1500ms"``)."""
    ms = round(d.total_seconds() * 1000)
    if ms <= 0:
        raise ConfigError(f"a duration must be positive, not {d}")
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _selector(spec: SeriesSpec, services: Sequence[str] | None) -> str:
    ms = [promql.eq(k, v) for k, v in sorted(spec.match.items())]
    if services:
        ms.append(promql.any_of(SERVICE_LABEL, services))
    return promql.selector(spec.metric, *ms)


def promql_raw(
    spec: SeriesSpec, *, services: Sequence[str] | None = None, rate: str | timedelta = "5m"
) -> str:
    """The per-service value at one instant (no bucketing)."""
    sel = _selector(spec, services)
    inner = sel if spec.kind == "gauge" else f"rate({sel}[{duration_text(parse_duration(rate))}])"
    return f"sum by ({SERVICE_LABEL}) ({inner})"


def promql_bucketed(
    spec: SeriesSpec,
    *,
    step: str | timedelta,
    agg: Literal["max", "min", "avg"] = "max",
    services: Sequence[str] | None = None,
    res: str | timedelta = "1m",
    rate: str | timedelta = "5m",
) -> str:
    """``agg`` of the per-service value over each ``step`` bucket.

    Evaluated at ``T`` the result covers ``[T - step, T)`` (``offset 1ms``), so the caller
    labels it ``T - step``. A per-service gauge is read directly
    (``max_over_time(m[step])``, not aggregated: fold series of one service by
    ``(ts, service)`` with ``agg``); anything else becomes a subquery at ``res``.
    """
    st = duration_text(parse_duration(step))
    fn = f"{agg}_over_time"
    if spec.per_service and spec.kind == "gauge":
        # already one series per service: no server-side aggregation (measured ~1.6x
        # cheaper on the server); the caller folds duplicates by (ts, service)
        return f"{fn}({_selector(spec, services)}[{st}] offset 1ms)"
    inner = promql_raw(spec, services=services, rate=rate)
    r = duration_text(parse_duration(res))
    return f"{agg} by ({SERVICE_LABEL}) ({fn}(({inner})[{st}:{r}] offset 1ms))"


def sql_bucketed(
    spec: SeriesSpec,
    *,
    table: str,
    agg: Literal["max", "min", "avg"] = "max",
    bucket_fn: Literal["date_bin", "time_bucket"] = "date_bin",
    with_services: bool = False,
) -> str:
    """SQL (psycopg ``%(name)s`` parameters ``step, res, origin, start, end``, those of
    :func:`sql_params`, and ``services`` if ``with_services``) giving ``ts, service, value`` per ``step`` bucket.

    Three levels, like the PromQL: each series per ``res`` bucket (mean of a gauge; the
    counter's increase over the time its samples span, i.e. a rate, resets ignored), summed
    per service, then ``agg`` per ``step`` bucket. ``table`` is an already quoted name.
    """
    if agg not in ("max", "min", "avg"):
        raise ConfigError(f"agg must be max, min or avg, not {agg!r}")

    def bucket(width: str, col: str) -> str:
        if bucket_fn == "time_bucket":
            return f"time_bucket(%({width})s::interval, {col}, %(origin)s::timestamptz)"
        return f"date_bin(%({width})s::interval, {col}, %(origin)s::timestamptz)"

    conds = ["metric = %(metric)s", "ts >= %(start)s", "ts < %(end)s"]
    if spec.match:
        conds.append("labels @> %(match)s::jsonb")
    if with_services:
        conds.append("service = ANY(%(services)s)")
    if spec.kind == "gauge":
        value = "avg(value)"
    else:
        value = (
            "CASE WHEN max(ts) > min(ts) THEN greatest(max(value) - min(value), 0) / "
            "extract(epoch FROM max(ts) - min(ts)) ELSE NULL END"
        )
    return (
        f"SELECT {bucket('step', 't')} AS ts, service, {agg}(v)::double precision AS value "
        f"FROM (SELECT t, service, sum(v) AS v FROM ("
        f"SELECT {bucket('res', 'ts')} AS t, service, labels, {value} AS v FROM {table} "
        f"WHERE {' AND '.join(conds)} GROUP BY 1, 2, 3) AS per_series "
        f"WHERE v IS NOT NULL GROUP BY 1, 2) AS per_service GROUP BY 1, 2"
    )


def sql_params(spec: SeriesSpec) -> dict[str, str]:
    """The ``metric`` and ``match`` parameters :func:`sql_bucketed` needs for ``spec``."""
    import json

    out = {"metric": spec.metric}
    if spec.match:
        out["match"] = json.dumps(dict(sorted(spec.match.items())))
    return out
