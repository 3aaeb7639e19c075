"""CPU utilisation per pod, derived from the metrics any user has.

A CPU at its limit is a service's own state whatever the services it calls do (the
saturation signal, :func:`workbench.analysis.metric_rules.saturation`, reads usage
series in percent or as a fraction of capacity). A Prometheus source asks the server for
that fraction (``saturation:cpu_ratio``: the rate of the CPU-seconds counter over the
CPU limit); raw series (files, bundles, the lab) carry only the counter and the limit,
so a CPU driven to its limit showed as "CPU seconds rose", a symptom like any other.
:func:`cpu_utilisation` derives the same fraction per pod (the ranking scores its
changes beside the raw series'), the container's limit being
per pod (a hog on one pod of three is 100% there, a third of it summed by service).

==========================  ============================================================
series                      from
==========================  ============================================================
``cpu_utilisation_ratio``   rate of ``process_cpu_seconds_total`` (or cAdvisor's
                            ``container_cpu_usage_seconds_total``) over
                            ``container_cpu_limit_cores`` of the same service and pod
                            (the pod label; a service without pod labels: its one limit)
==========================  ============================================================

Example::

    >>> from workbench.analysis.utilisation import cpu_utilisation
    >>> cpu_utilisation(inc.metrics).head()
"""

from __future__ import annotations

import polars as pl

from workbench.analysis._util import memoised
from workbench.analysis.changes import rate_counters

__all__ = ["CPU_LIMIT", "CPU_SECONDS", "UTILISATION", "cpu_utilisation"]

#: CPU-seconds counters (the process's own, or cAdvisor's per container)
CPU_SECONDS = ("process_cpu_seconds_total", "container_cpu_usage_seconds_total")
#: CPU limit gauges, in cores (the Prometheus source's default ``cpu_limit``)
CPU_LIMIT = ("container_cpu_limit_cores",)
#: the derived series' name: a usage (``cpu``) as a fraction (``_ratio``)
UTILISATION = "cpu_utilisation_ratio"


def _pod() -> pl.Expr:
    kv = pl.element()
    return (
        pl.col("labels")
        .list.eval(kv.filter(kv.struct.field("key") == "pod").struct.field("value"))
        .list.first()
    )


@memoised  # the verdict's placebo rankings share one frame (and the work memoised on it)
def cpu_utilisation(metrics: pl.DataFrame) -> pl.DataFrame:
    """``cpu_utilisation_ratio`` rows (the metrics frame's columns, the counter's labels):
    each CPU-seconds counter's rate (per second: cores in use) over its pod's CPU limit.
    Empty without both series.

    >>> cpu_utilisation(inc.metrics)  # doctest: +SKIP
    """
    cols = metrics.columns
    empty = metrics.clear()
    if metrics.height == 0 or not {"metric", "labels", "service", "value", "ts"} <= set(cols):
        return empty
    names = set(metrics["metric"].unique().to_list())
    if not (names & set(CPU_SECONDS) and names & set(CPU_LIMIT)):
        return empty
    limits = (
        metrics.filter(pl.col("metric").is_in(CPU_LIMIT) & (pl.col("value") > 0))
        .with_columns(_pod=_pod())
        .sort("ts")
        .group_by("service", "_pod")
        .agg(_limit=pl.col("value").last())
    )
    if limits.height == 0:
        return empty
    # one counter name per service (the first of CPU_SECONDS it has), as rates per second
    order = pl.col("metric").replace_strict(
        {n: i for i, n in enumerate(CPU_SECONDS)}, default=len(CPU_SECONDS), return_dtype=pl.Int64
    )
    counters = metrics.filter(pl.col("metric").is_in(CPU_SECONDS)).with_columns(_o=order)
    used = counters.filter(pl.col("_o") == pl.col("_o").min().over("service")).drop("_o")
    rates = rate_counters(used).drop("_sid").with_columns(_pod=_pod())
    # a service whose limit has no pod label has one limit for all its pods
    by_pod = rates.join(limits.drop_nulls("_pod"), on=["service", "_pod"], how="inner")
    whole = limits.filter(pl.col("_pod").is_null()).drop("_pod")
    by_service = rates.join(by_pod.select("service").unique(), on="service", how="anti").join(
        whole, on="service", how="inner"
    )
    out = pl.concat([by_pod.drop("_pod"), by_service.drop("_pod")], how="diagonal")
    return out.with_columns(
        metric=pl.lit(UTILISATION), value=pl.col("value") / pl.col("_limit")
    ).select(cols)
