"""Bulk data in and out of PostgreSQL with ``COPY``, straight to and from polars.

Out: ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` streams one CSV row per message; the
rows are gathered and parsed by Arrow's multi-threaded CSV reader with the column types
known up front (timestamps in UTC, floats, text with NULL kept apart from the empty
string), and ``jsonb`` columns become key/value lists (:mod:`workbench.sources.pg_kv`).
No per-row Python objects, no pandas. (Measured against cursor fetches, pandas.read_sql
and the binary/text COPY formats in ``bench/bench_postgres.py``.)

In: frames are validated, written as CSV by polars in slices and sent with
``COPY table (cols) FROM STDIN (FORMAT csv)`` inside one transaction: a load either
lands whole or not at all.

Parameters are bound by psycopg (``COPY`` cannot take server-side parameters, so psycopg
merges them client-side with proper quoting); identifiers come from :mod:`psycopg.sql`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from workbench import frames
from workbench.errors import BadData
from workbench.sources import pg_kv

__all__ = ["Column", "RowBudgetExceeded", "columns_from_description", "copy_in", "copy_out"]

# Column kinds understood by the CSV reader.
_ARROW = {
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "text": pa.large_string(),
    "jsonb": pa.large_string(),
    "kv": pa.large_string(),
}

# PostgreSQL type OIDs -> column kinds (anything else is read as text).
_OID_KIND = {
    1184: "timestamptz",
    1114: "timestamp",
    700: "float",
    701: "float",
    1700: "float",
    20: "int",
    21: "int",
    23: "int",
    26: "int",
    16: "bool",
    114: "jsonb",
    3802: "jsonb",
}


@dataclass(frozen=True)
class Column:
    """A result column: its name and how to read it (``kv`` = jsonb object -> KV list)."""

    name: str
    kind: str = "text"


class RowBudgetExceeded(Exception):
    """Raised by :func:`copy_out` when more rows arrive than the budget allows."""

    def __init__(self, budget: int) -> None:
        super().__init__(f"more than {budget} rows")
        self.budget = budget


def columns_from_description(
    description: Sequence[object], *, kv: Sequence[str] = ()
) -> list[Column]:
    """Column kinds from a psycopg ``cursor.description`` (``kv`` names jsonb -> KV)."""
    out = []
    for col in description:
        name = col.name  # type: ignore[attr-defined]
        kind = _OID_KIND.get(col.type_code, "text")  # type: ignore[attr-defined]
        if kind == "jsonb" and name in kv:
            kind = "kv"
        out.append(Column(name, kind))
    return out


def copy_out(
    cursor: object,
    select: object,
    params: Sequence[object] | dict[str, object] | None,
    columns: Sequence[Column],
    *,
    max_rows: int | None = None,
) -> pl.DataFrame:
    """Run ``COPY (select) TO STDOUT (FORMAT csv)`` and return a polars frame.

    ``select`` is a ``psycopg.sql.Composable`` or string; ``columns`` must match its
    output. Raises :class:`RowBudgetExceeded` as soon as more than ``max_rows`` rows have
    arrived (the caller adds ``LIMIT max_rows + 1`` so the server stops there too).
    psycopg errors propagate unchanged for the caller to translate.
    """
    from psycopg import sql

    stmt = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(
        select if isinstance(select, sql.Composable) else sql.SQL(select)  # type: ignore[arg-type]
    )
    import psycopg

    parts: list[memoryview | bytes] = []
    try:
        with cursor.copy(stmt, params) as copy:  # type: ignore[attr-defined]
            for block in copy:
                parts.append(block)
                if max_rows is not None and len(parts) > max_rows:
                    raise RowBudgetExceeded(max_rows)
    except psycopg.Error as exc:
        # Tell the caller whether rows had arrived (a retry is safe only if none had).
        exc.workbench_rows_received = len(parts)  # type: ignore[attr-defined]
        raise
    return parse_csv(b"".join(parts), columns)


def parse_csv(data: bytes, columns: Sequence[Column]) -> pl.DataFrame:
    """Parse PostgreSQL CSV (``COPY ... (FORMAT csv)``) into a typed polars frame."""
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise BadData(
            f"the query returns duplicate column names {names}",
            hint="give every output column its own name (SELECT a AS x, b AS y)",
        )
    if not data:
        return _empty(columns)
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c.name: _ARROW[c.kind] for c in columns},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise BadData(
            f"could not read a PostgreSQL result column: {exc}",
            hint="cast unusual values in SQL (e.g. infinite timestamps) or select text",
        ) from None
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    casts = [pg_kv.decode_objects(df[c.name]) for c in columns if c.kind == "kv"]
    strings = [pl.col(c.name).cast(pl.String) for c in columns if c.kind in ("text", "jsonb")]
    if casts:
        df = df.with_columns(casts)
    if strings:
        df = df.with_columns(strings)
    return df


def _empty(columns: Sequence[Column]) -> pl.DataFrame:
    polars_type = {
        "timestamptz": frames.TS,
        "timestamp": pl.Datetime("us"),
        "float": pl.Float64(),
        "int": pl.Int64(),
        "bool": pl.Boolean(),
        "text": pl.String(),
        "jsonb": pl.String(),
        "kv": frames.KV,
    }
    return pl.DataFrame(schema={c.name: polars_type[c.kind] for c in columns})


# ---------------------------------------------------------------------------- COPY in
_SLICE_ROWS = 100_000


def to_csv_chunks(
    df: pl.DataFrame, kinds: dict[str, str], *, source: str | None = None
) -> list[bytes]:
    """CSV chunks (no header) in PostgreSQL's CSV dialect for ``COPY ... FROM``.

    ``kinds`` maps column -> ``timestamptz``/``kv``/other. Timestamps are written in UTC
    with microseconds; KV lists become JSON objects; NULL is an unquoted empty field and
    the empty string is ``""`` (polars quotes it), exactly as PostgreSQL reads them.
    """
    exprs = []
    for col, kind in kinds.items():
        if kind == "timestamptz":
            exprs.append(
                pl.col(col).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00")
            )
        elif kind == "kv":
            exprs.append(pg_kv.encode_objects(df[col], field=col, source=source).alias(col))
        else:
            exprs.append(pl.col(col))
    out = df.select(exprs)
    chunks = []
    for start in range(0, out.height, _SLICE_ROWS):
        part = out.slice(start, _SLICE_ROWS)
        chunks.append(
            part.write_csv(include_header=False, null_value="", quote_style="necessary").encode(
                "utf-8"
            )
        )
    return chunks


def copy_in(cursor: object, table: object, columns: Sequence[str], chunks: list[bytes]) -> None:
    """``COPY table (columns) FROM STDIN (FORMAT csv)`` with the given CSV chunks."""
    from psycopg import sql

    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with cursor.copy(stmt) as copy:  # type: ignore[attr-defined]
        for chunk in chunks:
            copy.write(chunk)
