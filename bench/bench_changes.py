"""Change scoring over 10,000 series x 240 points: vectorised polars vs a per-series loop.

Prints ``name: value unit (baseline value, ratio x, target t)`` lines (COMMON.md format).
The baseline is the same robust score (median/MAD of the baseline window, sustained
run for the onset) computed series by series with numpy in a Python loop.

Run: ``.venv/bin/python bench/bench_changes.py [--series N] [--points P]``
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from workbench import frames
from workbench.analysis.changes import score_changes
from workbench.timewindow import Window


def make(n_series: int, n_points: int, seed: int = 0) -> tuple[pl.DataFrame, Window, Window]:
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
    step = timedelta(seconds=30)
    ts = pl.datetime_range(t0, t0 + step * (n_points - 1), step, eager=True, time_zone="UTC")
    vals = rng.normal(100, 5, (n_series, n_points))
    vals[: n_series // 100, n_points * 3 // 4 :] += 60  # 1 % of series change
    df = pl.DataFrame(
        {
            "ts": pl.concat([ts] * n_series),
            "metric": np.repeat([f"m{i % 40}" for i in range(n_series)], n_points),
            "service": np.repeat([f"svc{i // 40}" for i in range(n_series)], n_points),
            "value": vals.ravel(),
        }
    ).with_columns(labels=pl.lit([{"key": "pod", "value": "p-0"}], dtype=frames.KV))
    half = t0 + step * (n_points // 2)
    return df, Window(half, t0 + step * n_points), Window(t0, half)


def loop_baseline(df: pl.DataFrame, window: Window, baseline: Window, thr=4.0, k=3) -> int:
    changed = 0
    for _, g in df.group_by("metric", "service", "labels"):
        ts = g["ts"].to_numpy()
        v = g["value"].to_numpy()
        b = v[
            (ts >= np.datetime64(baseline.start.replace(tzinfo=None)))
            & (ts < np.datetime64(baseline.end.replace(tzinfo=None)))
        ]
        w = v[
            (ts >= np.datetime64(window.start.replace(tzinfo=None)))
            & (ts < np.datetime64(window.end.replace(tzinfo=None)))
        ]
        med = np.median(b)
        scale = max(1.4826 * np.median(np.abs(b - med)), 1e-9)
        z = np.abs(w - med) / scale
        run = 0
        for hit in z >= thr:
            run = run + 1 if hit else 0
            if run >= k:
                changed += 1
                break
    return changed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=240)
    a = ap.parse_args()
    df, w, b = make(a.series, a.points)
    score_changes(df.head(10_000), w, b)  # warm up
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        ch = score_changes(df, w, b)
        best = min(best, time.perf_counter() - t)
    t = time.perf_counter()
    n_loop = loop_baseline(df, w, b)
    loop_s = time.perf_counter() - t
    n_ours = int(ch["changed"].sum())
    print(
        f"changes_{a.series}x{a.points}: {best:.3f} s "
        f"(baseline {loop_s:.3f} s, ratio {loop_s / best:.1f} x, target 1.0 s)"
    )
    print(
        f"changes_series_per_s: {a.series / best:,.0f} series/s (baseline {a.series / loop_s:,.0f} series/s, ratio {loop_s / best:.1f} x, target 10,000 series/s)"
    )
    print(
        f"changes_found: {n_ours} series (baseline {n_loop} series, ratio {n_ours / max(n_loop, 1):.2f} x, target {a.series // 100} series)"
    )


if __name__ == "__main__":
    main()
