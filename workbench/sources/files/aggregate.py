"""Per-service metric aggregates straight from Parquet: the first pass of an investigation.

Ranking services needs each service's series, not each pod's. :func:`service_aggregates`
scans contract Parquet files lazily (projection: the five metric columns; predicate: the
window, pushed into the scan) one file at a time, streaming, with the label lists held
once per distinct label set rather than per row, so memory is bounded by the largest
file's window without its labels (write metrics partitioned by family, as the lab does at scale), and
returns the samples aggregated ``without`` the per-instance labels (:data:`PER_INSTANCE`:
``pod``, ``instance``, ...) at ``step``: the PromQL ``sum without (pod, instance)``.

* Counters (names ending in ``_total``, ``_count``, ``_sum``, ``_bucket``: the same rule
  as :func:`workbench.analysis.changes.rate_counters`): each series' increase per sample
  (a decrease is a reset and counts 0) is summed per group and step, then accumulated
  again, so the result is a reset-free counter whose rate is the sum of the instances'
  rates.
* Gauges: the mean over the group's samples in the step.

Example::

    >>> from workbench.sources.files.aggregate import service_aggregates
    >>> service_aggregates(paths, window, step=timedelta(seconds=60)).height
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import polars as pl

from workbench import frames
from workbench.analysis.changes import COUNTER_SUFFIXES
from workbench.errors import BadData
from workbench.sources.files import parquet
from workbench.timewindow import Window

__all__ = ["BATCH_ROWS", "PER_INSTANCE", "service_aggregates"]

#: labels that name one instance of a service; aggregates sum or average over them
PER_INSTANCE: tuple[str, ...] = (
    "pod",
    "instance",
    "k8s_pod_name",
    "k8s.pod.name",
    "pod_name",
    "container_id",
    "service_instance_id",
    "service.instance.id",
)

_COLUMNS = ("ts", "metric", "service", "value", "labels")

#: raw rows aggregated at once at most when batching (``batch_rows=BATCH_ROWS``); off by
#: default: at 1,000 services batching cut the peak from 3.2 to 2.5 GiB but took 2.8x
#: the time (each batch re-reads the file: the lab's row groups mix services)
BATCH_ROWS = 2_000_000


def _is_counter() -> pl.Expr:
    return pl.any_horizontal([pl.col("metric").str.ends_with(s) for s in COUNTER_SUFFIXES])


def _one_file(
    path: Path,
    window: Window,
    step: timedelta,
    services: Sequence[str] | None,
    drop: Sequence[str],
    batch_rows: int | None,
) -> pl.DataFrame:
    lf = pl.scan_parquet(path).select(list(_COLUMNS))
    lf = parquet.filter_frame(lf, "metrics", window, services)
    parts = 1
    if batch_rows is not None:
        n = int(lf.select(pl.len()).collect().item())
        parts = max(1, -(-n // batch_rows))
    if parts == 1:
        return _one_batch(lf, step, drop)
    # a large file in batches of services (every row of a service in one batch, so its
    # series and groups are whole): each batch streams the file again, memory stays flat
    batch = pl.col("service").hash(seed=7) % parts
    return pl.concat(
        [_one_batch(lf.filter(batch == i), step, drop) for i in range(parts)],
        how="vertical",
    )


def _one_batch(lf: pl.LazyFrame, step: timedelta, drop: Sequence[str]) -> pl.DataFrame:
    lf = lf.with_columns(_lh=pl.col("labels").hash())
    # two streaming passes, so the label lists are never held per row: the rows with a
    # hash of their label set, and the distinct label sets (few: one per series at most)
    df = lf.drop("labels").collect(engine="streaming")
    key = pl.element().struct.field("key")
    sets = (
        lf.select("_lh", "labels")
        .unique("_lh")
        .collect(engine="streaming")
        .with_columns(labels=pl.col("labels").list.filter(~key.is_in(list(drop))).list.sort())
        .with_columns(_kh=pl.col("labels").hash())
    )
    counter = _is_counter()
    series = pl.struct("metric", "service", "_lh").hash()
    inc = pl.col("value").diff().over(series, order_by="ts").clip(lower_bound=0).fill_null(0.0)
    grouped = (
        df.join(sets.select("_lh", "_kh"), on="_lh", how="left")
        .with_columns(
            _v=pl.when(counter).then(inc).otherwise(pl.col("value")),
            _counter=counter,
            _b=pl.col("ts").dt.truncate(f"{int(step.total_seconds())}s"),
            _g=pl.struct("metric", "service", "_kh").hash(),
        )
        .group_by("_g", "_b")
        .agg(
            pl.col("metric").first(),
            pl.col("service").first(),
            pl.col("_kh").first(),
            pl.col("_counter").first(),
            _sum=pl.col("_v").sum(),
            _mean=pl.col("_v").mean(),
        )
    )
    labels = sets.select("_kh", "labels").unique("_kh")
    return grouped.join(labels, on="_kh", how="left").select(
        pl.col("_b").alias("ts"),
        "metric",
        "service",
        pl.when(pl.col("_counter"))
        .then(pl.col("_sum").cum_sum().over("_g", order_by="_b"))
        .otherwise(pl.col("_mean"))
        .alias("value"),
        "labels",
    )


def service_aggregates(
    paths: Sequence[str | Path],
    window: Window,
    *,
    step: timedelta = timedelta(seconds=60),
    services: Sequence[str] | None = None,
    drop: Sequence[str] = PER_INSTANCE,
    source: str | None = None,
    batch_rows: int | None = None,
) -> pl.DataFrame:
    """The metrics frame of ``paths`` over ``window``, aggregated per service (every
    label but ``drop``) at ``step`` (see the module docstring), sorted by ``ts``. With
    ``batch_rows``, a file with more rows than that in the window is aggregated in
    batches of services, each a streaming pass over the file (less memory, more time).

    >>> service_aggregates(["metrics/metrics.parquet"], win, step=timedelta(minutes=1))
    """
    if step.total_seconds() < 1:
        raise ValueError("step must be at least one second")
    parts = []
    for p in paths:
        try:
            parts.append(_one_file(Path(p), window, step, services, drop, batch_rows))
        except Exception as exc:  # polars raises many kinds on a bad file
            raise BadData(
                f"cannot aggregate Parquet {Path(p).name}: {str(exc).splitlines()[0][:200]}",
                path=str(p),
                source=source,
                hint="the file may be truncated or not in the metrics frame contract",
            ) from exc
    if not parts:
        return frames.empty("metrics")
    df = pl.concat(parts, how="vertical").sort("ts", "metric", "service", maintain_order=True)
    return frames.validate(df, "metrics", source=source)
