"""ClickHouse source against the real ClickHouse engine (chdb) behind its HTTP interface."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from tests.plugins.clickhouse_chdb import LOGS_T0, SERVICES
from workbench import frames
from workbench.errors import ConfigError, QueryError
from workbench.sources.clickhouse import ClickHouseSource
from workbench.timewindow import Window

W = Window(LOGS_T0, LOGS_T0 + timedelta(minutes=10))


def test_logs_in_the_contract_with_levels_ids_and_attributes(clickhouse_http) -> None:
    res = ClickHouseSource(clickhouse_http.url).logs(None, W)
    df = res.frame
    assert df.height == 120 and not res.partial
    frames.validate(df, "logs")
    assert set(df["service"]) == set(SERVICES)
    assert set(df["level"]) == {"info", "warn", "error", "debug", "fatal", "unknown"}
    assert df.filter(pl.col("trace_id").is_null()).height == 80  # '' is no trace
    row = df.filter(pl.col("message") == "request 7 ok").row(0, named=True)
    assert {"key": "n", "value": "7"} in row["attributes"]
    assert row["ts"] == LOGS_T0 + timedelta(milliseconds=7 * 1500)


def test_filters_are_parameters_not_text(clickhouse_http) -> None:
    src = ClickHouseSource(clickhouse_http.url)
    df = src.logs("timeout", W, services=["pay'ment"]).frame
    assert df.height == 8 and set(df["service"]) == {"pay'ment"}
    assert all("timeout" in m for m in df["message"])
    q = clickhouse_http.requests[-1].query
    assert "pay'ment" not in q["query"] and q["param_services"] == "['pay\\'ment']"
    assert src.logs("x') OR 1=1 --", W).frame.height == 0


def test_spans_kinds_statuses_parents_and_durations(clickhouse_http) -> None:
    res = ClickHouseSource(clickhouse_http.url).spans(None, W)
    df = res.frame
    frames.validate(df, "spans")
    assert df.height == 40 and df["trace_id"].n_unique() == 10
    assert set(df["kind"]) == {"server", "client", "internal", "producer"}
    assert set(df["status"]) == {"ok", "unset", "error"}
    assert df.filter(pl.col("parent_span_id").is_null()).height == 10
    one = df.filter(pl.col("kind") == "client").row(0, named=True)
    assert one["duration_ms"] == 3.0 and one["end"] - one["start"] == timedelta(milliseconds=3)
    tid = df["trace_id"][0]
    assert ClickHouseSource(clickhouse_http.url).spans(tid, W).frame.height == 4


def test_engine_errors_are_query_errors_and_names_are_checked(clickhouse_http) -> None:
    src = ClickHouseSource(clickhouse_http.url, logs_table="no_such_table")
    with pytest.raises(QueryError) as err:
        src.logs(None, W)
    assert "no_such_table" in str(err.value) or "no_such_table" in str(err.value.detail)
    with pytest.raises(ConfigError):
        ClickHouseSource(clickhouse_http.url, database="otel; DROP TABLE x")


def test_config_builds_it_from_a_url(clickhouse_http) -> None:
    import workbench as wb

    src = wb.connect(f"clickhouse+{clickhouse_http.url}?max_rows=5")
    assert isinstance(src, wb.ClickHouseSource) and src.max_rows == 5
    res = src.logs(None, W)
    assert res.partial and res.rows == 5 and "max_rows=5" in res.reasons[0]
