"""Capacity analysis on history with known growth, seasonality and saturation dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from workbench import BadData
from workbench.analysis.capacity import (
    capacity_table,
    forecast_saturation,
    seasonality,
    utilisation,
)

START = datetime(2026, 9, 1, tzinfo=UTC)


def _history(
    days: int,
    growth: dict[str, float],
    *,
    base_peak: float = 0.4,
    step_min: int = 60,
    compound: bool = False,
    seed: int = 3,
) -> pl.DataFrame:
    """Hourly CPU usage (cores, capacity 4) with a daily cycle whose peak grows."""
    rng = np.random.default_rng(seed)
    n = days * 24 * 60 // step_min
    t = np.arange(n) * step_min / 1440.0  # days
    frames = []
    for service, g in growth.items():
        level = base_peak * (1 + g) ** t if compound else base_peak + g * t
        daily = 0.75 + 0.25 * np.cos(2 * np.pi * (t % 1 - 0.6))  # peak at 14:24 UTC
        used = 4 * level * daily * (1 + rng.normal(0, 0.01, n))
        frames.append(
            pl.DataFrame(
                {
                    "ts": [START + timedelta(days=float(x)) for x in t],
                    "service": service,
                    "resource": "cpu",
                    "value": used,
                }
            )
        )
    return pl.concat(frames)


def test_known_saturation_date_within_10_percent_and_fastest_first() -> None:
    growth = {"search": 0.004, "checkout": 0.010, "cart": 0.002}  # utilisation per day
    usage = _history(30, growth)
    table = capacity_table(usage, capacity=4.0, threshold=0.8)
    assert table["service"][0] == "checkout"
    row = table.row(0, named=True)
    # peak = 0.4 + 0.010 * t crosses 0.8 at t = 40 days from START (peak hour ~14:24)
    truth = START + timedelta(days=40)
    last_day = START + timedelta(days=29)
    remaining = (truth - last_day).total_seconds()
    assert abs((row["saturates_at"] - truth).total_seconds()) <= 0.10 * remaining
    assert row["earliest"] <= row["saturates_at"] <= row["latest"]
    assert row["growth_per_day"] == pytest.approx(0.010, rel=0.15)
    assert table.filter(pl.col("service") == "cart")["days_left"][0] > row["days_left"]


def test_compound_growth_is_recognised() -> None:
    usage = _history(28, {"api": 0.02}, compound=True)
    fc = table_row = capacity_table(usage, capacity=4.0, threshold=0.9).row(0, named=True)
    assert table_row["model"] == "compound"
    # 0.4 * 1.02**t = 0.9 -> t = ln(2.25)/ln(1.02) = 40.95 days
    truth = START + timedelta(days=40.95)
    remaining = (truth - (START + timedelta(days=27))).total_seconds()
    assert abs((fc["saturates_at"] - truth).total_seconds()) <= 0.10 * remaining


def test_flat_usage_never_saturates() -> None:
    fc = forecast_saturation(
        [START + timedelta(days=i) for i in range(14)], [0.5] * 14, threshold=0.8
    )
    assert fc.saturates_at is None and abs(fc.growth_per_day) < 1e-9


def test_seasonality_finds_daily_peak_hour_and_amplitude() -> None:
    util = utilisation(_history(14, {"web": 0.0}), 4.0)
    s = seasonality(util).row(0, named=True)
    assert s["peak_hour"] in (13, 14, 15)
    assert s["daily_amplitude"] == pytest.approx(0.5 / 0.75, rel=0.1)
    assert s["peak_to_average"] == pytest.approx(1.0 / 0.75, rel=0.1)


def test_missing_capacity_is_a_clear_error() -> None:
    usage = _history(5, {"a": 0.0, "b": 0.0})
    with pytest.raises(BadData, match="no positive capacity"):
        utilisation(usage, {("a", "cpu"): 4.0})
