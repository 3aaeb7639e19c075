"""Capacity buckets on PostgreSQL / TimescaleDB: ``date_bin`` / ``time_bucket`` on the
server (:meth:`PostgresSource.metrics_aggregated` for per-service gauges, a three-level SQL
aggregation, :func:`~workbench.sources.capacity_queries.sql_bucketed`, for per-pod
series), one time chunk at a time.

Example::

    >>> buckets(pg, BucketRequest(window, specs, ["checkout"], step, res))
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl

from workbench.sources import capacity_queries as cq
from workbench.sources.capabilities import (
    EPOCH,
    BucketRequest,
    Buckets,
    as_buckets,
    concat_buckets,
    time_chunks,
)
from workbench.timewindow import Window

__all__ = ["buckets", "has_metric"]


def _table(pg: Any) -> str:
    return '"' + pg.schema.replace('"', '""') + '"."metrics"'


def has_metric(pg: Any, metrics: list[str], window: Window) -> bool:
    """Whether any of ``metrics`` has a row in ``window``."""
    res = pg.query(
        f"SELECT metric FROM {_table(pg)} WHERE metric = ANY(%(m)s) AND ts >= %(start)s "
        "AND ts < %(end)s LIMIT 1",
        {"m": metrics},
        window=window,
    )
    return bool(res.frame["metric"].to_list())


def buckets(pg: Any, req: BucketRequest) -> Buckets:
    """Peak usage and tightest limit per bucket, aggregated by the server."""
    services, step, res = req.services, req.step, req.res
    bucket_fn: Literal["date_bin", "time_bucket"] = "time_bucket" if pg.timescale else "date_bin"
    table = _table(pg)
    parts: dict[str, list[pl.DataFrame]] = {"usage": [], "limit": []}
    queries: list[str] = []
    requests = 0
    # per-service gauges of each role in one metrics_aggregated call per chunk
    direct: dict[tuple[str, Literal["max", "min"]], dict[str, str]] = {}
    custom: list[tuple[str, str, cq.SeriesSpec, Literal["max", "min"]]] = []
    for spec in req.specs:
        roles: tuple[tuple[str, cq.SeriesSpec, Literal["max", "min"]], ...] = (
            ("usage", spec.usage, "max"),
            ("limit", spec.limit, "min"),
        )
        for role, s, agg in roles:
            if s.per_service and s.kind == "gauge" and not s.match:
                direct.setdefault((role, agg), {})[s.metric] = spec.name
            else:
                custom.append((role, spec.name, s, agg))
    for cw in time_chunks(req.window, step, req.chunk_points):
        for (role, agg), metrics in direct.items():
            r = pg.metrics_aggregated(
                cw, step, agg, services=services, metric=list(metrics), by="service"
            )
            requests += 1
            queries.append(r.query or "")
            df = r.frame
            for metric, resource in metrics.items():
                parts[role].append(as_buckets(df.filter(pl.col("metric") == metric), resource))
        for role, resource, s, agg in custom:
            text = cq.sql_bucketed(
                s, table=table, agg=agg, bucket_fn=bucket_fn, with_services=services is not None
            )
            params: dict[str, Any] = {
                "step": step,
                "res": min(res, step),
                "origin": EPOCH,
                **cq.sql_params(s),
            }
            if services is not None:
                params["services"] = services
            r = pg.query(text, params, window=cw)
            requests += 1
            queries.append(text)
            parts[role].append(as_buckets(r.frame, resource))
    return Buckets(
        concat_buckets(parts["usage"]), concat_buckets(parts["limit"]), queries, requests
    )
