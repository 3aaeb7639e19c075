"""Capacity buckets on Prometheus, Thanos, Mimir, VictoriaMetrics: ``max_over_time`` /
``min_over_time`` range queries at the bucket step
(:func:`~workbench.sources.capacity_queries.promql_bucketed`), split into step-aligned
time chunks that run concurrently (``source.max_concurrency``).

Example::

    >>> buckets(prom, BucketRequest(window, specs, ["checkout"], step, res))
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import polars as pl

from workbench.sources import capacity_queries as cq
from workbench.sources import chunking
from workbench.sources.capabilities import (
    BucketRequest,
    Buckets,
    as_buckets,
    at_ms,
    concat_buckets,
)
from workbench.timewindow import Window

__all__ = ["buckets", "has_metric"]


def has_metric(prom: Any, metrics: list[str], window: Window) -> bool:
    """Whether any of ``metrics`` has a series in ``window``."""
    match = "{__name__=~" + '"' + "|".join(metrics) + '"}'
    return bool(prom.label_values("__name__", window=window, match=match))


def buckets(prom: Any, req: BucketRequest) -> Buckets:
    """Peak usage and tightest limit per bucket, one range query per spec and chunk."""
    win, step, res, services = req.window, req.step, req.res, req.services
    rate = max(res, 4 * prom.scrape_interval)
    shifted = Window(win.start + step, win.end + step)  # evaluated at T -> bucket [T-step, T)
    chunks = chunking.plan(shifted, step, max_points=req.chunk_points)
    jobs: list[tuple[str, str, str, Window]] = []
    queries = []
    for spec in req.specs:
        roles: tuple[tuple[str, cq.SeriesSpec, Literal["max", "min"]], ...] = (
            ("usage", spec.usage, "max"),
            ("limit", spec.limit, "min"),
        )
        for role, s, agg in roles:
            expr = cq.promql_bucketed(
                s, step=step, agg=agg, services=services, res=min(res, step), rate=rate
            )
            queries.append(expr)
            for c in chunks:
                jobs.append((role, spec.name, expr, Window(at_ms(c.start_ms), at_ms(c.end_ms + 1))))

    def run(job: tuple[str, str, str, Window]) -> tuple[str, pl.DataFrame, list[str]]:
        role, resource, expr, cw = job
        r = prom.query_range(expr, cw, step=step, alias=f"{resource}:{role}")
        df = as_buckets(r.frame.with_columns(pl.col("ts") - step), resource)
        # series of one service (a recording rule in two namespaces, say) fold into one
        if df.select(pl.struct("ts", "service").is_duplicated().any()).item():
            fold = pl.col("value").max() if role == "usage" else pl.col("value").min()
            df = df.group_by("ts", "service", "resource", maintain_order=True).agg(fold)
        return role, df, list(r.reasons)

    parts: dict[str, list[pl.DataFrame]] = {"usage": [], "limit": []}
    reasons: list[str] = []
    workers = max(1, min(int(getattr(prom, "max_concurrency", 4)), len(jobs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wb-capacity") as pool:
        for role, df, why in pool.map(run, jobs):
            parts[role].append(df)
            reasons.extend(why)
    return Buckets(
        concat_buckets(parts["usage"]), concat_buckets(parts["limit"]), queries, len(jobs), reasons
    )
