"""Capacity loading from a real Prometheus and a real PostgreSQL holding the lab history.

The servers aggregate (``max_over_time``/``min_over_time`` buckets; ``date_bin``); the
buckets must equal the ones computed from the files, and the forecast must meet the
acceptance (checkout first, saturation date within 10 % of the time remaining).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.test_capacity_load import check_acceptance
from workbench import PrometheusSource, Window
from workbench.capacity import load_usage

pytestmark = pytest.mark.service


def _window(history: Path) -> Window:
    w = json.loads((history / "scenario.json").read_text())["window"]
    return Window.parse(f"{w['start']}..{w['end']}")


def _same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    keys = ["service", "resource", "ts"]
    assert a.height == b.height
    j = a.join(b, on=keys, how="full", suffix="_b")
    assert j.filter(pl.col("value").is_null() | pl.col("value_b").is_null()).height == 0
    rel = ((j["value"] - j["value_b"]).abs() / j["value"].abs().clip(lower_bound=1e-9)).max()
    assert rel < 1e-9


def test_prometheus_buckets_equal_the_files_and_meet_acceptance(
    capacity_prometheus: Any, capacity_history: Path
) -> None:
    w = _window(capacity_history)
    prom = PrometheusSource(capacity_prometheus.url, max_concurrency=4)
    try:
        u = load_usage(prom, w, step="5m", chunk_points=1000)
    finally:
        prom.close()
    assert (u.backend, u.profile, u.partial) == ("prometheus", "recorded", False)
    assert u.step == timedelta(minutes=10)  # 28 days: raised to keep <= 4032 buckets
    # 3 resources x (usage, limit) x 5 time chunks of <= 1000 of the 4032 buckets
    assert u.requests == 3 * 2 * 5
    assert all("offset 1ms" in q and "_over_time(" in q for q in u.queries)
    files = load_usage(capacity_history, w, step="5m")
    _same(u.usage, files.usage)
    _same(u.capacity, files.capacity)
    check_acceptance(u.table(threshold=0.8, horizon_days=365), capacity_history)


def test_prometheus_service_filter_and_short_window(
    capacity_prometheus: Any, capacity_history: Path
) -> None:
    w = Window.parse("2026-11-10T00:00:00Z..2026-11-12T00:00:00Z")
    with PrometheusSource(capacity_prometheus.url) as prom:
        u = load_usage(prom, w, services=["checkout", "postgres"], resources=["disk", "cpu"])
    assert u.step == timedelta(minutes=5)
    assert sorted(u.usage["service"].unique()) == ["checkout", "postgres"]
    # only the database has a disk
    disk = u.usage.filter(pl.col("resource") == "disk")["service"].unique().to_list()
    assert disk == ["postgres"]
    assert u.usage.filter(pl.col("service") == "checkout").height == 2 * 288


def test_postgres_buckets_equal_the_files_and_meet_acceptance(
    capacity_pg: Any, capacity_history: Path
) -> None:
    w = _window(capacity_history)
    u = load_usage(capacity_pg, w, step="5m", chunk_points=1000)
    assert (u.backend, u.profile, u.partial) == ("postgres", "recorded", False)
    assert u.step == timedelta(minutes=10)
    assert all("date_bin" in q or "time_bucket" in q for q in u.queries)
    # (max of usage, min of limits) x 5 or 6 time chunks (aligned to 1000 buckets)
    assert u.requests in (2 * 5, 2 * 6)
    files = load_usage(capacity_history, w, step="5m")
    _same(u.usage, files.usage)
    _same(u.capacity, files.capacity)
    check_acceptance(u.table(threshold=0.8, horizon_days=365), capacity_history)


def test_postgres_raw_per_pod_metrics_use_three_level_sql(
    pg_source: Any, lab_demo_dir: Path
) -> None:
    """Per-pod raw metrics (a counter, gauges with a label matcher) aggregated in SQL give
    the same buckets as the lazy polars plan over the same files."""
    raw = pl.read_parquet(lab_demo_dir / "metrics" / "metrics.parquet")
    names = [
        "process_cpu_seconds_total",
        "container_cpu_limit_cores",
        "db_client_connections_usage",
        "db_client_connections_max",
    ]
    pg_source.ingest("metrics", raw.filter(pl.col("metric").is_in(names)))
    w = Window.parse("2026-11-20T10:00:00Z..2026-11-20T12:00:00Z")
    u = load_usage(pg_source, w, resources=["cpu", "connections"], step="10m", profile="raw")
    assert u.profile == "raw" and u.usage.height > 0
    assert any("labels @> " in q for q in u.queries)
    files = load_usage(lab_demo_dir, w, resources=["cpu", "connections"], step="10m")
    _same(u.usage, files.usage)
    _same(u.capacity, files.capacity)
