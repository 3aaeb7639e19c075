"""The load ledger: which scenario directories were loaded into a schema, so
``workbench schema load`` never duplicates rows by running twice.

``<schema>.workbench_loads`` holds one row per loaded scenario (its key, a fingerprint of
its files, and per signal the rows written with their time range and services). Loading a
scenario already in the ledger is refused; ``replace=True`` first deletes the rows that
load wrote (the same tables, time range and services) and then loads again.

Example::

    >>> key = scenario_key("/tmp/demo")          # ('demo seed=1', 'sha256...')
    >>> previous(conn, "workbench", key[0])      # None, or what was loaded before
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import polars as pl

from workbench.sources.postgres.schema import TIME_COLUMN

__all__ = ["delete_load", "previous", "record_load", "scenario_key", "span_of"]

TABLE = "workbench_loads"


def scenario_key(directory: str | Path) -> tuple[str, str]:
    """``(key, fingerprint)``: the scenario's name and seed from ``scenario.json`` (else
    the directory's absolute path), and a SHA-256 over its files' names and sizes."""
    d = Path(directory).resolve()
    key = str(d)
    meta_file = d / "scenario.json"
    if meta_file.exists():
        try:
            meta = json.loads(meta_file.read_text())
            name = meta.get("name") or meta.get("scenario") or meta.get("incident_id")
            if name:
                key = f"{name} seed={meta.get('seed')}" if "seed" in meta else str(name)
        except (json.JSONDecodeError, OSError, AttributeError):
            pass
    h = hashlib.sha256()
    for f in sorted(p for p in d.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(d)}\0{f.stat().st_size}\n".encode())
    return key, h.hexdigest()


def _ensure(conn: Any, schema: str) -> None:
    from psycopg import sql

    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (scenario text PRIMARY KEY, fingerprint text NOT "
            "NULL, loaded_at timestamptz NOT NULL DEFAULT now(), signals jsonb NOT NULL)"
        ).format(sql.Identifier(schema, TABLE))
    )


def previous(conn: Any, schema: str, key: str) -> dict[str, Any] | None:
    """What was loaded for ``key`` before (``loaded_at``, ``fingerprint``, ``signals``)."""
    from psycopg import sql

    _ensure(conn, schema)
    row = conn.execute(
        sql.SQL("SELECT loaded_at, fingerprint, signals FROM {} WHERE scenario = %s").format(
            sql.Identifier(schema, TABLE)
        ),
        (key,),
    ).fetchone()
    if row is None:
        return None
    signals = row[2] if isinstance(row[2], dict) else json.loads(row[2])
    return {"loaded_at": row[0], "fingerprint": row[1], "signals": signals}


def span_of(signal: str, df: pl.DataFrame) -> dict[str, Any]:
    """Rows, time range and services of a frame about to be loaded."""
    col = TIME_COLUMN[signal]
    if df.height == 0:
        return {"rows": 0}
    return {
        "rows": df.height,
        "start": cast(datetime, df[col].min()).isoformat(),
        "end": cast(datetime, df[col].max()).isoformat(),
        "services": sorted({s for s in df["service"].to_list() if s is not None}),
    }


def delete_load(conn: Any, schema: str, key: str, signals: dict[str, Any]) -> dict[str, int]:
    """Delete the rows an earlier load of ``key`` wrote; returns rows deleted per table."""
    from psycopg import sql

    out = {}
    with conn.transaction():
        for signal, span in signals.items():
            if not span.get("rows"):
                continue
            col = TIME_COLUMN[signal]
            cur = conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} BETWEEN %s AND %s AND service = ANY(%s)").format(
                    sql.Identifier(schema, signal), sql.Identifier(col)
                ),
                (span["start"], span["end"], span["services"]),
            )
            out[signal] = cur.rowcount
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE scenario = %s").format(sql.Identifier(schema, TABLE)),
            (key,),
        )
    return out


def record_load(
    conn: Any, schema: str, key: str, fingerprint: str, signals: dict[str, Any]
) -> None:
    from psycopg import sql

    _ensure(conn, schema)
    conn.execute(
        sql.SQL("INSERT INTO {} (scenario, fingerprint, signals) VALUES (%s, %s, %s)").format(
            sql.Identifier(schema, TABLE)
        ),
        (key, fingerprint, json.dumps(signals)),
    )
