"""RED and saturation per service from metric files: the Prometheus first pass, offline.

What :class:`~workbench.sources.prometheus.PrometheusSource` asks a server for
(:mod:`workbench.sources.prometheus.signals`: ``sum by (service)`` rates,
``histogram_quantile`` over ``sum by (service, le)``, CPU/memory/pool ratios), computed
from contract Parquet files with the same names (``red:request_rate``,
``red:error_ratio``, ``red:latency_p95_seconds``, ``saturation:cpu_ratio``, ...), so an
investigation over a thousand services ranks on one series per service and signal
whatever holds the data; the raw series stay in the files for a drill-down
(``DirectorySource.metrics(..., grain="series")``).

Only the metrics the signals need are read (row groups of other metrics are skipped by
their statistics), in bounded pieces (:func:`~workbench.sources.files.aggregate.
service_aggregates` with ``keep=(status, le, pool state)``). Rates are the counters'
increases per ``step`` over the step's seconds (resets count 0); gauges are summed over
the service's series (each series' mean in the step), as ``sum by (service)`` does.

Example::

    >>> from workbench.sources.files.signals import service_signals
    >>> service_signals(paths, window, step=timedelta(seconds=60))["metric"].unique()
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import polars as pl

from workbench import frames
from workbench.sources.files.aggregate import keyed_aggregates
from workbench.sources.prometheus.signals import (
    CPU_RATIO,
    DB_POOL_RATIO,
    ERROR_RATE,
    ERROR_RATIO,
    MEMORY_RATIO,
    REQUEST_RATE,
    MetricNames,
    latency_name,
)
from workbench.timewindow import Window

__all__ = ["needed_metrics", "service_signals"]

#: bucket rows per batch of services in the latency quantiles (bounds their memory)
_QUANTILE_ROWS = 250_000


def needed_metrics(names: MetricNames) -> list[str]:
    """The metric names the signals are computed from."""
    return [
        names.requests,
        names.duration_bucket,
        names.cpu_seconds,
        names.cpu_limit,
        names.memory,
        names.memory_limit,
        names.pool_usage,
        names.pool_max,
    ]


def _attr(key: str) -> pl.Expr:
    return frames.attr("labels", key)


def service_signals(
    paths: Sequence[str | Path],
    window: Window,
    *,
    step: timedelta = timedelta(seconds=60),
    services: Sequence[str] | None = None,
    names: MetricNames | None = None,
    source: str | None = None,
) -> pl.DataFrame:
    """The RED and saturation signals of ``paths`` per service and ``step`` over
    ``window`` (metrics frame, empty ``labels``), sorted by signal, service and time.

    >>> service_signals(["metrics/"], win)["metric"].unique().sort().to_list()[:2]
    ['red:error_rate', 'red:error_ratio']
    """
    names = names or MetricNames()
    rows, sets = keyed_aggregates(
        paths,
        window,
        step=step,
        services=services,
        keep=(names.status_label, "le", names.pool_state_label),
        metrics=needed_metrics(names),
        source=source,
        gauges="sum",
    )
    secs = step.total_seconds()
    # the few label sets once (not the label lists of every row), then plain columns:
    # whether the status is an error and the bucket bound decided per label set (19 at
    # 300 services), not per row
    err_re = f"^(?:{names.error_status})$"
    keys = sets.select(
        "_kh",
        _err=_attr(names.status_label).str.contains(err_re),
        _le=_attr("le").str.replace(r"^\+Inf$", "inf").cast(pl.Float64, strict=False),
        _used=_attr(names.pool_state_label) == names.pool_used_state,
    )
    m = rows.join(keys, on="_kh", how="left", maintain_order="left")
    del rows
    # counters: the step's increase over its seconds (the aggregate is a reset-free
    # running sum, each series one block in time order: a block starts where the
    # metric, service or label set changes)
    new = (
        (pl.col("_kh") != pl.col("_kh").shift(1))
        | (pl.col("service") != pl.col("service").shift(1))
        | (pl.col("metric") != pl.col("metric").shift(1))
    ).fill_null(True)
    m = m.with_columns(
        _rate=pl.when(new).then(pl.col("value")).otherwise(pl.col("value").diff()) / secs
    )
    out: list[pl.DataFrame] = []

    def per_service(df: pl.DataFrame, col: str, name: str) -> pl.DataFrame:
        return (
            df.group_by("ts", "service")
            .agg(pl.col(col).sum())
            .with_columns(metric=pl.lit(name))
            .rename({col: "value"})
        )

    req = m.filter(pl.col("metric") == names.requests)
    if req.height:
        r = req.group_by("ts", "service").agg(
            _total=pl.col("_rate").sum(),
            _err=pl.col("_rate").filter(pl.col("_err")).sum(),
        )
        out += [
            r.select("ts", "service", value="_total", metric=pl.lit(REQUEST_RATE)),
            r.select("ts", "service", value="_err", metric=pl.lit(ERROR_RATE)),
            r.filter(pl.col("_total") > 0).select(
                "ts",
                "service",
                value=pl.col("_err") / pl.col("_total"),
                metric=pl.lit(ERROR_RATIO),
            ),
        ]
    buckets = m.filter(pl.col("metric") == names.duration_bucket)
    if buckets.height:
        from workbench.analysis.red import histogram_quantiles

        b = (
            buckets.rename({"_le": "le"})
            .filter(pl.col("le").is_not_null())
            .group_by("ts", "service", "le")
            .agg(rate=pl.col("_rate").sum())
        )
        # a few hundred thousand bucket rows at a time (the quantiles' cross join with
        # the quantiles and its sorts would otherwise hold several copies of them all)
        parts = max(1, -(-b.height // _QUANTILE_ROWS))
        batch = pl.col("service").hash(7) % parts
        for i in range(parts):
            qv = histogram_quantiles(
                b.filter(batch == i) if parts > 1 else b,
                by=["ts", "service"],
                quantiles=names.quantiles,
            )
            out.append(
                qv.filter(pl.col("value").is_not_null()).select(
                    "ts",
                    "service",
                    value=pl.col("value") * names.duration_scale,
                    metric=pl.col("q").replace_strict(
                        {q: latency_name(q) for q in names.quantiles}, return_dtype=pl.String
                    ),
                )
            )
        del b

    def ratio(num: pl.DataFrame, den: pl.DataFrame, name: str) -> None:
        if num.height == 0 or den.height == 0:
            return
        j = num.join(den, on=["ts", "service"], how="inner", suffix="_d")
        out.append(
            j.filter(pl.col("value_d") > 0).select(
                "ts", "service", value=pl.col("value") / pl.col("value_d"), metric=pl.lit(name)
            )
        )

    def gauge(metric: str, *, rate: bool = False, where: pl.Expr | None = None) -> pl.DataFrame:
        df = m.filter(pl.col("metric") == metric)
        if where is not None:
            df = df.filter(where)
        return per_service(df, "_rate" if rate else "value", metric).drop("metric")

    ratio(gauge(names.cpu_seconds, rate=True), gauge(names.cpu_limit), CPU_RATIO)
    ratio(gauge(names.memory), gauge(names.memory_limit), MEMORY_RATIO)
    used = pl.col("_used")
    ratio(gauge(names.pool_usage, where=used), gauge(names.pool_max), DB_POOL_RATIO)
    if not out:
        return frames.empty("metrics")
    df = (
        pl.concat([o.select("ts", "metric", "service", "value") for o in out])
        .filter(pl.col("value").is_finite())
        .sort("metric", "service", "ts")
        .with_columns(labels=pl.lit([], dtype=frames.SCHEMAS["metrics"]["labels"]))
    )
    return frames.validate(df, "metrics", source=source)
