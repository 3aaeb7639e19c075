"""Parquet files already in the frame contract, scanned lazily.

The window and service filters are pushed into the polars scan, so only matching row
groups are read. Which signal a file holds is taken from its name (``metrics*.parquet``,
``logs*``, ``spans*``/``traces*``, ``events*``) or, failing that, from its columns.

Window semantics (all signals of the file sources): metrics and logs keep ``ts`` in
``[start, end)``; spans keep ``start`` in ``[start, end)``; events keep those that overlap
the window (``ts < end`` and ``coalesce(end, ts) >= start``). A service filter drops rows
of other services (and, except for events, rows without a service).

Example::

    >>> from workbench.sources.files import parquet
    >>> parquet.scan("metrics/metrics.parquet", "metrics", window, services=["checkout"])
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import polars as pl

from workbench import frames
from workbench.errors import BadData
from workbench.sources.files import compressed
from workbench.timewindow import Window

__all__ = ["count", "filter_frame", "scan", "service_filter", "signal_of", "window_filter"]

_Frame = TypeVar("_Frame", pl.DataFrame, pl.LazyFrame)

_NAME_HINTS = (
    ("metrics", "metrics"),
    ("logs", "logs"),
    ("spans", "spans"),
    ("traces", "spans"),
    ("events", "events"),
)


def signal_of(path: str | Path) -> str | None:
    """The signal a Parquet file holds: by file name, else by its columns; None if unsure."""
    p = Path(path)
    stem = compressed.inner_name(p)
    for hint, sig in _NAME_HINTS:
        if stem.startswith(hint):
            return sig
    try:
        cols = set(pl.read_parquet_schema(_source(p)))
    except Exception:
        return None
    for sig in ("spans", "metrics", "logs", "events"):
        if set(frames.SCHEMAS[sig]) <= cols:
            return sig
    return None


def _source(p: Path, *, source: str | None = None) -> Path | io.BytesIO:
    """The path to scan lazily, or for ``.parquet.gz``/``.zst`` the decompressed bytes
    (a compressed Parquet file cannot be scanned in place; the size cap applies)."""
    if compressed.codec_of(p) is None:
        return p
    return io.BytesIO(compressed.read_bytes(p, source=source))


def window_filter(signal: str, window: Window | None) -> pl.Expr | None:
    """The row filter for ``window`` (see the module docstring)."""
    if window is None:
        return None
    start, end = window.start, window.end
    if signal == "spans":
        return (pl.col("start") >= start) & (pl.col("start") < end)
    if signal == "events":
        return (pl.col("ts") < end) & (pl.coalesce(pl.col("end"), pl.col("ts")) >= start)
    return (pl.col("ts") >= start) & (pl.col("ts") < end)


def service_filter(signal: str, services: Sequence[str] | None) -> pl.Expr | None:
    """The row filter for ``services`` (None: every service; see the module docstring)."""
    if not services:
        return None
    expr = pl.col("service").is_in(list(services))
    if signal == "events":
        expr = expr | pl.col("service").is_null()
    return expr


def filter_frame(
    df: _Frame,
    signal: str,
    window: Window | None,
    services: Sequence[str] | None,
) -> _Frame:
    """Apply the window and service filters of the file sources to a (lazy) frame."""
    for e in (window_filter(signal, window), service_filter(signal, services)):
        if e is not None:
            df = df.filter(e)
    return df


def scan(
    path: str | Path,
    signal: str,
    window: Window | None = None,
    *,
    services: Sequence[str] | None = None,
    source: str | None = None,
    keys: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """Read one contract Parquet file lazily, filtered by window and services, validated.
    ``keys`` (spans and logs): only these attribute keys are kept; with none, the
    ``attributes`` column is not read at all (projection at scan time)."""
    p = Path(path)
    try:
        lf = pl.scan_parquet(_source(p, source=source))
        schema = lf.collect_schema()
    except Exception as exc:
        raise BadData(
            f"cannot read Parquet {p.name}: {str(exc).splitlines()[0][:200]}",
            path=str(p),
            source=source,
            hint="the file may be truncated or not Parquet; re-export it",
        ) from exc
    missing = [c for c in frames.SCHEMAS[signal] if c not in schema]
    if missing:
        raise BadData(
            f"{p.name} lacks column(s) {', '.join(missing)} of the {signal} frame",
            path=str(p),
            field=missing[0],
            source=source,
            hint=f"a {signal} Parquet file needs columns {', '.join(frames.SCHEMAS[signal])}",
        )
    ts_cols = (
        ("start", "end") if signal == "spans" else ("ts", "end") if signal == "events" else ("ts",)
    )
    for c in ts_cols:
        t = schema[c]
        if isinstance(t, pl.Datetime) and t.time_zone is None:
            raise BadData(
                f"{p.name}: column {c} holds naive datetimes (no time zone)",
                path=str(p), field=c, source=source,
                hint="write the file with UTC-aware timestamps",
            )  # fmt: skip
    lf = filter_frame(lf, signal, window, services)
    if keys is not None and signal in ("spans", "logs"):
        attrs = (
            pl.col("attributes").list.eval(
                pl.element().filter(pl.element().struct.field("key").is_in(list(keys)))
            )
            if keys
            else pl.lit([], dtype=frames.KV)
        )
        lf = lf.with_columns(attrs.alias("attributes"))
    try:
        df = lf.collect()
    except Exception as exc:
        raise BadData(
            f"cannot read Parquet {p.name}: {str(exc).splitlines()[0][:200]}",
            path=str(p),
            source=source,
        ) from exc
    try:
        return frames.validate(df, signal, source=source)
    except BadData as err:
        err.path = str(p)
        raise


def count(
    path: str | Path,
    signal: str,
    window: Window | None = None,
    services: Sequence[str] | None = None,
) -> int:
    """How many rows of ``path`` fall in ``window`` (and ``services``), counted on the
    lazy scan: only the filter columns are read, nothing is loaded.

    >>> parquet.count("metrics/metrics.parquet", "metrics", window)
    """
    lf = filter_frame(pl.scan_parquet(Path(path)), signal, window, services)
    return int(lf.select(pl.len()).collect().item())
