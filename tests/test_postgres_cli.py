"""``workbench schema init`` / ``workbench schema load`` against the real private server:
a lab scenario loaded into PostgreSQL reads back exactly as the file source reads it."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from workbench import PostgresSource, Secret, Window, frames
from workbench.cli import main
from workbench.sources.files import DirectorySource

pytestmark = pytest.mark.service

SORT = {
    "metrics": ["ts", "metric", "service", "value"],
    "logs": ["ts", "service", "message", "span_id"],
    "spans": ["start", "trace_id", "span_id"],
    "events": ["ts", "title", "kind"],
}


def _labels_key() -> pl.Expr:
    return pl.col("labels").list.eval(pl.element().struct.json_encode()).list.join("\x00")


def test_schema_init_and_load_lab_scenario(
    postgres_server, lab_demo_dir, monkeypatch, capsys, pg_admin
) -> None:
    monkeypatch.setenv("WB_TEST_PGPW", postgres_server.password)
    schema = "cli_lab"
    args = ["--schema", schema, "--password-env", "WB_TEST_PGPW"]
    try:
        assert main(["schema", "init", postgres_server.url, *args]) == 0
        first = json.loads(capsys.readouterr().out)
        assert first["created"] == ["events", "logs", "metrics", "spans"]
        assert first["timescale"] is False
        assert main(["schema", "init", postgres_server.url, *args]) == 0
        assert json.loads(capsys.readouterr().out)["created"] == []

        assert main(["schema", "load", postgres_server.url, str(lab_demo_dir), *args]) == 0
        out = capsys.readouterr()
        counts = json.loads(out.out)["rows"]
        assert postgres_server.password not in out.out + out.err

        meta = json.loads((lab_demo_dir / "scenario.json").read_text())
        window = Window(meta["window"]["start"], meta["window"]["end"])
        files = DirectorySource(str(lab_demo_dir))
        pg = PostgresSource(postgres_server.url, password=Secret.env("WB_TEST_PGPW"), schema=schema)
        for signal in ("metrics", "logs", "spans", "events"):
            want = files.load(signal, window).frame.select(list(frames.SCHEMAS[signal]))
            got = pg.load(signal, window).frame
            assert counts[signal] == want.height > 0, signal
            by = SORT[signal]
            if signal == "metrics":
                want, got = want.with_columns(_k=_labels_key()), got.with_columns(_k=_labels_key())
                by = [*by, "_k"]
            assert_frame_equal(got.sort(by, nulls_last=True), want.sort(by, nulls_last=True))
        pg.close()
    finally:
        pg_admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_random_unicode_round_trips(pg_source) -> None:
    from datetime import UTC, datetime, timedelta

    rng = random.Random(7)
    alphabet = [chr(c) for c in range(1, 0x2FF)] + ["\u2028", "✓", "😀", "\\", '"', "'", "\n"]

    def word() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))

    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    rows = [
        {
            "ts": t0 + timedelta(microseconds=rng.randint(0, 10**9)),
            "service": word(),
            "level": "info",
            "message": word() + "\n" + word(),
            "trace_id": word() or None,
            "span_id": None,
            "attributes": frames.kv({word(): word() for _ in range(rng.randint(0, 4))}),
        }
        for _ in range(300)
    ]
    df = pl.DataFrame(rows, schema=frames.SCHEMAS["logs"])
    pg_source.ingest("logs", df)
    got = pg_source.logs(None, Window(t0, t0 + timedelta(hours=1))).frame
    by = ["ts", "service", "message"]
    assert_frame_equal(got.sort(by), df.sort(by))
