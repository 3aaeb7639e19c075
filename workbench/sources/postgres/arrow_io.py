"""Bulk reads from PostgreSQL through ADBC (``adbc-driver-postgresql``), straight to polars.

The ADBC PostgreSQL driver runs ``COPY (SELECT ...) TO STDOUT (FORMAT binary)`` itself and
hands back Arrow record batches, which polars takes without copying numbers or
timestamps. It measured faster than our own COPY CSV loader on the bench's 1M log rows
(``bench/bench_postgres.py``: ADBC 0.88 s, ours 1.39 s, binary COPY to /dev/null 1.04 s),
so every bulk read of :class:`~workbench.sources.postgres.PostgresSource` goes through it.
psycopg stays for what ADBC does not do here: schema creation, COPY-in ingest, the
TimescaleDB probe and client-side parameter merging (values are quoted by psycopg, as
they were for COPY, which takes no server-side parameters either).

What this module adds to the driver:

* :func:`connect` -- a libpq ``key=value`` string without the password: the password
  goes in a private passfile (mode 0600 in a 0700 directory) that exists only while
  libpq connects, so no error text, URI or log line can echo it;
* :func:`read` -- streams the record batches and stops as soon as more than ``max_rows``
  rows arrived (:class:`RowBudgetExceeded`), never materialising an unbounded result;
  errors carry the rows received in ``workbench_rows_received``;
* :func:`to_frame` -- the same polars dtypes as the COPY CSV path gave: int2/int4/oid as
  Int64, float4 as Float64 (its shortest text form, as before), jsonb/json as text or
  key/value lists, timestamps in UTC; ``infinity`` timestamps (which the driver turns
  into wrapped-around integers) are refused with :class:`BadData` naming the column;
* :func:`socket_of` -- the connection's socket, so the watchdog can cut a read that no
  server answer can stretch (``adbc_cancel`` asks the *server* to stop, which a dead
  network never delivers).

Example::

    >>> conn = connect({"host": "db", "dbname": "telemetry", "user": "wb"}, "s3cret")
    >>> read(conn, "SELECT ts, service FROM workbench.logs", [Column("ts", "timestamptz"),
    ...      Column("service")], max_rows=1000)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from workbench import frames
from workbench.errors import BadData
from workbench.sources.postgres.copy_io import (
    Column,
    RowBudgetExceeded,
    _check_names,
    _decode_kv,
    _empty,
)

__all__ = [
    "SocketRef",
    "columns_from_schema",
    "connect",
    "merge_params",
    "read",
    "socket_of",
    "to_frame",
]

#: PostgreSQL type name (Arrow field metadata ``POSTGRESQL:type``) -> column kind, as
#: :data:`workbench.sources.postgres.copy_io._OID_KIND` maps type OIDs.
_TYPE_KIND = {
    "timestamptz": "timestamptz",
    "timestamp": "timestamp",
    "float4": "float4",
    "float8": "float",
    "numeric": "numeric",
    "int8": "int",
    "int2": "int2",
    "int4": "int4",
    "oid": "oid",
    "bool": "bool",
    "json": "json",
    "jsonb": "jsonb",
    "text": "text",
    "varchar": "text",
    "bpchar": "text",
    "name": "text",
}
#: Kinds the server converts before sending (the column is wrapped in SQL): numeric and
#: float4 go through their text form, exactly as the CSV path read them (float4 0.1
#: stays 0.1, not 0.10000000149); any type without a kind arrives as its text.
SQL_CASTS = {"numeric": "float8", "float4": "text", "other": "text"}
# binary timestamps are int64 microseconds since 2000-01-01; the driver adds 30 years
# of microseconds, so infinity (int64 max) wraps around to just above int64 min, and
# -infinity lands there too. Real timestamps (4713 BC .. 294276 AD) are far from it.
_INFINITY_BELOW = -(2**63) + 2 * 946_684_800_000_000


def connect(params: Mapping[str, str], password: str | None) -> Any:
    """An autocommit ADBC connection from libpq ``params``; ``password`` (if any) goes
    through a short-lived passfile, never into the connection string."""
    import adbc_driver_postgresql.dbapi as adbc_pg
    from psycopg.conninfo import make_conninfo

    conninfo = dict(params)
    tmp = None
    try:
        if password is not None and "\n" not in password:
            tmp = tempfile.mkdtemp(prefix="wb-pgpass-")  # mode 0700
            path = os.path.join(tmp, "pgpass")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                escaped = password.replace("\\", "\\\\").replace(":", "\\:")
                f.write(f"*:*:*:*:{escaped}\n")
            conninfo["passfile"] = path
        elif password is not None:  # a passfile cannot hold it; libpq never echoes it
            conninfo["password"] = password
        return adbc_pg.connect(make_conninfo("", **conninfo), autocommit=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def read(
    conn: Any,
    query: str,
    columns: Sequence[Column] | None,
    *,
    max_rows: int | None = None,
    where: str | None = None,
    on_cursor: Any = None,
) -> pl.DataFrame:
    """Run ``query`` and return a polars frame with the columns' kinds (``None``: from
    the result's own types). Raises :class:`RowBudgetExceeded` as soon as more than
    ``max_rows`` rows have arrived (add ``LIMIT max_rows + 1`` so the server stops there
    too). ``on_cursor(cursor)`` is called before the query runs (the watchdog's hook)."""
    cur = conn.cursor()
    count = 0
    started = False
    try:
        if on_cursor is not None:
            on_cursor(cur)
        cur.execute(query)
        started = True  # the server took the query: a retry could repeat its work
        # the driver manager's reader turns a stream error into a typed ADBC error with
        # the SQLSTATE (pyarrow's own reader would give a bare OSError)
        reader = getattr(getattr(cur, "_results", None), "reader", None)
        if reader is None:  # a driver manager without it: pyarrow's reader
            reader = cur.fetch_record_batch()
        schema = reader.schema
        batches = []
        for batch in reader:
            count += batch.num_rows
            if max_rows is not None and count > max_rows:
                raise RowBudgetExceeded(max_rows)
            batches.append(batch)
    except Exception as exc:
        if not isinstance(exc, RowBudgetExceeded):
            # our marker: a retry is safe only if no row had arrived
            exc.workbench_rows_received = count  # type: ignore[attr-defined]
            exc.workbench_started = started  # type: ignore[attr-defined]
        raise
    finally:
        with contextlib.suppress(Exception):  # a broken connection: the caller drops it
            cur.close()
    table = pa.Table.from_batches(batches, schema=schema)
    cols = list(columns) if columns is not None else columns_from_schema(schema)
    return to_frame(table, cols, where=where)


def merge_params(query: Any, params: Sequence[object] | Mapping[str, object] | None) -> str:
    """``query`` (text or ``psycopg.sql.Composable``) with ``params`` merged in as
    literals by psycopg: the client-side binding of its ``ClientCursor`` (and of COPY,
    which takes no server-side parameters), so quoting is psycopg's, not ours."""
    from psycopg._queries import PostgresClientQuery
    from psycopg.adapt import Transformer

    pq = PostgresClientQuery(Transformer())
    pq.convert(query, params)
    return bytes(pq.query).decode("utf-8")


def columns_from_schema(schema: pa.Schema, *, kv: Sequence[str] = ()) -> list[Column]:
    """Column kinds from an Arrow schema the driver gave (``kv`` names jsonb -> KV)."""
    out = []
    for field in schema:
        typname = (field.metadata or {}).get(b"POSTGRESQL:type", b"").decode()
        kind = _TYPE_KIND.get(typname, "other")
        if kind in ("jsonb", "json") and field.name in kv:
            kind = "kv" if kind == "jsonb" else "kvjson"
        out.append(Column(field.name, kind))
    return out


def to_frame(
    table: pa.Table, columns: Sequence[Column], *, where: str | None = None
) -> pl.DataFrame:
    """The Arrow result as the frame the COPY CSV path gave for the same ``columns``."""
    _check_names(columns)
    if table.num_rows == 0:
        return _empty(columns)
    arrays = {}
    for c, col in zip(columns, table.columns, strict=True):
        if isinstance(col.type, pa.BaseExtensionType):  # json/jsonb (arrow.json), opaque
            col = pa.chunked_array([ch.storage for ch in col.chunks], col.type.storage_type)
        if pa.types.is_timestamp(col.type):
            _refuse_infinity(col, c.name, where)
        elif c.kind == "oid":  # unsigned on the server, int32 from the driver
            col = pa.chunked_array([ch.view(pa.uint32()) for ch in col.chunks], pa.uint32())
        arrays[c.name] = col
    df = pl.from_arrow(pa.table(arrays))
    assert isinstance(df, pl.DataFrame)
    want = {c.name: _POLARS_TYPE.get(c.kind, pl.String()) for c in columns if c.kind != "timestamp"}
    casts = [pl.col(n).cast(t) for n, t in want.items() if df.schema[n] != t]
    if casts:
        df = df.with_columns(casts)
    return _decode_kv(df, columns)


_POLARS_TYPE: dict[str, pl.DataType] = {
    "timestamptz": frames.TS,
    "int": pl.Int64(),
    "int2": pl.Int64(),
    "int4": pl.Int64(),
    "oid": pl.Int64(),
    "float": pl.Float64(),
    "float4": pl.Float64(),
    "numeric": pl.Float64(),
    "bool": pl.Boolean(),
}


def _refuse_infinity(col: pa.ChunkedArray, name: str, where: str | None) -> None:
    ints = pc.cast(col, pa.int64())
    low = pc.min(ints).as_py()
    if low is None or low > _INFINITY_BELOW:
        return
    raise BadData(
        f"{where + ': ' if where else ''}column {name!r} holds infinity or -infinity, "
        "which a frame cannot hold",
        field=name,
        hint=f"filter it out in SQL (WHERE isfinite({name})) or cast it to text",
    )


# ---------------------------------------------------------------------------- socket
class SocketRef:
    """The file descriptor of an ADBC connection's socket and the identity (device,
    inode) it had, so a later :meth:`shutdown` never touches a descriptor number that
    was closed and reused by someone else."""

    def __init__(self, fd: int, ident: tuple[int, int]) -> None:
        self.fd = fd
        self.ident = ident

    def shutdown(self) -> bool:
        """Shut the socket down (a blocked read fails at once); False if it is gone."""
        try:
            if _ident(self.fd) != self.ident:
                return False
            dup = socket.socket(fileno=os.dup(self.fd))
        except OSError:
            return False
        try:
            dup.shutdown(socket.SHUT_RDWR)
        except OSError:
            return False
        finally:
            dup.close()
        return True


def _ident(fd: int) -> tuple[int, int] | None:
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino) if stat.S_ISSOCK(st.st_mode) else None


def socket_fds() -> dict[int, tuple[int, int]]:
    """This process's socket descriptors -> their identity (``/proc/self/fd`` on Linux,
    ``/dev/fd`` on macOS and the BSDs)."""
    out: dict[int, tuple[int, int]] = {}
    for where in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(where)
        except OSError:
            continue
        for n in names:
            try:
                ident = _ident(int(n))
            except (OSError, ValueError):
                continue
            if ident is not None:
                out[int(n)] = ident
        break
    return out


def socket_of(before: Mapping[int, tuple[int, int]], port: int) -> SocketRef | None:
    """The one socket opened since ``before`` whose peer listens on ``port`` (a TCP
    port, or a Unix socket ``.s.PGSQL.<port>``); None if there is not exactly one."""
    found = []
    for fd, ident in socket_fds().items():
        if before.get(fd) == ident:
            continue
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            peer = s.getpeername()
        except OSError:
            continue
        finally:
            s.close()
        if (isinstance(peer, tuple) and len(peer) >= 2 and peer[1] == port) or (
            isinstance(peer, str) and peer.endswith(f".s.PGSQL.{port}")
        ):
            found.append(SocketRef(fd, ident))
    return found[0] if len(found) == 1 else None
