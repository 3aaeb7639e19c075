"""Hand-built frames with known answers for the diagnosis tests (changes, templates,
traces, suspects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from workbench import frames
from workbench.timewindow import Window

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
BASELINE = Window(T0, T0 + timedelta(hours=1))
WINDOW = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))


def metric_frame(series: dict[tuple[str, str], np.ndarray], step_s: int = 30) -> pl.DataFrame:
    """``{(metric, service): values}`` sampled every ``step_s`` from T0."""
    rows = []
    for (metric, service), values in series.items():
        for i, v in enumerate(values):
            rows.append(
                {
                    "ts": T0 + timedelta(seconds=step_s * i),
                    "metric": metric,
                    "service": service,
                    "value": float(v),
                    "labels": [{"key": "pod", "value": f"{service}-0"}],
                }
            )
    return frames.validate(pl.DataFrame(rows, schema=frames.SCHEMAS["metrics"]), "metrics")


def span(
    trace: str,
    sid: str,
    parent: str | None,
    service: str,
    name: str,
    start_ms: float,
    end_ms: float,
    status: str = "ok",
    kind: str = "server",
    t0: datetime = T0,
) -> dict:
    return {
        "trace_id": trace,
        "span_id": sid,
        "parent_span_id": parent,
        "service": service,
        "name": name,
        "kind": kind,
        "start": t0 + timedelta(milliseconds=start_ms),
        "end": t0 + timedelta(milliseconds=end_ms),
        "duration_ms": float(end_ms - start_ms),
        "status": status,
        "attributes": [],
    }


def spans_frame(rows: list[dict]) -> pl.DataFrame:
    return frames.validate(pl.DataFrame(rows, schema=frames.SCHEMAS["spans"]), "spans")


def log_rows(service: str, message: str, times: list[datetime], level: str = "info") -> list[dict]:
    return [
        {
            "ts": t,
            "service": service,
            "level": level,
            "message": message.format(i=i, j=(i * 7919) % 10007),
            "trace_id": None,
            "span_id": None,
            "attributes": [],
        }
        for i, t in enumerate(times)
    ]


def logs_frame(rows: list[dict]) -> pl.DataFrame:
    return frames.validate(pl.DataFrame(rows, schema=frames.SCHEMAS["logs"]), "logs")


def every(window: Window, n: int) -> list[datetime]:
    step = window.duration / n
    return [window.start + step * i for i in range(n)]


def cascade_case() -> dict:
    """frontend -> api -> db. From the incident window on, db queries fail; api and frontend
    fail because of it (errors propagate to callers). Metrics: every service's error rate
    rises, the frontend's the most (it counts all of them). A deploy of ``db`` happens just
    before the onset; an unrelated deploy of ``search`` happened in the baseline."""
    rng = np.random.default_rng(7)
    n = 240  # 2 h of 30 s points
    onset = 120
    rows = []
    for k, base_t in enumerate([BASELINE, WINDOW]):
        for i in range(60):
            t0 = base_t.start + timedelta(seconds=60 * i)
            bad = k == 1
            tid = f"{k}-{i:04d}"
            st = "error" if bad else "ok"
            rows += [
                span(tid, f"{tid}-f", None, "frontend", "GET /", 0, 100, st, "server", t0),
                span(tid, f"{tid}-fc", f"{tid}-f", "frontend", "call api", 5, 95, st, "client", t0),
                span(tid, f"{tid}-a", f"{tid}-fc", "api", "GET /items", 10, 90, st, "server", t0),
                span(tid, f"{tid}-ac", f"{tid}-a", "api", "query", 20, 80, st, "client", t0),
                span(tid, f"{tid}-d", f"{tid}-ac", "db", "SELECT", 25, 75, st, "server", t0),
            ]
    err = {}
    for svc, scale in (("frontend", 30.0), ("api", 20.0), ("db", 10.0)):
        v = rng.normal(0.1, 0.02, n).clip(0)
        v[onset:] += scale
        err[("http_errors_rate", svc)] = v
        err[("cpu", svc)] = rng.normal(0.5, 0.05, n)
    err[("cpu", "search")] = rng.normal(0.5, 0.05, n)
    metrics = metric_frame(err)
    logs = logs_frame(
        log_rows("db", "connection {i} opened", every(BASELINE, 60) + every(WINDOW, 60))
        + log_rows("db", "FATAL: too many clients for pool {i}", every(WINDOW, 50), "error")
        + log_rows("api", "upstream error from db after {i} ms", every(WINDOW, 40), "error")
    )
    events = frames.validate(
        pl.DataFrame(
            [
                {
                    "ts": WINDOW.start - timedelta(minutes=3),
                    "end": WINDOW.start - timedelta(minutes=2),
                    "kind": "deploy",
                    "service": "db",
                    "title": "deploy db v2",
                    "source": "argocd",
                    "attributes": [],
                },
                {
                    "ts": BASELINE.start + timedelta(minutes=5),
                    "end": None,
                    "kind": "deploy",
                    "service": "search",
                    "title": "deploy search v7",
                    "source": "argocd",
                    "attributes": [],
                },
            ],
            schema=frames.SCHEMAS["events"],
        ),
        "events",
    )
    return {
        "metrics": metrics,
        "logs": logs,
        "spans": spans_frame(rows),
        "events": events,
        "window": WINDOW,
        "baseline": BASELINE,
    }
