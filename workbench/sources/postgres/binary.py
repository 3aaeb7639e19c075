"""PostgreSQL's binary ``COPY`` stream -> polars columns, vectorised with numpy.

``COPY (SELECT ...) TO STDOUT (FORMAT binary)`` sends a 19-byte header (``PGCOPY\\n\\377
\\r\\n\\0``, int32 flags, int32 header-extension length), then per row an int16 field
count and per field an int32 length (-1 = NULL) and that many bytes of the type's binary
form (big-endian), then an int16 ``-1`` trailer. The server sends one CopyData message
per row, so the messages give the row starts; the fields of all rows of a chunk are then
walked together, one numpy step per *column* (never per row or per field): read every
row's length at its cursor, move every cursor past it. The walk must end exactly at each
row's end, or the chunk is refused (:class:`~workbench.errors.BadData`), so a misread
stream cannot give wrong values.

Fixed-width values (``int2/4/8``, ``float4/8``, ``bool``, ``timestamp[tz]``: int64
microseconds since 2000-01-01) are gathered from the buffer as big-endian arrays. Text
(``text``, ``varchar``, ``name``, ``json``, ``jsonb`` after its version byte 1) is not
copied: each value becomes an Arrow *string view* (16 bytes: the length and the first
bytes inline, or a prefix and the offset into the received buffer), which polars takes
as is. ``infinity``/``-infinity`` timestamps (int64 max/min on the wire) have no polars
value and raise :class:`BadData` naming the column.

Used by ``pg_copy.copy_out(..., binary=True)``; the source's own loads use ADBC
(:mod:`workbench.sources.postgres.arrow_io`), and before it used CSV, which measured faster
than this decoder end to end on a shared 2-core machine (numbers in ``copy_out``'s
docstring and ``bench/bench_postgres.py``'s ``postgres_option_binary_copy_numpy_decode``).

Example::

    >>> frame = decode_rows([header + row1, row2, trailer], [Column("ts", "timestamptz"),
    ...                     Column("service")], first=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from workbench import frames
from workbench.errors import BadData

__all__ = ["BINARY_KINDS", "SIGNATURE", "TRAILER", "binary_readable", "decode_rows"]

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
TRAILER = b"\xff\xff"
_HEADER = len(SIGNATURE) + 8
_PAD = bytes(16)
#: 2000-01-01 (PostgreSQL's epoch) in microseconds since 1970-01-01.
_PG_EPOCH_US = 946_684_800_000_000
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min

# Column kind -> (wire width in bytes, big-endian numpy type) for fixed-width values;
# text-like kinds are absent. ``epoch_us`` is an int8 of microseconds since 1970.
_FIXED: dict[str, tuple[int, str]] = {
    "timestamptz": (8, ">i8"),
    "epoch_us": (8, ">i8"),
    "timestamp": (8, ">i8"),
    "float": (8, ">f8"),
    "float4": (4, ">f4"),
    "int": (8, ">i8"),
    "int4": (4, ">i4"),
    "int2": (2, ">i2"),
    "oid": (4, ">u4"),
    "bool": (1, "u1"),
}
_TEXT = {"text", "jsonb", "json", "kv", "kvtext", "kvjson"}
#: The column kinds this decoder reads (``copy_out(binary=True)`` refuses any other).
BINARY_KINDS = frozenset(_FIXED) | _TEXT


def binary_readable(columns: Sequence[Any]) -> bool:
    """Whether every column's kind has a binary decoder here."""
    return all(c.kind in BINARY_KINDS for c in columns)


def decode_rows(
    parts: Sequence[bytes],
    columns: Sequence[Any],
    *,
    first: bool = False,
    row0: int = 0,
    where: str | None = None,
) -> pl.DataFrame:
    """Decode CopyData messages of a binary COPY (one row each) into a frame.

    ``first`` says the first message carries the file header; a final message that is
    just the trailer is dropped. ``columns`` are ``pg_copy.Column`` (name, kind); text
    kinds come back as ``pl.String`` (``jsonb``/``kv`` without the version byte, the
    caller turns ``kv``/``kvtext`` into key/value lists), ``timestamptz``/``epoch_us`` as
    UTC datetimes. ``row0`` (rows before this chunk) and ``where`` (the table or query)
    only make error messages precise.
    """
    if parts and len(parts[-1]) >= 2 and bytes(parts[-1][-2:]) == TRAILER:
        last = parts[-1]
        if len(last) == 2 or (first and len(parts) == 1 and len(last) == _HEADER + 2):
            parts = parts[:-1]  # the trailer alone (or header + trailer: no rows)
    if not parts:
        return _empty(columns)
    # a few zero bytes after the last row let every fixed-size read below stay inside
    # the buffer, even at a NULL (whose cursor points past its row) or a short last value
    buf = b"".join([*parts, _PAD])
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    if first:
        _check_header(buf, where)
        starts[0] += _HEADER
    a = np.frombuffer(buf, dtype=np.uint8)
    n = len(parts)
    ncols = len(columns)
    short = ends - starts < 2
    if np.any(short):
        _refuse("a row message has no field count", where, row0 + _first(short))
    count = _read(a, starts, ">i2")
    if np.any(count != ncols):
        bad = _first(count != ncols)
        _refuse(f"row has {int(count[bad])} fields, expected {ncols}", where, row0 + bad)
    short = ends - starts < 2 + 4 * ncols
    if np.any(short):
        _refuse("a row is shorter than its field headers", where, row0 + _first(short))
    pos = starts + 2
    lens, data = [], []
    for _ in columns:  # one vectorised step per column, over all rows of the chunk
        past = pos + 4 > ends
        if np.any(past):
            _refuse("a field runs past the end of its row", where, row0 + _first(past))
        ln = _read(a, pos, ">i4").astype(np.int64)
        if np.any(ln < -1):
            _refuse("negative field length", where, row0 + _first(ln < -1))
        lens.append(ln)
        pos += 4
        data.append(pos)
        pos = pos + np.maximum(ln, 0)
    if np.any(pos != ends):
        _refuse("the fields do not fill the row exactly", where, row0 + _first(pos != ends))
    out = {}
    for col, ln, at in zip(columns, lens, data, strict=True):
        out[col.name] = _column(a, buf, col, ln, at, n, row0, where)
    return pl.DataFrame(out)


def _column(
    a: np.ndarray,
    buf: bytes,
    col: Any,
    ln: np.ndarray,
    at: np.ndarray,
    n: int,
    row0: int,
    where: str | None,
) -> pl.Series:
    null = ln < 0
    kind = col.kind
    if kind in _FIXED:
        width, dtype = _FIXED[kind]
        bad = ~null & (ln != width)
        if np.any(bad):
            r = _first(bad)
            _refuse(
                f"column {col.name!r} ({kind}) has a {int(ln[r])}-byte value, expected {width}",
                where,
                row0 + r,
                field=col.name,
            )
        values = _read(a, at, dtype)  # NULL rows read bytes that are masked below
        if kind in ("timestamptz", "timestamp"):
            inf = ((values == _INT64_MAX) | (values == _INT64_MIN)) & ~null
            if np.any(inf):
                r = _first(inf)
                sign = "-" if values[r] == _INT64_MIN else ""
                _refuse(
                    f"column {col.name!r} holds {sign}infinity, which a frame cannot hold "
                    f"(row {row0 + r + 1} of the result)",
                    where,
                    row0 + r,
                    field=col.name,
                    hint=f"filter it out (WHERE {col.name} <> '{sign}infinity') or replace "
                    "it with a real time (UPDATE ... SET ... WHERE ... = 'infinity')",
                )
            values = values.astype(np.int64) + _PG_EPOCH_US
        elif kind == "epoch_us":  # an int8 of microseconds since 1970 sent by the query
            values = values.astype(np.int64)
        elif kind == "bool":
            values = values != 0
        else:
            values = values.astype(values.dtype.newbyteorder("="))
        s = pl.Series(col.name, values)
        if null.any():
            s = s.scatter(np.flatnonzero(null), None)
        if kind in ("timestamptz", "epoch_us"):
            s = s.cast(frames.TS)
        elif kind == "timestamp":
            s = s.cast(pl.Datetime("us"))
        elif kind in ("float", "float4"):
            s = s.cast(pl.Float64)
        elif kind != "bool":
            s = s.cast(pl.Int64)
        return s
    if kind in ("jsonb", "kv"):  # jsonb: version byte 1, then the JSON text
        has = ~null
        if np.any(has & (ln < 1)) or np.any(a[at[has]] != 1):
            r = _first(has) if has.any() else 0
            _refuse(f"column {col.name!r}: unknown jsonb format version", where, row0 + r)
        at = at + has
        ln = ln - has
    return pl.Series(col.name, pl.from_arrow(_string_views(a, buf, ln, at, n)), dtype=pl.String)


def _string_views(a: np.ndarray, buf: bytes, ln: np.ndarray, at: np.ndarray, n: int) -> pa.Array:
    """An Arrow string-view array over ``buf`` (no copy of the text bytes).

    A view is four int32: the length, then either the value itself (up to 12 bytes,
    zero-padded) or its first 4 bytes, the buffer index (0) and its offset in ``buf``.
    """
    if a.size >= 2**31:
        raise BadData("a binary COPY chunk is over 2 GiB", hint="select fewer rows per call")
    null = ln < 0
    length = np.maximum(ln, 0).astype(np.int32)
    views = np.empty((n, 4), dtype="<i4")
    views[:, 0] = length
    head = _unaligned(buf, _V12)[at].view(np.uint8).reshape(n, 12)  # inline data or prefix
    long = length > 12
    n_long = int(np.count_nonzero(long))
    if n_long < n:  # zero the bytes past the end of short values
        head *= np.arange(12, dtype=np.int32) < length[:, None]
    views[:, 1:] = head.view("<i4")
    if n_long == n:
        views[:, 2] = 0  # buffer index
        views[:, 3] = at  # offset in the buffer
    elif n_long:
        views[:, 2] = np.where(long, 0, views[:, 2])
        views[:, 3] = np.where(long, at, views[:, 3])
    validity = None
    if null.any():
        validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string_view(), n, [validity, pa.py_buffer(views), pa.py_buffer(buf)]
    )


_V12 = np.dtype((np.void, 12))


def _unaligned(buf: bytes | np.ndarray, dtype: np.dtype | str) -> np.ndarray:
    """An array of ``dtype`` values starting at *every* byte of ``buf`` (overlapping):
    element ``i`` is the value whose first byte is ``buf[i]``."""
    dtype = np.dtype(dtype)
    return np.ndarray((len(buf) - dtype.itemsize + 1,), dtype=dtype, buffer=buf, strides=(1,))


def _read(a: np.ndarray, at: np.ndarray, dtype: str) -> np.ndarray:
    """The value of numpy type ``dtype`` (big-endian) at each byte offset of ``at``."""
    return _unaligned(a, dtype)[at]


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_header(buf: bytes, where: str | None) -> None:
    if not buf.startswith(SIGNATURE):
        _refuse("the stream does not start with the binary COPY signature", where, 0)
    flags = int.from_bytes(buf[11:15], "big")
    extension = int.from_bytes(buf[15:19], "big")
    if flags & 0x10000 or extension:  # OIDs included / header extension: not ours
        _refuse("unexpected binary COPY header flags", where, 0)


def _refuse(
    message: str,
    where: str | None,
    row: int,
    *,
    field: str | None = None,
    hint: str | None = None,
) -> None:
    raise BadData(
        f"{where}: {message}" if where else message,
        line=row + 1,
        field=field,
        hint=hint
        or "this is not PostgreSQL's binary COPY format as expected; "
        "report it with the server version",
    )


def _empty(columns: Sequence[Any]) -> pl.DataFrame:
    from workbench.sources.postgres.copy_io import _empty as empty

    return empty(columns).with_columns(
        pl.col(c.name).cast(pl.String) for c in columns if c.kind in ("kv", "kvtext")
    )
