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
    "DB_POOL_RATIO",
    "ERROR_RATE",
    "ERROR_RATIO",
    "MEMORY_RATIO",
    "REQUEST_RATE",
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

    req = sel(names.requests)
    err = sel(names.requests, promql.matcher(names.status_label, "=~", names.error_status))
    total = f"{by} (rate({req}{w}))"
    errors = f"({by} (rate({err}{w})) or {total} * 0)"
    out = {
        REQUEST_RATE: total,
        # "or ... * 0" keeps services without any error at 0 instead of dropping them
        ERROR_RATE: errors,
        ERROR_RATIO: f"{errors} / {total}",
    }
    bucket = sel(names.duration_bucket)
    for q in names.quantiles:
        out[latency_name(q)] = f"histogram_quantile({q:g}, sum by ({svc}, le) (rate({bucket}{w})))"
    out[CPU_RATIO] = f"{by} (rate({sel(names.cpu_seconds)}{w})) / {by} ({sel(names.cpu_limit)})"
    out[MEMORY_RATIO] = f"{by} ({sel(names.memory)}) / {by} ({sel(names.memory_limit)})"
    used = sel(names.pool_usage, promql.eq(names.pool_state_label, names.pool_used_state))
    out[DB_POOL_RATIO] = f"{by} ({used}) / {by} ({sel(names.pool_max)})"
    if signals is not None:
        unknown = set(signals) - set(out)
        if unknown:
            from workbench.errors import ConfigError

            raise ConfigError(
                f"unknown signal(s) {sorted(unknown)}", hint=f"choose from {sorted(out)}"
            )
        out = {k: v for k, v in out.items() if k in signals}
    return out
