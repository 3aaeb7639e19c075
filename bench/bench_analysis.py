"""Benchmarks for the first analysis set: service graph and RED on large generated data.

1. ``service_graph`` over 1,000,000 spans (100,000 traces x 10 spans, 200 services, 5% of
   spans database clients with no spans of their own) vs a naive per-span Python loop
   building the same edges and quantiles into a networkx graph (target: >= 500,000
   spans/s, the issue-4 bar for trace analysis).
2. ``red_from_spans`` over the same spans vs a per-span Python loop (per-step counts,
   errors, quantiles).
3. ``red_from_metrics`` over ~1,000,000 counter and histogram samples (100 services x
   3 pods x (3 codes + 12 buckets) x 240 scrapes) vs a per-series Python loop with the
   same reset handling and histogram interpolation.

The naive results are checked against the fast ones (edge call/error counts, rates).

Run: ``.venv/bin/python bench/bench_analysis.py`` (about two minutes on 2 cores).
"""

from __future__ import annotations

import gc
import itertools
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from workbench import frames  # noqa: E402
from workbench.analysis.graph import service_graph  # noqa: E402
from workbench.analysis.red import red_from_metrics, red_from_spans  # noqa: E402

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
TRACES, PER_TRACE, SERVICES = 100_000, 10, 200
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.inf]


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def make_spans() -> pl.DataFrame:
    """Ternary call trees: span j's parent is (j-1)//3; services follow fixed fan-out."""
    rng = np.random.default_rng(11)
    n = TRACES * PER_TRACE
    j = np.tile(np.arange(PER_TRACE), TRACES)
    trace = np.repeat(np.arange(TRACES), PER_TRACE)
    parent_j = np.where(j > 0, (j - 1) // 3, -1)
    svc = np.empty(n, dtype=np.int64)
    root_svc = rng.integers(0, 20, TRACES)  # 20 entry services
    svc[j == 0] = root_svc
    for level_j in range(1, PER_TRACE):
        idx = np.nonzero(j == level_j)[0]
        par = idx - level_j + parent_j[idx]
        svc[idx] = (svc[par] * 7 + (level_j % 3) + 1 + svc[par] // 13) % (SERVICES - 5) + 5
    is_db = rng.random(n) < 0.05
    is_db &= j >= 4  # leaves: spans 4..9 have no children in a 10-span ternary tree
    start_us = (trace * (7_200_000_000 // TRACES) + j * 1000).astype(np.int64)
    dur = rng.gamma(2.0, 10.0, n)
    status = np.where(rng.random(n) < 0.02, "error", "ok")
    db_attrs = [
        {"key": "db.system", "value": "postgresql"},
        {"key": "server.address", "value": "pg-main.shop.svc:5432"},
    ]
    df = pl.DataFrame(
        {
            "trace_id": pl.Series(trace).cast(pl.String),
            "span_id": pl.Series(j).cast(pl.String),
            "parent_span_id": pl.Series(np.where(parent_j >= 0, parent_j, 0)).cast(pl.String),
            "service": pl.Series(svc).cast(pl.String).str.pad_start(3, "0"),
            "name": "op",
            "kind": np.where(is_db, "client", "server"),
            "start": pl.Series(start_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
            + (T0 - datetime(1970, 1, 1, tzinfo=UTC)),
            "duration_ms": dur,
            "status": status,
        }
    ).with_columns(
        pl.when(pl.Series(j) == 0)
        .then(None)
        .otherwise(pl.col("parent_span_id"))
        .alias("parent_span_id"),
        ("svc-" + pl.col("service")).alias("service"),
        (
            pl.col("start")
            + pl.duration(microseconds=(pl.col("duration_ms") * 1000).cast(pl.Int64))
        ).alias("end"),
        pl.when(pl.Series(is_db))
        .then(pl.lit(db_attrs, dtype=frames.KV))
        .otherwise(pl.lit([], dtype=frames.KV))
        .alias("attributes"),
    )
    return frames.validate(df, "spans")


def naive_graph(spans: pl.DataFrame) -> dict[tuple[str, str], tuple[int, int, float]]:
    """Per-span Python loop + networkx: what one writes without a dataframe join."""
    import networkx as nx

    cols = spans.select(
        "trace_id",
        "span_id",
        "parent_span_id",
        "service",
        "kind",
        "duration_ms",
        "status",
        "attributes",
    ).rows()
    by_id = {(r[0], r[1]): r[3] for r in cols}
    has_child = {(r[0], r[2]) for r in cols if r[2] is not None}
    calls: dict[tuple[str, str], list] = defaultdict(list)
    for tid, sid, psid, svc, kind, dur, status, attrs in cols:
        caller = by_id.get((tid, psid)) if psid is not None else None
        if caller is not None and caller != svc:
            calls[(caller, svc)].append((dur, status == "error"))
        if kind == "client" and (tid, sid) not in has_child:
            kv = {a["key"]: a["value"] for a in attrs}
            peer = kv.get("peer.service") or kv.get("server.address", "").split(".")[0]
            if peer and peer != svc:
                calls[(svc, peer)].append((dur, status == "error"))
    g = nx.DiGraph()
    out = {}
    for (a, b), items in calls.items():
        durs = np.array([d for d, _ in items])
        errs = sum(e for _, e in items)
        g.add_edge(a, b, calls=len(items), errors=errs, p95=float(np.percentile(durs, 95)))
        out[(a, b)] = (len(items), errs, float(np.percentile(durs, 95)))
    return out


def naive_red_spans(spans: pl.DataFrame, step_s: int = 60) -> int:
    rows = spans.select(
        "trace_id", "span_id", "parent_span_id", "service", "start", "duration_ms", "status"
    ).rows()
    by_id = {(r[0], r[1]): r[3] for r in rows}
    acc: dict[tuple, list] = defaultdict(list)
    for tid, _sid, psid, svc, start, dur, status in rows:
        if psid is not None and by_id.get((tid, psid)) == svc:
            continue
        bucket = int(start.timestamp()) // step_s
        acc[(bucket, svc)].append((dur, status == "error"))
    for key, items in acc.items():
        durs = np.array([d for d, _ in items])
        acc[key] = [
            len(items) / step_s,
            sum(e for _, e in items) / len(items),
            *np.percentile(durs, [50, 95, 99]),
        ]
    return len(acc)


def make_metrics() -> pl.DataFrame:
    scrapes = 240
    ts = [T0 + timedelta(seconds=15 * k) for k in range(scrapes)]
    parts = []
    rng = np.random.default_rng(5)
    for s in range(100):
        for p in range(3):
            base = {"pod": f"svc-{s}-{p}", "namespace": "shop"}
            for code, per_s in (("200", 10.0), ("500", 0.2), ("503", 0.1)):
                inc = rng.poisson(per_s * 15, scrapes).cumsum().astype(float)
                if p == 0:
                    inc[scrapes // 2 :] -= inc[scrapes // 2 - 1]  # a restart: counter reset
                parts.append(
                    ("http_server_requests_total", f"svc-{s}", {**base, "code": code}, inc)
                )
            cum = np.zeros(scrapes)
            obs = rng.poisson(10 * 15, (len(BUCKETS), scrapes)).cumsum(axis=1) / 4
            for b, le in enumerate(BUCKETS):
                cum = cum + obs[b] if b < len(BUCKETS) - 1 else cum
                lab = "+Inf" if le == math.inf else str(le)
                parts.append(
                    (
                        "http_server_request_duration_seconds_bucket",
                        f"svc-{s}",
                        {**base, "le": lab},
                        cum.copy(),
                    )
                )
    return frames.validate(
        pl.DataFrame(
            {
                "ts": ts * len(parts),
                "metric": [m for m, *_ in parts for _ in range(scrapes)],
                "service": [sv for _, sv, *_ in parts for _ in range(scrapes)],
                "value": np.concatenate([v for *_, v in parts]),
                "labels": pl.Series(
                    [frames.kv(lab) for _, _, lab, _ in parts], dtype=frames.KV
                ).gather(np.repeat(np.arange(len(parts)), scrapes)),
            },
            schema_overrides={"ts": frames.TS},
        ),
        "metrics",
    )


def naive_red_metrics(metrics: pl.DataFrame, step_s: int = 60) -> dict:
    series: dict[tuple, list] = defaultdict(list)
    for ts, metric, svc, value, labels in metrics.rows():
        series[(metric, svc, tuple((d["key"], d["value"]) for d in labels))].append((ts, value))
    rate: dict[tuple, float] = defaultdict(float)
    err: dict[tuple, float] = defaultdict(float)
    hist: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
    for (metric, svc, labels), pts in series.items():
        pts.sort()
        lab = dict(labels)
        per_bucket: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for (t0, v0), (t1, v1) in itertools.pairwise(pts):
            inc = v1 - v0 if v1 >= v0 else v1
            b = int(t1.timestamp()) // step_s
            per_bucket[b][0] += inc
            per_bucket[b][1] += (t1 - t0).total_seconds()
        for b, (inc, dt) in per_bucket.items():
            r = inc / dt
            if metric == "http_server_requests_total":
                rate[(b, svc)] += r
                if lab["code"].startswith("5"):
                    err[(b, svc)] += r
            else:
                le = math.inf if lab["le"] == "+Inf" else float(lab["le"])
                hist[(b, svc)][le] += r
    out = {}
    for key, total in rate.items():
        h = sorted(hist[key].items())
        q95 = None
        if h and h[-1][1] > 0:
            rank, prev_c, prev_le = 0.95 * h[-1][1], 0.0, 0.0
            for le, c in h:
                if c >= rank:
                    q95 = (
                        prev_le
                        if le == math.inf
                        else prev_le + (le - prev_le) * ((rank - prev_c) / (c - prev_c))
                    )
                    break
                prev_c, prev_le = c, le
        out[key] = (total, err[key] / total if total else None, q95)
    return out


def line(name: str, value: float, unit: str, base: float, target: str) -> None:
    ratio = base / value if unit == "s" else value / base
    print(
        f"{name}: {value:,.3f} {unit} (baseline {base:,.3f}, ratio {ratio:.1f}x, target {target})"
    )


def bench_spans() -> None:
    t = time.perf_counter()
    spans = make_spans()
    print(f"# generated {spans.height:,} spans in {time.perf_counter() - t:.1f} s")
    fast_s, g = timed(lambda: service_graph(spans))
    slow_s, naive = timed(lambda: naive_graph(spans), repeat=1)
    e = g.edges  # type: ignore[attr-defined]
    assert e.height == len(naive), (e.height, len(naive))
    for row in e.iter_rows(named=True):
        n_calls, n_err, p95 = naive[(row["caller"], row["callee"])]
        assert (row["calls"], row["errors"]) == (n_calls, n_err)
        assert abs(row["p95_ms"] - p95) < 1e-6
    print(f"# service graph: {e.height} edges, {g.nodes.height} nodes; naive agrees")  # type: ignore[attr-defined]
    line(
        "service_graph_1M_spans_throughput",
        spans.height / fast_s,
        "spans/s",
        spans.height / slow_s,
        ">= 500,000 spans/s",
    )
    line("service_graph_1M_spans_time", fast_s, "s", slow_s, "<= 2 s")
    fast_s, r = timed(lambda: red_from_spans(spans, step="1m"))
    slow_s, n = timed(lambda: naive_red_spans(spans), repeat=1)
    assert r.height == n, (r.height, n)  # type: ignore[attr-defined]
    line("red_from_spans_1M_time", fast_s, "s", slow_s, "<= 2 s")


def bench_metrics() -> None:
    t = time.perf_counter()
    metrics = make_metrics()
    print(f"# generated {metrics.height:,} metric samples in {time.perf_counter() - t:.1f} s")
    fast_s, r = timed(lambda: red_from_metrics(metrics, step="1m"))
    slow_s, naive_r = timed(lambda: naive_red_metrics(metrics), repeat=1)
    assert r.height == len(naive_r), (r.height, len(naive_r))  # type: ignore[attr-defined]
    for row in r.iter_rows(named=True):  # type: ignore[attr-defined]
        key = (int(row["ts"].timestamp()) // 60, row["service"])
        rate, ratio, q95 = naive_r[key]
        assert abs(row["rate"] - rate) < 1e-6 * max(1, rate)
        assert abs(row["error_ratio"] - ratio) < 1e-9
        assert (row["p95_ms"] is None) == (q95 is None)
        if q95 is not None:
            assert abs(row["p95_ms"] - q95 * 1000) < 1e-6
    print("# red_from_metrics: naive agrees on rate, error ratio and p95 for every step")
    line("red_from_metrics_1M_samples_time", fast_s, "s", slow_s, "<= 3 s")
    line(
        "red_from_metrics_throughput",
        metrics.height / fast_s,
        "samples/s",
        metrics.height / slow_s,
        ">= 500,000 samples/s",
    )


def main() -> None:
    bench_spans()
    gc.collect()
    bench_metrics()


if __name__ == "__main__":
    main()
