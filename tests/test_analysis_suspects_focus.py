"""Metric direction, client-side latency and honest ranks (ties, no evidence) in the
suspect ranking, on hand-made series."""

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


def test_equal_scores_share_a_rank_and_services_without_evidence_are_not_ranked():
    m = _metrics(
        _series("twin_a", "latency_seconds", 0.1, 0.5),  # the same change, twice
        _series("twin_b", "latency_seconds", 0.1, 0.5),
        _series("calm", "latency_seconds", 0.1, 0.1),
        _series("also_calm", "latency_seconds", 0.2, 0.2),
    )
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m)
    # a tie is a tie: both hold rank 1, and a reader may have to look at both
    assert sus.rank_of("twin_a") == sus.rank_of("twin_b") == 1
    assert sus.worst_rank("twin_a") == sus.worst_rank("twin_b") == 2
    # no evidence, no rank (not an alphabetical order of zeros)
    assert sus.ranking == ["twin_a", "twin_b"]
    assert sus.rank_of("calm") is None and sus.worst_rank("calm") is None
    assert sus.table.filter(pl.col("rank").is_null())["service"].to_list() == [
        "also_calm",
        "calm",
    ]


def test_a_quiet_window_ranks_nobody_and_the_verdict_is_none():
    m = _metrics(_series("a", "latency_seconds", 0.1, 0.1), _series("b", "cpu", 1.0, 1.0))
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m)
    assert sus.ranking == []
    assert sus.verdict.level == "none" and sus.verdict.top is None


def test_client_side_latency_is_the_callees_symptom_not_the_callers():
    m = _metrics(
        # the caller's wait on its calls jumps from a flat baseline: a huge z
        _series("caller", "PodClientLatencyP99(s)", 0.005, 30.0),
        _series("callee", "http_server_request_duration_seconds", 0.05, 0.4),
    )
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m)
    assert sus.ranking[0] == "callee"
    assert sus.table.filter(pl.col("service") == "caller")["metrics"][0] == 0.0
