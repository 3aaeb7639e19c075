"""One trace as a waterfall: spans in call order with offsets, the critical path and
where the error starts.

Example::

    >>> from workbench.analysis.waterfall import trace_waterfall
    >>> wf = trace_waterfall(inc.spans, "4bf92f3577b34da6a3ce929d0e0e4736")
    >>> wf.select("label", "offset_ms", "duration_ms", "on_critical_path", "error_origin")
"""

from __future__ import annotations

import polars as pl
from polars.datatypes import DataTypeClass

from workbench.analysis.traces import span_tree
from workbench.errors import ConfigError

__all__ = ["INDENT", "WATERFALL_COLUMNS", "trace_waterfall"]

#: Indentation per depth in labels: a visible dot, since renderers collapse leading
#: spaces in SVG text.
INDENT = "\u00b7 "

WATERFALL_COLUMNS = (
    "order",
    "label",
    "depth",
    "span_id",
    "parent_span_id",
    "service",
    "name",
    "kind",
    "status",
    "start",
    "offset_ms",
    "end_ms",
    "duration_ms",
    "self_ms",
    "cp_ms",
    "on_critical_path",
    "error_origin",
)


def trace_waterfall(spans: pl.DataFrame, trace_id: str, *, max_spans: int = 2000) -> pl.DataFrame:
    """The spans of ``trace_id`` in call order (depth first, children by start time).

    Columns: ``order`` (row in the waterfall), ``label`` (``service: name`` indented with
    :data:`INDENT` per depth, unique), ``depth``, span ids, ``service, name, kind, status, start``, ``offset_ms`` /
    ``end_ms`` (from the trace's first start, clock skew trimmed as in
    :func:`~workbench.analysis.traces.span_tree`), ``duration_ms``, ``self_ms``,
    ``cp_ms``, ``on_critical_path`` and ``error_origin`` (in error, no child in error:
    where the failure starts). Spans on a parent cycle (unreachable from a root) are
    listed as roots at depth 0. Raises ``ConfigError`` when the trace is not in ``spans``, or has more
    than ``max_spans`` spans (a waterfall that size is unreadable; filter first).
    """
    sp = spans.filter(pl.col("trace_id") == trace_id)
    if sp.height == 0:
        raise ConfigError(
            f"trace {trace_id!r} is not in the spans",
            hint="pick a trace id from focus.trace_table(...)",
        )
    if sp.height > max_spans:
        raise ConfigError(
            f"trace {trace_id!r} has {sp.height:,} spans, more than max_spans={max_spans:,}",
            hint="raise max_spans, or look at it with span_tree() in a table",
        )
    tree = span_tree(sp)
    t0 = tree["trimmed_start"].min()
    err_parents = set(
        tree.filter(pl.col("status") == "error")["parent_span_id"].drop_nulls().to_list()
    )
    rows = tree.to_dicts()
    by_id = {r["span_id"]: r for r in rows}
    kids: dict[str | None, list[dict]] = {}
    for r in rows:
        parent = r["parent_span_id"] if r["depth"] and r["parent_span_id"] in by_id else None
        if r["depth"] is None:
            parent = None
        kids.setdefault(parent, []).append(r)
    for v in kids.values():
        v.sort(key=lambda r: (r["trimmed_start"], r["span_id"]))
    ordered: list[dict] = []
    seen: set[str] = set()
    stack = list(reversed(kids.get(None, [])))
    while stack:
        r = stack.pop()
        if r["span_id"] in seen:
            continue
        seen.add(r["span_id"])
        ordered.append(r)
        stack.extend(reversed(kids.get(r["span_id"], [])))
    ordered += [r for r in rows if r["span_id"] not in seen]
    labels: dict[str, int] = {}
    out = []
    for i, r in enumerate(ordered):
        depth = r["depth"] or 0
        base = f"{INDENT * depth}{r['service']}: {r['name']}"
        labels[base] = labels.get(base, 0) + 1
        label = base if labels[base] == 1 else f"{base} #{labels[base]}"
        out.append(
            {
                "order": i,
                "label": label,
                "depth": depth,
                "span_id": r["span_id"],
                "parent_span_id": r["parent_span_id"],
                "service": r["service"],
                "name": r["name"],
                "kind": r["kind"],
                "status": r["status"],
                "start": r["start"],
                "offset_ms": (r["trimmed_start"] - t0).total_seconds() * 1000.0,
                "end_ms": (r["trimmed_end"] - t0).total_seconds() * 1000.0,
                "duration_ms": r["duration_ms"],
                "self_ms": r["self_ms"],
                "cp_ms": r["cp_ms"],
                "on_critical_path": bool(r["on_critical_path"]),
                "error_origin": r["status"] == "error" and r["span_id"] not in err_parents,
            }
        )
    schema: dict[str, pl.DataType | DataTypeClass] = {
        "order": pl.UInt32,
        "label": pl.String,
        "depth": pl.Int32,
        "span_id": pl.String,
        "parent_span_id": pl.String,
        "service": pl.String,
        "name": pl.String,
        "kind": pl.String,
        "status": pl.String,
        "start": sp.schema["start"],
        "offset_ms": pl.Float64,
        "end_ms": pl.Float64,
        "duration_ms": pl.Float64,
        "self_ms": pl.Float64,
        "cp_ms": pl.Float64,
        "on_critical_path": pl.Boolean,
        "error_origin": pl.Boolean,
    }
    return pl.DataFrame(out, schema=schema)
