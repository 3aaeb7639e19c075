"""Pure tests of the PostgreSQL helpers (no server): the generated DDL text (including the
TimescaleDB statements, which cannot run here), the jsonb <-> KV codec, CSV parsing and
secret scrubbing."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import Secret, frames
from workbench.sources.postgres import kv as pg_kv
from workbench.sources.postgres.copy_io import Column, parse_csv
from workbench.sources.postgres.errors import scrub
from workbench.sources.postgres.schema import create_statements, timescale_statements


def _text(stmts) -> list[str]:
    return [s.as_string(None) for s in stmts]


def test_create_statements_are_idempotent_and_quoted() -> None:
    sql = _text(create_statements('my"schema'))
    assert sql[0] == 'CREATE SCHEMA IF NOT EXISTS "my""schema"'
    assert all("IF NOT EXISTS" in s or "CREATE OR REPLACE" in s for s in sql)
    logs = next(s for s in sql if s.startswith('CREATE TABLE IF NOT EXISTS "my""schema"."logs"'))
    assert '"attributes" jsonb NOT NULL' in logs and '"ts" timestamptz NOT NULL' in logs
    assert "CHECK (jsonb_typeof(attributes) = 'object')" in logs
    assert logs.endswith(
        '"attributes_kv" text GENERATED ALWAYS AS ("my""schema"."kv_text"("attributes")) STORED)'
    )
    assert sql[1].startswith(
        'CREATE OR REPLACE FUNCTION "my""schema"."kv_text"(j jsonb) RETURNS text LANGUAGE sql '
        "IMMUTABLE STRICT PARALLEL SAFE AS "
    )
    assert (
        'CREATE INDEX IF NOT EXISTS "logs_service_ts_idx" ON "my""schema"."logs" '
        '("service", "ts" DESC)' in sql
    )
    assert any('"spans_service_start_idx"' in s and '"start" DESC' in s for s in sql)
    # with TimescaleDB the hypertable brings its own time index
    ts_sql = _text(create_statements("wb", with_time_index=False))
    assert not any('"logs_ts_idx"' in s for s in ts_sql)
    assert any('"logs_ts_idx"' in s for s in _text(create_statements("wb")))


def test_timescale_statements_text() -> None:
    sql = _text(timescale_statements("wb"))
    assert sql[0] == (
        "SELECT create_hypertable('\"wb\".\"metrics\"'::regclass, 'ts'::name, "
        "chunk_time_interval => '1 day'::interval, if_not_exists => TRUE, "
        "migrate_data => TRUE)"
    )
    assert any("'\"wb\".\"spans\"'::regclass, 'start'::name" in s for s in sql)
    assert (
        'ALTER TABLE "wb"."metrics" SET (timescaledb.compress, timescaledb.compress_segmentby '
        '= \'"metric", "service"\', timescaledb.compress_orderby = \'"ts" DESC\')' in sql
    )
    assert (
        'SELECT add_compression_policy(\'"wb"."logs"\'::regclass, '
        "compress_after => '7 days'::interval, if_not_exists => TRUE)" in sql
    )
    assert not any('"events" SET (timescaledb.compress' in s for s in sql)
    # already-compressed tables keep their settings (changing them would fail)
    again = _text(timescale_statements("wb", compressed=frozenset({"logs"})))
    assert not any('"logs" SET' in s for s in again)
    assert any('"metrics" SET' in s for s in again)
    # a hostile schema name stays inside the quoted literal
    evil = _text(timescale_statements("x'); DROP TABLE t; --"))
    assert evil[0].startswith("SELECT create_hypertable('\"x''); DROP TABLE t; --\".\"metrics\"'")


def test_kv_decode_handles_canonical_and_odd_jsonb() -> None:
    texts = [
        '{"pod": "a", "env": "prod"}',
        "{}",
        None,
        '{"a\\"b": "x\\\\", "c": "d\\n", "zz": "\\u0001"}',
        '{"n": 1, "s": "x"}',
        '{"nested": {"a": [1, 2]}}',
        '{"k": "v, \\"q\\": "}',
        '{"é": "ü", "a": "", "": "e"}',
    ]
    got = pg_kv.decode_objects(pl.Series("attributes", texts)).to_list()
    want = [
        None
        if t is None
        else frames.kv(
            {
                k: json.dumps(v, separators=(",", ":"), sort_keys=True)
                if isinstance(v, dict | list)
                else v
                for k, v in json.loads(t).items()
            }
        )
        for t in texts
    ]
    assert got == want


_text_st = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.dictionaries(_text_st, _text_st, max_size=5)), max_size=8))
def test_kv_encode_then_decode_round_trips(rows) -> None:
    series = pl.Series("a", [None if r is None else frames.kv(r) for r in rows], dtype=frames.KV)
    encoded = pg_kv.encode_objects(series, field="a")
    # PostgreSQL prints jsonb with ", " and ": " separators, keys ordered by length then bytes
    printed = [
        None
        if e is None
        else "{"
        + ", ".join(
            f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
            for k, v in sorted(
                json.loads(e).items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode())
            )
        )
        + "}"
        for e in encoded.to_list()
    ]
    assert pg_kv.decode_objects(pl.Series("a", printed, dtype=pl.String)).to_list() == (
        series.to_list()
    )


def test_parse_csv_keeps_null_apart_from_empty_and_reads_specials() -> None:
    data = (
        b'2026-11-20 10:00:00.5+00,"",,NaN,t,"{""a"": ""b""}"\n'
        b'2026-11-20 10:00:01+00,x,"multi\nline",-Infinity,f,{}\n'
    )
    cols = [
        Column("ts", "timestamptz"),
        Column("a"),
        Column("b"),
        Column("v", "float"),
        Column("ok", "bool"),
        Column("attributes", "kv"),
    ]
    df = parse_csv(data, cols)
    assert df["a"].to_list() == ["", "x"]
    assert df["b"].to_list() == [None, "multi\nline"]
    v = df["v"].to_list()
    assert v[0] != v[0] and v[1] == float("-inf")
    assert df["ok"].to_list() == [True, False]
    assert df["attributes"].to_list() == [[{"key": "a", "value": "b"}], []]
    assert df.schema["ts"] == frames.TS
    assert parse_csv(b"", cols).schema["attributes"] == frames.KV


def test_scrub_removes_passwords() -> None:
    secret = Secret.value("hunter2")
    text = (
        "connection to postgresql://bob:hunter2@db:5432/x failed; "
        "dsn 'host=db password=hunter2 user=bob' password='a b\\'c' hunter2"
    )
    out = scrub(text, secret)
    assert "hunter2" not in out and "a b" not in out
    assert "postgresql://bob:***@db:5432/x" in out


@pytest.mark.parametrize("agg", ["avg", "p95", "last"])
def test_aggregations_are_a_closed_set(agg) -> None:
    from workbench.sources.postgres.source import AGGREGATIONS

    assert agg in AGGREGATIONS
    assert all("value" in expr or "count" in expr for expr in AGGREGATIONS.values())


def test_aggregate_select_text_for_timescale_and_plain() -> None:
    from workbench.sources.postgres.source import aggregate_select

    ts = aggregate_select(
        "wb", timescale=True, agg="last", by="series", by_metric=True, by_services=True
    ).as_string(None)
    assert ts == (
        "SELECT time_bucket(%(step)s::interval, ts, %(origin)s::timestamptz) AS ts, metric, "
        'service, last(value, ts) AS value, labels_kv AS labels FROM "wb"."metrics" WHERE '
        "ts >= %(start)s AND ts < %(end)s AND metric = ANY(%(metrics)s) AND "
        "service = ANY(%(services)s) GROUP BY 1, metric, service, labels_kv"
    )
    plain = aggregate_select("wb", timescale=False, agg="last", by="service").as_string(None)
    assert plain.startswith("SELECT date_bin(%(step)s::interval, ts, %(origin)s::timestamptz)")
    assert "(array_agg(value ORDER BY ts DESC))[1] AS value, '' AS labels" in plain
    assert plain.endswith("GROUP BY 1, metric, service")
    p95 = aggregate_select("wb", timescale=True, agg="p95").as_string(None)
    assert "percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS value" in p95


def test_kv_text_decoder_unescapes_exactly() -> None:
    from workbench.sources.postgres.kv import decode_kv_text

    texts = ["env\x1fprod\x1epod\x1fa", "", None, "a\\\\b\\1\x1fv\\2\\\\1"]
    assert decode_kv_text(pl.Series(texts)).to_list() == [
        [{"key": "env", "value": "prod"}, {"key": "pod", "value": "a"}],
        [],
        None,
        [{"key": "a\\b\x1e", "value": "v\x1f\\1"}],
    ]
