"""Benchmarks for the file sources.

1. ``files_jsonl_logs_100k``: 100,000 lab-like JSON-lines log records (timestamp, level,
   service, message, trace/span ids, pod, logger, a numeric field, stack traces on errors)
   into the logs frame, vs ``pandas.read_json(lines=True)`` of the same file (which only
   decodes it: no time parsing, level mapping or attributes). Target: ratio <= 1.0.
2. ``files_jsonl_logs_100k_line_by_line``: the per-line path (used when a file has bad
   lines) on the same file, for reference against the same baseline.
3. ``files_otlp_spans_50k``: 50,000 spans as Collector file-exporter JSON lines into the
   spans frame, vs plain ``json.loads`` of every line (decoding only). Target: <= 3.0 x.
4. ``files_directory_window``: a DirectorySource over 500,000 contract Parquet metric
   samples, one service and a 10-minute window (lazy scan with pushed-down filters) vs
   reading the whole file and filtering in memory. Target: <= 1.0 x.

Both sides of each pair are checked to agree on the row count.
Run: ``.venv/bin/python bench/bench_files.py`` (well under a minute on 2 cores).
"""

from __future__ import annotations

import gc
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from workbench import frames  # noqa: E402
from workbench.sources.files import DirectorySource  # noqa: E402
from workbench.sources.files._common import Problems  # noqa: E402
from workbench.sources.files.logs import LogMapping, _read_lines_slow, read_jsonl  # noqa: E402
from workbench.sources.files.otlp import read_file as read_otlp  # noqa: E402
from workbench.timewindow import Window  # noqa: E402

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
NS0 = int(T0.timestamp()) * 10**9


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def line(name: str, value: float, baseline: float, target: str, what: str) -> None:
    print(
        f"{name}: {value:.3f} s (baseline {what} {baseline:.3f} s, "
        f"ratio {value / baseline:.2f} x, target {target})"
    )


def write_logs(path: Path, n: int) -> None:
    rng = random.Random(1)
    services = [f"svc-{i}" for i in range(12)]
    with path.open("w") as fh:
        for i in range(n):
            t = T0 + timedelta(microseconds=i * 72_000 + rng.randrange(1000))
            level = rng.choices(["info", "debug", "warn", "error"], [80, 10, 6, 4])[0]
            rec = {
                "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
                "level": level,
                "service": rng.choice(services),
                "message": f"request {i} handled in {rng.randrange(500)} ms",
                "trace_id": f"{rng.getrandbits(128):032x}",
                "span_id": f"{rng.getrandbits(64):016x}",
                "pod": f"pod-{rng.randrange(36)}",
                "logger": "com.shop.Service",
                "duration_ms": rng.randrange(500),
            }
            if level == "error":
                rec["stack_trace"] = "java.lang.IllegalStateException: boom\n\tat x.y(Z.java:1)"
            fh.write(json.dumps(rec) + "\n")


def write_spans(path: Path, n: int) -> None:
    rng = random.Random(2)
    with path.open("w") as fh:
        for i in range(0, n, 10):
            spans = []
            tid = f"{rng.getrandbits(128):032x}"
            for k in range(10):
                start = NS0 + i * 1_000_000 + k * 1000
                spans.append(
                    {
                        "traceId": tid,
                        "spanId": f"{rng.getrandbits(64):016x}",
                        "parentSpanId": "" if k == 0 else f"{k:016x}",
                        "name": "GET /api/products/{id}",
                        "kind": 2,
                        "startTimeUnixNano": str(start),
                        "endTimeUnixNano": str(start + rng.randrange(10**7)),
                        "attributes": [
                            {"key": "http.request.method", "value": {"stringValue": "GET"}},
                            {"key": "http.response.status_code", "value": {"intValue": "200"}},
                            {"key": "http.route", "value": {"stringValue": "/api/products/{id}"}},
                        ],
                        "status": {},
                    }
                )
            doc = {
                "resourceSpans": [
                    {
                        "resource": {
                            "attributes": [
                                {"key": "service.name", "value": {"stringValue": f"s{i % 12}"}},
                                {"key": "k8s.pod.name", "value": {"stringValue": "p-0"}},
                            ]
                        },
                        "scopeSpans": [{"scope": {"name": "otelhttp"}, "spans": spans}],
                    }
                ]
            }
            fh.write(json.dumps(doc) + "\n")


def write_metrics(path: Path, n: int) -> None:
    per = n // 50
    df = pl.DataFrame(
        {
            "ts": pl.datetime_range(
                T0, T0 + timedelta(seconds=15 * (per - 1)), "15s", eager=True, time_zone="UTC"
            ).extend_constant(None, 0),
        }
    )
    parts = []
    for s in range(50):
        parts.append(
            df.with_columns(
                metric=pl.lit("http_server_requests_total"),
                service=pl.lit(f"svc-{s}"),
                value=pl.int_range(0, per).cast(pl.Float64),
                labels=pl.lit([{"key": "pod", "value": f"svc-{s}-0"}], dtype=frames.KV),
            )
        )
    pl.concat(parts).select(list(frames.SCHEMAS["metrics"])).write_parquet(
        path, row_group_size=50_000
    )


def main() -> None:
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        logs = root / "logs.jsonl"
        write_logs(logs, 100_000)
        t_pd, pdf = timed(lambda: pd.read_json(logs, lines=True))
        t_wb, res = timed(lambda: read_jsonl(logs))
        assert res.frame.height == len(pdf) == 100_000  # type: ignore[union-attr]
        line("files_jsonl_logs_100k", t_wb, t_pd, "<= 1.0", "pandas.read_json(lines=True)")
        text = logs.read_text()
        t_slow, slow = timed(lambda: _read_lines_slow(text, LogMapping(), Problems()), repeat=1)
        assert slow.height == 100_000  # type: ignore[union-attr]
        line("files_jsonl_logs_100k_line_by_line", t_slow, t_pd, "reference only",
             "pandas.read_json(lines=True)")  # fmt: skip

        spans = root / "traces.otlp.jsonl"
        write_spans(spans, 50_000)
        t_json, docs = timed(lambda: [json.loads(x) for x in spans.open()], repeat=2)
        t_otlp, res2 = timed(lambda: read_otlp(spans), repeat=2)
        assert res2.frame.height == sum(  # type: ignore[union-attr]
            len(d["resourceSpans"][0]["scopeSpans"][0]["spans"])
            for d in docs  # type: ignore[union-attr]
        )
        line("files_otlp_spans_50k", t_otlp, t_json, "<= 3.0", "json.loads per line")

        mdir = root / "m"
        mdir.mkdir()
        write_metrics(mdir / "metrics.parquet", 500_000)
        w = Window(T0 + timedelta(minutes=30), T0 + timedelta(minutes=40))
        src = DirectorySource(mdir)

        def eager() -> pl.DataFrame:
            df = pl.read_parquet(mdir / "metrics.parquet")
            return df.filter(
                (pl.col("ts") >= w.start) & (pl.col("ts") < w.end) & (pl.col("service") == "svc-7")
            )

        t_eager, ref = timed(eager)
        t_dir, res3 = timed(lambda: src.metrics(None, w, services=["svc-7"]))
        assert res3.rows == ref.height > 0  # type: ignore[union-attr]
        line("files_directory_window", t_dir, t_eager, "<= 1.0", "read whole Parquet + filter")


if __name__ == "__main__":
    main()
