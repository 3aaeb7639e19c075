"""A small synthetic metrics data set with known answers, loaded into the real servers.

Everything is deterministic so tests can assert exact values:

* RED + saturation series (LAB_FORMAT.md names) for ``SERVICES`` over ``RED_WINDOW``
  (2 h at 15 s). Per pod: 12 req/s with code 200 and 4/3 req/s with code 500 (error ratio
  exactly 0.1); latency buckets give p50 = 0.1 s, p95 = 0.25 + 0.25 * 10/18 s, p99 = 0.5 s;
  CPU 0.5 of a 2-core limit, memory 256 MiB of 1 GiB, DB pool 6 used of 20.
  ``cart`` has two pods, the others one.
* ``wb_long{series}``: 3 series, one sample per minute for a day from ``LONG_START``,
  value = minute index x (series + 1), for chunking tests (at a 5 s step a day is 17,280
  points per series, over Prometheus's 11,000). A day keeps promtool quick: it writes one
  block per 2 h.
* ``wb_special``: NaN, +Inf, -Inf and 1.5 in turn.
* ``ALERTS``: HighErrorRate on cart pending 25-30 min, firing 30-50 and 70-80 min after
  the start of ``RED_WINDOW`` (15 s evaluation interval).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.promservers import Family, write_openmetrics

T0 = datetime(2026, 10, 1, tzinfo=UTC)
T0S = int(T0.timestamp())
SCRAPE = 15
RED_POINTS = 480  # 2 h
RED_END = T0 + timedelta(seconds=SCRAPE * RED_POINTS)
HOSTILE = 'we"ird\\svc\n.*|x}{=~'
SERVICES = ["cart", "search", HOSTILE]
PODS = {"cart": ["cart-0", "cart-1"], "search": ["search-0"], HOSTILE: ["hostile-0"]}

LONG_START = T0 + timedelta(days=1)
LONG_POINTS = 24 * 60
LONG_STEP = 60
LONG_SERIES = 3

BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
# cumulative requests per 15 s step in each bucket (200 per step in total)
BUCKET_COUNTS = [0, 0, 0, 40, 100, 180, 198, 200, 200, 200, 200, 200]
P95 = 0.25 + 0.25 * 10 / 18

ALERT_RUNS = [(30 * 60, 50 * 60), (70 * 60, 80 * 60)]  # firing, seconds after T0
PENDING_RUN = (25 * 60, 30 * 60)


def _ts(n: int = RED_POINTS, start: int = T0S, step: int = SCRAPE) -> list[int]:
    return [start + i * step for i in range(n)]


def red_families() -> list[Family]:
    ts = _ts()
    fams: dict[str, Family] = {}

    def add(name: str, typ: str, labels: dict[str, str], values: list[float]) -> None:
        fam = fams.setdefault(name, Family(name, typ, []))
        fam.series.append(({"__name__": name, **labels}, list(zip(ts, values, strict=True))))

    for svc in SERVICES:
        for pod in PODS[svc]:
            base = {"service": svc, "pod": pod, "namespace": "shop", "job": svc, "instance": pod}
            http = {**base, "route": "/api/items", "method": "GET"}
            idx = range(RED_POINTS)
            reqs = fams.setdefault(
                "http_server_requests", Family("http_server_requests", "counter", [])
            )
            for code, per_step in (("200", 180), ("500", 20)):
                reqs.series.append(
                    (
                        {"__name__": "http_server_requests_total", **http, "code": code},
                        [(t, per_step * i) for t, i in zip(ts, idx, strict=True)],
                    )
                )
            fam = fams.setdefault(
                "http_server_request_duration_seconds",
                Family("http_server_request_duration_seconds", "histogram", []),
            )
            for le, c in zip(BUCKETS, BUCKET_COUNTS, strict=True):
                fam.series.append(
                    (
                        {
                            "__name__": "http_server_request_duration_seconds_bucket",
                            **http,
                            "le": le,
                        },
                        [(t, c * i) for t, i in zip(ts, idx, strict=True)],
                    )
                )
            fam.series.append(
                (
                    {"__name__": "http_server_request_duration_seconds_sum", **http},
                    [(t, round(24.0 * i, 6)) for t, i in zip(ts, idx, strict=True)],
                )
            )
            fam.series.append(
                (
                    {"__name__": "http_server_request_duration_seconds_count", **http},
                    [(t, 200 * i) for t, i in zip(ts, idx, strict=True)],
                )
            )
            cpu = fams.setdefault(
                "process_cpu_seconds", Family("process_cpu_seconds", "counter", [])
            )
            cpu.series.append(
                (
                    {"__name__": "process_cpu_seconds_total", **base},
                    [(t, 7.5 * i) for t, i in zip(ts, idx, strict=True)],
                )
            )
            add("container_cpu_limit_cores", "gauge", base, [2.0] * RED_POINTS)
            add("process_resident_memory_bytes", "gauge", base, [268435456.0] * RED_POINTS)
            add("container_memory_limit_bytes", "gauge", base, [1073741824.0] * RED_POINTS)
            add(
                "db_client_connections_usage",
                "gauge",
                {**base, "state": "used"},
                [6.0] * RED_POINTS,
            )
            add(
                "db_client_connections_usage",
                "gauge",
                {**base, "state": "idle"},
                [4.0] * RED_POINTS,
            )
            add("db_client_connections_max", "gauge", base, [20.0] * RED_POINTS)
            add("up", "gauge", base, [1.0] * RED_POINTS)
    return list(fams.values())


def special_family() -> Family:
    vals = [float("nan"), float("inf"), float("-inf"), 1.5] * 10
    ts = _ts(len(vals))
    labels = {"__name__": "wb_special", "service": "special", "job": "special"}
    return Family("wb_special", "gauge", [(labels, list(zip(ts, vals, strict=True)))])


def long_family() -> Family:
    start = int(LONG_START.timestamp())
    ts = _ts(LONG_POINTS, start, LONG_STEP)
    series = [
        (
            {"__name__": "wb_long", "service": "long", "job": "long", "series": str(k)},
            [(t, float(i * (k + 1))) for i, t in enumerate(ts)],
        )
        for k in range(LONG_SERIES)
    ]
    return Family("wb_long", "gauge", series)


def alerts_family() -> Family:
    base = {
        "__name__": "ALERTS",
        "alertname": "HighErrorRate",
        "service": "cart",
        "severity": "page",
    }
    series = []
    firing = [(T0S + s, 1.0) for a, b in ALERT_RUNS for s in range(a, b, SCRAPE)]
    series.append(({**base, "alertstate": "firing"}, firing))
    pending = [(T0S + s, 1.0) for s in range(PENDING_RUN[0], PENDING_RUN[1], SCRAPE)]
    series.append(({**base, "alertstate": "pending"}, pending))
    return Family("ALERTS", "gauge", series)


def write_test_data(path: Path) -> Path:
    """Write the whole synthetic data set as one OpenMetrics file."""
    return write_openmetrics(
        path, [*red_families(), special_family(), long_family(), alerts_family()]
    )
