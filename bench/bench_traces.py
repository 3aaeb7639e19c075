"""Trace analysis over 1,000,000 spans: error origin, span tree (self time + critical path)
and latency blame, vs per-trace Python loops computing the same.

Spans: ``bench_analysis.make_spans`` (100,000 traces x 10 spans, ternary trees, 200
services, 2 % of spans in error). Prints ``name: value unit (baseline value, ratio x,
target t)`` lines; target from issue 4: at least 500,000 spans per second.

Run: ``.venv/bin/python bench/bench_traces.py``
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl
from bench_analysis import make_spans, timed

from workbench.analysis.traces import error_origins, latency_blame, span_tree


def _walk(kids: dict, s: tuple, lo, hi) -> float:
    """Critical-path time under ``s`` (trimmed to [lo, hi]): own time plus the walk of
    each last-finishing child that ends before the current point."""
    a, b = max(s[4], lo), min(s[5], hi)
    if b <= a:
        return 0.0
    total = (b - a).total_seconds()
    cur = b
    for k in sorted(kids[s[1]], key=lambda k: k[5], reverse=True):
        ke, ks = min(k[5], b), max(k[4], a)
        if ks < ke <= cur:
            total += _walk(kids, k, a, b) - (ke - ks).total_seconds()
            cur = ks
    return total


def naive_origins_and_cp(spans: pl.DataFrame, limit: int) -> tuple[int, float]:
    """Per-trace dict walk: error origins and critical-path time (last-finishing child)."""
    rows = (
        spans.head(limit)
        .select("trace_id", "span_id", "parent_span_id", "status", "start", "end")
        .iter_rows()
    )
    traces: dict[str, list[tuple]] = defaultdict(list)
    for r in rows:
        traces[r[0]].append(r)
    origins = 0
    cp_total = 0.0
    for spans_of in traces.values():
        kids: dict[str, list[tuple]] = defaultdict(list)
        by_id = {}
        for r in spans_of:
            by_id[r[1]] = r
            if r[2] is not None:
                kids[r[2]].append(r)
        for r in spans_of:
            if r[3] == "error" and not any(k[3] == "error" for k in kids[r[1]]):
                origins += 1

        for r in spans_of:
            if r[2] is None:
                cp_total += _walk(kids, r, r[4], r[5])
    return origins, cp_total


def main() -> None:
    t = time.perf_counter()
    spans = make_spans()
    print(f"# generated {spans.height:,} spans in {time.perf_counter() - t:.1f} s")
    n = spans.height
    t_or, _ = timed(lambda: error_origins(spans), repeat=2)
    t_tree, tree = timed(lambda: span_tree(spans), repeat=2)
    t_blame, _ = timed(lambda: latency_blame(spans), repeat=1)
    limit = 100_000
    t = time.perf_counter()
    naive_origins_and_cp(spans, limit)
    naive_rate = limit / (time.perf_counter() - t)
    ours = n / (t_or + t_tree)
    print(
        f"traces_origin_and_critical_path_{n}: {ours:,.0f} spans/s "
        f"(baseline {naive_rate:,.0f} spans/s, ratio {ours / naive_rate:.1f} x, target 500,000 spans/s)"
    )
    print(
        f"traces_error_origins_{n}: {n / t_or:,.0f} spans/s "
        f"(baseline {naive_rate:,.0f} spans/s, ratio {n / t_or / naive_rate:.1f} x, target 500,000 spans/s)"
    )
    print(
        f"traces_span_tree_{n}: {n / t_tree:,.0f} spans/s "
        f"(baseline {naive_rate:,.0f} spans/s, ratio {n / t_tree / naive_rate:.1f} x, target 500,000 spans/s)"
    )
    print(
        f"traces_latency_blame_{n}: {n / t_blame:,.0f} spans/s "
        f"(baseline {naive_rate:,.0f} spans/s, ratio {n / t_blame / naive_rate:.1f} x, target 500,000 spans/s)"
    )
    assert tree.filter(pl.col("depth").is_null()).height == 0


if __name__ == "__main__":
    main()
