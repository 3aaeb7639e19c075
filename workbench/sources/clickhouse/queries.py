"""SQL for the OpenTelemetry Collector ClickHouse exporter's tables (``otel_logs``,
``otel_traces``), with every value a ClickHouse query parameter (``{name:Type}``) sent
apart from the text, so a hostile service name or search string cannot change a query.

Windows are half-open on ``Timestamp`` (a span's start): ``>= start AND < end``. At most
``limit + 1`` rows are asked for, so the source can tell "exactly the budget" from "more".

Example::

    >>> sql, params = logs_sql("otel", "otel_logs", window, services=["checkout"],
    ...                        contains="timeout", limit=1000)
    >>> params["param_services"]
    "['checkout']"
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workbench.errors import ConfigError
from workbench.timewindow import Window

__all__ = ["identifier", "logs_sql", "spans_sql"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KV = "CAST(arrayZip(mapKeys({m}), mapValues({m})), 'Array(Tuple(key String, value String))')"


def identifier(name: str, *, what: str) -> str:
    """A database or table name, checked (names cannot be query parameters)."""
    if not _IDENT.fullmatch(name):
        raise ConfigError(f"{what} {name!r} is not a plain ClickHouse identifier",
                          hint="letters, digits and _ only")  # fmt: skip
    return f"`{name}`"


def _time(t: object) -> str:
    from datetime import UTC, datetime

    assert isinstance(t, datetime)
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _array(values: Sequence[str]) -> str:
    quoted = (v.replace("\\", "\\\\").replace("'", "\\'") for v in values)
    return "[" + ", ".join(f"'{v}'" for v in quoted) + "]"


def _where(window: Window, services: Sequence[str] | None) -> tuple[str, dict[str, str]]:
    params = {"param_start": _time(window.start), "param_end": _time(window.end)}
    where = "Timestamp >= {start:DateTime64(6, 'UTC')} AND Timestamp < {end:DateTime64(6, 'UTC')}"
    if services:
        where += " AND ServiceName IN {services:Array(String)}"
        params["param_services"] = _array(services)
    return where, params


def logs_sql(database: str, table: str, window: Window, *, services: Sequence[str] | None,
             contains: str | None, limit: int) -> tuple[str, dict[str, str]]:  # fmt: skip
    """The logs query: ``ts, service, level, message, trace_id, span_id, attributes``."""
    where, params = _where(window, services)
    if contains:
        where += " AND position(Body, {contains:String}) > 0"
        params["param_contains"] = contains
    sql = (
        "SELECT toDateTime64(Timestamp, 6, 'UTC') AS ts, toString(ServiceName) AS service, "
        "toString(SeverityText) AS level, Body AS message, TraceId AS trace_id, "
        f"SpanId AS span_id, {_KV.format(m='LogAttributes')} AS attributes "
        f"FROM {identifier(database, what='database')}.{identifier(table, what='table')} "
        f"WHERE {where} ORDER BY Timestamp, ServiceName LIMIT {int(limit) + 1}"
    )
    return sql, params


def spans_sql(database: str, table: str, window: Window, *, services: Sequence[str] | None,
              trace_id: str | None, limit: int) -> tuple[str, dict[str, str]]:  # fmt: skip
    """The spans query (spans whose start is in the window, or one trace's spans)."""
    where, params = _where(window, services)
    if trace_id:
        where += " AND TraceId = {trace:String}"
        params["param_trace"] = trace_id
    sql = (
        "SELECT TraceId AS trace_id, SpanId AS span_id, ParentSpanId AS parent_span_id, "
        "toString(ServiceName) AS service, toString(SpanName) AS name, "
        "toString(SpanKind) AS kind, toDateTime64(Timestamp, 6, 'UTC') AS start, "
        "toUInt64(Duration) AS duration_ns, toString(StatusCode) AS status, "
        f"{_KV.format(m='SpanAttributes')} AS attributes "
        f"FROM {identifier(database, what='database')}.{identifier(table, what='table')} "
        f"WHERE {where} ORDER BY Timestamp, SpanId LIMIT {int(limit) + 1}"
    )
    return sql, params
