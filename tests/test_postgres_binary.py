"""The binary COPY decoder (workbench.sources.postgres.binary): hand-made buffers, then the
same types sent by a real PostgreSQL 15 and compared value by value."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from workbench import BadData, Window, frames
from workbench.sources.postgres.binary import SIGNATURE, TRAILER, binary_readable, decode_rows
from workbench.sources.postgres.copy_io import Column

HEADER = SIGNATURE + b"\0\0\0\0" + b"\0\0\0\0"
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def field(value: bytes | None) -> bytes:
    return struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value


def row(*values: bytes | None) -> bytes:
    return struct.pack(">h", len(values)) + b"".join(field(v) for v in values)


def ts(dt: datetime) -> bytes:
    return struct.pack(">q", (dt - PG_EPOCH) // timedelta(microseconds=1))


def text(s: str) -> bytes:
    return s.encode()


def jsonb(s: str) -> bytes:
    return b"\x01" + s.encode()


COLS = [
    Column("ts", "timestamptz"),
    Column("name"),
    Column("v", "float"),
    Column("attrs", "jsonb"),
    Column("n", "int4"),
    Column("ok", "bool"),
]
TIMES = [
    datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before both epochs
    datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),  # just before PostgreSQL's epoch
]
ROWS = [
    row(ts(TIMES[0]), text("ünïcødé ✓ and longer than twelve"), struct.pack(">d", 0.1 + 0.2),
        jsonb('{"pod": "a", "ö": "✓"}'), struct.pack(">i", -7), b"\x01"),
    row(ts(TIMES[1]), text(""), None, None, None, b"\x00"),
    row(ts(TIMES[2]), None, struct.pack(">d", -math.inf), jsonb("{}"),
        struct.pack(">i", 2**31 - 1), None),
    row(None, text("exactly12chr"), struct.pack(">d", math.nan), jsonb(""),
        struct.pack(">i", -(2**31)), b"\x01"),
]  # fmt: skip


def test_decodes_nulls_empty_unicode_negative_times_and_jsonb() -> None:
    df = decode_rows([HEADER + ROWS[0], *ROWS[1:], TRAILER], COLS, first=True)
    assert df.schema == pl.Schema(
        {
            "ts": frames.TS,
            "name": pl.String,
            "v": pl.Float64,
            "attrs": pl.String,
            "n": pl.Int64,
            "ok": pl.Boolean,
        }
    )
    assert df["ts"].to_list() == [*TIMES, None]
    assert df["name"].to_list() == ["ünïcødé ✓ and longer than twelve", "", None, "exactly12chr"]
    assert df["name"].is_null().to_list() == [False, False, True, False]  # "" is not NULL
    v = df["v"].to_list()
    assert v[0] == 0.1 + 0.2 and v[1] is None and v[2] == -math.inf and math.isnan(v[3])
    assert df["attrs"].to_list() == ['{"pod": "a", "ö": "✓"}', None, "{}", ""]
    assert df["n"].to_list() == [-7, None, 2**31 - 1, -(2**31)]
    assert df["ok"].to_list() == [True, False, None, True]


def test_later_chunks_and_the_empty_stream() -> None:
    cols = [Column("s"), Column("i", "int")]
    parts = [row(text("x" * n), struct.pack(">q", n - 3)) for n in range(30)]
    whole = decode_rows([HEADER + parts[0], *parts[1:]], cols, first=True)
    tail = decode_rows([*parts[10:], TRAILER], cols, row0=10)
    assert whole["s"].to_list() == ["x" * n for n in range(30)]  # every inline/view length
    assert whole["i"].to_list() == list(range(-3, 27))
    assert tail.equals(whole.slice(10))
    empty = decode_rows([HEADER + TRAILER], cols, first=True)
    assert empty.height == 0 and empty.schema == pl.Schema({"s": pl.String, "i": pl.Int64})
    assert decode_rows([TRAILER], cols).height == 0


@pytest.mark.parametrize(
    ("parts", "match", "line"),
    [
        ([HEADER + row(text("a"))], "1 fields, expected 2", 1),
        ([HEADER + row(text("a"), text("b")), row(text("c"))], "1 fields, expected 2", 2),
        ([HEADER + row(text("a"), text("b"))[:-1]], "do not fill the row|runs past", 1),
        ([HEADER + row(text("a"), text("b")) + b"\0"], "do not fill the row", 1),
        ([b"PGCOPX\n\xff\r\n\x00" + HEADER[11:] + row(text("a"), text("b"))], "signature", 1),
    ],
)
def test_a_misread_stream_is_refused_with_the_row(parts, match, line) -> None:
    with pytest.raises(BadData, match=match) as info:
        decode_rows(parts, [Column("a"), Column("b")], first=True, where="s.logs")
    assert info.value.line == line and "s.logs" in info.value.message


def test_wrong_width_and_jsonb_version_are_refused() -> None:
    with pytest.raises(BadData, match="4-byte value, expected 8") as info:
        decode_rows([row(struct.pack(">i", 1))], [Column("x", "float")], row0=4)
    assert info.value.field == "x" and info.value.line == 5
    with pytest.raises(BadData, match="jsonb format version"):
        decode_rows([row(b"\x02{}")], [Column("j", "jsonb")])


@pytest.mark.parametrize(("wire", "word"), [(2**63 - 1, "infinity"), (-(2**63), "-infinity")])
def test_infinite_timestamps_name_the_column(wire: int, word: str) -> None:
    parts = [row(ts(TIMES[0]), text("a")), row(struct.pack(">q", wire), text("b"))]
    with pytest.raises(BadData, match=f"holds {word}") as info:
        decode_rows(parts, [Column("start", "timestamptz"), Column("s")], where="wb.spans")
    assert info.value.field == "start" and info.value.line == 2
    assert "wb.spans" in info.value.message and "WHERE start" in (info.value.hint or "")


def test_types_without_a_binary_decoder_are_not_read_as_binary() -> None:
    assert binary_readable([Column("a"), Column("t", "timestamptz"), Column("k", "kvtext")])
    assert not binary_readable([Column("a"), Column("n", "numeric")])
    assert not binary_readable([Column("u", "other")])


# ------------------------------------------------------------------ real server

TYPES_SQL = """
SELECT * FROM (VALUES
  (timestamptz '2026-11-20 10:00:00.123456+00', timestamp '1960-02-29 23:59:59.5',
   'ünïcødé ✓ and longer than twelve'::text, ''::varchar, 'ab'::char(4), 'nm'::name,
   1::int2, '-2'::int4, 9007199254740993::int8, 4000000000::oid, 0.1::float8, 1.5::float4,
   true, '{"b": "x", "a": [1]}'::jsonb, '{"z" : 1}'::json),
  (timestamptz '1969-12-31 23:59:59.999999+00', NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, 'NaN'::float8, '-Infinity'::float4, false, NULL, NULL),
  (timestamptz '1999-12-31 23:59:59.000001+00', timestamp '2000-01-01', E'tab\\tline\\n"q"',
   'x', NULL, '', '-32768'::int2, 2147483647::int4, '-9223372036854775808'::int8, 0::oid,
   '-0.0'::float8, NULL, NULL, '{}'::jsonb, '[]'::json)
) AS v(tz, ts, t, vc, ch, nm, i2, i4, i8, o, f8, f4, b, jb, js)
"""


@pytest.mark.service
def test_every_binary_type_matches_what_the_server_sent(postgres_server) -> None:
    import psycopg

    from workbench.sources.postgres.copy_io import columns_from_description, copy_out

    with (
        psycopg.connect(
            postgres_server.url, password=postgres_server.password, autocommit=True
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(TYPES_SQL + " LIMIT 0")
        cols = columns_from_description(cur.description)
        assert binary_readable(cols)
        got = copy_out(cur, TYPES_SQL, None, cols, binary=True)
        # the server's own text form of the same rows, to compare against
        cur.execute(TYPES_SQL)
        want = cur.fetchall()
    assert got.height == 3
    assert got["tz"].to_list() == [r[0] for r in want]
    assert got["ts"].to_list() == [r[1] for r in want]
    for i, name in enumerate(["t", "vc", "ch", "nm"], start=2):
        assert got[name].to_list() == [r[i] for r in want], name
    assert got["ch"][0] == "ab  "  # char(n) keeps its padding, as in text output
    for i, name in enumerate(["i2", "i4", "i8", "o"], start=6):
        assert got[name].to_list() == [r[i] for r in want], name
    f8 = got["f8"].to_list()
    assert f8[0] == 0.1 and math.isnan(f8[1]) and f8[2] == 0.0 and math.copysign(1, f8[2]) < 0
    assert got["f4"].to_list()[0] == 1.5 and got["f4"].to_list()[1] == -math.inf
    assert got["f4"][2] is None
    assert got["b"].to_list() == [True, False, None]
    assert got["jb"].to_list() == ['{"a": [1], "b": "x"}', None, "{}"]  # jsonb canonical
    assert got["js"].to_list() == ['{"z" : 1}', None, "[]"]  # json verbatim
    assert got.schema["tz"] == frames.TS and got.schema["ts"] == pl.Datetime("us")
    assert got.schema["o"] == pl.Int64 and got.schema["f4"] == pl.Float64


@pytest.mark.service
def test_binary_and_csv_give_the_same_frame(postgres_server) -> None:
    import psycopg

    from workbench.sources.postgres.copy_io import columns_from_description, copy_out

    query = TYPES_SQL.replace("SELECT *", "SELECT tz, ts, t, vc, ch, nm, i2, i4, i8, o, b, jb")
    with (
        psycopg.connect(
            postgres_server.url, password=postgres_server.password, autocommit=True
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(query + " LIMIT 0")
        cols = columns_from_description(cur.description)
        binary = copy_out(cur, query, None, cols, binary=True)
        csv = copy_out(cur, query, None, cols, binary=False)
    assert binary.equals(csv, null_equal=True)


@pytest.mark.service
def test_infinity_in_a_workbench_table_is_bad_data_naming_the_column(
    pg_source, postgres_server
) -> None:
    import psycopg

    with psycopg.connect(
        postgres_server.url, password=postgres_server.password, autocommit=True
    ) as conn:
        conn.execute(
            f'INSERT INTO {pg_source.schema}.events (ts, "end", kind, title) VALUES '
            "('2026-11-20 10:00+00', 'infinity', 'deploy', 'never ends')"
        )
    w = Window(datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    with pytest.raises(BadData, match="holds infinity") as info:
        pg_source.events(w)
    err = info.value
    assert err.field == "end" and err.source == pg_source.name
    assert f"{pg_source.schema}.events" in err.message and "isfinite" in (err.hint or "")
    # the source stays usable, and a window without that row loads
    before = Window(w.start - timedelta(days=1), w.start)
    assert pg_source.events(before).frame.height == 0


@pytest.mark.service
def test_user_sql_with_types_binary_cannot_read_loads(pg_source) -> None:
    got = pg_source.query(
        "SELECT 1.25::numeric AS n, '6f1c0a8e-1111-4222-8333-944455556666'::uuid AS u, "
        "interval '90 minutes' AS d, NULL::text AS t"
    ).frame
    assert got["n"].to_list() == [1.25]
    assert got["u"].to_list() == ["6f1c0a8e-1111-4222-8333-944455556666"]
    assert got["d"].to_list() == ["PT1H30M"]  # IntervalStyle=iso_8601 on our connections
    assert got["t"].to_list() == [None]
    from workbench import ConfigError
    from workbench.sources.postgres.copy_io import copy_out

    with pytest.raises(ConfigError, match="no binary decoder"):
        copy_out(None, "SELECT 1.5::numeric", None, [Column("n", "numeric")], binary=True)


def test_decoder_is_vectorised_over_rows() -> None:
    """Many rows in one call (the shape the source feeds it), values read back exactly."""
    rng = np.random.default_rng(7)
    n = 5000
    us = rng.integers(-(2**50), 2**50, n)
    words = [("é" * int(k)) for k in rng.integers(0, 20, n)]
    parts = [row(struct.pack(">q", int(u)), text(w)) for u, w in zip(us, words, strict=True)]
    df = decode_rows([HEADER + parts[0], *parts[1:], TRAILER], [Column("t", "timestamp"),
                     Column("w")], first=True)  # fmt: skip
    assert df["t"].cast(pl.Int64).to_list() == (us + 946_684_800_000_000).tolist()
    assert df["w"].to_list() == words


@pytest.mark.service
def test_binary_in_many_chunks_matches_csv_and_a_late_error_surfaces(
    postgres_server, monkeypatch
) -> None:
    import psycopg

    from workbench.sources.postgres import copy_io as pg_copy

    monkeypatch.setattr(pg_copy, "CHUNK_ROWS", 64)  # ~30 chunks: decoded while rows arrive
    query = (
        "SELECT timestamptz '2026-01-01' + g * interval '1.5 s' AS ts, repeat('é', g % 17) "
        "AS s, CASE WHEN g % 5 = 0 THEN NULL ELSE g * 0.5 END::float8 AS v "
        "FROM generate_series(1, 2000) g"
    )
    cols = [Column("ts", "timestamptz"), Column("s"), Column("v", "float")]
    with (
        psycopg.connect(
            postgres_server.url, password=postgres_server.password, autocommit=True
        ) as conn,
        conn.cursor() as cur,
    ):
        binary = pg_copy.copy_out(cur, query, None, cols, binary=True, max_rows=2000)
        assert binary.equals(pg_copy.copy_out(cur, query, None, cols), null_equal=True)
        assert binary.height == 2000 and binary["ts"].is_sorted()
        bad = query.replace(
            "timestamptz '2026-01-01' + g",
            "CASE WHEN g = 1500 THEN 'infinity'::timestamptz ELSE timestamptz '2026-01-01' END + g",
        )
        with pytest.raises(BadData, match="holds infinity") as info:
            pg_copy.copy_out(cur, bad, None, cols, binary=True)
        assert info.value.line == 1500 and info.value.field == "ts"
        assert cur.execute("SELECT 1").fetchone() == (1,)  # the connection is still fine
        with pytest.raises(pg_copy.RowBudgetExceeded):
            pg_copy.copy_out(cur, query, None, cols, binary=True, max_rows=1999)
