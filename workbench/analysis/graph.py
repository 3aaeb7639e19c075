"""The service dependency graph, computed from spans with polars joins.

An edge ``caller -> callee`` is counted once per call:

* a span whose parent span belongs to another service (the parent's service calls the
  child's service); latency and status are the child's (the server side);
* a client span with no child span at all, whose attributes name its peer
  (``peer.service``, ``server.address``, ``net.peer.name``, ``db.system``): a callee
  without telemetry of its own, such as a database or a cache. These edges and nodes
  are marked ``inferred``; latency and status are the client span's.

Per edge: ``calls``, ``rate_per_s``, ``errors``, ``error_ratio``, ``p50_ms``, ``p95_ms``,
``p99_ms``. Per node: the same over the requests entering the service (spans without a
parent in the same service), or over its inferred incoming calls. Quantiles interpolate
linearly between order statistics (numpy's default).

Example::

    >>> from workbench.analysis.graph import service_graph, graph_diff
    >>> g = service_graph(inc.in_window(inc.spans, "start"), window=inc.window)
    >>> g.edges.sort("error_ratio", descending=True).head()
    >>> g.to_networkx().number_of_nodes()
    >>> graph_diff(service_graph(base_spans, window=inc.baseline), g).filter(
    ...     pl.col("change") != "same")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from workbench.analysis._util import (
    check_columns,
    filter_window,
    is_entry,
    memoised,
    peer_name,
    span_seconds,
    with_parent_service,
)
from workbench.timewindow import Window

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["EDGE_COLUMNS", "NODE_COLUMNS", "ServiceGraph", "graph_diff", "service_graph"]

EDGE_COLUMNS = (
    "caller",
    "callee",
    "calls",
    "rate_per_s",
    "errors",
    "error_ratio",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "inferred",
)
NODE_COLUMNS = (
    "service",
    "requests",
    "rate_per_s",
    "errors",
    "error_ratio",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "inferred",
)

_SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "service",
    "kind",
    "duration_ms",
    "status",
)


@dataclass(frozen=True, eq=False)
class ServiceGraph:
    """Service dependency graph: ``edges`` and ``nodes`` frames plus the time covered.

    ``edges`` columns: caller, callee, calls, rate_per_s, errors, error_ratio, p50_ms,
    p95_ms, p99_ms, inferred. ``nodes`` columns: service, requests, rate_per_s, errors,
    error_ratio, p50_ms, p95_ms, p99_ms, inferred.
    """

    edges: pl.DataFrame
    nodes: pl.DataFrame
    seconds: float
    #: the window the numbers are over (None: the spans' own span), named by the chart
    window: Window | None = None

    def to_networkx(self) -> nx.DiGraph:
        """A ``networkx.DiGraph`` with every node and edge column as attributes."""
        import networkx as nx

        g: nx.DiGraph[str] = nx.DiGraph()
        for row in self.nodes.iter_rows(named=True):
            name = row.pop("service")
            g.add_node(name, **row)
        for row in self.edges.iter_rows(named=True):
            a, b = row.pop("caller"), row.pop("callee")
            g.add_edge(a, b, **row)
        return g

    def callees(self, service: str) -> list[str]:
        """Services ``service`` calls (sorted)."""
        return sorted(self.edges.filter(pl.col("caller") == service)["callee"].to_list())

    def callers(self, service: str) -> list[str]:
        """Services calling ``service`` (sorted)."""
        return sorted(self.edges.filter(pl.col("callee") == service)["caller"].to_list())

    def failing_origins(self, *, min_error_ratio: float = 0.05) -> list[str]:
        """Failing services none of whose callees fail: where errors start in the graph.

        A service fails when its ``error_ratio`` is at least ``min_error_ratio``. A caller
        failing because its callee fails is not an origin; the deepest failing node is.
        Ordered by error ratio, highest first.
        """
        failing = set(
            self.nodes.filter(pl.col("error_ratio") >= min_error_ratio)["service"].to_list()
        )
        origins = [s for s in failing if not failing.intersection(self.callees(s)) - {s}]
        ratio = dict(zip(self.nodes["service"], self.nodes["error_ratio"], strict=True))
        return sorted(origins, key=lambda s: (-(ratio.get(s) or 0.0), s))

    def _repr_html_(self) -> str:
        from workbench.display import format_duration, html_table

        return (
            f"<b>ServiceGraph</b>: {self.nodes.height} services, {self.edges.height} edges "
            f"over {format_duration(self.seconds)}"
            + html_table(self.edges, max_rows=15, more_hint=".edges has them all")
        )

    def __repr__(self) -> str:
        return (
            f"ServiceGraph({self.nodes.height} services, {self.edges.height} edges, "
            f"{self.seconds:.0f} s)"
        )


def _stats(seconds: float) -> list[pl.Expr]:
    return [
        pl.len().cast(pl.Int64).alias("calls"),
        (pl.len() / seconds).alias("rate_per_s"),
        (pl.col("status") == "error").sum().cast(pl.Int64).alias("errors"),
        (pl.col("status") == "error").mean().alias("error_ratio"),
        pl.col("duration_ms").quantile(0.50, "linear").alias("p50_ms"),
        pl.col("duration_ms").quantile(0.95, "linear").alias("p95_ms"),
        pl.col("duration_ms").quantile(0.99, "linear").alias("p99_ms"),
    ]


@memoised
def service_graph(
    spans: pl.DataFrame, *, window: Window | None = None, infer_peers: bool = True
) -> ServiceGraph:
    """Build the service graph from a spans frame.

    ``window`` limits the spans to those starting inside it and sets the time base of the
    rates (default: the spans' own extent). ``infer_peers`` adds edges to callees that
    have no spans of their own (databases, caches, external APIs), named from the client
    span's peer attributes.

    Example::

        >>> g = service_graph(spans, window=Window.parse("2026-11-20T11:00Z..2026-11-20T12:00Z"))
        >>> g.edges.filter(pl.col("callee") == "postgres")
    """
    check_columns(spans, _SPAN_COLUMNS, "spans")
    spans = filter_window(spans, "start", window)
    seconds = span_seconds(spans, window)
    s = with_parent_service(spans.select(_SPAN_COLUMNS), "caller")
    calls = s.filter(pl.col("caller").is_not_null() & (pl.col("caller") != pl.col("service")))
    calls = calls.select(
        "caller",
        pl.col("service").alias("callee"),
        "duration_ms",
        "status",
        pl.lit(False).alias("inferred"),
    )
    parts = [calls]
    if infer_peers and "attributes" in spans.columns:
        has_child = s.select("trace_id", pl.col("parent_span_id").alias("span_id")).drop_nulls()
        leaf_clients = (
            spans.filter(pl.col("kind") == "client")
            .select("trace_id", "span_id", "service", "duration_ms", "status", "attributes")
            .join(has_child, on=["trace_id", "span_id"], how="anti")
        )
        inferred = (
            leaf_clients.with_columns(peer_name())
            .filter(pl.col("peer").is_not_null() & (pl.col("peer") != pl.col("service")))
            .select(
                pl.col("service").alias("caller"),
                pl.col("peer").alias("callee"),
                "duration_ms",
                "status",
                pl.lit(True).alias("inferred"),
            )
        )
        parts.append(inferred)
    all_calls = pl.concat(parts, how="vertical")
    edges = (
        all_calls.group_by("caller", "callee")
        .agg(*_stats(seconds), pl.col("inferred").all())
        .sort("caller", "callee")
        .select(EDGE_COLUMNS)
    )
    observed = s.filter(is_entry("caller")).group_by("service").agg(*_stats(seconds))
    seen = set(s["service"].drop_nulls().unique().to_list())
    inferred_nodes = (
        all_calls.filter(pl.col("inferred") & ~pl.col("callee").is_in(list(seen)))
        .rename({"callee": "service"})
        .group_by("service")
        .agg(*_stats(seconds))
    )
    nodes = pl.concat(
        [
            observed.with_columns(pl.lit(False).alias("inferred")),
            inferred_nodes.with_columns(pl.lit(True).alias("inferred")),
        ],
        how="vertical",
    )
    # a service seen only as a caller of internal spans still gets a node (zero requests)
    missing = sorted(seen - set(nodes["service"].to_list()))
    if missing:
        nodes = pl.concat([nodes, _zero_nodes(missing, nodes.schema)], how="vertical")
    nodes = nodes.rename({"calls": "requests"}).sort("service").select(NODE_COLUMNS)
    return ServiceGraph(edges=edges, nodes=nodes, seconds=seconds, window=window)


def _zero_nodes(names: list[str], schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "service": names,
            "calls": [0] * len(names),
            "rate_per_s": [0.0] * len(names),
            "errors": [0] * len(names),
            "error_ratio": [None] * len(names),
            "p50_ms": [None] * len(names),
            "p95_ms": [None] * len(names),
            "p99_ms": [None] * len(names),
            "inferred": [False] * len(names),
        },
        schema=schema,
    )


def graph_diff(
    baseline: ServiceGraph,
    incident: ServiceGraph,
    *,
    error_ratio_delta: float = 0.05,
    latency_ratio: float = 1.5,
    min_calls: int = 5,
) -> pl.DataFrame:
    """Compare two service graphs edge by edge.

    Returns one row per edge of either graph: ``caller, callee, change`` (``new``,
    ``vanished``, ``errors_up``, ``errors_down``, ``slower``, ``faster``, ``same``),
    the calls, rates, error ratios and p95 of both sides, ``error_ratio_delta`` and
    ``p95_ratio`` (incident / baseline). Error changes take precedence over latency.
    An edge is ``changed`` only with at least ``min_calls`` calls on both sides.
    Sorted with the changes first, largest error increase first.

    Example::

        >>> d = graph_diff(g_base, g_inc)
        >>> d.filter(pl.col("change").is_in(["new", "errors_up"]))
    """
    keep = ["caller", "callee", "calls", "rate_per_s", "error_ratio", "p95_ms"]
    b = baseline.edges.select(keep)
    i = incident.edges.select(keep)
    d = b.join(i, on=["caller", "callee"], how="full", coalesce=True, suffix="_inc")
    d = d.rename(
        {
            "calls": "calls_base",
            "rate_per_s": "rate_base",
            "error_ratio": "error_ratio_base",
            "p95_ms": "p95_base_ms",
            "rate_per_s_inc": "rate_inc",
            "error_ratio_inc": "error_ratio_inc",
            "p95_ms_inc": "p95_inc_ms",
        }
    ).with_columns(pl.col("calls_base").fill_null(0), pl.col("calls_inc").fill_null(0))
    delta = (pl.col("error_ratio_inc") - pl.col("error_ratio_base")).alias("error_ratio_delta")
    ratio = (pl.col("p95_inc_ms") / pl.col("p95_base_ms")).alias("p95_ratio")
    d = d.with_columns(delta, ratio)
    enough = (pl.col("calls_base") >= min_calls) & (pl.col("calls_inc") >= min_calls)
    change = (
        pl.when(pl.col("calls_base") == 0)
        .then(pl.lit("new"))
        .when(pl.col("calls_inc") == 0)
        .then(pl.lit("vanished"))
        .when(enough & (pl.col("error_ratio_delta") >= error_ratio_delta))
        .then(pl.lit("errors_up"))
        .when(enough & (pl.col("error_ratio_delta") <= -error_ratio_delta))
        .then(pl.lit("errors_down"))
        .when(enough & (pl.col("p95_ratio") >= latency_ratio))
        .then(pl.lit("slower"))
        .when(enough & (pl.col("p95_ratio") <= 1 / latency_ratio))
        .then(pl.lit("faster"))
        .otherwise(pl.lit("same"))
        .alias("change")
    )
    order = {
        "new": 0,
        "errors_up": 1,
        "slower": 2,
        "vanished": 3,
        "errors_down": 4,
        "faster": 5,
        "same": 6,
    }
    return (
        d.with_columns(change)
        .with_columns(pl.col("change").replace_strict(order, return_dtype=pl.Int8).alias("_o"))
        .sort(
            ["_o", "error_ratio_delta", "caller", "callee"],
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .select(
            "caller",
            "callee",
            "change",
            "calls_base",
            "calls_inc",
            "rate_base",
            "rate_inc",
            "error_ratio_base",
            "error_ratio_inc",
            "error_ratio_delta",
            "p95_base_ms",
            "p95_inc_ms",
            "p95_ratio",
        )
    )
