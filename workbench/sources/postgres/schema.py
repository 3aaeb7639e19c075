"""The workbench's tables in PostgreSQL / TimescaleDB: DDL and schema initialisation.

One table per frame kind, in a schema of its own (``workbench`` by default)::

    metrics  ts timestamptz, metric text, service text, value double precision, labels jsonb
    logs     ts, service, level, message, trace_id, span_id, attributes jsonb
    spans    trace_id, span_id, parent_span_id, service, name, kind, start, "end",
             duration_ms, status, attributes jsonb
    events   ts, "end", kind, service, title, source, attributes jsonb

``labels``/``attributes`` are jsonb objects of strings, so SQL users write
``attributes->>'http.route'``. Each table also has a generated column ``labels_kv`` /
``attributes_kv`` (``kv_text(jsonb)``: keys in order, ``key<US>value<RS>...``) that the
source reads instead of the jsonb: it is always in step with the jsonb (PostgreSQL
computes it on every write) and turns into the key/value contract several times faster
than JSON. Indexes cover service + time (and metric + service + time).
When the TimescaleDB extension is installed in the database, the tables become
hypertables (1-day chunks) with compression segmented by service (and metric).

Every statement is built with :mod:`psycopg.sql` (identifiers quoted, values literal or
bound), and :func:`init_schema` is idempotent: run it again and nothing changes.

Example::

    >>> with psycopg.connect(url) as conn:
    ...     report = init_schema(conn, "workbench")
    >>> report.timescale, report.created
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg import sql

__all__ = [
    "COLUMNS",
    "KV_COLUMN",
    "TIME_COLUMN",
    "SchemaReport",
    "create_statements",
    "detect_timescale",
    "init_schema",
    "timescale_statements",
]

log = logging.getLogger(__name__)

_ATTRS_NOT_NULL = "jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object')"

# (column, SQL type) per table, in frame-contract order.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "metrics": (
        ("ts", "timestamptz NOT NULL"),
        ("metric", "text NOT NULL"),
        ("service", "text"),
        ("value", "double precision NOT NULL"),
        ("labels", "jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(labels) = 'object')"),
    ),
    "logs": (
        ("ts", "timestamptz NOT NULL"),
        ("service", "text"),
        ("level", "text NOT NULL"),
        ("message", "text NOT NULL"),
        ("trace_id", "text"),
        ("span_id", "text"),
        ("attributes", _ATTRS_NOT_NULL),
    ),
    "spans": (
        ("trace_id", "text NOT NULL"),
        ("span_id", "text NOT NULL"),
        ("parent_span_id", "text"),
        ("service", "text"),
        ("name", "text NOT NULL"),
        ("kind", "text NOT NULL"),
        ("start", "timestamptz NOT NULL"),
        ("end", "timestamptz NOT NULL"),
        ("duration_ms", "double precision NOT NULL"),
        ("status", "text NOT NULL"),
        ("attributes", "jsonb CHECK (jsonb_typeof(attributes) = 'object')"),
    ),
    "events": (
        ("ts", "timestamptz NOT NULL"),
        ("end", "timestamptz"),
        ("kind", "text NOT NULL"),
        ("service", "text"),
        ("title", "text NOT NULL"),
        ("source", "text"),
        ("attributes", _ATTRS_NOT_NULL),
    ),
}

TIME_COLUMN = {"metrics": "ts", "logs": "ts", "spans": "start", "events": "ts"}

#: The jsonb column of each table, and the generated text column that mirrors it.
KV_COLUMN = {
    "metrics": "labels",
    "logs": "attributes",
    "spans": "attributes",
    "events": "attributes",
}
KV_TEXT_SUFFIX = "_kv"
KV_FUNCTION = "kv_text"

# kv_text(jsonb) -> 'k1<US>v1<RS>k2<US>v2', keys in byte order, JSON nulls dropped;
# backslash, RS and US inside keys/values are escaped as \\, \1, \2.
_ESC = (
    "replace(replace(replace({x}, E'\\\\', E'\\\\\\\\'), E'\\x1e', E'\\\\1'), E'\\x1f', E'\\\\2')"
)
KV_FUNCTION_BODY = (
    "SELECT coalesce(string_agg("
    + _ESC.format(x="k")
    + " || E'\\x1f' || "
    + _ESC.format(x="v")
    + ", E'\\x1e' ORDER BY k COLLATE \"C\"), '') FROM jsonb_each_text(j) AS e(k, v) "
    "WHERE v IS NOT NULL"
)

INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "metrics": (("metric", "service", "ts"), ("service", "ts"), ("ts",)),
    "logs": (("service", "ts"), ("ts",), ("trace_id",)),
    "spans": (("service", "start"), ("start",), ("trace_id",)),
    "events": (("service", "ts"), ("ts",)),
}

# TimescaleDB compression: segment by these columns, order by time descending.
SEGMENT_BY = {"metrics": "metric, service", "logs": "service", "spans": "service"}
CHUNK_INTERVAL = "1 day"
COMPRESS_AFTER = "7 days"

TimescaleMode = Literal["auto", "require", "off"]


@dataclass
class SchemaReport:
    """What :func:`init_schema` found and did."""

    schema: str
    timescale: bool
    timescale_available: bool
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _index_name(table: str, cols: tuple[str, ...]) -> str:
    return f"{table}_{'_'.join(cols)}_idx"


def create_statements(schema: str, *, with_time_index: bool = True) -> list[sql.Composed]:
    """CREATE SCHEMA / TABLE / INDEX statements (all ``IF NOT EXISTS``)."""
    out: list[sql.Composed] = [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {}.{}(j jsonb) RETURNS text LANGUAGE sql IMMUTABLE "
            "STRICT PARALLEL SAFE AS {}"
        ).format(
            sql.Identifier(schema), sql.Identifier(KV_FUNCTION), sql.Literal(KV_FUNCTION_BODY)
        ),
    ]
    for table, cols in COLUMNS.items():
        kv = KV_COLUMN[table]
        generated = sql.SQL("{} text GENERATED ALWAYS AS ({}.{}({})) STORED").format(
            sql.Identifier(kv + KV_TEXT_SUFFIX),
            sql.Identifier(schema),
            sql.Identifier(KV_FUNCTION),
            sql.Identifier(kv),
        )
        body = sql.SQL(", ").join(
            [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in cols] + [generated]
        )
        out.append(
            sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} ({})").format(
                sql.Identifier(schema), sql.Identifier(table), body
            )
        )
    for table, idx in INDEXES.items():
        for index_cols in idx:
            if not with_time_index and index_cols == (TIME_COLUMN[table],):
                continue  # a hypertable already has its time index
            out.append(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} ({})").format(
                    sql.Identifier(_index_name(table, index_cols)),
                    sql.Identifier(schema),
                    sql.Identifier(table),
                    sql.SQL(", ").join(
                        sql.SQL("{} DESC").format(sql.Identifier(c))
                        if c == TIME_COLUMN[table]
                        else sql.Identifier(c)
                        for c in index_cols
                    ),
                )
            )
    return out


def timescale_statements(
    schema: str, *, compressed: frozenset[str] = frozenset()
) -> list[sql.Composed]:
    """TimescaleDB DDL: hypertables, compression settings and policies.

    ``compressed`` names the tables whose compression is already enabled (their settings
    cannot be changed again once chunks are compressed, so they are skipped).
    Uses the ``create_hypertable(relation, time_column, ...)`` form that every
    TimescaleDB 2.x accepts.
    """
    out: list[sql.Composed] = []
    for table, tcol in TIME_COLUMN.items():
        rel = sql.Literal(f"{_quote_ident(schema)}.{_quote_ident(table)}")
        out.append(
            sql.SQL(
                "SELECT create_hypertable({}::regclass, {}::name, "
                "chunk_time_interval => {}::interval, if_not_exists => TRUE, "
                "migrate_data => TRUE)"
            ).format(rel, sql.Literal(tcol), sql.Literal(CHUNK_INTERVAL))
        )
    for table, segment in SEGMENT_BY.items():
        if table in compressed:
            continue
        rel = sql.Literal(f"{_quote_ident(schema)}.{_quote_ident(table)}")
        out.append(
            sql.SQL(
                "ALTER TABLE {}.{} SET (timescaledb.compress, "
                "timescaledb.compress_segmentby = {}, timescaledb.compress_orderby = {})"
            ).format(
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.Literal(", ".join(_quote_ident(c.strip()) for c in segment.split(","))),
                sql.Literal(f"{_quote_ident(TIME_COLUMN[table])} DESC"),
            )
        )
        out.append(
            sql.SQL(
                "SELECT add_compression_policy({}::regclass, compress_after => {}::interval, "
                "if_not_exists => TRUE)"
            ).format(rel, sql.Literal(COMPRESS_AFTER))
        )
    return out


def _quote_ident(name: str) -> str:
    """Quote an identifier for use inside a regclass literal ('"schema"."table"')."""
    return '"' + name.replace('"', '""') + '"'


def detect_timescale(conn: psycopg.Connection[Any]) -> tuple[bool, bool]:
    """(installed in this database, available to install) for TimescaleDB."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'), "
        "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
    ).fetchone()
    assert row is not None  # a SELECT of two EXISTS always returns one row
    return bool(row[0]), bool(row[1])


def _compressed_tables(conn: psycopg.Connection[Any], schema: str) -> frozenset[str]:
    rows = conn.execute(
        "SELECT hypertable_name FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = %s AND compression_enabled",
        (schema,),
    ).fetchall()
    return frozenset(r[0] for r in rows)


def _existing_tables(conn: psycopg.Connection[Any], schema: str) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        (schema,),
    ).fetchall()
    return {r[0] for r in rows}


def init_schema(
    conn: psycopg.Connection[Any], schema: str = "workbench", *, timescale: TimescaleMode = "auto"
) -> SchemaReport:
    """Create the workbench tables (idempotent) in one transaction.

    ``timescale="auto"`` uses TimescaleDB when the extension is installed in the database;
    ``"require"`` also runs ``CREATE EXTENSION IF NOT EXISTS timescaledb`` and fails if it
    is not available; ``"off"`` makes plain tables.
    """
    installed, available = detect_timescale(conn)
    report = SchemaReport(schema=schema, timescale=False, timescale_available=available)
    with conn.transaction():
        if timescale == "require" and not installed:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            installed = True
        use_ts = installed and timescale != "off"
        if available and not installed and timescale == "auto":
            report.notes.append(
                "TimescaleDB is available but not installed in this database; "
                "run `CREATE EXTENSION timescaledb` (or `workbench schema init --timescale "
                "require`) for hypertables and compression"
            )
        before = _existing_tables(conn, schema)
        for stmt in create_statements(schema, with_time_index=not use_ts):
            conn.execute(stmt)
        if use_ts:
            for stmt in timescale_statements(schema, compressed=_compressed_tables(conn, schema)):
                conn.execute(stmt)
    report.timescale = use_ts
    report.existing = sorted(t for t in COLUMNS if t in before)
    report.created = sorted(t for t in COLUMNS if t not in before)
    log.info("schema %s ready (created %s, timescale=%s)", schema, report.created, use_ts)
    return report
