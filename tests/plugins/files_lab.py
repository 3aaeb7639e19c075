"""Fixtures for the file-source tests: a small directory in the LAB_FORMAT.md layout,
written by hand (independent of workbench.lab), and the shared sample data folder."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from workbench import frames

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SERVICES = ("frontend", "checkout", "payments")


def shared_data() -> Path:
    env = os.environ.get("WORKBENCH_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _ns(t: datetime) -> str:
    return str(int(t.timestamp()) * 10**9 + t.microsecond * 1000)


def otlp_line(spans: list[dict], service: str) -> str:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": service}},
                            {"key": "k8s.pod.name", "value": {"stringValue": f"{service}-0"}},
                        ]
                    },
                    "scopeSpans": [{"scope": {"name": "lab"}, "spans": spans}],
                }
            ]
        }
    )


def write_lab_dir(root: Path) -> Path:
    """Two hours of tiny telemetry: 1 sample/min/service, 1 log/min, 1 trace/10 min."""
    (root / "metrics").mkdir(parents=True)
    (root / "logs").mkdir()
    (root / "traces").mkdir()
    (root / "events").mkdir()
    (root / "scenario.json").write_text(
        json.dumps(
            {
                "name": "tiny",
                "seed": 1,
                "title": "tiny test scenario",
                "incident_id": "LAB-TINY",
                "window": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T12:00:00Z"},
                "incident_window": {"start": "2026-11-20T11:00:00Z", "end": "2026-11-20T12:00:00Z"},
                "baseline_window": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T11:00:00Z"},
                "services": list(SERVICES),
            }
        )
    )
    rows = []
    for m in range(120):
        for s in SERVICES:
            rows.append(
                {
                    "ts": T0 + timedelta(minutes=m),
                    "metric": "http_server_requests_total",
                    "service": s,
                    "value": float(m),
                    "labels": frames.kv({"pod": f"{s}-0", "code": "200"}),
                }
            )
    pl.DataFrame(rows, schema=frames.SCHEMAS["metrics"]).write_parquet(
        root / "metrics" / "metrics.parquet"
    )
    (root / "metrics" / "metrics.om").write_text("# EOF\n")
    with (root / "logs" / "logs.jsonl").open("w") as fh:
        for m in range(120):
            s = SERVICES[m % 3]
            rec = {
                "timestamp": _iso(T0 + timedelta(minutes=m, seconds=1)),
                "level": "ERROR" if m >= 60 and s == "payments" else "info",
                "service": s,
                "message": f"request {m} done",
                "trace_id": f"{m:032x}",
                "span_id": f"{m + 1:016x}",
                "pod": f"{s}-0",
                "logger": "app",
            }
            if rec["level"] == "ERROR":
                rec["stack_trace"] = "Traceback:\n  boom"
            fh.write(json.dumps(rec) + "\n")
    with (root / "traces" / "traces.otlp.jsonl").open("w") as fh:
        for k in range(12):
            start = T0 + timedelta(minutes=10 * k)
            tid = f"{k + 1:032x}"
            err = k >= 6
            fh.write(
                otlp_line(
                    [
                        {
                            "traceId": tid,
                            "spanId": f"{k + 1:08x}00000001",
                            "parentSpanId": "",
                            "name": "GET /checkout",
                            "kind": 2,
                            "startTimeUnixNano": _ns(start),
                            "endTimeUnixNano": _ns(start + timedelta(milliseconds=120)),
                            "attributes": [
                                {"key": "http.request.method", "value": {"stringValue": "GET"}},
                                {"key": "http.response.status_code", "value": {"intValue": "200"}},
                            ],
                            "status": {"code": 2 if err else 0},
                        }
                    ],
                    "frontend",
                )
                + "\n"
            )
            fh.write(
                otlp_line(
                    [
                        {
                            "traceId": tid,
                            "spanId": f"{k + 1:08x}00000002",
                            "parentSpanId": f"{k + 1:08x}00000001",
                            "name": "POST /pay",
                            "kind": 2,
                            "startTimeUnixNano": _ns(start + timedelta(milliseconds=10)),
                            "endTimeUnixNano": _ns(start + timedelta(milliseconds=100)),
                            "status": {"code": 2 if err else 1, "message": "boom" if err else ""},
                        }
                    ],
                    "payments",
                )
                + "\n"
            )
    (root / "events" / "argocd-applications.json").write_text(
        json.dumps(
            [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Application",
                    "metadata": {"name": "payments", "namespace": "argocd"},
                    "status": {
                        "history": [
                            {
                                "id": 1,
                                "revision": "a1",
                                "deployStartedAt": "2026-11-19T09:00:00Z",
                                "deployedAt": "2026-11-19T09:01:00Z",
                                "source": {
                                    "repoURL": "git",
                                    "path": "p",
                                    "targetRevision": "v1.0.0",
                                },
                            },
                            {
                                "id": 2,
                                "revision": "b2",
                                "deployStartedAt": "2026-11-20T10:55:00Z",
                                "deployedAt": "2026-11-20T10:57:00Z",
                                "source": {
                                    "repoURL": "git",
                                    "path": "p",
                                    "targetRevision": "v1.1.0",
                                },
                            },
                            {
                                "id": 3,
                                "revision": "a1",
                                "deployStartedAt": "2026-11-20T11:30:00Z",
                                "deployedAt": "2026-11-20T11:31:00Z",
                                "source": {
                                    "repoURL": "git",
                                    "path": "p",
                                    "targetRevision": "v1.0.0",
                                },
                            },
                        ]
                    },
                }
            ]
        )
    )
    (root / "events" / "rollouts-events.json").write_text(
        json.dumps(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": "payments.1", "namespace": "shop"},
                    "involvedObject": {"kind": "Rollout", "name": "payments", "namespace": "shop"},
                    "reason": "RolloutStepCompleted",
                    "message": "Step 2/4 completed: setWeight: 25",
                    "firstTimestamp": "2026-11-20T10:58:00Z",
                    "lastTimestamp": "2026-11-20T10:58:00Z",
                    "type": "Normal",
                },
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": "payments.2", "namespace": "shop"},
                    "involvedObject": {"kind": "Rollout", "name": "payments", "namespace": "shop"},
                    "reason": "RolloutAborted",
                    "message": "Rollout aborted update to revision 2",
                    "firstTimestamp": "2026-11-20T11:29:00Z",
                    "lastTimestamp": "2026-11-20T11:29:00Z",
                    "type": "Warning",
                },
            ]
        )
    )
    alert = {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "service": "payments", "severity": "page"},
        "annotations": {"summary": "payments 5xx above 5%"},
        "startsAt": "2026-11-20T11:05:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prom/graph",
        "fingerprint": "abc123",
    }
    payload = {
        "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "status": "firing",
        "receiver": "pager", "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
        "externalURL": "http://am", "truncatedAlerts": 0, "alerts": [alert],
    }  # fmt: skip
    resolved = {**payload, "status": "resolved",
                "alerts": [{**alert, "status": "resolved", "endsAt": "2026-11-20T11:40:00Z"}]}  # fmt: skip
    (root / "events" / "alertmanager-webhook.jsonl").write_text(
        json.dumps(payload) + "\n" + json.dumps(resolved) + "\n"
    )
    (root / "events" / "chaos-mesh.yaml").write_text(
        """apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata:
  name: delay-payments
  namespace: shop
  creationTimestamp: "2026-11-20T11:10:00Z"
spec:
  action: delay
  mode: all
  selector:
    labelSelectors:
      app: payments
  delay:
    latency: 200ms
  duration: 10m
status:
  experiment:
    containerRecords:
      - id: shop/payments-0
        events:
          - type: Succeeded
            operation: Apply
            timestamp: "2026-11-20T11:10:02Z"
---
apiVersion: chaos-mesh.org/v1alpha1
kind: StressChaos
metadata:
  name: cpu-checkout
  namespace: shop
  creationTimestamp: "2026-11-20T10:20:00Z"
spec:
  mode: one
  selector:
    labelSelectors:
      app: checkout
  stressors:
    cpu:
      workers: 2
  duration: 5m
status:
  experiment:
    containerRecords:
      - id: shop/checkout-0
        events:
          - {type: Succeeded, operation: Apply, timestamp: "2026-11-20T10:20:01Z"}
          - {type: Succeeded, operation: Recover, timestamp: "2026-11-20T10:25:01Z"}
"""
    )
    return root


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    """A small directory in the lab layout (see write_lab_dir)."""
    return write_lab_dir(tmp_path / "lab")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """../shared/data (the real public sample files)."""
    p = shared_data()
    assert p.is_dir(), f"shared data folder missing: {p}"
    return p
