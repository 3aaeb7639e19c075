"""Bulk reads through ADBC keep every guarantee the COPY CSV loader gave, against the real
private PostgreSQL: the same frames and dtypes (old path vs new, on the same rows), the
deadline (socket cut, or adbc_cancel while fetching), the row budget while streaming, TLS
settings handed to ADBC's libpq, and no password in any encoding."""

from __future__ import annotations

import glob
import logging
import os
import tempfile
import time
import traceback
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.servers import free_port
from tests.test_postgres_binary import TYPES_SQL
from tests.test_postgres_source import EVERYTHING, MAKERS, SORT
from workbench import AuthError, PostgresSource, Secret, SourceUnavailable, frames
from workbench.secrets import encoded_forms

pytestmark = pytest.mark.service


def _old_path(pg_source: Any, postgres_server: Any, kind: str) -> pl.DataFrame:
    """The frame the COPY CSV loader (copy_io.copy_out, the product path until now)
    gives for the same table: timestamps as integer microseconds, the kv text column."""
    import psycopg
    from psycopg import sql

    from workbench.sources.postgres.copy_io import Column, copy_out
    from workbench.sources.postgres.schema import COLUMNS
    from workbench.sources.postgres.source import _KV_COLUMN, _output

    kv = _KV_COLUMN[kind]
    cols = []
    for c, t in COLUMNS[kind]:
        k = "kvtext" if c == kv else "epoch_us" if t.startswith("timestamptz") else "text"
        cols.append(Column(c, "float" if t.startswith("double") else k))
    select = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(_output(c, kv) for c in cols), sql.Identifier(pg_source.schema, kind)
    )
    with (
        psycopg.connect(
            postgres_server.url, password=postgres_server.password, autocommit=True
        ) as conn,
        conn.cursor() as cur,
    ):
        return copy_out(cur, select, None, cols)


@pytest.mark.parametrize("kind", ["metrics", "logs", "spans", "events"])
def test_adbc_frame_equals_the_copy_csv_frame(pg_source, postgres_server, kind: str) -> None:
    pg_source.ingest(kind, MAKERS[kind]())  # nulls, multi-line text, unicode, kv, tz times
    new = pg_source.load(kind, EVERYTHING).frame
    old = _old_path(pg_source, postgres_server, kind)
    assert new.schema == old.schema  # the same dtypes, column for column
    assert new.height == old.height > 0
    cols = list(frames.SCHEMAS[kind])
    assert_frame_equal(
        new.select(cols).sort(SORT[kind], nulls_last=True),
        old.select(cols).sort(SORT[kind], nulls_last=True),
    )


def test_user_sql_types_equal_the_copy_csv_frame(pg_source, postgres_server) -> None:
    import psycopg

    from workbench.sources.postgres.copy_io import columns_from_description, copy_out

    query = TYPES_SQL.replace(
        "SELECT *",
        "SELECT *, v.i2::numeric / 3 AS num, '1 day 2 hours'::interval AS iv, "
        "date '2026-11-20' AS d, '6f1c0a8e-1111-4222-8333-944455556666'::uuid AS u, "
        "0.1::float4 AS f4small",
    )
    new = pg_source.query(query).frame
    with (
        psycopg.connect(
            postgres_server.url,
            password=postgres_server.password,
            autocommit=True,
            options="-c extra_float_digits=1 -c IntervalStyle=iso_8601 -c TimeZone=UTC",
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(query + " LIMIT 0")
        old = copy_out(cur, query, None, columns_from_description(cur.description))
    assert new.schema == old.schema
    assert new.equals(old, null_equal=True), (new, old)
    assert new["f4small"][0] == 0.1 and new["iv"][0] == "P1DT2H"
    # with a declared kind, the jsonb column becomes key/value lists on both paths
    pg_source.ingest("logs", MAKERS["logs"]())
    got = pg_source.query(f"SELECT * FROM {pg_source.schema}.logs", kind="logs").frame
    assert got.schema["attributes"] == frames.KV
    assert got.height == MAKERS["logs"]().height


def test_the_row_budget_stops_the_stream_early(pg_source) -> None:
    from workbench.sources.postgres import arrow_io
    from workbench.sources.postgres.copy_io import RowBudgetExceeded

    conn = pg_source._adbc_connection()
    query = "SELECT g, md5(g::text) AS h FROM generate_series(1, 2000000) g"  # no LIMIT
    t0 = time.perf_counter()
    assert arrow_io.read(conn, query, None).height == 2_000_000
    whole = time.perf_counter() - t0
    t0 = time.perf_counter()
    with pytest.raises(RowBudgetExceeded):  # only the budget stops it: after one batch
        arrow_io.read(conn, query, None, max_rows=10)
    assert time.perf_counter() - t0 < 0.6 * whole
    pg_source.close()
    assert pg_source.query("SELECT 1 AS one").frame["one"].to_list() == [1]


def test_deadline_cuts_the_adbc_socket(pg_source, monkeypatch) -> None:
    pg_source.query("SELECT 1 AS warm")
    assert pg_source._asock is not None  # the watchdog knows the ADBC connection's socket
    monkeypatch.setattr(pg_source, "deadline_s", 1.0)  # shorter than the server's timeout
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable, match="did not answer within 1 s"):
        pg_source.query("SELECT g, pg_sleep(0.02)::text AS s FROM generate_series(1, 500) g")
    assert time.monotonic() - t0 < 4
    assert pg_source.query("SELECT 2 AS two").frame["two"].to_list() == [2]


def test_deadline_falls_back_to_adbc_cancel_while_fetching(pg_source, monkeypatch) -> None:
    from workbench.sources.postgres import arrow_io

    monkeypatch.setattr(arrow_io, "socket_of", lambda before, port: None)
    pg_source.close()
    pg_source.query("SELECT 1 AS warm")
    assert pg_source._asock is None
    monkeypatch.setattr(pg_source, "deadline_s", 1.0)
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable, match="did not answer within 1 s"):
        # rows stream for 10 s: the cancel arrives while they are being fetched
        pg_source.query("SELECT g, pg_sleep(0.02)::text AS s FROM generate_series(1, 500) g")
    assert time.monotonic() - t0 < 4
    assert pg_source.query("SELECT 3 AS three").frame["three"].to_list() == [3]


def _leaks(text: str, secret: str) -> list[str]:
    return [f for f in [*encoded_forms(secret), secret[:12]] if f in text]


def _everything(err: BaseException) -> str:
    parts = [str(err), repr(err), err._repr_html_(), str(err.details())]  # type: ignore[attr-defined]
    return "\n".join([*parts, "".join(traceback.format_exception(err))])


def test_adbc_errors_hold_no_password_in_any_encoding(postgres_server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "Wr0ng:pässw\\ord-'; DROP 9f8e7d"
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "wb-pgpass-*")))
    wrong = PostgresSource(postgres_server.url, password=Secret.value(bad))
    with pytest.raises(AuthError) as info:
        wrong.logs(None, EVERYTHING)
    assert info.value.error_type == "28P01"
    down = PostgresSource(
        f"postgres://wb_test@127.0.0.1:{free_port()}/wb", password=Secret.value(bad), timeout=2
    )
    with pytest.raises(SourceUnavailable) as info2:
        down.query("SELECT 1")
    text = _everything(info.value) + _everything(info2.value) + caplog.text
    text += repr(wrong) + str(wrong.describe()) + repr(down) + str(down.describe())
    assert not _leaks(text, bad)
    # the password went through a passfile that is gone once connected (or refused)
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "wb-pgpass-*"))) == before


def test_a_password_with_passfile_specials_connects(postgres_server, pg_admin) -> None:
    from psycopg import sql

    pw = "a:b\\c:*: d'\"é"  # ':' and '\' are escaped in a passfile
    pg_admin.execute(sql.SQL("CREATE ROLE wb_colon LOGIN PASSWORD {}").format(sql.Literal(pw)))
    try:
        url = postgres_server.url.replace("wb_test@", "wb_colon@")
        src = PostgresSource(url, password=Secret.value(pw))
        assert src.query("SELECT current_user AS u").frame["u"].to_list() == ["wb_colon"]
        src.close()
    finally:
        pg_admin.execute("DROP ROLE wb_colon")


def test_adbc_gets_the_tls_settings(postgres_server, monkeypatch) -> None:
    from workbench.sources.postgres import arrow_io

    seen: list[dict[str, str]] = []
    real = arrow_io.connect

    def spy(params: Any, password: str | None) -> Any:
        seen.append(dict(params))
        return real(params, password)

    monkeypatch.setattr(arrow_io, "connect", spy)
    remote = postgres_server.url.replace("127.0.0.1", "pg.test") + "?hostaddr=127.0.0.1"
    src = PostgresSource(remote, password=Secret.value(postgres_server.password))
    assert src.query("SELECT 1 AS one").rows == 1
    assert seen[0]["sslmode"] == "verify-full" and seen[0]["sslrootcert"] == "system"
    assert seen[-1]["sslmode"] == "disable" and src.tls == "none"  # no TLS offered
    assert all("password" not in p for p in seen)
    src.close()
    required = PostgresSource(
        postgres_server.url + "?sslmode=require", password=Secret.value(postgres_server.password)
    )
    with pytest.raises(SourceUnavailable) as info:  # the test server has no TLS
        required.logs(None, EVERYTHING)
    assert "ssl" in (info.value.detail or "").lower()


def test_user_sql_is_read_only_unless_asked(pg_source, pg_admin) -> None:
    from workbench import QueryError

    seq = f"{pg_source.schema}.s"
    pg_admin.execute(f"CREATE SEQUENCE {seq}")
    pg_admin.execute(f"GRANT USAGE ON SEQUENCE {seq} TO wb_test")
    with pytest.raises(QueryError) as info:
        pg_source.query(f"SELECT nextval('{seq}') AS n")
    assert info.value.error_type == "25006"  # read-only transaction
    assert pg_source.query(f"SELECT nextval('{seq}') AS n", read_only=False).rows == 1
    with pytest.raises(QueryError):  # and read-only again afterwards
        pg_source.query(f"SELECT nextval('{seq}') AS n")


def test_words_in_the_query_are_not_read_as_a_lost_connection(pg_source, caplog) -> None:
    from workbench import QueryError

    caplog.set_level(logging.INFO, logger="workbench.sources.postgres")
    pg_source.query("SELECT 1 AS warm")
    with pytest.raises(QueryError) as info:
        pg_source.query("SELECT 1/0 AS x, 'server closed the connection; FATAL: broken pipe' AS t")
    assert info.value.error_type == "22012"
    assert "division by zero" in (info.value.detail or "")
    assert "reconnecting" not in caplog.text  # no retry: the connection was fine
    assert "Query was" not in str(info.value)
