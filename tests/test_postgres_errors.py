"""Each PostgreSQL failure gives its own typed error, against the real private server:
unreachable, wrong password, SQL errors with SQLSTATE, statement timeout, row budget,
connection lost mid-load, a restart between loads, and no password anywhere."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from datetime import UTC, datetime, timedelta

import pytest

from tests.servers import free_port
from workbench import (
    AuthError,
    ConfigError,
    LimitExceeded,
    PostgresSource,
    QueryError,
    Secret,
    SourceUnavailable,
    Window,
    frames,
)

pytestmark = pytest.mark.service

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
W = Window(T0, T0 + timedelta(hours=1))


def _everything_printed(err: BaseException) -> str:
    """All text a user could see: str, repr, HTML, details, and the chained traceback."""
    parts = [str(err), repr(err), err._repr_html_(), str(err.details())]  # type: ignore[attr-defined]
    parts.append("".join(traceback.format_exception(err)))
    return "\n".join(parts)


def _logs(n: int) -> object:
    import polars as pl

    return pl.DataFrame(
        {
            "ts": [T0 + timedelta(seconds=i) for i in range(n)],
            "service": ["checkout"] * n,
            "level": ["info"] * n,
            "message": [f"m{i}" for i in range(n)],
            "trace_id": [None] * n,
            "span_id": [None] * n,
            "attributes": [[]] * n,
        },
        schema=frames.SCHEMAS["logs"],
    )


def test_unreachable_server_is_source_unavailable_within_timeout(hostile) -> None:
    hostile.fault("postgresql")
    src = PostgresSource(f"postgres://wb@127.0.0.1:{free_port()}/wb", name="pg-down", timeout=2)
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable) as info:
        src.logs(None, W)
    assert time.monotonic() - t0 < 5
    assert info.value.source == "pg-down"
    assert "refused" in (info.value.detail or "").lower()


def test_wrong_password_is_auth_error_and_never_echoed(hostile, postgres_server, caplog) -> None:
    hostile.fault("postgresql")
    caplog.set_level(logging.DEBUG)
    bad = "Wr0ng-pässword-'; DROP"
    src = PostgresSource(postgres_server.url, password=Secret.value(bad))
    with pytest.raises(AuthError) as info:
        src.logs(None, W)
    err = info.value
    assert err.error_type == "28P01"
    text = _everything_printed(err) + repr(src) + str(src.describe()) + caplog.text
    assert bad not in text
    assert postgres_server.password not in text


def test_password_in_url_is_moved_into_a_secret(postgres_server) -> None:
    from urllib.parse import quote

    url = postgres_server.url.replace(
        "wb_test@", f"wb_test:{quote(postgres_server.password, safe='')}@"
    )
    src = PostgresSource(url, schema="nothing_here")
    assert postgres_server.password not in repr(src) + str(src.describe()) + src.url
    with pytest.raises(QueryError) as info:  # it connects (password used) ...
        src.logs(None, W)
    assert info.value.error_type == "42P01"  # ... and the schema does not exist
    assert "schema init" in (info.value.hint or "")
    assert postgres_server.password not in _everything_printed(info.value)
    with pytest.raises(ConfigError, match="both"):
        PostgresSource(url, password=Secret.value("x"))


def test_sql_error_carries_sqlstate_and_server_message(hostile, pg_source) -> None:
    hostile.fault("postgresql")
    with pytest.raises(QueryError) as info:
        pg_source.query("SELECT no_such_column FROM pg_class")
    assert info.value.error_type == "42703"
    assert "no_such_column" in (info.value.detail or "")
    with pytest.raises(QueryError) as info:
        pg_source.query("SELECT 1/0 AS x")
    assert info.value.error_type == "22012"
    # the source still works after errors
    assert pg_source.query("SELECT 1 AS one").frame["one"].to_list() == [1]


def test_statement_timeout_is_query_error_with_hint(hostile, postgres_server) -> None:
    hostile.fault("postgresql")
    src = PostgresSource(
        postgres_server.url,
        password=Secret.value(postgres_server.password),
        statement_timeout=0.5,
    )
    t0 = time.monotonic()
    with pytest.raises(QueryError) as info:
        src.query("SELECT pg_sleep(5) AS s")
    assert time.monotonic() - t0 < 4
    assert info.value.error_type == "57014"
    assert "timeout" in (info.value.hint or "")
    assert src.query("SELECT 2 AS two").frame["two"].to_list() == [2]
    src.close()


def test_row_budget_gives_limit_exceeded_not_a_short_frame(
    hostile, postgres_server, pg_source
) -> None:
    hostile.fault("postgresql")
    pg_source.ingest("logs", _logs(50))
    small = PostgresSource(
        postgres_server.url,
        password=Secret.value(postgres_server.password),
        schema=pg_source.schema,
        max_rows=49,
    )
    with pytest.raises(LimitExceeded) as info:
        small.logs(None, W)
    assert info.value.limit == "max_rows=49"
    with pytest.raises(LimitExceeded):
        small.query(f"SELECT * FROM {pg_source.schema}.logs")
    assert small.query(f"SELECT * FROM {pg_source.schema}.logs", max_rows=50).rows == 50
    exact = PostgresSource(
        postgres_server.url,
        password=Secret.value(postgres_server.password),
        schema=pg_source.schema,
        max_rows=50,
    )
    assert exact.logs(None, W).rows == 50
    small.close()
    exact.close()


def test_connection_killed_mid_load_is_typed_and_source_recovers(
    hostile, pg_source, pg_admin
) -> None:
    hostile.fault("postgresql")
    slow = (
        "SELECT g AS n, repeat('x', 2000) AS pad, pg_sleep(0.01)::text AS s "
        "FROM generate_series(1, 400) g"
    )
    pg_source.query("SELECT 1 AS warm")  # a pooled connection exists
    pid = pg_source.query("SELECT pg_backend_pid() AS pid").frame["pid"][0]

    def kill_soon() -> None:
        time.sleep(1.0)
        pg_admin.execute("SELECT pg_terminate_backend(%s)", (int(pid),))

    th = threading.Thread(target=kill_soon)
    th.start()
    try:
        with pytest.raises(SourceUnavailable) as info:
            pg_source.query(slow)
    finally:
        th.join()
    assert "rows" in (info.value.detail or "")  # rows had arrived: no silent retry
    assert pg_source.query("SELECT 3 AS three").frame["three"].to_list() == [3]


def test_restart_between_loads_reconnects(hostile, pg_source, postgres_restart, caplog) -> None:
    hostile.fault("postgresql")
    pg_source.ingest("logs", _logs(10))
    assert pg_source.logs(None, W).rows == 10
    postgres_restart()  # the pooled connection is now dead
    caplog.set_level(logging.INFO, logger="workbench.sources.postgres")
    assert pg_source.logs(None, W).rows == 10
    assert "reconnecting" in caplog.text  # the dead connection was noticed and replaced


def test_server_down_then_back(hostile, pg_source, postgres_server) -> None:
    hostile.fault("postgresql")
    pg_source.ingest("logs", _logs(5))
    postgres_server.stop()
    try:
        with pytest.raises(SourceUnavailable):
            pg_source.logs(None, W)
    finally:
        postgres_server.start()
    assert pg_source.logs(None, W).rows == 5


def test_bad_configuration_is_config_error() -> None:
    with pytest.raises(ConfigError):
        PostgresSource("http://example.com/db")
    with pytest.raises(ConfigError):
        PostgresSource("postgres://h/db", password="plain")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        PostgresSource("postgres://h/db", max_rows=0)
    src = PostgresSource("postgresql+psycopg://u@h:5433/db", password=Secret.env("PGPASSWORD"))
    assert src.url == "postgresql://u@h:5433/db"
    assert "PGPASSWORD" in repr(src.describe()["password"])
