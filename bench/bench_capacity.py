"""Capacity loading at scale against a real Prometheus 2.42 it starts itself.

Data: 500 series at 1-minute resolution for 90 days (250 services x CPU usage and CPU
limit, ``service:cpu_usage_cores:rate5m`` / ``service:cpu_limit_cores:sum``; 64.8 M
samples) with daily/weekly seasonality and known growth (``svc-007`` grows fastest).
OpenMetrics is written in 8-hour files and turned into 2-hour TSDB blocks by promtool
(it re-reads its whole input once per block, so one big file would take hours); the
blocks are cached in ``$WORKBENCH_BENCH_DIR`` (default ``/tmp/wb-bench-capacity``) and
reused. Prometheus runs with compaction off (2h min = max block duration).

Each measurement runs in a fresh subprocess that reports its own peak RSS
(``resource.getrusage``): ``load_usage`` (server-side ``max_over_time`` buckets, default
``step="5m"`` raised to keep <= 4032 buckets per series) + ``capacity_table`` over the
last 30 and the whole 90 days, and the baseline: the same 30 days as raw 1-minute
samples through the same ``PrometheusSource.query_range`` + the same analysis.

Run: ``.venv/bin/python bench/bench_capacity.py [--services 250] [--days 90]
[--no-baseline]``. Prints ``name: value unit (baseline value, ratio x, target t)``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

END = datetime(2026, 11, 20, tzinfo=UTC)
USAGE = "service:cpu_usage_cores:rate5m"
LIMIT = "service:cpu_limit_cores:sum"
FASTEST = 7  # svc-007 grows 2.5 %/day; the others 0..1 %/day


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- data + blocks
def _write_window(path: Path, services: int, t0: int, hours: int, start: int) -> None:
    import numpy as np
    import polars as pl

    from workbench.lab.sim import daily_shape

    n = hours * 60
    ts = t0 + 60 * np.arange(n)
    days = (ts - start) / 86400.0
    rng = np.random.default_rng([t0, services])
    growth = np.random.default_rng(services).uniform(0.0, 0.01, services)
    growth[FASTEST] = 0.025
    scale = np.random.default_rng(services + 1).uniform(0.5, 1.5, services)
    shape = daily_shape(ts.astype(float))
    used = 0.1 + scale[:, None] * shape[None, :] * (1 + growth[:, None]) ** days[None, :]
    used *= 1 + rng.normal(0, 0.02, (services, n))
    names = [f"svc-{i:03d}" for i in range(services)]
    with open(path, "w") as fh:
        for metric, values in ((USAGE, used.round(4)), (LIMIT, np.full((services, n), 8.0))):
            fh.write(f"# TYPE {metric} gauge\n")
            prefix = [f'{metric}{{namespace="bench",service="{s}"}}' for s in names]
            pl.DataFrame(
                {"p": np.repeat(prefix, n), "v": values.ravel(), "t": np.tile(ts, services)}
            ).write_csv(fh, separator=" ", quote_style="never", include_header=False)
        fh.write("# EOF\n")


def build(services: int, days: int, work: Path) -> tuple[Path, float, int]:
    """Blocks for ``services`` x 2 series over ``days``; (dir, seconds, samples)."""
    from tests.promservers import PROMTOOL

    blocks = work / "data"
    done = work / "COMPLETE"
    samples = services * 2 * days * 1440
    if done.exists():
        return blocks, float(done.read_text()), samples
    t = time.perf_counter()
    blocks.mkdir(parents=True, exist_ok=True)
    start = int((END - timedelta(days=days)).timestamp())
    hours = 8
    windows = [start + k * hours * 3600 for k in range(days * 24 // hours)]

    def one(t0: int) -> None:
        om = work / f"w-{t0}.om"
        _write_window(om, services, t0, hours, start)
        proc = subprocess.run(
            [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(om), str(blocks)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        om.unlink()
        if proc.returncode != 0:
            raise RuntimeError(f"promtool failed on {om.name}: {proc.stderr[-2000:]}")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, windows))
    elapsed = time.perf_counter() - t
    done.write_text(f"{elapsed:.1f}")
    return blocks, elapsed, samples


# ---------------------------------------------------------------------------- child runs
def child(mode: str, url: str, days: int) -> None:
    """Load + analyse in this process; print one JSON line with times and peak RSS."""
    import polars as pl

    from workbench.capacity import load_usage
    from workbench.sources.http import Timeout
    from workbench.sources.prometheus.source import PrometheusSource
    from workbench.timewindow import Window

    w = Window(END - timedelta(days=days), END)
    # the raw baseline is over the source's default row budget (5 M samples): lift it
    prom = PrometheusSource(
        url,
        max_concurrency=4,
        timeout=Timeout(read=600),
        max_rows=None if mode == "raw" else 5_000_000,
    )
    t = time.perf_counter()
    if mode == "pre":
        u = load_usage(prom, w, resources=["cpu"], profile="recorded")
        usage, cap, step = u.usage, u.capacity, u.step.total_seconds()
        rows = usage.height + cap.height
    else:  # baseline: every raw 1-minute sample through the same source
        frames = {}
        for metric in (USAGE, LIMIT):
            r = prom.query_range(metric, w, step=60)
            frames[metric] = r.frame.select(
                "ts", "service", pl.lit("cpu").alias("resource"), "value"
            )
            del r
        usage, cap, step = frames[USAGE], frames[LIMIT], 60.0
        rows = usage.height + cap.height
    load_s = time.perf_counter() - t
    rss_load = _rss_mib()
    from workbench.analysis.capacity import capacity_table

    t = time.perf_counter()
    table = capacity_table(usage, capacity=cap, threshold=0.8, horizon_days=365)
    analysis_s = time.perf_counter() - t
    print(
        json.dumps(
            {
                "mode": mode,
                "days": days,
                "load_s": load_s,
                "analysis_s": analysis_s,
                "rows": rows,
                "step_s": step,
                "rss_load_mib": rss_load,
                "rss_mib": _rss_mib(),
                "first": table["service"][0],
            }
        )
    )


def run_child(mode: str, url: str, days: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url, "--days", str(days)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        return {"mode": mode, "days": days, "error": proc.stderr[-1500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def line(name: str, value: float, unit: str, base: float | None, target: str) -> None:
    if base is None:
        print(f"{name}: {value:.2f} {unit} (baseline n/a, ratio n/a, target {target})")
    else:
        ratio = base / value if value else float("inf")
        print(
            f"{name}: {value:.2f} {unit} (baseline {base:.2f}, ratio {ratio:.1f}x, target {target})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=250, help="services (2 series each)")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--child", choices=("pre", "raw"))
    ap.add_argument("--url")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.url, args.days)
        return

    from tests.promservers import start_prometheus

    base_dir = Path(os.environ.get("WORKBENCH_BENCH_DIR", "/tmp/wb-bench-capacity"))
    work = base_dir / f"s{args.services}-d{args.days}"
    blocks, setup_s, samples = build(args.services, args.days, work)
    series = args.services * 2
    print(
        f"# setup: {series} series x {args.days} days x 1 min = {samples:,} samples, "
        f"OpenMetrics -> promtool blocks in {setup_s:.0f} s (cached in {work})"
    )
    line("capacity_setup_blocks", setup_s, "s", None, "bounded, < 900 s, once")
    t = time.perf_counter()
    srv = start_prometheus(
        work / "run",
        [],
        blocks_dir=blocks,
        extra_args=[
            "--storage.tsdb.min-block-duration=2h",
            "--storage.tsdb.max-block-duration=2h",
            "--query.max-samples=100000000",
        ],
    )
    print(f"# prometheus ready over {args.days * 12} blocks in {time.perf_counter() - t:.1f} s")
    try:
        run_child("pre", srv.url, 30)  # warm the server's page cache once
        pre30 = run_child("pre", srv.url, 30)
        pre90 = run_child("pre", srv.url, args.days) if args.days > 30 else None
        raw30 = None if args.no_baseline else run_child("raw", srv.url, 30)
    finally:
        srv.stop()
    for r in (pre30, pre90, raw30):
        if r is not None:
            print("#", json.dumps(r))
    if "error" in pre30:
        raise SystemExit("pre-aggregated 30-day run failed")
    ok_raw = raw30 is not None and "error" not in raw30
    line(
        f"capacity_load_30d_{series}_series",
        pre30["load_s"],
        "s",
        raw30["load_s"] if ok_raw else None,
        "seconds (< 10 s); baseline = raw 1-minute samples",
    )
    line(
        "capacity_peak_rss_30d",
        pre30["rss_mib"],
        "MiB",
        raw30["rss_mib"] if ok_raw else None,
        "< 1024 MiB; baseline = raw 1-minute samples",
    )
    line(
        "capacity_load_plus_analysis_30d",
        pre30["load_s"] + pre30["analysis_s"],
        "s",
        raw30["load_s"] + raw30["analysis_s"] if ok_raw else None,
        "seconds",
    )
    if pre90 is not None and "error" not in pre90:
        print(
            f"capacity_peak_rss_{args.days}d_vs_30d: {pre90['rss_mib']:.2f} MiB (baseline "
            f"{pre30['rss_mib']:.2f} MiB over 30 days, ratio "
            f"{pre90['rss_mib'] / pre30['rss_mib']:.2f}x, target <= 1.0x)"
        )
        line(
            f"capacity_load_{args.days}d_{series}_series",
            pre90["load_s"],
            "s",
            None,
            "seconds (< 10 s)",
        )
    first = {r["first"] for r in (pre30, pre90, raw30) if r and "error" not in r}
    print(f"# runs out first: {sorted(first)} (known fastest: svc-{FASTEST:03d})")


if __name__ == "__main__":
    main()
