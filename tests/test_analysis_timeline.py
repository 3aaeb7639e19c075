"""Onsets and the timeline: robust thresholds on hand-built series with known onsets."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from tests.analysis_builders import T0
from workbench import frames
from workbench.analysis.red import RED_SCHEMA
from workbench.analysis.timeline import TIMELINE_COLUMNS, build_timeline, onsets
from workbench.timewindow import Window

BASE = Window(T0, T0 + timedelta(hours=1))
INC = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))


def _red(series: dict[str, list[float | None]], p95: dict[str, list[float]] | None = None):
    rows = []
    for svc, values in series.items():
        for m, v in enumerate(values):
            rows.append(
                {
                    "ts": T0 + timedelta(minutes=m),
                    "service": svc,
                    "rate": 10.0,
                    "error_ratio": v,
                    "p50_ms": 1.0,
                    "p95_ms": (p95 or {}).get(svc, [100.0] * len(values))[m],
                    "p99_ms": 1.0,
                }
            )
    return pl.DataFrame(rows, schema=RED_SCHEMA)


def noisy(n: int, level: float, seed: int) -> list[float]:
    # deterministic wiggle of +-0.002 around level
    return [level + ((i * 7 + seed) % 5 - 2) * 0.001 for i in range(n)]


def test_onset_is_the_first_sustained_step_above_median_plus_k_mad() -> None:
    db = noisy(60, 0.01, 1) + noisy(12, 0.01, 2) + [0.4] * 48  # rises at minute 72
    api = noisy(60, 0.01, 3) + noisy(14, 0.01, 4) + [0.3] * 46  # a victim, 2 min later
    blip = noisy(60, 0.01, 5) + [0.01] * 20 + [0.5, 0.5] + [0.01] * 38  # 2 steps: no onset
    on = onsets(_red({"db": db, "api": api, "web": blip}), baseline=BASE, sustain=3)
    assert on["service"].to_list() == ["db", "api"]
    row = on.row(0, named=True)
    assert row["onset"] == T0 + timedelta(minutes=72)
    assert row["end"] == T0 + timedelta(minutes=120)  # the end of the last 1-minute step
    assert row["peak"] == pytest.approx(0.4)
    vals = sorted(noisy(60, 0.01, 1))
    median = (vals[29] + vals[30]) / 2
    assert row["baseline_median"] == pytest.approx(median)
    mad = sorted(abs(v - median) for v in vals)
    assert row["baseline_mad"] == pytest.approx((mad[29] + mad[30]) / 2)
    assert row["threshold"] == pytest.approx(median + max(4 * 1.4826 * row["baseline_mad"], 0.02))


def test_flat_zero_baseline_needs_the_minimum_rise() -> None:
    small = [0.0] * 60 + [0.01] * 60  # one percentage point: below min_rise 0.02
    big = [0.0] * 60 + [0.0] * 10 + [0.05] * 50
    on = onsets(_red({"small": small, "big": big}), baseline=BASE)
    assert on["service"].to_list() == ["big"]
    assert on.row(0, named=True)["onset"] == T0 + timedelta(minutes=70)


def test_a_null_step_breaks_a_run() -> None:
    v: list[float | None] = [0.0] * 60 + [0.5, 0.5, None, 0.5, 0.5, 0.5] + [0.0] * 54
    on = onsets(_red({"x": v}), baseline=BASE, sustain=3)
    assert on.row(0, named=True)["onset"] == T0 + timedelta(minutes=63)


def test_latency_onsets_use_a_relative_floor() -> None:
    p95 = {"db": [100.0] * 80 + [400.0] * 40, "ok": [100.0] * 80 + [140.0] * 40}
    on = onsets(_red({"db": [0.0] * 120, "ok": [0.0] * 120}, p95), "p95_ms", baseline=BASE)
    assert on["service"].to_list() == ["db"]
    assert on.row(0, named=True)["onset"] == T0 + timedelta(minutes=80)


def test_timeline_lines_up_events_onsets_and_windows() -> None:
    red = _red({"db": [0.0] * 75 + [0.4] * 45, "api": [0.0] * 77 + [0.3] * 43})
    events = pl.DataFrame(
        {
            "ts": [T0 + timedelta(minutes=74), T0 + timedelta(minutes=79), T0 - timedelta(days=1)],
            "end": [T0 + timedelta(minutes=75), None, T0 - timedelta(days=1)],
            "kind": ["deploy", "alert", "deploy"],
            "service": ["db", "api", "db"],
            "title": ["deploy db v2", "HighErrorRate", "old deploy"],
            "source": ["argocd", "alertmanager", "argocd"],
            "attributes": [frames.kv({"revision": "v2"}), frames.kv({}), frames.kv({})],
        },
        schema=frames.SCHEMAS["events"],
    )
    tl = build_timeline(events, red, window=INC, baseline=BASE)
    assert tuple(tl.columns) == TIMELINE_COLUMNS
    kinds = list(zip(tl["kind"], tl["service"], strict=True))
    assert kinds == [
        ("baseline", None),
        ("incident", None),
        ("deploy", "db"),
        ("error_spike", "db"),
        ("error_spike", "api"),
        ("alert", "api"),
    ]
    spike = tl.filter((pl.col("kind") == "error_spike") & (pl.col("service") == "db")).row(
        0, named=True
    )
    assert spike["ts"] == T0 + timedelta(minutes=75)
    assert "baseline 0% → peak of one step 40.0%" in spike["title"]
    assert "threshold 2.0%" in spike["evidence"]
    assert tl.filter(pl.col("kind") == "deploy")["evidence"].to_list() == ["revision=v2"]
    assert tl["ts"].is_sorted()
