"""A real ClickHouse engine (chdb, in-process) behind ClickHouse's HTTP interface.

``clickhouse_engine`` (session): a chdb session holding ``otel.otel_logs`` and
``otel.otel_traces`` in the OpenTelemetry Collector ClickHouse exporter's schema, filled
with known rows (:data:`LOGS_T0`: 3 services x 40 log records 1.5 s apart; 10 traces of 4
spans). ``clickhouse_http``: a real HTTP server on a free port answering like ClickHouse's
``GET /?query=...&param_x=...&default_format=...``: the query and its parameters run on
that engine; an engine error is its ``Code: N. DB::Exception`` text with the HTTP status
ClickHouse's server gives that code (404 unknown table, 400 syntax error, else 500). Only the HTTP serving is ours; parsing, planning and executing the SQL is
ClickHouse's own.

Example::

    def test_ch(clickhouse_http):
        src = ClickHouseSource(clickhouse_http.url)
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.plugins.recorded_http import RecordedRequest, RecordedServer


LOGS_T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
SERVICES = ["checkout", "cart", "pay'ment"]

LOGS_DDL = """
CREATE TABLE otel.otel_logs (
  Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)), TimestampTime DateTime DEFAULT toDateTime(Timestamp),
  TraceId String, SpanId String, TraceFlags UInt8, SeverityText LowCardinality(String),
  SeverityNumber UInt8, ServiceName LowCardinality(String), Body String,
  ResourceSchemaUrl LowCardinality(String), ResourceAttributes Map(LowCardinality(String), String),
  ScopeSchemaUrl LowCardinality(String), ScopeName String, ScopeVersion LowCardinality(String),
  ScopeAttributes Map(LowCardinality(String), String), LogAttributes Map(LowCardinality(String), String)
) ENGINE = MergeTree PARTITION BY toDate(TimestampTime) ORDER BY (ServiceName, TimestampTime, Timestamp)
"""

TRACES_DDL = """
CREATE TABLE otel.otel_traces (
  Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)), TraceId String, SpanId String,
  ParentSpanId String, TraceState String, SpanName LowCardinality(String),
  SpanKind LowCardinality(String), ServiceName LowCardinality(String),
  ResourceAttributes Map(LowCardinality(String), String), ScopeName String, ScopeVersion String,
  SpanAttributes Map(LowCardinality(String), String), Duration UInt64,
  StatusCode LowCardinality(String), StatusMessage String,
  `Events.Timestamp` Array(DateTime64(9)), `Events.Name` Array(LowCardinality(String)),
  `Events.Attributes` Array(Map(LowCardinality(String), String)),
  `Links.TraceId` Array(String), `Links.SpanId` Array(String), `Links.TraceState` Array(String),
  `Links.Attributes` Array(Map(LowCardinality(String), String))
) ENGINE = MergeTree PARTITION BY toDate(Timestamp) ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
"""

FILL_LOGS = """
INSERT INTO otel.otel_logs (Timestamp, TraceId, SpanId, SeverityText, SeverityNumber,
  ServiceName, Body, ResourceAttributes, LogAttributes)
SELECT toDateTime64('2026-04-01 12:00:00', 9, 'UTC') + toIntervalMillisecond(number * 1500),
  if(number % 3 = 0, lower(hex(MD5(toString(number)))), ''), if(number % 3 = 0, substring(lower(hex(MD5(toString(number + 1)))), 1, 16), ''),
  ['INFO', 'Information', 'WARNING', 'ERROR', 'debug', 'Fatal', ''][number % 7 + 1], 9,
  ['checkout', 'cart', 'pay''ment'][number % 3 + 1],
  concat('request ', toString(number), if(number % 5 = 0, ' timeout', ' ok')),
  map('k8s.pod.name', concat('pod-', toString(number % 2))),
  map('http.route', '/x', 'n', toString(number))
FROM numbers(120)
"""

FILL_TRACES = """
INSERT INTO otel.otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind,
  ServiceName, SpanAttributes, Duration, StatusCode)
SELECT toDateTime64('2026-04-01 12:00:00', 9, 'UTC') + toIntervalMillisecond(intDiv(number, 4) * 10000 + (number % 4) * 7),
  lower(hex(MD5(concat('t', toString(intDiv(number, 4)))))),
  substring(lower(hex(MD5(concat('s', toString(number))))), 1, 16),
  if(number % 4 = 0, '', substring(lower(hex(MD5(concat('s', toString(number - number % 4))))), 1, 16)),
  ['GET /cart', 'SELECT', 'charge', 'render'][number % 4 + 1],
  ['Server', 'Client', 'SPAN_KIND_INTERNAL', 'Producer'][number % 4 + 1],
  ['checkout', 'cart', 'pay''ment', 'checkout'][number % 4 + 1],
  map('http.response.status_code', if(number % 9 = 0, '500', '200')),
  (number % 4 + 1) * 1500000,
  ['Ok', 'Unset', 'STATUS_CODE_ERROR', 'Error'][number % 4 + 1]
FROM numbers(40)
"""


#: ClickHouse's HTTP handler answers these exception codes with these statuses (a few of
#: its exceptionCodeToHTTPStatus table: unknown objects 404, bad queries 400); else 500
_HTTP_STATUS = {60: 404, 81: 404, 46: 404, 62: 400, 47: 400, 53: 400, 43: 400, 36: 400}


class ClickHouseEngine:
    """One chdb session (serialised: one query at a time)."""

    def __init__(self) -> None:
        chdb_session = _import_chdb()
        self._dir = tempfile.TemporaryDirectory(prefix="wb-chdb-")
        self.session = chdb_session.Session(self._dir.name)
        self.lock = threading.Lock()
        for sql in ("CREATE DATABASE otel", LOGS_DDL, TRACES_DDL, FILL_LOGS, FILL_TRACES):
            self.session.query(sql)

    def query(self, sql: str, fmt: str, params: dict[str, str]) -> bytes:
        with self.lock:
            return self.session.query(sql, fmt, params=params).bytes()

    def close(self) -> None:
        self.session.close()
        self._dir.cleanup()


def _import_chdb() -> Any:
    from chdb import session  # the test extra installs chdb: a missing one fails the test

    return session


@pytest.fixture(scope="session")
def clickhouse_engine() -> Iterator[ClickHouseEngine]:
    engine = ClickHouseEngine()
    yield engine
    engine.close()


@pytest.fixture
def clickhouse_http(
    recorded_http: RecordedServer, clickhouse_engine: ClickHouseEngine
) -> RecordedServer:
    from tests.plugins.recorded_http import Reply  # imported late: pytest rewrites plugins

    def handler(req: RecordedRequest) -> Reply:
        q = dict(req.query)
        sql = q.pop("query", "")
        fmt = q.pop("default_format", "TabSeparated")
        params = {k.removeprefix("param_"): v for k, v in q.items() if k.startswith("param_")}
        try:
            body = clickhouse_engine.query(sql, fmt, params)
        except Exception as exc:  # the engine's own error text, with ClickHouse's status
            text = str(exc)
            m = re.search(r"Code: (\d+)", text)
            status = _HTTP_STATUS.get(int(m.group(1)) if m else 0, 500)
            return Reply(text.encode(), status=status, content_type="text/plain; charset=UTF-8")
        return Reply(body, content_type="application/octet-stream")

    recorded_http.route("/", handler=handler)
    return recorded_http
