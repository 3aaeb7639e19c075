"""Alerting rules evaluated over the simulated series, and Alertmanager webhook payloads.

Rules work like Prometheus rules evaluated every scrape interval: a 5-minute rate, and
a ``for`` duration during which the alert is pending before it fires. As Prometheus
sends alerts to Alertmanager with ``StartsAt`` = the time the alert *fired*
(``cmd/prometheus/main.go`` ``sendAlerts``: ``StartsAt: alert.FiredAt``), a webhook's
``startsAt`` is when the rule's ``for`` elapsed, not when the condition began: the
pending time stays in :attr:`Alert.starts`, and is never sent. Alertmanager groups by
``alertname`` and ``service``, waits ``group_wait`` (30 s) after an alert fires before
notifying, and sends a resolved notification when every alert in the group resolved.

Example::

    >>> lines = webhook_payloads(ctx, series)   # one JSON-ready dict per notification
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import cast

import numpy as np

from workbench.lab.clock import iso
from workbench.lab.metrics import SeriesSet

__all__ = ["Alert", "evaluate", "webhook_payloads"]

GROUP_WAIT_S = 30
#: KubernetesContainerOomKiller looks back this far for a restart with reason OOMKilled
OOM_RECENT_S = 600
ZERO = "0001-01-01T00:00:00Z"


@dataclass
class Alert:
    name: str
    labels: dict
    annotations: dict
    starts: float  # went pending (the condition began; Prometheus keeps this to itself)
    fired: float  # went firing (the rule's ``for`` elapsed): the webhook's ``startsAt``
    ends: float | None  # resolved (None = still firing at the end)

    @property
    def fingerprint(self) -> str:
        key = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def _increase(values: np.ndarray, window: int) -> np.ndarray:
    """Counter increase over the last ``window`` steps (reset-aware, NaN as 0), per row."""
    v = np.nan_to_num(values, nan=0.0)
    prev_raw = np.concatenate([values[:, :1], values[:, :-1]], axis=1)
    prev = np.nan_to_num(prev_raw, nan=0.0)
    d = v - prev
    d = np.where(d < 0, v, d)  # counter reset: the new value is the increase
    d = np.where(np.isnan(values) | np.isnan(prev_raw), 0.0, d)
    d[:, 0] = 0.0
    c = np.cumsum(d, axis=1)
    out = c.copy()
    out[:, window:] = c[:, window:] - c[:, :-window]
    return out


def _rows(ss: SeriesSet, metric: str) -> np.ndarray:
    return np.array([i for i, m in enumerate(ss.metric) if m == metric], dtype=int)


def _group(ss: SeriesSet, idx: np.ndarray, key) -> dict[tuple, np.ndarray]:
    out: dict[tuple, list[int]] = {}
    for i in idx:
        k = key(ss.labels[i])
        if k is not None:
            out.setdefault(k, []).append(int(i))
    return {k: np.array(v) for k, v in sorted(out.items())}


def _segments(cond: np.ndarray, for_steps: int) -> list[tuple[int, int, int | None]]:
    """(pending start, firing start, resolved index or None) for each firing episode."""
    out = []
    n = len(cond)
    i = 0
    while i < n:
        if not cond[i]:
            i += 1
            continue
        j = i
        while j < n and cond[j]:
            j += 1
        if j - i > for_steps:
            out.append((i, i + for_steps, j if j < n else None))
        i = j
    return out


def evaluate(ctx, ss: SeriesSet) -> list[Alert]:
    """Every firing episode of the lab's alerting rules over ``ss``, in firing order.

    >>> [(a.name, a.fired - a.starts) for a in evaluate(run, ss)][:1]   # the rule's ``for``
    [('HighErrorRate', 120.0)]
    """
    g = ss.grid
    w = max(1, round(300 / g.step_s))
    span_s = w * g.step_s  # what the rate window really covers
    alerts: list[Alert] = []

    def add(name, labels, ann, cond, for_s):
        # ``for: 0m`` fires at the evaluation that first sees the condition
        for_steps = 0 if for_s == 0 else max(1, round(for_s / g.step_s))
        for a, b, c in _segments(cond, for_steps):
            alerts.append(
                Alert(
                    name,
                    {"alertname": name, "namespace": "shop", **labels},
                    ann(b) if callable(ann) else ann,
                    g.t0 + a * g.step_s + 15,
                    g.t0 + b * g.step_s + 15,
                    None if c is None else g.t0 + c * g.step_s + 15,
                )
            )

    req = _rows(ss, "http_server_requests_total")
    inc = _increase(ss.values[req], w) if len(req) else np.zeros((0, g.n))
    pos = {int(r): k for k, r in enumerate(req)}
    by_route = _group(ss, req, lambda lab: (lab["service"], lab["route"], lab["method"]))
    for (svc, route, method), rows in by_route.items():
        sel = [pos[int(r)] for r in rows]
        total = inc[sel].sum(axis=0)
        errs = inc[[pos[int(r)] for r in rows if ss.labels[r]["code"] >= "500"]].sum(axis=0)
        ratio = np.where(total > 0, errs / np.maximum(total, 1), 0.0)
        cond = (ratio > 0.05) & (total / span_s > 0.1)

        def ann(i: int, svc=svc, route=route, method=method, ratio=ratio) -> dict:
            return {
                "summary": f"{svc} {method} {route}: {ratio[i] * 100:.0f}% of requests fail",
                "description": f"More than 5% of {method} {route} requests on {svc} returned "
                "5xx over the last 5 minutes.",
                "runbook_url": f"https://runbooks.shop.example.com/{svc}/high-error-rate",
            }

        add(
            "HighErrorRate",
            {"service": svc, "route": route, "method": method, "severity": "critical"},
            ann,
            cond,
            120,
        )
    bk = _rows(ss, "http_server_request_duration_seconds_bucket")
    if len(bk):
        binc = _increase(ss.values[bk], w)
        bpos = {int(r): k for k, r in enumerate(bk)}
        for (svc,), rows in _group(ss, bk, lambda lab: (lab["service"],)).items():
            les: dict[str, list[int]] = {}
            for r in rows:
                les.setdefault(ss.labels[r]["le"], []).append(bpos[int(r)])
            tot = binc[les["+Inf"]].sum(axis=0)
            under = binc[les["1.0"]].sum(axis=0)
            slow = np.where(tot > 0, 1 - under / np.maximum(tot, 1), 0.0)
            cond = (slow > 0.01) & (tot / span_s > 0.1)  # p99 above 1 s
            add(
                "HighLatency",
                {"service": svc, "severity": "warning"},
                {
                    "summary": f"{svc}: p99 latency above 1s",
                    "description": f"The 99th percentile of request duration on {svc} has been "
                    "above 1 second for 5 minutes.",
                    "runbook_url": f"https://runbooks.shop.example.com/{svc}/high-latency",
                },
                cond,
                300,
            )
    up = _rows(ss, "up")
    for i in up:
        lab = ss.labels[i]
        v = ss.values[i]
        cond = v == 0
        add(
            "TargetDown",
            {"service": lab["service"], "pod": lab["pod"], "severity": "critical"},
            {
                "summary": f"{lab['pod']} is down",
                "description": f"Prometheus could not scrape {lab['pod']} ({lab['service']}) "
                "for more than 1 minute.",
            },
            cond,
            60,
        )
    mem = {ss.labels[i]["pod"]: i for i in _rows(ss, "process_resident_memory_bytes")}
    lim = {ss.labels[i]["pod"]: i for i in _rows(ss, "container_memory_limit_bytes")}
    for pod, i in mem.items():
        lab = ss.labels[i]
        frac = np.nan_to_num(ss.values[i] / ss.values[lim[pod]], nan=0.0)
        add(
            "ContainerMemoryNearLimit",
            {"service": lab["service"], "pod": pod, "severity": "warning"},
            {
                "summary": f"{pod} memory above 90% of its limit",
                "description": "Resident memory has been above 90% of the container limit for 2 "
                "minutes; the container may be OOM killed.",
            },
            frac > 0.9,
            120,
        )
    cpu = {ss.labels[i]["pod"]: i for i in _rows(ss, "process_cpu_seconds_total")}
    clim = {ss.labels[i]["pod"]: i for i in _rows(ss, "container_cpu_limit_cores")}
    for pod, i in cpu.items():
        lab = ss.labels[i]
        used = _increase(ss.values[i : i + 1], w)[0] / span_s
        frac = np.nan_to_num(used / ss.values[clim[pod]], nan=0.0)
        add(
            "CPUThrottlingHigh",
            {"service": lab["service"], "pod": pod, "severity": "warning"},
            {
                "summary": f"{pod} CPU usage at its limit",
                "description": "CPU usage has been above 90% of the container limit for 5 minutes; "
                "the container is being throttled.",
            },
            frac > 0.9,
            300,
        )
    used = {
        ss.labels[i]["pod"]: i
        for i in _rows(ss, "db_client_connections_usage")
        if ss.labels[i]["state"] == "used"
    }
    mx = {ss.labels[i]["pod"]: i for i in _rows(ss, "db_client_connections_max")}
    for pod, i in used.items():
        lab = ss.labels[i]
        frac = np.nan_to_num(ss.values[i] / ss.values[mx[pod]], nan=0.0)
        add(
            "DBConnectionPoolSaturated",
            {"service": lab["service"], "pod": pod, "severity": "warning"},
            {
                "summary": f"{pod} database connection pool exhausted",
                "description": "More than 90% of the pool's connections have been in use for 2 "
                "minutes.",
            },
            frac >= 0.9,
            120,
        )
    # kube-state-metrics' view of a container killed for its memory, as the widely used
    # rule set "awesome-prometheus-alerts" pages on it (KubernetesContainerOomKiller:
    # restarts rose in the last 10 min and the last termination reason is OOMKilled,
    # ``for: 0m``): an OOM kill restarts the container within a scrape, too briefly for
    # TargetDown, and a fast leak crosses ContainerMemoryNearLimit's band in under 2 min
    recent = max(1, round(OOM_RECENT_S / g.step_s))
    for svc, pod, kills in ss.oom_kills:
        cum = np.cumsum(kills.astype(int))
        lagged = np.concatenate([np.zeros(recent, dtype=int), cum[:-recent]])[: g.n]
        add(
            "KubernetesContainerOomKiller",
            {"service": svc, "pod": pod, "container": svc, "severity": "warning"},
            {
                "summary": f"{pod} was OOM killed",
                "description": f"Container {svc} in pod {pod} was OOM killed in the last 10 "
                "minutes (restarted, last terminated reason OOMKilled).",
            },
            (cum - lagged) > 0,
            0,
        )
    alerts.sort(key=lambda a: (a.fired, a.name, a.fingerprint))
    return alerts


def webhook_payloads(ctx, alerts: list[Alert]) -> list[dict]:
    """Alertmanager webhook notifications (version 4), in the order they were sent."""
    groups: dict[tuple[str, str], list[Alert]] = {}
    for a in alerts:
        groups.setdefault((a.name, a.labels.get("service", "")), []).append(a)
    sends: list[tuple[float, dict]] = []
    for (name, svc), members in sorted(groups.items()):
        times = sorted(
            {a.fired + GROUP_WAIT_S for a in members}
            | {a.ends + GROUP_WAIT_S for a in members if a.ends is not None}
        )
        for t in times:
            active = [a for a in members if a.fired + GROUP_WAIT_S <= t]
            if not active:
                continue
            firing = [a for a in active if a.ends is None or a.ends + GROUP_WAIT_S > t]
            # resolved alerts are reported once, in the notification after they resolved
            shown = [
                a
                for a in active
                if a in firing or (a.ends is not None and a.ends + GROUP_WAIT_S == t)
            ]
            if not shown:
                continue
            status = "firing" if firing else "resolved"
            common = _common([a.labels for a in shown])
            sends.append(
                (
                    t,
                    {
                        "version": "4",
                        "groupKey": f'{{}}:{{alertname="{name}", service="{svc}"}}',
                        "truncatedAlerts": 0,
                        "status": status,
                        "receiver": "oncall-pager"
                        if any(a.labels.get("severity") == "critical" for a in shown)
                        else "team-slack",
                        "groupLabels": {"alertname": name, "service": svc},
                        "commonLabels": common,
                        "commonAnnotations": _common([a.annotations for a in shown]),
                        "externalURL": "http://alertmanager.monitoring:9093",
                        "alerts": [
                            {
                                "status": "firing" if a in firing else "resolved",
                                "labels": a.labels,
                                "annotations": a.annotations,
                                "startsAt": iso(a.fired),
                                "endsAt": ZERO if a in firing else iso(cast(float, a.ends)),
                                "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr="
                                + a.name,
                                "fingerprint": a.fingerprint,
                            }
                            for a in shown
                        ],
                    },
                )
            )
    sends.sort(key=lambda x: (x[0], x[1]["groupKey"]))
    return [p for _, p in sends]


def _common(dicts: list[dict]) -> dict:
    if not dicts:
        return {}
    keys = set(dicts[0])
    for d in dicts[1:]:
        keys &= {k for k in d if d[k] == dicts[0].get(k)}
    return {k: dicts[0][k] for k in sorted(keys)}
