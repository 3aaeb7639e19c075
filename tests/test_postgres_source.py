"""PostgresSource against a real private PostgreSQL 15: schema, COPY round trips, windows,
service filters, server-side aggregation and hostile strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from workbench import BadData, ConfigError, Window, frames

pytestmark = pytest.mark.service

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HOSTILE = "'; DROP TABLE logs; --"
WEIRD = [
    "checkout",
    "pay'ments",
    'quo"te',
    "back\\slash",
    HOSTILE,
    "new\nline",
    "tab\there",
    "\\.",
    "",
    "ünïcødé ✓",
    "100% _under_",
]
SORT = {
    "metrics": ["ts", "metric", "service", "value"],
    "logs": ["ts", "service", "message"],
    "spans": ["start", "trace_id", "span_id"],
    "events": ["ts", "title"],
}


def _ts(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def make_metrics(n: int = 600) -> pl.DataFrame:
    rows = []
    for i in range(n):
        svc = WEIRD[i % len(WEIRD)]
        rows.append(
            {
                "ts": _ts(i * 0.25) + timedelta(microseconds=i * 7),
                "metric": "http_server_requests_total" if i % 3 else "up",
                "service": None if i % 97 == 5 else svc,
                "value": [0.1 + 0.2, 1e300, -0.0, float(i), 2.5e-9][i % 5],
                "labels": frames.kv({"pod": f"{svc}-{i % 2}", "code": "200", "q": WEIRD[i % 7]}),
            }
        )
    return pl.DataFrame(rows, schema=frames.SCHEMAS["metrics"])


def make_logs(n: int = 400) -> pl.DataFrame:
    rows = []
    for i in range(n):
        svc = WEIRD[i % len(WEIRD)]
        msg = f"request {i} failed: {WEIRD[(i * 3) % len(WEIRD)]}"
        if i % 11 == 0:
            msg = 'Traceback (most recent call last):\n  File "x.py", line 1\n\\.\nValueError'
        if i % 13 == 0:
            msg = ""
        rows.append(
            {
                "ts": _ts(i * 0.3) + timedelta(microseconds=123_456),
                "service": svc,
                "level": ["info", "warn", "error", "debug"][i % 4],
                "message": msg,
                "trace_id": None if i % 5 == 0 else f"{i:032x}",
                "span_id": None if i % 5 == 0 else f"{i:016x}",
                "attributes": frames.kv(
                    {"pod": f"{svc}-0", "logger": "app", 'k"ey\\': WEIRD[i % 5]} if i % 4 else {}
                ),
            }
        )
    return pl.DataFrame(rows, schema=frames.SCHEMAS["logs"])


def make_spans(n: int = 120) -> pl.DataFrame:
    rows = []
    for i in range(n):
        start = _ts(i * 0.5) + timedelta(microseconds=i)
        dur = 1.5 + i
        rows.append(
            {
                "trace_id": f"{i // 4:032x}",
                "span_id": f"{i:016x}",
                "parent_span_id": None if i % 4 == 0 else f"{i - 1:016x}",
                "service": WEIRD[i % len(WEIRD)],
                "name": f"GET /api/{WEIRD[i % 3]}",
                "kind": ["server", "client", "internal"][i % 3],
                "start": start,
                "end": start + timedelta(milliseconds=dur),
                "duration_ms": dur,
                "status": ["ok", "error", "unset"][i % 3],
                "attributes": None if i % 6 == 0 else frames.kv({"http.route": "/a", "n": i}),
            }
        )
    return pl.DataFrame(rows, schema=frames.SCHEMAS["spans"])


def make_events() -> pl.DataFrame:
    rows = [
        {
            "ts": _ts(5),
            "end": _ts(7),
            "kind": "deploy",
            "service": "checkout",
            "title": "deploy checkout v2",
            "source": "argocd",
            "attributes": frames.kv({"revision": "abc"}),
        },
        {
            "ts": _ts(-30),
            "end": _ts(40),
            "kind": "chaos",
            "service": HOSTILE,
            "title": "NetworkChaos delay on x",
            "source": "chaos-mesh",
            "attributes": [],
        },
        {
            "ts": _ts(50),
            "end": None,
            "kind": "alert",
            "service": None,
            "title": 'alert "High" \\ errors',
            "source": None,
            "attributes": frames.kv({"severity": "page"}),
        },
        {
            "ts": _ts(-120),
            "end": _ts(-90),
            "kind": "config",
            "service": "checkout",
            "title": "old change",
            "source": "argocd",
            "attributes": [],
        },
    ]
    return pl.DataFrame(rows, schema=frames.SCHEMAS["events"])


MAKERS = {"metrics": make_metrics, "logs": make_logs, "spans": make_spans, "events": make_events}
EVERYTHING = Window(T0 - timedelta(days=1), T0 + timedelta(days=1))


def _same(got: pl.DataFrame, want: pl.DataFrame, kind: str) -> None:
    cols = list(frames.SCHEMAS[kind])
    assert_frame_equal(
        got.select(cols).sort(SORT[kind], nulls_last=True),
        want.select(cols).sort(SORT[kind], nulls_last=True),
    )


def test_schema_init_is_idempotent(pg_source, pg_admin) -> None:
    again = pg_source.init_schema()
    assert again.created == []
    assert again.existing == ["events", "logs", "metrics", "spans"]
    assert again.timescale is False  # plain PostgreSQL here (no TimescaleDB package)
    idx = {
        r[0]
        for r in pg_admin.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (pg_source.schema,)
        ).fetchall()
    }
    assert {
        "logs_service_ts_idx",
        "metrics_metric_service_ts_idx",
        "spans_service_start_idx",
        "events_service_ts_idx",
    } <= idx
    types = dict(
        pg_admin.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'logs'",
            (pg_source.schema,),
        ).fetchall()
    )
    assert types["attributes"] == "jsonb" and types["ts"] == "timestamp with time zone"


@pytest.mark.parametrize("kind", ["metrics", "logs", "spans", "events"])
def test_ingest_then_load_round_trips_exactly(pg_source, kind: str) -> None:
    want = MAKERS[kind]()
    assert pg_source.ingest(kind, want) == want.height
    res = pg_source.load(kind, EVERYTHING)
    assert not res.partial and res.source == pg_source.name
    _same(res.frame, want, kind)


def test_window_filter_is_half_open(pg_source) -> None:
    logs = make_logs()
    pg_source.ingest("logs", logs)
    w = Window(_ts(30) + timedelta(microseconds=123_456), _ts(60) + timedelta(microseconds=123_456))
    got = pg_source.logs(None, w).frame
    want = logs.filter((pl.col("ts") >= w.start) & (pl.col("ts") < w.end))
    assert 50 < want.height < logs.height
    _same(got, want, "logs")
    assert got["ts"].is_sorted()


def test_events_overlapping_the_window_are_included(pg_source) -> None:
    pg_source.ingest("events", make_events())
    got = pg_source.events(Window(_ts(0), _ts(60))).frame
    assert sorted(got["title"].to_list()) == sorted(
        ["deploy checkout v2", "NetworkChaos delay on x", 'alert "High" \\ errors']
    )


def test_services_filter_with_hostile_names(pg_source, pg_admin) -> None:
    logs = make_logs()
    pg_source.ingest("logs", logs)
    for names in ([HOSTILE], ["pay'ments", "back\\slash"], ["", "100% _under_"], []):
        got = pg_source.logs(None, EVERYTHING, services=names).frame
        _same(got, logs.filter(pl.col("service").is_in(names)), "logs")
    tables = pg_admin.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
        (pg_source.schema,),
    ).fetchone()[0]
    assert tables == 4  # nothing dropped


@pytest.mark.parametrize("text", [HOSTILE, "100%", "_under_", "back\\slash", "Traceback", "'"])
def test_search_text_is_literal(pg_source, text: str) -> None:
    logs = make_logs()
    pg_source.ingest("logs", logs)
    got = pg_source.logs(text, EVERYTHING).frame
    want = logs.filter(pl.col("message").str.contains(text, literal=True))
    assert want.height > 0
    _same(got, want, "logs")


def test_metric_and_service_filters(pg_source) -> None:
    m = make_metrics()
    pg_source.ingest("metrics", m)
    got = pg_source.metrics("up", EVERYTHING, services=["checkout", HOSTILE]).frame
    want = m.filter((pl.col("metric") == "up") & pl.col("service").is_in(["checkout", HOSTILE]))
    assert want.height > 0
    _same(got, want, "metrics")


@pytest.mark.parametrize("agg", ["avg", "max", "min", "sum", "count", "last", "first"])
@pytest.mark.parametrize("by", ["series", "service"])
def test_date_bin_aggregation_matches_polars(pg_source, agg: str, by: str) -> None:
    m = make_metrics().filter(pl.col("value").abs() < 1e100)  # keep sums exact-ish
    pg_source.ingest("metrics", m)
    w = Window(_ts(10), _ts(130))
    res = pg_source.metrics_aggregated(w, "5m", agg=agg, by=by, metric="http_server_requests_total")
    assert res.extra["bucket_function"] == "date_bin"
    src = m.filter(
        (pl.col("ts") >= w.start)
        & (pl.col("ts") < w.end)
        & (pl.col("metric") == "http_server_requests_total")
    ).sort("ts")
    if by == "series":
        src = src.with_columns(
            pl.col("labels")
            .list.eval(pl.element().struct.json_encode())
            .list.join("\x00")
            .alias("_lk")
        )
        group = ["metric", "service", "_lk"]
    else:
        group = ["metric", "service"]
    expr = {
        "avg": pl.col("value").mean(),
        "max": pl.col("value").max(),
        "min": pl.col("value").min(),
        "sum": pl.col("value").sum(),
        "count": pl.len().cast(pl.Float64),
        "last": pl.col("value").last(),
        "first": pl.col("value").first(),
    }[agg]
    want = (
        src.group_by_dynamic("ts", every="5m", group_by=group, start_by="window")
        .agg(expr.alias("value"), pl.col("labels").first())
        .drop("_lk", strict=False)
    )
    if by == "service":
        want = want.with_columns(pl.lit([], dtype=frames.KV).alias("labels"))
    got = res.frame
    lk = pl.col("labels").list.eval(pl.element().struct.json_encode()).list.join("\x00")
    order = ["metric", "service", "ts", "_lk"]
    g = (
        got.select(["ts", "metric", "service", "labels", "value"])
        .with_columns(_lk=lk)
        .sort(order, nulls_last=True)
    )
    wnt = (
        want.select(["ts", "metric", "service", "labels", "value"])
        .with_columns(_lk=lk)
        .sort(order, nulls_last=True)
    )
    assert_frame_equal(g, wnt, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


def test_aggregation_refuses_unknown_agg(pg_source) -> None:
    with pytest.raises(ConfigError, match="unknown aggregation"):
        pg_source.metrics_aggregated(EVERYTHING, "5m", agg="avg(value)); DROP TABLE x; --")


def test_user_sql_with_declared_kind_and_window(pg_source) -> None:
    logs = make_logs()
    pg_source.ingest("logs", logs)
    w = Window(_ts(0), _ts(30))
    res = pg_source.query(
        f"SELECT ts, service, level, message, trace_id, span_id, attributes "
        f"FROM {pg_source.schema}.logs WHERE ts >= %(start)s AND ts < %(end)s "
        "AND service = %(svc)s",
        {"svc": HOSTILE},
        kind="logs",
        window=w,
    )
    want = logs.filter(
        (pl.col("ts") >= w.start) & (pl.col("ts") < w.end) & (pl.col("service") == HOSTILE)
    )
    assert want.height > 0
    _same(res.frame, want, "logs")
    table = pg_source.query(
        f"SELECT service, count(*) AS n, max(ts) AS last FROM {pg_source.schema}.logs "
        "GROUP BY service ORDER BY service"
    )
    assert table.signal == "table"
    assert table.frame.schema["n"] == pl.Int64 and table.frame.schema["last"] == frames.TS
    assert table.frame["n"].sum() == logs.height


def test_user_sql_runs_read_only(pg_source) -> None:
    from workbench import QueryError

    with pytest.raises(QueryError) as info:
        pg_source.query(
            f"SELECT count(*) FROM {pg_source.schema}.logs; DELETE FROM {pg_source.schema}.logs"
        )
    assert info.value.error_type == "42601"  # not one SELECT: syntax error, nothing ran


def test_duplicate_keys_are_refused_not_dropped(pg_source) -> None:
    logs = make_logs(3).with_columns(
        pl.Series(
            "attributes",
            [[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]] * 3,
            dtype=frames.KV,
        )
    )
    with pytest.raises(BadData, match="repeats a key"):
        pg_source.ingest("logs", logs)
    assert pg_source.logs(None, EVERYTHING).frame.height == 0


def test_non_string_json_written_by_sql_is_read_exactly(pg_source, postgres_server) -> None:
    import psycopg

    with psycopg.connect(
        postgres_server.url, password=postgres_server.password, autocommit=True
    ) as conn:
        conn.execute(
            f"INSERT INTO {pg_source.schema}.logs (ts, level, message, attributes) VALUES "
            "(%s, 'info', 'x', %s::jsonb), (%s, 'info', 'y', '{\"b\": \"s\"}')",
            (T0, '{"n": 1.5, "ok": true, "nested": {"a": [1]}, "s": "t"}', T0),
        )
    got = pg_source.logs(None, EVERYTHING).frame.sort("message")
    assert got["attributes"].to_list() == [
        frames.kv({"n": "1.5", "ok": "true", "nested": '{"a": [1]}', "s": "t"}),
        frames.kv({"b": "s"}),
    ]


def test_chunked_parsing_keeps_every_row_in_order(pg_source, monkeypatch) -> None:
    from workbench.sources.postgres import copy_io as pg_copy

    monkeypatch.setattr(pg_copy, "CHUNK_ROWS", 7)  # many chunks, parsed by worker threads
    logs = make_logs()
    pg_source.ingest("logs", logs)
    got = pg_source.logs(None, EVERYTHING).frame
    assert got["ts"].is_sorted()
    _same(got, logs, "logs")
    small = pg_source.query(f"SELECT * FROM {pg_source.schema}.logs", max_rows=logs.height)
    assert small.rows == logs.height
    from workbench import LimitExceeded

    with pytest.raises(LimitExceeded):  # the budget counts rows across chunks
        pg_source.query(f"SELECT * FROM {pg_source.schema}.logs", max_rows=logs.height - 8)
