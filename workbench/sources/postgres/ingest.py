"""Loading frames and lab scenario directories into the workbench tables.

:func:`ingest_frame` appends one validated frame with ``COPY ... FROM STDIN`` inside a
transaction (all rows or none). :func:`load_directory` reads a lab scenario directory (or
any directory :class:`~workbench.sources.files.DirectorySource` understands) and ingests
its metrics, logs, spans and events, so ``workbench schema load URL DIR`` gives a database
the same data the file sources see.

Example::

    >>> pg = PostgresSource(url, password=Secret.env("PGPASSWORD"))
    >>> pg.init_schema()
    >>> load_directory(pg, "/tmp/demo")      # {'metrics': 123456, 'logs': ..., ...}
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl

from workbench import frames
from workbench.sources.postgres.copy_io import copy_in, to_csv_chunks
from workbench.sources.postgres.schema import COLUMNS

__all__ = ["ingest_frame", "load_directory"]

log = logging.getLogger(__name__)

_KV = {"labels", "attributes"}


def ingest_frame(
    conn: Any, schema: str, kind: str, df: pl.DataFrame, *, source: str | None = None
) -> int:
    """COPY a frame (already validated for ``kind``) into ``schema.kind``; returns rows."""
    from psycopg import sql

    if df.height == 0:
        return 0
    cols = [c for c, _ in COLUMNS[kind]]
    kinds = {
        c: "timestamptz" if t.startswith("timestamptz") else ("kv" if c in _KV else "plain")
        for c, t in COLUMNS[kind]
    }
    chunks = to_csv_chunks(df.select(cols), kinds, source=source)
    with conn.transaction(), conn.cursor() as cur:
        copy_in(cur, sql.Identifier(schema, kind), cols, chunks)
    log.info("loaded %d %s rows into %s.%s", df.height, kind, schema, kind)
    return df.height


def load_directory(
    pg: Any, directory: str | Path, *, window: Any = None, replace: bool = False
) -> dict[str, int]:
    """Ingest every signal of a scenario directory into ``pg`` (a PostgresSource).

    ``window`` defaults to the scenario's whole ``window`` from ``scenario.json`` (or
    everything the files hold). Returns rows written per signal.
    """
    from workbench.sources.files import DirectorySource
    from workbench.timewindow import Window

    src = DirectorySource(str(directory))
    if window is None:
        window = _scenario_window(Path(directory)) or Window.parse(
            "1970-01-01T00:00:00Z..2300-01-01T00:00:00Z"
        )
    from workbench.errors import ConfigError
    from workbench.sources.postgres import loads as pg_loads

    key, fingerprint = pg_loads.scenario_key(directory)
    before = pg._run(
        lambda c: pg_loads.previous(c, pg.schema, key), query="load ledger", window=None,
        retry=False,
    )  # fmt: skip
    if before is not None and not replace:
        rows = sum(int(s.get("rows", 0)) for s in before["signals"].values())
        raise ConfigError(
            f"scenario {key!r} was already loaded into schema {pg.schema} at "
            f"{before['loaded_at']} ({rows:,} rows); refused, nothing was written",
            hint="pass --replace (replace=True) to delete the rows that load wrote and load "
            "it again, or load into another --schema",
        )
    if before is not None:
        deleted = pg._run(
            lambda c: pg_loads.delete_load(c, pg.schema, key, before["signals"]),
            query="delete the earlier load", window=None, retry=False,
        )  # fmt: skip
        log.warning("replaced the earlier load of %s: deleted %s", key, deleted)
    counts: dict[str, int] = {}
    spans: dict[str, Any] = {}
    for signal in ("metrics", "logs", "spans", "events"):
        if signal not in src.capabilities:
            continue
        res = src.load(signal, window)
        if res.partial:
            from workbench.errors import BadData

            raise BadData(
                f"{directory}: {signal} could not be read whole: {'; '.join(res.reasons)}",
                path=str(directory),
                hint="fix or remove the broken file before loading",
            )
        df = frames.validate(res.frame, signal)
        spans[signal] = pg_loads.span_of(signal, df)
        counts[signal] = pg.ingest(signal, df)
    pg._run(
        lambda c: pg_loads.record_load(c, pg.schema, key, fingerprint, spans),
        query="load ledger", window=None, retry=False,
    )  # fmt: skip
    return counts


def _scenario_window(directory: Path) -> Any:
    import json

    from workbench.timewindow import Window

    path = directory / "scenario.json"
    if not path.exists():
        return None
    meta = json.loads(path.read_text())
    w = meta.get("window") or {}
    if "start" in w and "end" in w:
        return Window(w["start"], w["end"])
    return None
