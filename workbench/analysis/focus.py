"""A focus on part of an incident: a window, some services, one trace.

The pure functions behind an interactive investigation (the ``widgets`` explorer calls
them, and its ``to_code()`` writes calls to them, so a view can be reproduced in a cell):

* :func:`neighbourhood` — a service with its callers and callees;
* :func:`for_services` — rows of any frame about some services;
* :func:`traces_touching` — whole traces that pass through some services;
* :func:`trace_table` — one row per trace, failed and slowest first;
* :func:`node_changes` — per service, error-ratio and p95 change against the baseline;
* :func:`pattern_table` / :func:`pattern_lines` — log templates for a window (new and
  surging first), filtered by services and a search string, and the raw lines behind one;
* :func:`surges_as_timeline` — log-template surges as timeline rows.

Example::

    >>> from workbench.analysis import focus
    >>> from workbench.analysis.graph import service_graph
    >>> g = service_graph(inc.spans, window=inc.window)
    >>> around = focus.neighbourhood(g, "checkout")          # ['checkout', 'frontend', ...]
    >>> focus.trace_table(inc.spans, window=inc.window, services=around).head()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from workbench import frames
from workbench.analysis._util import filter_window
from workbench.analysis.timeline import TIMELINE_SCHEMA
from workbench.timewindow import Window

if TYPE_CHECKING:
    from workbench.analysis.graph import ServiceGraph

__all__ = [
    "TRACE_TABLE_SCHEMA",
    "for_services",
    "neighbourhood",
    "node_changes",
    "pattern_lines",
    "pattern_table",
    "surges_as_timeline",
    "trace_table",
    "traces_touching",
]

TRACE_TABLE_SCHEMA = {
    "trace_id": pl.String(),
    "start": frames.TS,
    "duration_ms": pl.Float64(),
    "spans": pl.UInt32(),
    "services": pl.UInt32(),
    "root_service": pl.String(),
    "root_name": pl.String(),
    "failed": pl.Boolean(),
    "error_service": pl.String(),
    "error_name": pl.String(),
}


def neighbourhood(graph: ServiceGraph | pl.DataFrame, service: str) -> list[str]:
    """``service`` first, then its callers and callees (sorted, each once).

    ``graph`` is a :class:`~workbench.analysis.graph.ServiceGraph` or its edges frame
    (``caller, callee``).

    >>> neighbourhood(g, "checkout")
    ['checkout', 'frontend', 'payment', 'postgres']
    """
    edges = graph if isinstance(graph, pl.DataFrame) else graph.edges
    near = set(edges.filter(pl.col("caller") == service)["callee"].to_list())
    near |= set(edges.filter(pl.col("callee") == service)["caller"].to_list())
    near.discard(service)
    return [service, *sorted(near)]


def for_services(
    df: pl.DataFrame, services: Sequence[str] | None, column: str = "service"
) -> pl.DataFrame:
    """Rows of ``df`` whose ``column`` is one of ``services`` (all rows when empty/None).

    >>> for_services(inc.logs, ["checkout", "payment"])
    """
    if not services:
        return df
    return df.filter(pl.col(column).is_in(list(services)))


def traces_touching(spans: pl.DataFrame, services: Sequence[str] | None) -> pl.DataFrame:
    """Every span of the traces with at least one span in ``services`` (all spans when
    empty/None): a trace is kept whole, so its waterfall stays complete."""
    if not services:
        return spans
    ids = spans.filter(pl.col("service").is_in(list(services))).select("trace_id").unique()
    return spans.join(ids, on="trace_id", how="semi")


def trace_table(
    spans: pl.DataFrame,
    *,
    window: Window | None = None,
    services: Sequence[str] | None = None,
    n: int = 50,
    trace_id: str = "",
    service: str = "",
    operation: str = "",
    status: str = "any",
    min_duration_ms: float = 0.0,
) -> pl.DataFrame:
    """One row per trace starting in ``window`` and touching ``services``: failed traces
    first (slowest first among them), then the slowest of the rest; at most ``n`` rows,
    of which (``status="any"``) at least half go to the slowest traces that did not fail
    when there are any, so slow traces show beside failed ones.

    A search narrows the traces: ``trace_id`` (a prefix, any case), ``service`` (a span
    of that service in the trace), ``operation`` (words in a span's name, any case),
    ``status`` (``any``, ``failed`` or ``ok``) and ``min_duration_ms``.

    Columns: ``trace_id, start, duration_ms`` (first start to last end), ``spans``,
    ``services``, ``root_service``, ``root_name`` (the earliest span without a parent in
    the trace), ``failed``, and for failed traces ``error_service``, ``error_name``: the
    deepest span in error (whose children did not fail), the earliest if several.

    >>> trace_table(inc.spans, window=inc.window, services=["checkout"], n=20)
    >>> trace_table(inc.spans, operation="POST /checkout", status="failed", min_duration_ms=500)
    """
    from workbench.analysis.traces import error_origin_spans

    if status not in ("any", "failed", "ok"):
        raise ValueError(f"status must be 'any', 'failed' or 'ok', not {status!r}")
    sp = traces_touching(spans, services)
    if trace_id.strip():
        sp = sp.filter(
            pl.col("trace_id").str.to_lowercase().str.starts_with(trace_id.strip().lower())
        )
    if service.strip():
        sp = traces_touching(sp, [service.strip()])
    if operation.strip():
        hit = (
            pl.col("name").str.to_lowercase().str.contains(operation.strip().lower(), literal=True)
        )
        sp = sp.join(sp.filter(hit).select("trace_id").unique(), on="trace_id", how="semi")
    if sp.height == 0:
        return pl.DataFrame(schema=TRACE_TABLE_SCHEMA)
    per = sp.group_by("trace_id").agg(
        pl.col("start").min().alias("start"),
        pl.col("end").max().alias("_end"),
        pl.len().cast(pl.UInt32).alias("spans"),
        pl.col("service").n_unique().cast(pl.UInt32).alias("services"),
        pl.col("service")
        .sort_by("start")
        .filter(pl.col("parent_span_id").is_null())
        .first()
        .alias("root_service"),
        pl.col("name")
        .sort_by("start")
        .filter(pl.col("parent_span_id").is_null())
        .first()
        .alias("root_name"),
        (pl.col("status") == "error").any().alias("failed"),
    )
    per = filter_window(per, "start", window)
    per = per.with_columns(
        ((pl.col("_end") - pl.col("start")).dt.total_microseconds() / 1000.0).alias("duration_ms"),
        pl.col("root_service").fill_null(pl.lit("?")),
        pl.col("root_name").fill_null(pl.lit("?")),
    )
    if status != "any":
        per = per.filter(pl.col("failed") == (status == "failed"))
    if min_duration_ms > 0:
        per = per.filter(pl.col("duration_ms") >= min_duration_ms)
    if status == "any":  # room for the slowest traces that did not fail
        slow = per.filter(~pl.col("failed")).sort("duration_ms", descending=True)
        failed = per.filter(pl.col("failed")).sort("duration_ms", descending=True)
        keep_failed = max(n - min(slow.height, n // 2), 0)
        per = pl.concat([failed.head(keep_failed), slow.head(n - min(failed.height, keep_failed))])
    failed_ids = per.filter(pl.col("failed")).select("trace_id")
    origins = (
        error_origin_spans(sp.join(failed_ids, on="trace_id", how="semi"))
        .sort("start")
        .group_by("trace_id")
        .agg(
            pl.col("service").first().alias("error_service"),
            pl.col("name").first().alias("error_name"),
        )
    )
    ranked = (
        per.join(origins, on="trace_id", how="left")
        .sort(["failed", "duration_ms", "trace_id"], descending=[True, True, False])
        .head(n)
    )
    return ranked.select(list(TRACE_TABLE_SCHEMA)).cast(TRACE_TABLE_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)


def node_changes(baseline: ServiceGraph, incident: ServiceGraph) -> pl.DataFrame:
    """The incident graph's nodes plus ``error_ratio_base``, ``p95_base_ms``,
    ``error_ratio_delta`` and ``p95_ratio`` (incident p95 / baseline p95, null when the
    service had no baseline requests): what to colour a graph by "latency change".

    >>> node_changes(service_graph(spans, window=inc.baseline), g).sort("p95_ratio")
    """
    base = baseline.nodes.select(
        "service",
        pl.col("error_ratio").alias("error_ratio_base"),
        pl.col("p95_ms").alias("p95_base_ms"),
    )
    return incident.nodes.join(base, on="service", how="left").with_columns(
        (pl.col("error_ratio") - pl.col("error_ratio_base")).alias("error_ratio_delta"),
        pl.when(pl.col("p95_base_ms") > 0)
        .then(pl.col("p95_ms") / pl.col("p95_base_ms"))
        .alias("p95_ratio"),
    )


def pattern_table(
    mined: pl.DataFrame,
    window: Window,
    baseline: Window,
    *,
    services: Sequence[str] | None = None,
    search: str = "",
    n: int = 200,
) -> pl.DataFrame:
    """Log templates of ``window``: new first, then surging, then the most frequent.

    ``mined`` is :func:`workbench.analysis.templates.mine_templates` output (raw logs are
    mined on the fly). Rows are those of
    :func:`~workbench.analysis.templates.template_surges` with ``template_id`` kept,
    only templates seen in the window, narrowed to ``services`` and to templates or
    example lines containing ``search`` (case-insensitive, literal); at most ``n``.

    >>> pattern_table(mined, inc.window, inc.baseline, services=["checkout"], search="timeout")
    """
    from workbench.analysis.templates import template_surges

    logs = for_services(mined, services)
    surges = template_surges(logs, window, baseline)
    surges = surges.filter(pl.col("n_incident") > 0)
    if search.strip():
        needle = search.strip().lower()
        surges = surges.filter(
            pl.col("template").str.to_lowercase().str.contains(needle, literal=True)
            | pl.col("example").fill_null("").str.to_lowercase().str.contains(needle, literal=True)
        )
    return surges.sort(
        ["new", "surge", "n_incident", "z", "template_id"],
        descending=[True, True, True, True, False],
        nulls_last=True,
    ).head(n)


def pattern_lines(
    mined: pl.DataFrame,
    template_id: int,
    *,
    window: Window | None = None,
    services: Sequence[str] | None = None,
    n: int = 50,
) -> pl.DataFrame:
    """The raw log lines behind one template in ``window`` (earliest first, at most ``n``).

    >>> pattern_lines(mined, 12, window=inc.window, n=20).select("ts", "service", "message")
    """
    rows = filter_window(for_services(mined, services), "ts", window)
    return rows.filter(pl.col("template_id") == template_id).sort("ts").head(n)


def surges_as_timeline(surges: pl.DataFrame, *, max_rows: int = 50) -> pl.DataFrame:
    """Surging log templates (``surge`` rows of
    :func:`~workbench.analysis.templates.template_surges`) as timeline rows of kind
    ``log_surge`` at the time each rose above its baseline rate (``rose_at``: a new
    template's first line; else where its lines began to outrun the baseline's rate),
    the strongest ``max_rows``.

    >>> pl.concat([timeline, surges_as_timeline(surges)]).sort("ts")
    """
    at = "rose_at" if "rose_at" in surges.columns else "first_in_window"
    rows = surges.filter(pl.col("surge") & pl.col(at).is_not_null())
    rows = rows.sort("z", descending=True).head(max_rows)
    service = pl.col("service") if "service" in rows.columns else pl.lit(None, pl.String)
    return rows.select(
        pl.col(at).alias("ts"),
        pl.lit(None, frames.TS).alias("end"),
        pl.lit("log_surge").alias("kind"),
        service.alias("service"),
        (
            pl.when(pl.col("new"))
            .then(pl.lit("new log pattern: "))
            .otherwise(pl.lit("log surge: "))
            + pl.col("template")
        ).alias("title"),
        pl.lit("logs").alias("source"),
        # counts as the surges table writes them ("1,387"), at most max_rows rows
        pl.Series(
            "evidence",
            [
                f"{int(a or 0):,} lines in the window, {int(b or 0):,} in the baseline "
                f"(z {round(z, 1) if z is not None else '—'})"
                for a, b, z in rows.select("n_incident", "n_baseline", "z").iter_rows()
            ],
            dtype=pl.String,
        ),
    ).cast(TIMELINE_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
