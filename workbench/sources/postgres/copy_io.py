"""Bulk data in and out of PostgreSQL with ``COPY``, straight to and from polars.

The source's reads now go through ADBC (:mod:`workbench.sources.postgres.arrow_io`,
measured faster); ``copy_out`` stays as the reference the ADBC frames are tested against
(``tests/test_postgres_adbc.py``) and as the bench's previous path; ``copy_in`` is the
ingest path (ADBC has no ``COPY ... FROM STDIN`` for CSV).

Out: ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` streams one CSV row per message; the
rows are drained from libpq in a tight loop, parsed by polars' multi-threaded CSV
reader with the column types known up front (timestamps in UTC, floats, text with NULL
kept apart from the empty string), and ``jsonb`` columns become key/value lists
(:mod:`workbench.sources.postgres.kv`).
No per-row Python objects beyond the received rows (the garbage collector is paused
while they arrive), no pandas. ``copy_out(..., binary=True)`` reads ``FORMAT binary``
instead (:mod:`workbench.sources.postgres.binary`): half the server's CPU, more of ours.
(Measured against cursor fetches, pandas.read_sql and the binary/text COPY formats in
``bench/bench_postgres.py``.)

In: frames are validated, written as CSV by polars in slices and sent with
``COPY table (cols) FROM STDIN (FORMAT csv)`` inside one transaction: a load either
lands whole or not at all.

Parameters are bound by psycopg (``COPY`` cannot take server-side parameters, so psycopg
merges them client-side with proper quoting); identifiers come from :mod:`psycopg.sql`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.sources.postgres import kv as pg_kv

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql as _sql

__all__ = ["Column", "RowBudgetExceeded", "columns_from_description", "copy_in", "copy_out"]

# PostgreSQL type OIDs -> column kinds (anything else is ``other``: read as text, and
# the query goes through CSV since pg_binary has no decoder for its binary form).
_OID_KIND = {
    1184: "timestamptz",
    1114: "timestamp",
    700: "float4",
    701: "float",
    1700: "numeric",
    20: "int",
    21: "int2",
    23: "int4",
    26: "oid",
    16: "bool",
    114: "json",
    3802: "jsonb",
    25: "text",
    1043: "text",
    1042: "text",
    19: "text",
}


@dataclass(frozen=True)
class Column:
    """A result column: its name and how to read it (``kv`` = jsonb object -> KV list,
    ``kvtext`` = the ``kv_text()`` column -> KV list, ``epoch_us`` = a timestamptz the
    query sends as integer microseconds since 1970 UTC -> a UTC datetime)."""

    name: str
    kind: str = "text"


class RowBudgetExceeded(Exception):
    """Raised by :func:`copy_out` when more rows arrive than the budget allows."""

    def __init__(self, budget: int) -> None:
        super().__init__(f"more than {budget} rows")
        self.budget = budget


def columns_from_description(
    description: Sequence[psycopg.Column], *, kv: Sequence[str] = ()
) -> list[Column]:
    """Column kinds from a psycopg ``cursor.description`` (``kv`` names jsonb -> KV)."""
    out = []
    for col in description:
        name = col.name
        kind = _OID_KIND.get(col.type_code, "other")
        if kind in ("jsonb", "json") and name in kv:
            kind = "kv" if kind == "jsonb" else "kvjson"
        out.append(Column(name, kind))
    return out


def copy_out(
    cursor: psycopg.Cursor[Any],
    select: str | _sql.Composable,
    params: Sequence[object] | Mapping[str, object] | None,
    columns: Sequence[Column],
    *,
    max_rows: int | None = None,
    binary: bool = False,
    where: str | None = None,
) -> pl.DataFrame:
    """Run ``COPY (select) TO STDOUT`` and return a polars frame.

    ``select`` is a ``psycopg.sql.Composable`` or string; ``columns`` must match its
    output. ``FORMAT csv`` by default; ``binary=True`` uses ``FORMAT binary`` decoded by
    :mod:`workbench.sources.postgres.binary` (every column's kind must be in its
    ``BINARY_KINDS``). CSV is the default because it measured faster end to end on the
    bench's 1M log rows (2 shared cores, 4 interleaved runs, medians): CSV 2.33 s
    wall, 1.7 s client + 1.0 s server CPU; binary 2.52 s wall, 2.0 s client + 0.5 s
    server CPU (COPY csv to /dev/null: 2.29 s). Binary is worth it where the database's
    CPU is the scarce one. Raises :class:`RowBudgetExceeded` as soon as more than
    ``max_rows`` rows have arrived (the caller adds ``LIMIT max_rows + 1`` so the server
    stops there too). psycopg errors propagate for the caller to translate, with the
    number of rows that had arrived in ``exc.workbench_rows_received``. Rows are parsed in
    chunks of :data:`CHUNK_ROWS` by worker threads while the next ones arrive. ``where``
    (the table, say) names the data in :class:`BadData` errors.
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    from psycopg import sql

    from workbench.sources.postgres.binary import binary_readable, decode_rows

    if binary and not binary_readable(columns):
        raise ConfigError(
            f"no binary decoder for some of the columns {[c.kind for c in columns]}",
            hint="use binary=False (CSV) for this query",
        )
    _check_names(columns)
    stmt = sql.SQL("COPY ({}) TO STDOUT (FORMAT {})").format(
        select if isinstance(select, sql.Composable) else sql.SQL(select),
        sql.SQL("binary" if binary else "csv"),
    )
    chunks: list[Any] = []
    pending: deque[tuple[int, list, int]] = deque()  # binary chunks not decoded yet
    # Parse finished chunks in worker threads while the next rows arrive (polars and
    # numpy release the GIL), so client-side parsing overlaps the server's work.
    workers = max(1, min(PARSE_WORKERS, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pg-parse") as pool:

        def flush(parts: list, row0: int) -> None:
            if binary:
                pending.append((len(chunks), parts, row0))
                chunks.append(None)
            else:
                chunks.append(pool.submit(_parse_parts, parts, columns))

        def idle() -> bool:
            # Binary chunks are decoded by this thread while no row is waiting: in a
            # worker, the decoder's many short numpy steps each wait for the GIL that
            # the receive loop holds (measured: 2x its CPU, and the loop slowed too).
            if not pending:
                return False
            i, parts, row0 = pending.popleft()
            try:
                df = decode_rows(parts, columns, first=row0 == 0, row0=row0, where=where)
            except BadData as exc:  # raised after the stream ends, like a worker's
                chunks[i] = Future()
                chunks[i].set_exception(exc)
            else:
                chunks[i] = pool.submit(_decode_kv, df, columns)
            return True

        try:
            with cursor.copy(stmt, params) as copy:
                _receive(
                    cursor.connection,
                    copy,
                    flush,
                    max_rows,
                    extra_messages=1 if binary else 0,
                    idle=idle if binary else None,
                )
        except BaseException:
            for fut in chunks:
                if fut is not None:
                    fut.cancel()
            raise
        for i, parts, row0 in pending:  # the stream has ended: workers take the rest
            chunks[i] = pool.submit(_parse_binary, parts, columns, row0, where)
        parsed = [fut.result() for fut in chunks]
    parsed = [df for df in parsed if df.height]
    if not parsed:
        return _empty(columns)
    return parsed[0] if len(parsed) == 1 else pl.concat(parsed, how="vertical")


#: Rows per parse chunk, and how many chunks are parsed at once.
CHUNK_ROWS = 32_768
PARSE_WORKERS = 2


def _parse_parts(parts: list, columns: Sequence[Column]) -> pl.DataFrame:
    return parse_csv(b"".join(parts), columns)


def _parse_binary(
    parts: list, columns: Sequence[Column], row0: int, where: str | None
) -> pl.DataFrame:
    from workbench.sources.postgres.binary import decode_rows

    return _decode_kv(decode_rows(parts, columns, first=row0 == 0, row0=row0, where=where), columns)


def _receive(
    conn: Any,
    copy: Any,
    flush: Callable[[list, int], None],
    max_rows: int | None,
    *,
    extra_messages: int = 0,
    idle: Callable[[], bool] | None = None,
) -> None:
    """Collect the COPY rows (one row per CopyData message), handing every
    :data:`CHUNK_ROWS` messages to ``flush(parts, index of the first)``.

    ``extra_messages`` is the number of messages that are not rows (binary COPY ends with
    a trailer message), so the row budget counts rows only. ``idle()`` is called when no
    row is buffered, before waiting for the socket; it returns whether it did some work.
    psycopg's ``for block in copy`` costs a generator round trip per row; here the rows
    already buffered by libpq are drained in a tight loop, and psycopg's own machinery
    only fetches the final result (raising the server's error, if any).
    """
    import select as _select

    from psycopg import errors as pe
    from psycopg import pq
    from psycopg.generators import fetch_many

    pgconn = conn.pgconn
    get = pgconn.get_copy_data
    stop = max_rows + 1 + extra_messages if max_rows is not None else -1
    chunk = CHUNK_ROWS
    count = 0
    mark = chunk if stop < 0 else min(chunk, stop)  # the next count that needs a look
    parts: list = []
    append = parts.append
    # Each row arrives as a memoryview, which the garbage collector tracks: keeping a
    # million of them alive made the collector rescan them over and over (measured on 1M
    # binary rows: 2.7 s with the collector on, 0.9 s off, 0.8 s when each row is dropped
    # at once). They cannot form cycles, so the collector is paused while rows arrive.
    paused = gc.isenabled()
    gc.disable()
    try:
        while True:
            nbytes, data = get(1)
            if nbytes > 0:
                append(data)
                count += 1
                if count == mark:  # one comparison per row; the rest only here
                    if count == stop:
                        raise RowBudgetExceeded(cast(int, max_rows))  # stop is set by max_rows
                    if len(parts) == chunk:
                        flush(parts, count - chunk)
                        parts = []
                        append = parts.append
                    mark = count + chunk - len(parts)
                    if 0 <= stop < mark:
                        mark = stop
                continue
            if nbytes == 0:  # nothing buffered: wait for the socket (GIL released)
                if idle is not None and idle():
                    pgconn.consume_input()  # what arrived meanwhile (never blocks)
                    continue
                _select.select([pgconn.socket], [], [])
                pgconn.consume_input()
                continue
            break  # -1: the server finished sending
        for res in conn.wait(fetch_many(pgconn)):
            if res.status != pq.ExecStatus.COMMAND_OK:
                raise pe.error_from_result(res, encoding=conn.info.encoding)
    except pe.Error as exc:
        # Tell the caller whether rows had arrived (a retry is safe only if none had).
        # our marker on psycopg's exception (read back with getattr by the source)
        exc.workbench_rows_received = count  # type: ignore[attr-defined]
        raise
    finally:
        if paused:
            gc.enable()
    if parts:
        flush(parts, count - len(parts))


def _check_names(columns: Sequence[Column]) -> None:
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise BadData(
            f"the query returns duplicate column names {names}",
            hint="give every output column its own name (SELECT a AS x, b AS y)",
        )


_POLARS_READ = {
    "timestamptz": pl.String(),
    "timestamp": pl.String(),
    "float": pl.Float64(),
    "float4": pl.Float64(),
    "numeric": pl.Float64(),
    "int": pl.Int64(),
    "int2": pl.Int64(),
    "int4": pl.Int64(),
    "oid": pl.Int64(),
    "epoch_us": pl.Int64(),
    "bool": pl.String(),
    "text": pl.String(),
    "other": pl.String(),
    "json": pl.String(),
    "jsonb": pl.String(),
    "kv": pl.String(),
    "kvjson": pl.String(),
    "kvtext": pl.String(),
}


def parse_csv(data: bytes, columns: Sequence[Column]) -> pl.DataFrame:
    """Parse PostgreSQL CSV (``COPY ... (FORMAT csv)``) into a typed polars frame.

    An unquoted empty field is NULL, a quoted one (``""``) the empty string, as
    PostgreSQL writes them.
    """
    _check_names(columns)
    names = [c.name for c in columns]
    if not data:
        return _empty(columns)
    try:
        df = pl.read_csv(
            data,
            has_header=False,
            new_columns=names,
            schema={c.name: _POLARS_READ[c.kind] for c in columns},
            quote_char='"',
        )
        casts = []
        for c in columns:
            if c.kind == "timestamptz":
                casts.append(
                    pl.col(c.name).str.to_datetime(
                        "%Y-%m-%d %H:%M:%S%.f%#z", time_unit="us", time_zone="UTC"
                    )
                )
            elif c.kind == "epoch_us":
                casts.append(pl.col(c.name).cast(frames.TS))
            elif c.kind == "timestamp":
                casts.append(pl.col(c.name).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us"))
            elif c.kind == "bool":
                casts.append(pl.col(c.name).replace_strict({"t": True, "f": False}, default=None))
        if casts:
            df = df.with_columns(casts)
    except pl.exceptions.PolarsError as exc:
        raise BadData(
            f"could not read a PostgreSQL result column: {str(exc).splitlines()[0]}",
            hint="cast unusual values in SQL (e.g. infinite or BC timestamps) or select text",
        ) from None
    return _decode_kv(df, columns)


def _decode_kv(df: pl.DataFrame, columns: Sequence[Column]) -> pl.DataFrame:
    """Turn the ``kv``/``kvjson``/``kvtext`` text columns into key/value lists."""
    kv = [pg_kv.decode_objects(df[c.name]) for c in columns if c.kind in ("kv", "kvjson")]
    kv += [pg_kv.decode_kv_text(df[c.name]) for c in columns if c.kind == "kvtext"]
    if kv:
        df = df.with_columns(kv)
    return df


def _empty(columns: Sequence[Column]) -> pl.DataFrame:
    polars_type = {
        "timestamptz": frames.TS,
        "epoch_us": frames.TS,
        "timestamp": pl.Datetime("us"),
        "float": pl.Float64(),
        "float4": pl.Float64(),
        "numeric": pl.Float64(),
        "int": pl.Int64(),
        "int2": pl.Int64(),
        "int4": pl.Int64(),
        "oid": pl.Int64(),
        "bool": pl.Boolean(),
        "text": pl.String(),
        "other": pl.String(),
        "json": pl.String(),
        "jsonb": pl.String(),
        "kv": frames.KV,
        "kvjson": frames.KV,
        "kvtext": frames.KV,
    }
    return pl.DataFrame(schema={c.name: polars_type[c.kind] for c in columns})


# ---------------------------------------------------------------------------- COPY in
_SLICE_ROWS = 100_000


def to_csv_chunks(
    df: pl.DataFrame, kinds: dict[str, str], *, source: str | None = None
) -> Iterator[bytes]:
    """CSV chunks (no header, made as they are sent) in PostgreSQL's CSV dialect for
    ``COPY ... FROM``.

    ``kinds`` maps column -> ``timestamptz``/``kv``/other. Timestamps are written in UTC
    with microseconds; KV lists become JSON objects; NULL is an unquoted empty field and
    the empty string is ``""`` (polars quotes it), exactly as PostgreSQL reads them.
    """
    exprs: list[pl.Expr | pl.Series] = []
    for col, kind in kinds.items():
        if kind == "timestamptz":
            exprs.append(
                pl.col(col).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00")
            )
        elif kind == "kv":
            exprs.append(pg_kv.encode_objects(df[col], field=col, source=source).alias(col))
        else:
            exprs.append(pl.col(col))
    out = df.select(exprs)  # eager: bad data is refused before anything is sent
    return (
        out.slice(start, _SLICE_ROWS)
        .write_csv(include_header=False, null_value="", quote_style="necessary")
        .encode("utf-8")
        for start in range(0, out.height, _SLICE_ROWS)
    )


def copy_in(
    cursor: psycopg.Cursor[Any],
    table: _sql.Composable,
    columns: Sequence[str],
    chunks: Iterable[bytes],
) -> None:
    """``COPY table (columns) FROM STDIN (FORMAT csv)`` with the given CSV chunks."""
    from psycopg import sql

    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with cursor.copy(stmt) as copy:
        for chunk in chunks:
            copy.write(chunk)
