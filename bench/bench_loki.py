"""Benchmark: paginated Loki log load into the logs frame vs the raw HTTP fetch.

100,000 log lines in 50 streams (logfmt and JSON lines, half of them with a trace id in
structured metadata, ``categorize-labels`` encoding), served by a local HTTP server that
answers ``query_range`` like Loki (backward, ``limit`` lines per page, answers cached so
the server costs nearly nothing). ``LokiSource.logs`` pages through it with limit=5000
(20+ pages, boundary lines deduplicated) and builds the frame; the baseline fetches the
same pages with httpx and only decodes the JSON.

Run: ``.venv/bin/python bench/bench_loki.py`` (about 20 seconds).
"""

from __future__ import annotations

import bisect
import gc
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.plugins.recorded_http import RecordedRequest, RecordedServer, Reply  # noqa: E402
from workbench import Window  # noqa: E402
from workbench.sources.loki.source import RANGE_PATH, LokiSource  # noqa: E402

LINES, STREAMS, LIMIT = 100_000, 50, 5000
T0 = 1_763_640_000_000_000_000  # 2025-11-20T12:00:00Z in ns
WINDOW = Window.parse("2025-11-20T12:00:00Z..2025-11-20T13:00:00Z")


def make_entries() -> list[tuple[int, int, list[object]]]:
    """(ts, stream index, value) sorted newest first; ties every 7th line."""
    out = []
    for i in range(LINES):
        ts = T0 + (i // 7 * 7) * 30_000_000  # 30 ms apart, 7 lines share a timestamp
        s = i % STREAMS
        if i % 2:
            line = f'level=info msg="handled request" path=/api/v1/items/{i} dur_ms={i % 97}'
            meta: dict[str, object] = {}
        else:
            line = json.dumps({"level": "error" if i % 10 == 0 else "info", "msg": f"call {i}"})
            meta = {"structuredMetadata": {"trace_id": f"{i:032x}", "span_id": f"{i:016x}"}}
        out.append((ts, s, [str(ts), line, meta]))
    out.sort(key=lambda e: -e[0])
    return out


def serve(entries: list[tuple[int, int, list[object]]]) -> Callable[[RecordedRequest], Reply]:
    neg = [-e[0] for e in entries]  # ascending, for bisect
    cache: dict[tuple[str, ...], bytes] = {}
    labels = [{"service_name": f"svc-{s}", "namespace": "shop"} for s in range(STREAMS)]

    def handler(req: RecordedRequest) -> Reply:
        q = req.query
        key = (q["start"], q["end"], q["limit"])
        if key not in cache:
            start, end, limit = int(q["start"]), int(q["end"]), int(q["limit"])
            lo = bisect.bisect_right(neg, -end)  # first entry with ts < end
            page = [e for e in entries[lo : lo + limit] if e[0] >= start]
            streams: dict[int, dict[str, object]] = {}
            for _, s, v in page:
                streams.setdefault(s, {"stream": labels[s], "values": []})["values"].append(v)  # type: ignore[union-attr]
            body = {"status": "success", "data": {"resultType": "streams",
                    "encodingFlags": ["categorize-labels"], "result": list(streams.values())}}  # fmt: skip
            cache[key] = json.dumps(body).encode()
        return Reply(cache[key])

    return handler


def best(fn: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    t_best, out = math.inf, None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, out


def main() -> None:
    entries = make_entries()
    srv = RecordedServer()
    try:
        srv.route(RANGE_PATH, handler=serve(entries))
        src = LokiSource(srv.url, limit=LIMIT, max_pages=100)
        res = src.logs('{namespace="shop"}', WINDOW)  # warm the server's cache
        assert res.rows == LINES and not res.partial, (res.rows, res.reasons)
        sent = [r.query_list for r in srv.requests]
        t_src, res = best(lambda: src.logs('{namespace="shop"}', WINDOW))
        assert res.rows == LINES  # type: ignore[union-attr]

        def raw() -> int:
            n = 0
            with httpx.Client(base_url=srv.url) as c:
                for params in sent:
                    n += len(json.loads(c.get(RANGE_PATH, params=params).content)["data"]["result"])
            return n

        t_raw, _ = best(raw)
    finally:
        srv.close()
    pages = len(sent)
    ratio = t_src / t_raw
    print(f"loki_logs_100k_lines: {t_src:.3f} s ({pages} pages, {LINES / t_src:,.0f} lines/s; "
          f"baseline raw fetch+decode {t_raw:.3f} s, ratio {ratio:.2f}x, target <= 2.5x)")  # fmt: skip


if __name__ == "__main__":
    main()
