"""PostgreSQL fixtures: a private PostgreSQL 15 cluster per test session.

``postgres_server``   the running :class:`tests.pg_server.PgCluster` (session scoped):
                      ``.url`` (no password), ``.password``, ``.admin_conninfo``, ``.port``.
``postgres_restart``  a function that restarts that server (fast shutdown: every open
                      connection is cut); the server is running again after the test.
``pg_source``         a fresh :class:`workbench.PostgresSource` on its own schema
                      (created with ``init_schema``, dropped afterwards).
``pg_admin``          a superuser psycopg connection (autocommit) for test set-up only.

The cluster is made with ``initdb`` in a temporary directory, listens on a free port on
127.0.0.1 with its unix socket in that directory, and runs as the ``postgres`` user when
the tests run as root. If it does not start, the test fails with the server log's tail.

Example::

    def test_roundtrip(pg_source, window):
        pg_source.ingest("logs", logs)
        assert pg_source.logs(None, window).frame.height == logs.height
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.pg_server import PgCluster, PgClusterError, scratch_schema


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        try:
            cluster.init()
            cluster.start()
            cluster.setup_test_user()
        except PgClusterError as exc:
            pytest.fail(f"private PostgreSQL did not start:\n{exc}")
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture
def postgres_restart(postgres_server: PgCluster) -> Iterator[Callable[[], None]]:
    def restart() -> None:
        postgres_server.restart()

    yield restart
    if not postgres_server.running:
        postgres_server.start()


@pytest.fixture
def pg_admin(postgres_server: PgCluster) -> Iterator[Any]:
    import psycopg

    conn = psycopg.connect(postgres_server.admin_conninfo, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def pg_source(postgres_server: PgCluster) -> Iterator[Any]:
    with scratch_schema(postgres_server, "t", timeout=5) as src:
        yield src
