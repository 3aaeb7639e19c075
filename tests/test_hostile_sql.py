"""SQL injection (issue 8 point 3), against the real PostgreSQL: service names and
free-text searches with quotes, backslashes, LIKE wildcards, newlines and SQL fragments
select exactly the rows a Python filter selects (bound parameters; the query's meaning
never changes). A NUL character, which PostgreSQL text cannot hold, is a typed error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugins.hostile import HostileCounter, examples
from workbench import frames
from workbench.errors import WorkbenchError
from workbench.timewindow import Window

pytestmark = pytest.mark.service

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
W = Window(T0, T0 + timedelta(hours=1))
NASTY = ["'", "''", '"', "\\", "\\'", "%", "_", "%_%", "\n", "\r\n", "\t", ";", "--", "/*",
         "*/", "$1", "$$", "{}", "%s", "%(x)s", "é", "🙂", "' OR '1'='1", "'; DROP TABLE logs; --",
         "checkout", "a' || 'b", "E'\\x41'", "::text", "(", ")"]  # fmt: skip
piece = st.sampled_from(NASTY) | st.text(max_size=3).filter(lambda s: "\x00" not in s)
hostile_text = st.lists(piece, min_size=1, max_size=4).map("".join)
STORED_SERVICES = ["checkout", "check%out", "check_out", "o'brien", 'say "hi"', "back\\slash",
                   "multi\nline", "'; DROP TABLE logs; --", "$1", "%s", "🙂"]  # fmt: skip
MESSAGES = [f"m{i} {NASTY[i % len(NASTY)]} {NASTY[(i * 7) % len(NASTY)]}" for i in range(120)]


@pytest.fixture(scope="module")
def hostile_pg(postgres_server: Any) -> Iterator[tuple[Any, pl.DataFrame]]:
    import psycopg
    from psycopg import sql

    from workbench import PostgresSource, Secret

    schema = f"h_{uuid.uuid4().hex[:10]}"
    src = PostgresSource(
        postgres_server.url, password=Secret.value(postgres_server.password), schema=schema
    )
    src.init_schema()
    n = len(MESSAGES)
    logs = pl.DataFrame(
        {
            "ts": [T0 + timedelta(seconds=i) for i in range(n)],
            "service": [STORED_SERVICES[i % len(STORED_SERVICES)] for i in range(n)],
            "level": ["info"] * n,
            "message": MESSAGES,
            "trace_id": [None] * n,
            "span_id": [None] * n,
            "attributes": [[{"key": "k", "value": NASTY[i % len(NASTY)]}] for i in range(n)],
        },
        schema=frames.SCHEMAS["logs"],
    )
    src.ingest("logs", logs)
    try:
        yield src, logs
    finally:
        src.close()
        with psycopg.connect(postgres_server.admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    service=st.sampled_from(STORED_SERVICES) | hostile_text,
    text=st.sampled_from(NASTY) | hostile_text,
    nul=st.integers(0, 30),
)
def test_hostile_values_select_exactly_the_matching_rows(
    hostile: HostileCounter, hostile_pg: tuple[Any, pl.DataFrame], service: str, text: str,
    nul: int,
) -> None:  # fmt: skip
    hostile.count("sql-builder")
    src, logs = hostile_pg
    if nul == 0:  # PostgreSQL text cannot hold NUL: a typed error, never a wrong answer
        with pytest.raises(WorkbenchError):
            src.logs(text + "\x00", W)
        return
    got = src.logs(None, W, services=[service, "nobody"]).frame
    assert got.height == logs.filter(pl.col("service") == service).height
    assert set(got["service"].to_list()) <= {service}
    found = src.logs(text, W).frame
    assert sorted(found["message"].to_list()) == sorted(m for m in MESSAGES if text in m)
    both = src.logs(text, W, services=[service]).frame
    assert both.height == sum(
        1 for m, s in zip(MESSAGES, logs["service"], strict=True) if text in m and s == service
    )
    # the table is intact (no fragment ever ran as SQL)
    assert src.logs(None, W).rows == len(MESSAGES)
