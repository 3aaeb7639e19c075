"""Write the lab's metrics under another metric-naming convention.

The lab simulates one system; teams see it through different instrumentation. This
module renames a :class:`~workbench.lab.metrics.SeriesSet` into the names of a preset
of :mod:`workbench.sources.prometheus.presets` (``otel``, ``otel-legacy``, ``spanmetrics``,
``spanmetrics-legacy``, ``istio``, ``beyla``), so the same incident can be loaded into
Prometheus as each would record it, and the RED panels and suspects compared.

What changes per naming: the request counter (with the status code as the convention's
label, several lab codes summed where the convention has one value, e.g. spanmetrics'
``STATUS_CODE_ERROR``), the duration histogram (``le`` and ``_sum`` in milliseconds
where the convention uses them), and the label that names the service. Saturation
series keep their names, with the service label renamed (Istio keeps ``service``).
Simplification: the duration buckets carry no status-code label (the lab draws latency
per route, not per code).

Example::

    >>> renamed = rename(ss, "otel")
    >>> write_openmetrics(renamed, out / "metrics" / "metrics.om")
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from workbench.errors import ConfigError
from workbench.lab.metrics import SeriesSet

__all__ = ["NAMINGS", "check_naming", "rename"]

NAMINGS = ("lab", "otel", "otel-legacy", "spanmetrics", "spanmetrics-legacy", "istio", "beyla")
#: lab saturation series -> (cAdvisor / kube-state-metrics name, extra labels)
_KUBERNETES: dict[str, tuple[str, dict[str, str]]] = {
    "process_cpu_seconds_total": ("container_cpu_usage_seconds_total", {}),
    "container_cpu_limit_cores": (
        "kube_pod_container_resource_limits",
        {"resource": "cpu", "unit": "core"},
    ),
    "process_resident_memory_bytes": ("container_memory_working_set_bytes", {}),
    "container_memory_limit_bytes": (
        "kube_pod_container_resource_limits",
        {"resource": "memory", "unit": "byte"},
    ),
}

_REQ = "http_server_requests_total"
_HIST = "http_server_request_duration_seconds"
_KEEP = ("instance", "job", "namespace", "pod")

Rule = Callable[[str, dict[str, str]], tuple[str, dict[str, str], float] | None]


def _ms_le(le: str) -> str:
    return le if le == "+Inf" else f"{float(le) * 1000:g}"


def _base(labels: dict[str, str], service_label: str) -> dict[str, str]:
    out = {k: labels[k] for k in _KEEP if k in labels}
    out[service_label] = labels["service"]
    return out


def _relabelled(labels: dict[str, str], service_label: str) -> dict[str, str]:
    """Every label kept, ``service`` renamed (saturation series)."""
    out = {k: v for k, v in labels.items() if k != "service"}
    out[service_label] = labels["service"]
    return out


def _otel(legacy: bool) -> Rule:
    hist = "http_server_duration_milliseconds" if legacy else _HIST
    status = "http_status_code" if legacy else "http_response_status_code"
    method = "http_method" if legacy else "http_request_method"

    def rule(m: str, lab: dict[str, str]) -> tuple[str, dict[str, str], float] | None:
        b = _base(lab, "service_name")
        if m == _REQ:
            b.update({method: lab["method"], "http_route": lab["route"], status: lab["code"]})
            return f"{hist}_count", b, 1.0
        if m == f"{_HIST}_count":
            return None  # the request counter above is the histogram's count, by status
        if m.startswith(_HIST):
            b.update({method: lab["method"], "http_route": lab["route"]})
            suffix = m[len(_HIST) :]
            if suffix == "_bucket":
                b["le"] = _ms_le(lab["le"]) if legacy else lab["le"]
            return hist + suffix, b, 1000.0 if legacy and suffix == "_sum" else 1.0
        return m, _relabelled(lab, "service_name"), 1.0

    return rule


def _spanmetrics(prefix: str) -> Rule:
    def rule(m: str, lab: dict[str, str]) -> tuple[str, dict[str, str], float] | None:
        b = _base(lab, "service_name")
        if m == _REQ or m.startswith(_HIST):
            b["span_name"] = f"{lab['method']} {lab['route']}"
            b["span_kind"] = "SPAN_KIND_SERVER"
        if m == _REQ:
            b["status_code"] = "STATUS_CODE_ERROR" if lab["code"][0] == "5" else "STATUS_CODE_UNSET"
            return f"{prefix}calls_total", b, 1.0
        if m.startswith(_HIST):
            b["status_code"] = "STATUS_CODE_UNSET"
            suffix = m[len(_HIST) :]
            if suffix == "_bucket":
                b["le"] = _ms_le(lab["le"])
            name = f"{prefix}duration_milliseconds{suffix}"
            return name, b, 1000.0 if suffix == "_sum" else 1.0
        return m, _relabelled(lab, "service_name"), 1.0

    return rule


def _istio(m: str, lab: dict[str, str]) -> tuple[str, dict[str, str], float] | None:
    if not (m == _REQ or m.startswith(_HIST)):
        return m, dict(lab), 1.0  # saturation keeps the application's own labels
    b = _base(lab, "destination_service_name")
    b.update(
        {
            "reporter": "destination",
            "destination_workload": lab["service"],
            "destination_workload_namespace": lab.get("namespace", ""),
            "request_protocol": "http",
        }
    )
    if m == _REQ:
        b["response_code"] = lab["code"]
        return "istio_requests_total", b, 1.0
    suffix = m[len(_HIST) :]
    if suffix == "_bucket":
        b["le"] = _ms_le(lab["le"])
    return f"istio_request_duration_milliseconds{suffix}", b, 1000.0 if suffix == "_sum" else 1.0


_RULES: dict[str, Rule] = {
    "otel": _otel(False),
    "beyla": _otel(False),
    "otel-legacy": _otel(True),
    "spanmetrics": _spanmetrics("traces_span_metrics_"),
    "spanmetrics-legacy": _spanmetrics(""),
    "istio": _istio,
}


def _family(name: str) -> str:
    for suffix in ("_total", "_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _kubernetes(rule: Rule | None) -> Rule:
    """CPU and memory as cAdvisor and kube-state-metrics report them, by ``container``
    (the service) with ``pod`` and ``namespace``; other series go through ``rule``."""

    def k8s(m: str, lab: dict[str, str]) -> tuple[str, dict[str, str], float] | None:
        if m in _KUBERNETES:
            name, extra = _KUBERNETES[m]
            b: dict[str, str] = {k: lab[k] for k in ("namespace", "pod") if k in lab}
            return name, {**b, "container": lab["service"], **extra}, 1.0
        return rule(m, lab) if rule else (m, dict(lab), 1.0)

    return k8s


def check_naming(naming: str) -> tuple[str, str]:
    """``("otel", "kubernetes")`` for ``"otel+kubernetes"``; ConfigError if unknown."""
    red, _, extra = naming.partition("+")
    if extra not in ("", "kubernetes") or red not in NAMINGS:
        raise ConfigError(
            f"unknown naming {naming!r}",
            hint=f"one of {', '.join(NAMINGS)}, optionally +kubernetes (e.g. otel+kubernetes)",
        )
    return red, extra


def rename(ss: SeriesSet, naming: str) -> SeriesSet:
    """``ss`` under ``naming``'s metric and label names (``"lab"``: ``ss`` itself);
    ``"otel+kubernetes"`` also writes CPU and memory as cAdvisor / kube-state-metrics.

    Series that land on the same name and labels are summed (counters stay counters:
    they reset together, being one process's)."""
    red, extra = check_naming(naming)
    if naming == "lab":
        return ss
    rule: Rule = _RULES[red] if red != "lab" else (lambda m, lab: (m, dict(lab), 1.0))
    if extra:
        rule = _kubernetes(_RULES.get(red))
    merged: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    rows: list[np.ndarray] = []
    metric: list[str] = []
    labels: list[dict[str, str]] = []
    offset: list[int] = []
    is_int: list[bool] = []
    for i, m in enumerate(ss.metric):
        hit = rule(m, ss.labels[i])
        if hit is None:
            continue
        name, lab, scale = hit
        key = (name, tuple(sorted(lab.items())))
        v = ss.values[i] * scale
        if key in merged:
            j = merged[key]
            rows[j] = np.where(np.isnan(rows[j]), v, np.where(np.isnan(v), rows[j], rows[j] + v))
            continue
        merged[key] = len(rows)
        rows.append(v.copy())
        metric.append(name)
        labels.append(dict(sorted(lab.items())))
        offset.append(ss.offset_ms[i])
        is_int.append(ss.is_int[i] and scale == 1.0)
        if naming == "beyla" and m == "up":  # Beyla announces itself; detection reads it
            rows.append(v.copy())
            metric.append("beyla_build_info")
            labels.append(dict(sorted(lab.items())))
            offset.append(ss.offset_ms[i])
            is_int.append(True)
    types = {_family(m): t for m, t in _types(ss).items()}
    fams: dict[str, tuple[str, str, str]] = {}
    for name in metric:
        fam = _family(name) if not name.endswith("_info") else name
        if fam not in fams:
            typ = types.get(fam, "gauge")
            if name.endswith("_total"):
                typ = "counter"
            elif name.endswith(("_bucket", "_sum", "_count")):
                typ = "histogram"
            fams[fam] = (fam, typ, f"{fam} ({naming} naming of the lab's metrics)")
    out = SeriesSet(ss.grid, metric, labels, offset, np.vstack(rows), is_int, tuple(fams.values()))
    out.errors = ss.errors
    return out


def _types(ss: SeriesSet) -> dict[str, str]:
    return {name: typ for name, typ, _ in ss.families}
