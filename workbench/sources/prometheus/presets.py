"""Metric-naming presets for the RED and saturation queries, and their detection.

A team's Prometheus rarely uses the lab's names. A preset is a :class:`MetricNames`
for one convention:

=====================  ==============================================================
``lab``                the lab's own: ``http_server_requests_total{service, code}``
``otel``               OpenTelemetry HTTP semantic conventions (stable, 1.23+):
                       ``http_server_request_duration_seconds_*`` by
                       ``http_response_status_code``, service in ``service_name``
``otel-legacy``        the same before the HTTP attribute rename:
                       ``http_server_duration_milliseconds_*`` by ``http_status_code``
``spanmetrics``        the Collector's spanmetrics connector since v0.109:
                       ``traces_span_metrics_calls_total`` and
                       ``traces_span_metrics_duration_milliseconds_*``, server spans,
                       errors ``status_code="STATUS_CODE_ERROR"``
``spanmetrics-legacy`` the connector before v0.109: ``calls_total`` and
                       ``duration_milliseconds_*`` (no namespace)
``istio``              ``istio_requests_total`` / ``istio_request_duration_milliseconds_*``
                       reported by the destination, service ``destination_service_name``
``beyla``              Grafana Beyla (eBPF): OTel names, recognised by ``beyla_build_info``
=====================  ==============================================================

plus ``kubernetes`` saturation, combinable with any of them (``"otel+kubernetes"``): CPU
from cAdvisor's ``container_cpu_usage_seconds_total`` over kube-state-metrics'
``kube_pod_container_resource_limits{resource="cpu"}``, working-set memory over the
memory limit, CFS throttling, restarts and OOM kills, by the ``container`` label.

``preset = "otel"`` in ``workbench.toml`` chooses one; without it the Prometheus source
asks the server for its metric names once and :func:`detect` picks the preset, saying
why (shown in ``Incident.status()``). ``metric_names = {...}`` overrides single names on
top of the preset and is validated (:func:`metric_names_from`).

Example::

    >>> names = preset("otel+kubernetes")
    >>> detect({"istio_requests_total", "up"}).preset
    'istio'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from workbench.errors import ConfigError
from workbench.sources.prometheus.signals import MetricNames

__all__ = ["PRESETS", "Choice", "detect", "metric_names_from", "preset", "resolve"]

_SERVER_SPANS = (("span_kind", "=", "SPAN_KIND_SERVER"),)

PRESETS: dict[str, MetricNames] = {
    "lab": MetricNames(),
    "otel": MetricNames(
        service_label="service_name",
        requests="http_server_request_duration_seconds_count",
        status_label="http_response_status_code",
        duration_bucket="http_server_request_duration_seconds_bucket",
    ),
    "otel-legacy": MetricNames(
        service_label="service_name",
        requests="http_server_duration_milliseconds_count",
        status_label="http_status_code",
        duration_bucket="http_server_duration_milliseconds_bucket",
        duration_scale=0.001,
    ),
    "spanmetrics": MetricNames(
        service_label="service_name",
        requests="traces_span_metrics_calls_total",
        status_label="status_code",
        error_status="STATUS_CODE_ERROR",
        duration_bucket="traces_span_metrics_duration_milliseconds_bucket",
        duration_scale=0.001,
        request_matchers=_SERVER_SPANS,
    ),
    "spanmetrics-legacy": MetricNames(
        service_label="service_name",
        requests="calls_total",
        status_label="status_code",
        error_status="STATUS_CODE_ERROR",
        duration_bucket="duration_milliseconds_bucket",
        duration_scale=0.001,
        request_matchers=_SERVER_SPANS,
    ),
    "istio": MetricNames(
        service_label="destination_service_name",
        requests="istio_requests_total",
        status_label="response_code",
        duration_bucket="istio_request_duration_milliseconds_bucket",
        duration_scale=0.001,
        request_matchers=(("reporter", "=", "destination"),),
        saturation_service_label="service",
    ),
    "beyla": MetricNames(
        service_label="service_name",
        requests="http_server_request_duration_seconds_count",
        status_label="http_response_status_code",
        duration_bucket="http_server_request_duration_seconds_bucket",
    ),
}

KUBERNETES: dict[str, Any] = {
    "saturation_service_label": "container",
    "cpu_seconds": "container_cpu_usage_seconds_total",
    "cpu_limit": "kube_pod_container_resource_limits",
    "cpu_limit_matchers": (("resource", "=", "cpu"),),
    "memory": "container_memory_working_set_bytes",
    "memory_limit": "kube_pod_container_resource_limits",
    "memory_limit_matchers": (("resource", "=", "memory"),),
    "cpu_throttled_periods": "container_cpu_cfs_throttled_periods_total",
    "cpu_periods": "container_cpu_cfs_periods_total",
    "restarts": "kube_pod_container_status_restarts_total",
    "terminated_reason": "kube_pod_container_status_last_terminated_reason",
}

# (preset, metric names that all must exist), first match wins
_SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lab", ("http_server_requests_total", "http_server_request_duration_seconds_bucket")),
    ("beyla", ("beyla_build_info", "http_server_request_duration_seconds_count")),
    ("otel", ("http_server_request_duration_seconds_count",)),
    ("otel-legacy", ("http_server_duration_milliseconds_count",)),
    ("spanmetrics", ("traces_span_metrics_calls_total",)),
    ("spanmetrics-legacy", ("calls_total", "duration_milliseconds_bucket")),
    ("istio", ("istio_requests_total",)),
)
_K8S_SIGNATURE = ("container_cpu_usage_seconds_total", "kube_pod_container_resource_limits")
_LAB_SATURATION = ("process_cpu_seconds_total", "container_cpu_limit_cores")


@dataclass(frozen=True)
class Choice:
    """The preset a source uses and why (``"detected: ..."`` or ``"configured"``)."""

    preset: str
    reason: str
    names: MetricNames

    def note(self) -> str:
        return f"metric names: preset {self.preset} ({self.reason})"


def preset(name: str) -> MetricNames:
    """The :class:`MetricNames` of ``"otel"``, ``"istio+kubernetes"``, ``"kubernetes"``..."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("preset must be a name such as 'otel'", hint=_choices())
    parts = [p.strip().lower() for p in name.split("+")]
    k8s = "kubernetes" in parts
    red = [p for p in parts if p != "kubernetes"]
    if len(red) > 1 or any(p not in PRESETS for p in red):
        raise ConfigError(f"unknown metric-naming preset {name!r}", hint=_choices())
    base = PRESETS[red[0] if red else "lab"]
    return dataclasses.replace(base, **KUBERNETES) if k8s else base


def _choices() -> str:
    return f"one of {', '.join(PRESETS)}, optionally '+kubernetes' (e.g. 'otel+kubernetes')"


def detect(metric_names: Iterable[str]) -> Choice:
    """The preset whose metrics the server has, and why; ``lab`` when none matches."""
    have = set(metric_names)
    found = [p for p, need in _SIGNATURES if all(n in have for n in need)]
    k8s = all(n in have for n in _K8S_SIGNATURE) and not all(n in have for n in _LAB_SATURATION)
    if found:
        name = found[0]
        need = dict(_SIGNATURES)[name]
        reason = f"detected: the server has {', '.join(need)}"
        if len(found) > 1:
            reason += f" (also matched: {', '.join(found[1:])}; set preset to choose)"
    else:
        name, reason = "lab", "no known naming found among the server's metrics; using lab names"
    if k8s:
        name += "+kubernetes"
        reason += f"; saturation from cAdvisor/kube-state-metrics ({', '.join(_K8S_SIGNATURE)})"
    return Choice(name, reason, preset(name))


_FIELDS = {f.name: f for f in dataclasses.fields(MetricNames)}


def metric_names_from(value: object, *, base: MetricNames | None = None) -> MetricNames:
    """A :class:`MetricNames` from a ``metric_names`` table, on top of ``base``.

    Every key is checked: an unknown key or a value of the wrong type raises
    :class:`ConfigError` naming ``metric_names.<key>``.
    """
    base = base or MetricNames()
    if isinstance(value, MetricNames):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"metric_names must be a table of names, not {type(value).__name__}",
            hint='e.g. metric_names = { service_label = "app" }',
        )
    changes: dict[str, Any] = {}
    for key, v in value.items():
        f = _FIELDS.get(str(key))
        if f is None:
            raise ConfigError(
                f"metric_names.{key} is not a setting",
                hint=f"metric_names accepts {', '.join(sorted(_FIELDS))}",
            )
        changes[f.name] = _check(f.name, v, getattr(base, f.name))
    return dataclasses.replace(base, **changes)


def _check(key: str, v: object, default: object) -> Any:
    where = f"metric_names.{key}"
    if key == "quantiles":
        if (
            not isinstance(v, list | tuple)
            or not v
            or not all(
                isinstance(q, int | float) and not isinstance(q, bool) and 0 < q < 1 for q in v
            )
        ):
            raise ConfigError(f"{where} must be a list of numbers between 0 and 1")
        return tuple(float(q) for q in v)
    if key.endswith("_matchers") or key == "request_matchers":
        ok = isinstance(v, list | tuple) and all(
            isinstance(m, list | tuple)
            and len(m) == 3
            and all(isinstance(x, str) for x in m)
            and m[1] in ("=", "!=", "=~", "!~")
            for m in v
        )
        if not ok:
            raise ConfigError(
                f'{where} must be a list of [label, op, value], e.g. [["reporter", "=", "destination"]]'
            )
        return tuple(tuple(m) for m in cast("list[list[str]]", v))  # checked above
    if key == "duration_scale":
        if not isinstance(v, int | float) or isinstance(v, bool) or v <= 0:
            raise ConfigError(f"{where} must be a positive number (0.001 for milliseconds)")
        return float(v)
    if default is None and v is None:
        return None
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{where} must be a non-empty string, not {type(v).__name__}")
    return v


def resolve(
    preset_name: str | None, metric_names: object | None
) -> tuple[MetricNames | None, Choice | None]:
    """``(names, choice)`` for a source's settings; ``(None, None)`` means "detect"."""
    if preset_name is None and metric_names is None:
        return None, None
    base = preset(preset_name) if preset_name else MetricNames()
    names = metric_names_from(metric_names, base=base) if metric_names is not None else base
    if preset_name:
        reason = "configured" + (" with metric_names overrides" if metric_names else "")
        return names, Choice(preset_name, reason, names)
    return names, Choice("custom", "configured metric_names", names)
