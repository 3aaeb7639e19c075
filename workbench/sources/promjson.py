"""Prometheus API JSON results -> polars frames, built columnar.

A matrix becomes a per-series table (``sid, metric, service, labels``) and a samples
table (``sid, ts, value``) joined once; no per-row Python dicts. Values arrive as strings
("1.5", "NaN", "+Inf", "-Inf") and are cast by polars, which reads all of them.

Example::

    >>> frame = matrix_frame(body["data"]["result"], alias="request_rate")
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

import polars as pl

from workbench import frames
from workbench.errors import BadData

__all__ = ["SERVICE_LABELS", "matrix_frame", "result_frame", "series_table", "vector_frame"]

SERVICE_LABELS: tuple[str, ...] = ("service", "job")


def _service(labels: dict[str, str], service_labels: Sequence[str]) -> str | None:
    for k in service_labels:
        v = labels.get(k)
        if v:
            return v
    return None


def series_table(
    metrics: Sequence[dict[str, str]],
    *,
    alias: str | None,
    service_labels: Sequence[str] = SERVICE_LABELS,
) -> pl.DataFrame:
    """One row per series: ``sid, metric, service, labels`` (labels without __name__)."""
    names = [m.get("__name__") or alias or "" for m in metrics]
    services = [_service(m, service_labels) for m in metrics]
    labels = [
        [{"key": k, "value": v} for k, v in sorted(m.items()) if k != "__name__"] for m in metrics
    ]
    return pl.DataFrame(
        {
            "sid": pl.Series(range(len(metrics)), dtype=pl.UInt32),
            "metric": pl.Series(names, dtype=pl.String),
            "service": pl.Series(services, dtype=pl.String),
            "labels": pl.Series(labels, dtype=frames.KV),
        }
    )


def _ts_us(ts: pl.Series) -> pl.Series:
    return (ts * 1_000_000).round().cast(pl.Int64).cast(frames.TS)


def _check_series(result: Any, key: str, source: str | None) -> None:
    if not isinstance(result, list):
        raise BadData(
            f"Prometheus result is {type(result).__name__}, expected a list",
            field="data.result",
            source=source,
        )
    for i, s in enumerate(result):
        if not isinstance(s, dict) or not isinstance(s.get("metric", {}), dict):
            raise BadData(
                f"series {i} of the result is not an object with 'metric'",
                field=f"data.result[{i}]",
                source=source,
            )


def matrix_frame(
    result: list[dict[str, Any]],
    *,
    alias: str | None = None,
    service_labels: Sequence[str] = SERVICE_LABELS,
    source: str | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """A matrix result -> (metrics frame, notes about samples that could not be loaded).

    Native-histogram samples (``histograms``) are not loaded; the notes say so.
    """
    _check_series(result, "values", source)
    notes: list[str] = []
    counts: list[int] = []
    ts_parts: list[tuple[Any, ...]] = []
    val_parts: list[tuple[Any, ...]] = []
    try:
        for s in result:
            values = s.get("values") or ()
            if values:
                t, v = zip(*values, strict=True)
                ts_parts.append(t)
                val_parts.append(v)
            counts.append(len(values))
            if s.get("histograms"):
                notes.append(
                    f"{len(s['histograms'])} native-histogram sample(s) of "
                    f"{s['metric'].get('__name__', alias)} not loaded"
                )
    except (TypeError, ValueError) as exc:
        raise BadData(
            f"malformed sample in Prometheus matrix: {exc}",
            field="data.result[].values",
            source=source,
        ) from None
    series = series_table(
        [s.get("metric") or {} for s in result], alias=alias, service_labels=service_labels
    )
    return _join(series, counts, ts_parts, val_parts, source), notes


def _join(
    series: pl.DataFrame,
    counts: list[int],
    ts_parts: list[tuple[Any, ...]],
    val_parts: list[tuple[Any, ...]],
    source: str | None,
) -> pl.DataFrame:
    total = sum(counts)
    if total == 0:
        return frames.empty("metrics")
    try:
        ts = pl.Series("ts", list(chain.from_iterable(ts_parts)), dtype=pl.Float64, strict=False)
        raw = pl.Series(
            "value", list(chain.from_iterable(val_parts)), dtype=pl.String, strict=False
        )
    except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
        raise BadData(f"malformed sample values: {exc}", field="values", source=source) from None
    value = raw.cast(pl.Float64, strict=False)
    bad = value.is_null() & ~raw.is_null() | raw.is_null() | ts.is_null()
    if bad.any():
        i = int(bad.arg_max() or 0)
        raise BadData(
            f"sample {i} has timestamp {ts[i]!r} / value {raw[i]!r}, not a number",
            field="values",
            source=source,
        )
    sid = (
        pl.Series("sid", range(len(counts)), dtype=pl.UInt32)
        .repeat_by(pl.Series(counts, dtype=pl.UInt32))
        .explode()
    )
    samples = pl.DataFrame([sid, _ts_us(ts), value])
    return samples.join(series, on="sid", how="left").select(
        "ts", "metric", "service", "value", "labels"
    )


def vector_frame(
    result: list[dict[str, Any]],
    *,
    alias: str | None = None,
    service_labels: Sequence[str] = SERVICE_LABELS,
    source: str | None = None,
) -> pl.DataFrame:
    """An instant vector -> metrics frame (one row per series)."""
    _check_series(result, "value", source)
    try:
        pairs = [s["value"] for s in result]
        counts = [1] * len(pairs)
        ts_parts = [(p[0],) for p in pairs]
        val_parts = [(p[1],) for p in pairs]
    except (KeyError, TypeError, IndexError) as exc:
        raise BadData(
            f"malformed instant sample: {exc}", field="data.result[].value", source=source
        ) from None
    series = series_table(
        [s.get("metric") or {} for s in result], alias=alias, service_labels=service_labels
    )
    return _join(series, counts, ts_parts, val_parts, source)


def result_frame(
    data: Any,
    *,
    alias: str | None = None,
    service_labels: Sequence[str] = SERVICE_LABELS,
    source: str | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """Any ``data`` of /api/v1/query or /query_range -> (metrics frame, notes)."""
    if not isinstance(data, dict) or "resultType" not in data:
        raise BadData("Prometheus response has no data.resultType", field="data", source=source)
    kind = data["resultType"]
    result = data.get("result")
    if kind == "matrix":
        return matrix_frame(result or [], alias=alias, service_labels=service_labels, source=source)
    if kind == "vector":
        return vector_frame(
            result or [], alias=alias, service_labels=service_labels, source=source
        ), []
    if kind in ("scalar", "string"):
        if not isinstance(result, list) or len(result) != 2:
            raise BadData(f"malformed {kind} result", field="data.result", source=source)
        if kind == "string":
            return frames.empty("metrics"), [f"string result {result[1]!r} is not a sample"]
        series = series_table([{}], alias=alias or "scalar", service_labels=service_labels)
        return _join(series, [1], [(result[0],)], [(result[1],)], source), []
    raise BadData(f"unknown resultType {kind!r}", field="data.resultType", source=source)
