"""The capacity history: known growth, seasonality and saturation dates, reproducible."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from workbench import frames
from workbench.lab.history import RESOURCES, generate_history


def _util(df: pl.DataFrame, service: str, resource: str) -> pl.DataFrame:
    names = RESOURCES[resource]
    use = df.filter(pl.col("metric") == names["usage"], pl.col("service") == service)
    lim = df.filter(pl.col("metric") == names["limit"], pl.col("service") == service)
    return use.join(lim.select("ts", pl.col("value").alias("limit")), on="ts").with_columns(
        u=pl.col("value") / pl.col("limit")
    )


def test_history_files_and_truth(lab_history_dir: Path) -> None:
    meta = json.loads((lab_history_dir / "scenario.json").read_text())
    truth = json.loads((lab_history_dir / "truth.json").read_text())
    df = frames.validate(pl.read_parquet(lab_history_dir / "metrics/metrics.parquet"), "metrics")
    assert df.height == meta["counts"]["samples"]
    assert (lab_history_dir / "metrics/metrics.om").read_text().endswith("# EOF\n")
    assert truth["fastest_growing"] == "checkout"
    first = truth["first_to_saturate"]
    assert (first["service"], first["resource"]) == ("checkout", "cpu")
    assert first["saturation_date"] == "2026-12-04T00:00:00Z"
    per_series = df.group_by("metric", "service").len()["len"]
    # 14 days at 5 minutes, minus a 30-minute gap (Prometheus restart)
    assert set(per_series) == {14 * 288 - 6}


def test_checkout_cpu_growth_and_saturation_are_recoverable(lab_history_dir: Path) -> None:
    df = pl.read_parquet(lab_history_dir / "metrics/metrics.parquet")
    truth = json.loads((lab_history_dir / "truth.json").read_text())
    row = next(
        r for r in truth["resources"] if r["service"] == "checkout" and r["resource"] == "cpu"
    )
    peaks = (
        _util(df, "checkout", "cpu")
        .filter(pl.col("ts").dt.weekday() <= 5)
        .group_by(day=pl.col("ts").dt.date())
        .agg(pl.col("u").max())
        .sort("day")
    )
    days = np.array([(d - peaks["day"][0]).days for d in peaks["day"]], dtype=float)
    slope, icpt = np.polyfit(days, np.log(peaks["u"].to_numpy()), 1)
    assert abs(np.expm1(slope) - row["growth_per_day"]) < 0.3 * row["growth_per_day"]
    # extrapolate the fitted peak to the threshold: within 10% of the time remaining
    end_day = (datetime(2026, 11, 20).date() - peaks["day"][0]).days
    cross = (np.log(truth["threshold"]) - icpt) / slope - end_day
    assert abs(cross - row["days_to_saturation"]) < 0.1 * row["days_to_saturation"] + 1.0
    # seasonality: weekday afternoons busier than nights and weekends
    u = _util(df, "checkout", "cpu").with_columns(
        h=pl.col("ts").dt.hour(), wd=pl.col("ts").dt.weekday()
    )
    day = u.filter(pl.col("h").is_between(14, 17), pl.col("wd") <= 5)["u"].mean()
    night = u.filter(pl.col("h").is_between(2, 5))["u"].mean()
    weekend = u.filter(pl.col("h").is_between(14, 17), pl.col("wd") >= 6)["u"].mean()
    assert day > 1.8 * night and day > 1.15 * weekend


def test_catalog_limit_changes_once_and_postgres_disk_fills_linearly(
    lab_history_dir: Path,
) -> None:
    df = pl.read_parquet(lab_history_dir / "metrics/metrics.parquet")
    lim = df.filter(
        pl.col("metric") == "service:cpu_limit_cores:sum", pl.col("service") == "catalog"
    )
    assert lim["value"].n_unique() == 2
    disk = _util(df, "postgres", "disk").sort("ts")
    assert disk["u"][-1] > disk["u"][0] + 0.05
    assert disk["u"].max() < 0.8


def test_history_is_byte_identical_for_a_seed(tmp_path: Path) -> None:
    def digest(p: Path) -> dict[str, str]:
        return {
            str(f.relative_to(p)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(p.rglob("*"))
            if f.is_file()
        }

    a = generate_history(3, tmp_path / "a", days=2, step_s=600)
    b = generate_history(3, tmp_path / "b", days=2, step_s=600)
    assert digest(a) == digest(b)
    c = generate_history(3, tmp_path / "c", days=2, step_s=600, services=40)
    truth = json.loads((c / "truth.json").read_text())
    assert truth["first_to_saturate"]["service"] == truth["fastest_growing"]
