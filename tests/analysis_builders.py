"""Hand-built frames with known answers for the analysis and chart tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import polars as pl

from workbench import frames

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def spans_frame(rows: list[dict]) -> pl.DataFrame:
    """A valid spans frame from dicts with trace_id, span_id, parent, service, kind,
    start (seconds after T0), ms (duration), status, attrs."""
    out = []
    for r in rows:
        start = T0 + timedelta(seconds=r.get("start", 0.0))
        ms = float(r["ms"])
        out.append(
            {
                "trace_id": r["trace_id"],
                "span_id": r["span_id"],
                "parent_span_id": r.get("parent"),
                "service": r["service"],
                "name": r.get("name", "op"),
                "kind": r.get("kind", "server"),
                "start": start,
                "end": start + timedelta(milliseconds=ms),
                "duration_ms": ms,
                "status": r.get("status", "ok"),
                "attributes": frames.kv(r.get("attrs")),
            }
        )
    return frames.validate(pl.DataFrame(out, schema=frames.SCHEMAS["spans"]), "spans")


def metrics_at(rows: list[tuple[datetime, str, str, float, Mapping[str, str]]]) -> pl.DataFrame:
    """A valid metrics frame from (time, metric, service, value, labels) rows."""
    return frames.validate(
        pl.DataFrame(
            {
                "ts": [r[0] for r in rows],
                "metric": [r[1] for r in rows],
                "service": [r[2] for r in rows],
                "value": [r[3] for r in rows],
                "labels": frames.kv_from_dicts(r[4] for r in rows),
            }
        ),
        "metrics",
    )


def metrics_frame(rows: list[tuple[float, str, str, float, Mapping[str, str]]]) -> pl.DataFrame:
    """A valid metrics frame from (seconds after T0, metric, service, value, labels)."""
    return frames.validate(
        pl.DataFrame(
            {
                "ts": [T0 + timedelta(seconds=r[0]) for r in rows],
                "metric": [r[1] for r in rows],
                "service": [r[2] for r in rows],
                "value": [float(r[3]) for r in rows],
                "labels": [frames.kv(r[4]) for r in rows],
            },
            schema=frames.SCHEMAS["metrics"],
        ),
        "metrics",
    )


def counter_samples(
    metric: str,
    service: str,
    labels: Mapping[str, str],
    *,
    per_s: float,
    seconds: int,
    every: int = 15,
    reset_at: int | None = None,
    start_value: float = 0.0,
) -> list[tuple[float, str, str, float, Mapping[str, str]]]:
    """Samples of a counter growing ``per_s`` per second; at ``reset_at`` it restarts
    from 0 (a process restart), as Prometheus would scrape it."""
    rows = []
    base = start_value
    origin = 0
    for t in range(0, seconds + 1, every):
        if reset_at is not None and t == reset_at:
            base, origin = 0.0, t - every  # the restart happened during the last interval
        rows.append((float(t), metric, service, base + per_s * (t - origin), dict(labels)))
    return rows
