"""Three rules that keep metric changes from over-counting, for the suspect ranking.

* :func:`quantile_consensus` — the quantiles of one latency (``...P90``, ``...P95``,
  ``...P99`` of the same series) are one measurement: a change seen at a single quantile
  (the P99 moving while P90 and P95 stay) is a handful of slow requests, so each member
  is scored with the family's median score and counts as changed only when most members
  changed.
* :func:`without_host_level` — a machine's series (``NodeCpuUsageRate``, ``node_*``)
  reported under every pod of the machine change alike for all the services on it, so
  they cannot tell the services apart and are left out.

* :func:`saturation` — a service's own resource driven to its capacity (a usage series
  in percent of its limit that rose to 90 % or more) is a cause, not a symptom (the
  saturation of the USE method): scored per service, as evidence of its own.
* :func:`usage_drop` — a fall of a usage or throughput series (CPU, syscalls, network
  bytes, operations) means less work arrived: the effect of a problem upstream or of a
  change of load, not a fault of the service's own resources.

The functions take and return :func:`workbench.analysis.changes.score_changes` output
(``usage_drop`` and ``host_level`` are expressions over it). A change's way (up or down)
is the way of the run that gives its score (``moved``: :func:`went`), not the sign of the
window's median: a postgres ``up`` at 0 for 12 of 60 minutes is scored for its fall, while
its median stays 1; a canary pod's latency counters going flat as the pod is removed are
scored for the fall, not a latency rise.

Example::

    >>> from workbench.analysis import changes as ch, metric_rules as mr
    >>> c = ch.score_changes(inc.metrics, inc.window, inc.baseline)
    >>> mr.quantile_consensus(mr.without_host_level(c)).filter(~mr.usage_drop())
"""

from __future__ import annotations

import polars as pl

from workbench.analysis.totals import requests_name

__all__ = [
    "demand_rise",
    "host_level",
    "quantile_consensus",
    "saturation",
    "usage_drop",
    "went",
    "with_way",
    "without_host_level",
]

# a usage series in percent of capacity (``CpuUsageRate(%)``, ``memory_percent``) or as a
# 0..1 fraction of it (``cpu_utilization``, ``memory_usage_ratio``)
_PERCENT = r"(?i)(%|percent)"
_FRACTION = r"(?i)(utili[sz]ation|_ratio\b)"

# how much work a service does or what it holds: CPU, memory, syscalls, bytes, operations
_USAGE = r"(?i)(cpu|mem|syscall|bytes|network|disk|_io|workload|ops\b|\(ops\))"

# host-level series: ``NodeCpuUsageRate(%)``, ``node_memory_...``, ``host_cpu``, ``machine_...``
_HOST = r"^(?:[Nn]ode|NODE|[Hh]ost|HOST|[Mm]achine)(?:[A-Z_.]|$)"

# a quantile token inside a metric name: a camel-case ``...LatencyP99(s)`` or a separate
# ``latency_p95`` word (a ``quantile="0.99"`` label is a label, not part of the name)
_CAMEL_Q = r"([a-z])P(50|75|90|95|99|999)([^0-9]|$)"
_WORD_Q = r"(^|[^A-Za-z0-9])[pP](50|75|90|95|99|999)([^0-9]|$)"


def _family() -> pl.Expr:
    return pl.col("metric").str.replace(_CAMEL_Q, "${1}P*${3}").str.replace(_WORD_Q, "${1}p*${3}")


def quantile_consensus(changes: pl.DataFrame) -> pl.DataFrame:
    """Score the members of a quantile family (same service, labels and metric name up to
    the ``pNN`` token) with the family's median score; ``changed`` when at least half of
    them changed. Series outside any family (or alone in theirs) are unchanged.

    >>> quantile_consensus(score_changes(m, window, baseline))
    """
    if changes.height == 0:
        return changes
    fam = _family()
    has_q = fam != pl.col("metric")
    keys = ["service", "_labels_key", "_family"]
    out = changes.with_columns(
        _family=pl.when(has_q).then(fam),
        _labels_key=pl.col("labels")
        .list.eval(pl.element().struct.field("key") + "=" + pl.element().struct.field("value"))
        .list.join(","),
    )
    grouped = (
        out.filter(pl.col("_family").is_not_null())
        .group_by(keys)
        .agg(
            _n=pl.len(),
            _med=pl.col("score").median(),
            _most=pl.col("changed").cast(pl.Float64).mean() >= 0.5,
        )
        .filter(pl.col("_n") > 1)
    )
    out = out.join(grouped, on=keys, how="left", nulls_equal=True).with_columns(
        score=pl.when(pl.col("_n").is_not_null()).then(pl.col("_med")).otherwise(pl.col("score")),
        changed=pl.when(pl.col("_n").is_not_null())
        .then(pl.col("changed") & pl.col("_most"))
        .otherwise(pl.col("changed")),
    )
    return out.drop("_family", "_labels_key", "_n", "_med", "_most")


def host_level() -> pl.Expr:
    """True for series that describe the machine, not the service: names starting with
    ``node``/``host``/``machine`` (``NodeCpuUsageRate``, ``node_load1``, ``host_cpu``), as
    exporters report them under every pod of the node."""
    return pl.col("metric").str.contains(_HOST)


def without_host_level(changes: pl.DataFrame) -> pl.DataFrame:
    """Drop host-level series (:func:`host_level`): all the services on a machine show the
    same change, so it cannot tell them apart.

    >>> without_host_level(score_changes(m, window, baseline))
    """
    return changes.filter(~host_level())


def with_way(changes: pl.DataFrame) -> pl.DataFrame:
    """``changes`` with ``moved`` (the way its scored run went); a frame made without it
    (older :func:`~workbench.analysis.changes.score_changes` output, a hand-made one)
    gets the median's ``direction``."""
    if "moved" in changes.columns:
        return changes.with_columns(pl.col("moved").fill_null(pl.col("direction")))
    return changes.with_columns(moved=pl.col("direction"))


def went(way: str) -> pl.Expr:
    """True where the change's scored run went ``way`` (``"up"`` or ``"down"``): the
    ``moved`` of :func:`with_way`, over which the rules read a change's way.

    >>> with_way(c).filter(went("down"))  # changes scored for a fall
    """
    return pl.col("moved") == way


def usage_drop() -> pl.Expr:
    """True for a fall of a usage or throughput series (CPU, memory, syscalls, network
    bytes, operations): a service doing less work is the effect of less work arriving
    (a problem upstream, or a change of load), not a fault of its own resources."""
    return went("down") & pl.col("metric").str.contains(_USAGE)


def demand_rise() -> pl.Expr:
    """True for a rise of the requests a service serves (the totals' request series,
    counters too): more work arriving (its callers' or its users' doing), not a fault of
    its own; what the extra work costs shows in the service's latency, errors and busy
    seconds, which stay evidence."""
    return went("up") & requests_name()


def saturation(changes: pl.DataFrame, *, low: float = 50.0, full: float = 90.0) -> pl.DataFrame:
    """Per service: ``saturation`` in 0..1 and ``_s_top`` (the series), from usage series
    in percent (or fraction) of capacity that changed upwards: 0 at ``low`` percent or
    less over the incident window (median) and at its end (``end_level``: the median of
    the last run of points), 1 at ``full`` percent or more. Host-level
    series are left out (the machine is not the service).

    >>> saturation(score_changes(m, window, baseline))
    """
    schema = {"service": pl.String, "saturation": pl.Float64, "_s_top": pl.String}
    if changes.height == 0:
        return pl.DataFrame(schema=schema)
    changes = with_way(changes)
    name = pl.col("metric")
    usage = name.str.contains(_USAGE) & (name.str.contains(_PERCENT) | name.str.contains(_FRACTION))
    # the level over the window, or the one held at its end (a CPU driven to 100 % in the
    # window's last minutes is at capacity now; older frames have no ``end_level``)
    held = (
        pl.max_horizontal("incident_median", "end_level")
        if "end_level" in changes.columns
        else pl.col("incident_median")
    )
    pct = pl.when(name.str.contains(_PERCENT)).then(held).otherwise(held * 100.0)
    level = ((pct - low) / (full - low)).clip(0.0, 1.0)
    return (
        changes.filter(
            usage & ~host_level() & pl.col("changed") & went("up") & pl.col("service").is_not_null()
        )
        .with_columns(_lvl=level)
        .filter(pl.col("_lvl") > 0)
        .group_by("service")
        .agg(saturation=pl.col("_lvl").max(), _s_top=pl.col("metric").sort_by("_lvl").last())
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
        .sort("service")
    )
