"""Prometheus ``/api/v1/query_exemplars`` results -> a polars frame.

Columns: ``ts, metric, service, value, trace_id, span_id, labels`` (the series labels,
without ``__name__``) and ``exemplar_labels`` (the exemplar's own labels). Trace and span
ids are read from the common label names (``trace_id``, ``traceID``, ``TraceID``, ...).

Example::

    >>> frame = exemplar_frame(body["data"])
    >>> frame.select("ts", "service", "trace_id")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from workbench import frames
from workbench.errors import BadData
from workbench.sources.prometheus.response import SERVICE_LABELS

__all__ = ["EXEMPLAR_SCHEMA", "exemplar_frame"]

TRACE_KEYS = ("trace_id", "traceID", "traceId", "TraceID", "trace.id")
SPAN_KEYS = ("span_id", "spanID", "spanId", "SpanID", "span.id")

EXEMPLAR_SCHEMA: dict[str, pl.DataType] = {
    "ts": frames.TS,
    "metric": pl.String(),
    "service": pl.String(),
    "value": pl.Float64(),
    "trace_id": pl.String(),
    "span_id": pl.String(),
    "labels": frames.KV,
    "exemplar_labels": frames.KV,
}


def _first(d: dict[str, str], keys: Sequence[str]) -> str | None:
    for k in keys:
        if d.get(k):
            return d[k]
    return None


def exemplar_frame(
    data: Any, *, service_labels: Sequence[str] = SERVICE_LABELS, source: str | None = None
) -> pl.DataFrame:
    """Turn the ``data`` list of a query_exemplars response into a frame."""
    if not isinstance(data, list):
        raise BadData("exemplar response data is not a list", field="data", source=source)
    rows: dict[str, list[Any]] = {k: [] for k in EXEMPLAR_SCHEMA}
    try:
        for item in data:
            series = item.get("seriesLabels") or {}
            svc = next((series[k] for k in service_labels if series.get(k)), None)
            lab = frames.kv({k: v for k, v in series.items() if k != "__name__"})
            for ex in item.get("exemplars") or []:
                el = ex.get("labels") or {}
                rows["ts"].append(float(ex["timestamp"]))
                rows["metric"].append(series.get("__name__", ""))
                rows["service"].append(svc)
                rows["value"].append(ex["value"])
                rows["trace_id"].append(_first(el, TRACE_KEYS))
                rows["span_id"].append(_first(el, SPAN_KEYS))
                rows["labels"].append(lab)
                rows["exemplar_labels"].append(frames.kv(el))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise BadData(
            f"malformed exemplar: {exc!r}", field="data[].exemplars", source=source
        ) from None
    ts = pl.Series(rows.pop("ts"), dtype=pl.Float64)
    value = pl.Series(rows.pop("value"), dtype=pl.String).cast(pl.Float64, strict=False)
    df = pl.DataFrame(
        {
            "ts": (ts * 1_000_000).round().cast(pl.Int64).cast(frames.TS),
            "value": value,
            **{k: pl.Series(v, dtype=EXEMPLAR_SCHEMA[k]) for k, v in rows.items()},
        }
    )
    return df.select(list(EXEMPLAR_SCHEMA))
