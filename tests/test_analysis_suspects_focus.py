"""Metric direction and the focus service in the suspect ranking, on hand-made series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from workbench import frames
from workbench.analysis.suspects import rank_suspects
from workbench.timewindow import Window

T0 = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
BASE = Window(T0 - timedelta(minutes=30), T0)
WIN = Window(T0, T0 + timedelta(minutes=10))


def _series(service: str, metric: str, before: float, after: float) -> list[dict]:
    rows = []
    for i in range(-30, 10):
        v = before if i < 0 else after
        rows.append(
            {
                "ts": T0 + timedelta(minutes=i),
                "metric": metric,
                "service": service,
                "value": v + (0.01 * before * (i % 3) if i < 0 else 0.0),
            }
        )
    return rows


def _metrics(*parts: list[dict]) -> pl.DataFrame:
    df = pl.DataFrame([r for p in parts for r in p]).with_columns(
        pl.col("ts").dt.cast_time_unit("us"), labels=pl.lit([], dtype=frames.KV)
    )
    return frames.validate(df, "metrics")


def test_a_success_rate_that_rises_or_a_latency_that_falls_is_not_harm():
    m = _metrics(
        _series("idle", "availability", 0.0, 100.0),  # starts answering: 0 -> 100
        _series("faster", "latency_seconds", 0.5, 0.05),  # 10x faster
        _series("broken", "latency_seconds", 0.2, 0.6),  # 3x slower
    )
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m)
    assert sus.ranking[0] == "broken"
    scores = dict(zip(sus.table["service"], sus.table["metrics"], strict=True))
    assert scores["idle"] == 0.0 and scores["faster"] == 0.0 and scores["broken"] > 0
    # the changes stay visible in the change table, only not counted as harm
    assert {"idle", "faster"} <= set(sus.changes.filter(pl.col("changed"))["service"])


def test_focus_ranks_services_without_an_anomalous_path_to_it_last():
    m = _metrics(
        _series("front", "latency_seconds", 0.1, 0.3),
        _series("db", "latency_seconds", 0.05, 0.2),
        _series("batch", "latency_seconds", 0.1, 5.0),  # much bigger, but not on front's path
        _series("cache", "latency_seconds", 0.01, 0.01),  # normal hop: breaks the path
        _series("behind_cache", "latency_seconds", 0.1, 4.0),
    )
    edges = pl.DataFrame(
        {
            "caller": ["front", "front", "cache", "batch"],
            "callee": ["db", "cache", "behind_cache", "db"],
        }
    )
    plain = rank_suspects(None, window=WIN, baseline=BASE, metrics=m, edges=edges)
    assert plain.ranking[0] in ("batch", "behind_cache")
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m, edges=edges, focus="front")
    assert sus.ranking[0] == "db"
    assert sus.rank_of("batch") > 2 and sus.rank_of("behind_cache") > 2


def test_client_side_latency_is_the_callees_symptom_not_the_callers():
    m = _metrics(
        # the caller's wait on its calls jumps from a flat baseline: a huge z
        _series("caller", "PodClientLatencyP99(s)", 0.005, 30.0),
        _series("callee", "http_server_request_duration_seconds", 0.05, 0.4),
    )
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m)
    assert sus.ranking[0] == "callee"
    assert sus.table.filter(pl.col("service") == "caller")["metrics"][0] == 0.0
