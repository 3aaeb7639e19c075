"""Ready-made PromQL for a service's RED signals and saturation.

Metric and label names default to the lab's conventions (LAB_FORMAT.md, Prometheus and
OpenTelemetry style) and can all be changed with :class:`MetricNames`. Service names are
escaped (:mod:`workbench.sources.prometheus.promql`), so a hostile name cannot change a query.

The signals, one ``metric`` name each in the resulting frame (one series per service;
the ``red:`` names are the ones :mod:`workbench.analysis.red` reads as pre-computed RED):

==================================  ======================================================
``red:request_rate``                requests per second
``red:error_rate``                  failed requests per second
``red:error_ratio``                 failed / all requests (0..1); 0 when none failed
``red:latency_p50_seconds``         ``histogram_quantile`` over ``rate(_bucket)`` by le
``red:latency_p95_seconds``         (also p99; ``MetricNames.quantiles`` sets which)
``saturation:cpu_ratio``            CPU seconds per second over the CPU limit
``saturation:memory_ratio``         resident memory over the memory limit
``saturation:db_pool_ratio``        used connections over the pool's maximum
==================================  ======================================================

Example::

    >>> q = signal_queries(MetricNames(), services=["checkout"], rate_window="1m")
    >>> q["red:error_ratio"]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.sources.prometheus import promql

__all__ = [
    "CPU_RATIO",
    "CPU_THROTTLED_RATIO",
    "DB_POOL_RATIO",
    "ERROR_RATE",
    "ERROR_RATIO",
    "MEMORY_RATIO",
    "OOM_KILLS",
    "REQUEST_RATE",
    "RESTARTS",
    "SIGNALS",
    "MetricNames",
    "latency_name",
    "signal_queries",
]

REQUEST_RATE = "red:request_rate"
ERROR_RATE = "red:error_rate"
ERROR_RATIO = "red:error_ratio"
CPU_RATIO = "saturation:cpu_ratio"
MEMORY_RATIO = "saturation:memory_ratio"
DB_POOL_RATIO = "saturation:db_pool_ratio"
CPU_THROTTLED_RATIO = "saturation:cpu_throttled_ratio"
RESTARTS = "saturation:restarts"
OOM_KILLS = "saturation:oom_kills"


def latency_name(q: float) -> str:
    """``red:latency_p95_seconds`` for 0.95."""
    return f"red:latency_p{q * 100:g}_seconds"


SIGNALS = (
    REQUEST_RATE,
    ERROR_RATE,
    ERROR_RATIO,
    latency_name(0.5),
    latency_name(0.95),
    latency_name(0.99),
    CPU_RATIO,
    MEMORY_RATIO,
    DB_POOL_RATIO,
)


@dataclass(frozen=True)
class MetricNames:
    """Names of the metrics and labels the ready-made queries use.

    Example: a setup that labels services ``app`` and counts requests in
    ``http_requests_total`` with a ``status`` label::

        >>> MetricNames(service_label="app", requests="http_requests_total",
        ...             status_label="status")
    """

    service_label: str = "service"
    requests: str = "http_server_requests_total"
    status_label: str = "code"
    error_status: str = "5.."  # a regex over status_label
    duration_bucket: str = "http_server_request_duration_seconds_bucket"
    cpu_seconds: str = "process_cpu_seconds_total"
    cpu_limit: str = "container_cpu_limit_cores"
    memory: str = "process_resident_memory_bytes"
    memory_limit: str = "container_memory_limit_bytes"
    pool_usage: str = "db_client_connections_usage"
    pool_state_label: str = "state"
    pool_used_state: str = "used"
    pool_max: str = "db_client_connections_max"
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
    # extra (label, op, value) matchers on the request and duration series, e.g.
    # ("reporter", "=", "destination") for Istio or ("span_kind", "=", "SPAN_KIND_SERVER")
    request_matchers: tuple[tuple[str, str, str], ...] = ()
    # seconds per unit of the duration histogram: 0.001 for a ``_milliseconds`` histogram
    duration_scale: float = 1.0
    # the label naming the service on the saturation series when it differs (cAdvisor and
    # kube-state-metrics: ``container``); the queries relabel it to ``service_label``
    saturation_service_label: str | None = None
    cpu_limit_matchers: tuple[tuple[str, str, str], ...] = ()
    memory_limit_matchers: tuple[tuple[str, str, str], ...] = ()
    # Kubernetes extras (None: not queried): CFS throttling, restarts, OOM kills
    cpu_throttled_periods: str | None = None
    cpu_periods: str | None = None
    restarts: str | None = None
    terminated_reason: str | None = None


def signal_queries(
    names: MetricNames,
    *,
    services: Sequence[str] | None,
    rate_window: str,
    signals: Sequence[str] | None = None,
) -> dict[str, str]:
    """PromQL per signal name, aggregated by the service label.

    ``services=None`` covers every service; ``rate_window`` is a PromQL duration
    (``"1m"``) and must not come from untrusted input.
    """
    svc = promql.label_name(names.service_label)
    match = promql.any_of(svc, services) if services else None
    by = f"sum by ({svc})"
    w = f"[{rate_window}]"

    def sel(metric: str, *extra: str | None) -> str:
        return promql.selector(metric, match, *extra)

    def matchers(spec: tuple[tuple[str, str, str], ...]) -> list[str]:
        return [promql.matcher(k, op, v) for k, op, v in spec]

    rq = matchers(names.request_matchers)
    req = sel(names.requests, *rq)
    err = sel(names.requests, *rq, promql.matcher(names.status_label, "=~", names.error_status))
    total = f"{by} (rate({req}{w}))"
    errors = f"({by} (rate({err}{w})) or {total} * 0)"
    out = {
        REQUEST_RATE: total,
        # "or ... * 0" keeps services without any error at 0 instead of dropping them
        ERROR_RATE: errors,
        ERROR_RATIO: f"{errors} / {total}",
    }
    bucket = sel(names.duration_bucket, *rq)
    scale = "" if names.duration_scale == 1 else f" * {names.duration_scale:g}"
    for q in names.quantiles:
        out[latency_name(q)] = (
            f"histogram_quantile({q:g}, sum by ({svc}, le) (rate({bucket}{w}))){scale}"
        )
    out.update(_saturation(names, services, w))
    if signals is not None:
        unknown = set(signals) - set(out) - {CPU_THROTTLED_RATIO, RESTARTS, OOM_KILLS}
        if unknown:
            from workbench.errors import ConfigError

            raise ConfigError(
                f"unknown signal(s) {sorted(unknown)}", hint=f"choose from {sorted(out)}"
            )
        out = {k: v for k, v in out.items() if k in signals}
    return out


def _saturation(names: MetricNames, services: Sequence[str] | None, w: str) -> dict[str, str]:
    """Saturation queries, by ``saturation_service_label`` relabelled to the service label."""
    svc = promql.label_name(names.service_label)
    sat = promql.label_name(names.saturation_service_label or names.service_label)
    match = promql.any_of(sat, services) if services else None
    by = f"sum by ({sat})"

    def sel(metric: str, *extra: str | None) -> str:
        return promql.selector(metric, match, *extra)

    def lim(spec: tuple[tuple[str, str, str], ...]) -> list[str]:
        return [promql.matcher(k, op, v) for k, op, v in spec]

    def relabel(expr: str) -> str:
        return expr if sat == svc else _relabel(expr, svc, sat)

    cpu_limit = sel(names.cpu_limit, *lim(names.cpu_limit_matchers))
    mem_limit = sel(names.memory_limit, *lim(names.memory_limit_matchers))
    out = {
        CPU_RATIO: f"{by} (rate({sel(names.cpu_seconds)}{w})) / {by} ({cpu_limit})",
        MEMORY_RATIO: f"{by} ({sel(names.memory)}) / {by} ({mem_limit})",
    }
    # the pool gauges are application metrics: by the application's label, even when CPU
    # and memory come from cAdvisor's ``container``
    app = sat if names.cpu_throttled_periods is None else svc
    pm = promql.any_of(app, services) if services else None
    used = promql.selector(
        names.pool_usage, pm, promql.eq(names.pool_state_label, names.pool_used_state)
    )
    pool = f"sum by ({app}) ({used}) / sum by ({app}) ({promql.selector(names.pool_max, pm)})"
    out_pool = {DB_POOL_RATIO: pool if app == svc else _relabel(pool, svc, app)}
    if names.cpu_throttled_periods and names.cpu_periods:
        out[CPU_THROTTLED_RATIO] = (
            f"{by} (rate({sel(names.cpu_throttled_periods)}{w})) / "
            f"{by} (rate({sel(names.cpu_periods)}{w}))"
        )
    if names.restarts:
        out[RESTARTS] = f"{by} (increase({sel(names.restarts)}{w}))"
    if names.terminated_reason:
        oom = sel(names.terminated_reason, promql.eq("reason", "OOMKilled"))
        out[OOM_KILLS] = f"{by} ({oom})"
    return {**{k: relabel(v) for k, v in out.items()}, **out_pool}


def _relabel(expr: str, to: str, frm: str) -> str:
    return f'label_replace({expr}, "{to}", "$1", "{frm}", "(.*)")'
