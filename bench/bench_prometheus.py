"""Benchmarks for PrometheusSource against a real Prometheus 2.42 it starts itself.

1. Range load of 2,000 series x 480 points: PrometheusSource.query_range vs the raw HTTP
   fetch + JSON decode of the same query (target <= 1.2x), and vs prometheus-api-client's
   custom_query_range + MetricRangeDataFrame (target >= 1.5x faster).
2. A 7-day range at 30 s step over 200 series (2 chunks of <= 11,000 points per series):
   correct sample count, and concurrent chunks vs the same chunks one after another.

Run: ``.venv/bin/python bench/bench_prometheus.py`` (about two minutes; most of it is
writing the data and promtool building blocks). Times are the best of several runs.
"raw" is httpx GET + ``json.loads`` with the same transport as the source (``identity``
or gzip); prometheus-api-client runs with its defaults (requests, gzip).
"""

from __future__ import annotations

import gc
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.promservers import start_prometheus  # noqa: E402
from workbench.sources import chunking  # noqa: E402
from workbench.sources.prometheus.source import PrometheusSource  # noqa: E402
from workbench.timewindow import Window  # noqa: E402

T0 = datetime(2026, 9, 1, tzinfo=UTC)
WIDE_SERIES, WIDE_POINTS, WIDE_STEP = 2_000, 480, 15
LONG_SERIES, LONG_DAYS, LONG_SCRAPE = 200, 7, 240  # one sample per 4 min, read at 30 s


def write_data(path: Path) -> None:
    """Synthetic OpenMetrics: bench_wide (2,000 x 480 at 15 s), bench_long (200 x 7 d)."""
    rnd = random.Random(7)
    t0 = int(T0.timestamp())
    with open(path, "w") as fh:
        fh.write("# TYPE bench_wide gauge\n")
        for i in range(WIDE_SERIES):
            lab = (
                f'bench_wide{{service="svc-{i % 40}",pod="svc-{i % 40}-{i}",namespace="shop",'
                f'job="svc-{i % 40}",instance="10.0.{i // 250}.{i % 250}:8080"}} '
            )
            base = rnd.random() * 100
            fh.write(
                "".join(
                    f"{lab}{base + rnd.random():.6f} {t0 + k * WIDE_STEP}\n"
                    for k in range(WIDE_POINTS)
                )
            )
        fh.write("# TYPE bench_long gauge\n")
        n = LONG_DAYS * 86400 // LONG_SCRAPE
        for i in range(LONG_SERIES):
            lab = f'bench_long{{service="svc-{i % 20}",series="{i}"}} '
            fh.write("".join(f"{lab}{k % 97} {t0 + k * LONG_SCRAPE}\n" for k in range(n)))
        fh.write("# EOF\n")


def best(fn: Callable[[], object], runs: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def line(name: str, value: float, unit: str, baseline: float, target: str) -> None:
    print(
        f"{name}: {value:.3f} {unit} (baseline {baseline:.3f}, ratio {value / baseline:.2f}x, "
        f"target {target})"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-prom-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        cached = os.environ.get("BENCH_PROM_BLOCKS")  # reuse blocks between runs
        if cached and Path(cached).exists():
            srv = start_prometheus(work / "prom", [], blocks_dir=Path(cached))
        else:
            write_data(work / "bench.om")
            srv = start_prometheus(work / "prom", [work / "bench.om"])
        print(
            f"# setup: data + promtool blocks + start {time.perf_counter() - t:.1f} s",
            file=sys.stderr,
        )
        try:
            run(srv.url)
        finally:
            srv.stop()


def run(url: str) -> None:
    wide = Window(T0, T0 + timedelta(seconds=WIDE_STEP * WIDE_POINTS))
    query = "bench_wide"
    chunk = chunking.plan(wide, WIDE_STEP)[0]
    params = {"query": query, **chunk.params()}
    plain = httpx.Client(base_url=url, timeout=120, headers={"Accept-Encoding": "identity"})
    gzip = httpx.Client(base_url=url, timeout=120)  # httpx default: gzip, deflate
    ours_plain = PrometheusSource(url, name="bench", compression=False)
    ours_gzip = PrometheusSource(url, name="bench", compression=True)

    def raw(client: httpx.Client) -> Callable[[], object]:
        def fetch() -> object:
            body = json.loads(client.get("/api/v1/query_range", params=params).content)
            return body["data"]["result"]

        return fetch

    def ours(src: PrometheusSource) -> Callable[[], object]:
        return lambda: src.query_range(query, wide, step=WIDE_STEP).frame

    def pac() -> object:
        from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

        pc = PrometheusConnect(url=url, disable_ssl=True)
        data = pc.custom_query_range(
            query,
            start_time=wide.start,
            end_time=wide.end - timedelta(seconds=1),
            step=str(WIDE_STEP),
        )
        return MetricRangeDataFrame(data)

    raw(plain)()  # warm the server's caches
    t_raw, res = best(raw(plain), 5)
    t_ours, frame = best(ours(ours_plain), 5)
    t_raw_gz, _ = best(raw(gzip), 3)
    t_ours_gz, _ = best(ours(ours_gzip), 3)
    t_pac, pdf = best(pac, runs=2)
    n = sum(len(s["values"]) for s in res)  # type: ignore[union-attr]
    assert frame.height == n == WIDE_SERIES * WIDE_POINTS, (frame.height, n)  # type: ignore[union-attr]
    assert len(pdf) == n, len(pdf)  # type: ignore[arg-type]
    line("prom_range_2000x480_vs_raw_fetch_json", t_ours, "s", t_raw, "<= 1.2x")
    line("prom_range_2000x480_gzip_vs_raw_fetch_json_gzip", t_ours_gz, "s", t_raw_gz, "<= 1.2x")
    print(
        f"prom_range_2000x480_speedup_vs_prometheus_api_client: {t_pac / t_ours:.2f} x "
        f"(baseline {t_pac:.3f} s, ratio {t_pac / t_ours:.2f}x, target >= 1.5x)"
    )
    print(
        f"prom_range_2000x480_gzip_speedup_vs_prometheus_api_client: {t_pac / t_ours_gz:.2f} x "
        f"(baseline {t_pac:.3f} s, ratio {t_pac / t_ours_gz:.2f}x, target >= 1.5x)"
    )

    # 7 days at 30 s over 200 series, chunked ------------------------------------------------
    long = Window(T0, T0 + timedelta(days=LONG_DAYS))
    chunks = chunking.plan(long, 30)
    expected = LONG_SERIES * sum(c.points for c in chunks)
    # the first step has data only from its first sample on: all 20,160 points per series
    concurrent = PrometheusSource(url, name="bench", max_concurrency=4, compression=False)
    sequential = PrometheusSource(url, name="bench", max_concurrency=1, compression=False)
    t_seq, f_seq = best(lambda: sequential.query_range("bench_long", long, step=30).frame, 2)
    t_con, f_con = best(lambda: concurrent.query_range("bench_long", long, step=30).frame, 2)
    rows = f_con.height  # type: ignore[union-attr]
    dupes = f_con.select("ts", "labels").is_duplicated().sum()  # type: ignore[union-attr]
    assert rows == f_seq.height  # type: ignore[union-attr]
    print(
        f"prom_7d_30s_200_series_samples: {rows} rows (baseline {expected}, ratio "
        f"{rows / expected:.2f}x, target 1.00x; {len(chunks)} chunks/series, "
        f"{dupes} duplicates)"
    )
    line("prom_7d_30s_200_series_concurrent_vs_sequential_chunks", t_con, "s", t_seq, "< 1.0x")


if __name__ == "__main__":
    main()
