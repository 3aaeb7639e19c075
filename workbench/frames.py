"""The frame contract: the four polars schemas every source produces.

``metrics``  ts, metric, service, value, labels
``logs``     ts, service, level, message, trace_id, span_id, attributes
``spans``    trace_id, span_id, parent_span_id, service, name, kind, start, end,
             duration_ms, status, attributes
``events``   ts, end, kind, service, title, source, attributes

Timestamps are ``Datetime("us", "UTC")``. ``labels`` and ``attributes`` are key/value
lists (``List(Struct{key, value})``, the way Arrow maps arrive in polars), so frames from
different sources concatenate without schema fights. Use :func:`kv` to build them and
:func:`attr` to read one key.

Example::

    >>> from workbench import frames
    >>> df = frames.empty("logs")
    >>> frames.validate(df, "logs").columns
    ['ts', 'service', 'level', 'message', 'trace_id', 'span_id', 'attributes']
    >>> logs.filter(frames.attr("attributes", "k8s.pod.name") == "checkout-0")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import polars as pl

from workbench.errors import BadData

__all__ = [
    "EVENT_KINDS",
    "KV",
    "LEVELS",
    "SCHEMAS",
    "SPAN_KINDS",
    "SPAN_STATUSES",
    "TS",
    "FrameKind",
    "attr",
    "concat",
    "empty",
    "kv",
    "kv_from_dicts",
    "validate",
]

# the kinds; the functions below take any str and raise ValueError for another one
FrameKind = Literal["metrics", "logs", "spans", "events"]

TS = pl.Datetime("us", "UTC")
KV = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "metrics": {
        "ts": TS,
        "metric": pl.String(),
        "service": pl.String(),
        "value": pl.Float64(),
        "labels": KV,
    },
    "logs": {
        "ts": TS,
        "service": pl.String(),
        "level": pl.String(),
        "message": pl.String(),
        "trace_id": pl.String(),
        "span_id": pl.String(),
        "attributes": KV,
    },
    "spans": {
        "trace_id": pl.String(),
        "span_id": pl.String(),
        "parent_span_id": pl.String(),
        "service": pl.String(),
        "name": pl.String(),
        "kind": pl.String(),
        "start": TS,
        "end": TS,
        "duration_ms": pl.Float64(),
        "status": pl.String(),
        "attributes": KV,
    },
    "events": {
        "ts": TS,
        "end": TS,
        "kind": pl.String(),
        "service": pl.String(),
        "title": pl.String(),
        "source": pl.String(),
        "attributes": KV,
    },
}

# Columns that may hold nulls; every other column must be fully populated.
NULLABLE: dict[str, frozenset[str]] = {
    "metrics": frozenset({"service"}),
    "logs": frozenset({"service", "trace_id", "span_id"}),
    "spans": frozenset({"parent_span_id", "service", "attributes"}),
    "events": frozenset({"end", "service", "source"}),
}

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "unknown")
SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
SPAN_STATUSES = ("ok", "error", "unset")
EVENT_KINDS = ("alert", "deploy", "rollback", "config", "chaos", "annotation", "incident")

_ALLOWED: dict[tuple[str, str], tuple[str, ...]] = {
    ("logs", "level"): LEVELS,
    ("spans", "kind"): SPAN_KINDS,
    ("spans", "status"): SPAN_STATUSES,
    ("events", "kind"): EVENT_KINDS,
}


def empty(kind: str) -> pl.DataFrame:
    """An empty frame of the given kind with the contract's schema."""
    return pl.DataFrame(schema=_schema(kind))


def _schema(kind: str) -> dict[str, pl.DataType]:
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise ValueError(f"unknown frame kind {kind!r}; one of {sorted(SCHEMAS)}") from None


def kv(mapping: Mapping[str, object] | None) -> list[dict[str, str]]:
    """Turn a dict into the key/value list used by ``labels`` and ``attributes``.

    Values become strings; ``None`` values are dropped; keys are sorted so equal dicts give
    equal lists.
    """
    if not mapping:
        return []
    return [
        {"key": str(k), "value": _as_str(v)} for k, v in sorted(mapping.items()) if v is not None
    ]


def kv_from_dicts(rows: Iterable[Mapping[str, object] | None]) -> pl.Series:
    """A ``KV`` series from an iterable of dicts (one per row)."""
    return pl.Series([kv(r) for r in rows], dtype=KV)


def events_from_rows(
    rows: Sequence[tuple[Any, Any, str, str | None, str, str, Mapping[str, object] | None]],
) -> pl.DataFrame:
    """An events frame from ``(ts, end, kind, service, title, source, attributes)`` tuples
    (what the event sources build); the empty events frame for no rows.

    >>> events_from_rows([(t, None, "deploy", "checkout", "v2", "argocd", {})])
    """
    if not rows:
        return empty("events")
    return pl.DataFrame(
        {
            "ts": pl.Series([r[0] for r in rows], dtype=TS),
            "end": pl.Series([r[1] for r in rows], dtype=TS),
            "kind": pl.Series([r[2] for r in rows], dtype=pl.String),
            "service": pl.Series([r[3] for r in rows], dtype=pl.String),
            "title": pl.Series([r[4] for r in rows], dtype=pl.String),
            "source": pl.Series([r[5] for r in rows], dtype=pl.String),
            "attributes": kv_from_dicts(r[6] for r in rows),
        }
    )


def _as_str(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def attr(column: str, key: str) -> pl.Expr:
    """Expression reading one key of a ``labels``/``attributes`` column (null if absent).

    >>> spans.with_columns(code=frames.attr("attributes", "http.response.status_code"))
    """
    return (
        pl.col(column)
        .list.eval(pl.element().filter(pl.element().struct.field("key") == key))
        .list.first()
        .struct.field("value")
        .alias(key)
    )


def validate(df: pl.DataFrame, kind: str, *, source: str | None = None) -> pl.DataFrame:
    """Check ``df`` against the contract for ``kind`` and return it in canonical form.

    Timestamps with another unit or zone are converted to microseconds in UTC; naive
    timestamps, missing columns, wrong types, nulls in required columns and values
    outside the allowed sets raise :class:`BadData` naming the column and the problem.
    Extra columns are kept after the contract's columns.
    """
    if not isinstance(df, pl.DataFrame):
        raise BadData(f"expected a polars DataFrame for {kind}, got {type(df).__name__}")
    schema = _schema(kind)
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise BadData(
            f"{kind} frame lacks column(s) {', '.join(missing)}",
            field=missing[0],
            source=source,
            hint=f"a {kind} frame needs columns {', '.join(schema)}",
        )
    casts: list[pl.Expr] = []
    for col, want in schema.items():
        have = df.schema[col]
        if have == want:
            continue
        if isinstance(want, pl.Datetime):
            if not isinstance(have, pl.Datetime):
                raise BadData(
                    f"{kind}.{col} has type {have}, expected a UTC datetime",
                    field=col,
                    source=source,
                )
            if have.time_zone is None:
                raise BadData(
                    f"{kind}.{col} holds naive datetimes (no time zone)",
                    field=col,
                    source=source,
                    hint="attach UTC with .dt.replace_time_zone('UTC') if the times are UTC",
                )
            casts.append(pl.col(col).dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
        elif want == pl.Float64 and have.is_numeric():
            casts.append(pl.col(col).cast(pl.Float64))
        elif isinstance(have, pl.Null) or (
            want == KV and isinstance(have, pl.List) and isinstance(have.inner, pl.Null)
        ):
            casts.append(pl.col(col).cast(want))
        else:
            raise BadData(
                f"{kind}.{col} has type {have}, expected {want}",
                field=col,
                source=source,
            )
    if casts:
        df = df.with_columns(casts)
    nullable = NULLABLE[kind]
    null_counts = df.select(pl.col(c).null_count() for c in schema if c not in nullable)
    for col in null_counts.columns:
        n = null_counts[col][0]
        if n:
            raise BadData(
                f"{kind}.{col} has {n} null value(s) but is required",
                field=col,
                source=source,
            )
    for (k, col), allowed in _ALLOWED.items():
        if k != kind:
            continue
        bad = df.filter(~pl.col(col).is_in(list(allowed)))[col].unique().head(5).to_list()
        if bad:
            raise BadData(
                f"{kind}.{col} has value(s) {bad} outside {list(allowed)}",
                field=col,
                source=source,
            )
    if kind == "spans" and df.height:
        n = df.filter(pl.col("end") < pl.col("start")).height
        if n:
            raise BadData(f"{n} span(s) end before they start", field="end", source=source)
    extra = [c for c in df.columns if c not in schema]
    return df.select([*schema, *extra])


def concat(frames: Iterable[pl.DataFrame], kind: str) -> pl.DataFrame:
    """Concatenate frames of one kind (validated) into one; empty input gives an empty frame."""
    parts = [validate(f, kind).select(list(SCHEMAS[kind])) for f in frames]
    if not parts:
        return empty(kind)
    return pl.concat(parts, how="vertical")
