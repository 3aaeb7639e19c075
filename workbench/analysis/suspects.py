"""Ranked suspects: which service most likely broke, with the evidence for each.

The kinds of evidence (errors starting at a service, extra latency spent there, metric
changes, more of an additive total, log surges, saturation, code paths cut short,
change events) are one table, :data:`workbench.analysis.signals.SIGNALS`: each with its
compute, weight and role. A service's score combines them as independent pieces of
evidence (``1 - prod(1 - weight * value)``):

* ``local`` evidence (errors, latency, saturation, broken code paths) is the service's own
  behaviour and is never discounted;
* ``symptom`` evidence (metric changes, additive totals, log surges) travels up the call
  graph (a caller whose callee fails also shows errors and latency), so it is discounted
  by the anomaly of the services the service depends on, directly or not: a caller
  failing because its callee fails is a victim, not a cause (soft "deepest anomalous
  node" rule). Only a callee that can explain the caller's symptoms counts: one with
  evidence of its own, or one carrying the caller's extra seconds or failures where an
  additive total rose at the caller and is measured for both (:class:`_Explains`); a
  service whose callees are unknown (no spans of its own while others
  have spans, and no edge naming it a caller; or a remote endpoint the service map marks,
  known only through its callers' calls) may call any service, so its symptoms are
  discounted by the strongest anomaly elsewhere;
* ``boost`` evidence (a deploy, rollback, config change or chaos experiment on the
  service from 30 min before the onset to 5 min after) multiplies the score by 1.5 and
  adds 0.01.

Honest ranks: equal scores share a rank (the table's ``rank`` is the best position of
the tie, :meth:`Suspects.worst_rank` the worst), and services with no evidence at all
are not ranked (``rank`` null, listed last, left out of :attr:`Suspects.ranking`).

Example::

    >>> from workbench.analysis.suspects import rank_suspects
    >>> sus = rank_suspects(inc)           # an Incident, or frames + windows
    >>> sus.table.head()                   # rank, service, score, per-signal columns, why
    >>> sus.evidence("catalog").series     # the metric series behind it, as a frame
    >>> sus                                # in a notebook: a summary
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from workbench import frames
from workbench.analysis._util import memoised
from workbench.analysis.signals import (
    SIGNAL_SCHEMA,
    SIGNALS,
    Context,
    benign_change,
    callee_symptom,
)
from workbench.analysis.threads import run_all
from workbench.analysis.traces import failing_spans
from workbench.timewindow import Window

__all__ = [
    "WEIGHTS",
    "Evidence",
    "Suspects",
    "benign_change",
    "blame_services",
    "callee_symptom",
    "errors_from_logs",
    "rank_suspects",
    "remote_endpoints",
]

#: each signal's weight in the ranking (see :data:`workbench.analysis.signals.SIGNALS`)
WEIGHTS = {sg.name: sg.weight for sg in SIGNALS if sg.role != "boost"}
#: the signal columns of :attr:`Suspects.table`
SIGNAL_COLUMNS = tuple(sg.name for sg in SIGNALS)
#: scores closer than this are a tie (they share a rank)
TIE_DIGITS = 9


@dataclass
class Evidence:
    """The frames behind one suspect: ``series`` (metric changes), ``templates`` (log
    surges), ``spans`` (error-origin spans), ``blame`` (latency blame rows), ``events``,
    ``paths`` (code paths cut short, :func:`patterns.broken_patterns` rows) and ``totals``
    (the excess of an additive total, when the ranking used one)."""

    service: str
    series: pl.DataFrame
    templates: pl.DataFrame
    spans: pl.DataFrame
    blame: pl.DataFrame
    events: pl.DataFrame
    paths: pl.DataFrame = field(default_factory=pl.DataFrame)
    totals: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: Grafana Explore links (:class:`workbench.grafana_links.ExploreLinks`) or None
    links: Any = field(default=None, repr=False, compare=False)

    def _repr_html_(self) -> str:
        from workbench.summaries import evidence_html

        return evidence_html(self)


@dataclass
class Suspects:
    """Ranked services with the evidence for each.

    ``table``: ``rank, service, score``, one column per signal (``errors, latency,
    metrics, totals, logs, saturation, patterns, events``), ``victim_of, why``; equal
    scores share a rank, services without evidence have a null rank and come last.
    ``onset`` is when the incident began: from the metric changes (``changes_onset``,
    the ranking's anchor for change events), or, in an
    :class:`~workbench.investigation.Investigation`, the investigation's one onset (the
    first error or latency rise) that every view shows. ``verdict``
    says how much the top suspect stands out (clear, weak or none). ``signals`` holds,
    per signal and service, ``value`` (0..1), ``strength`` (absolute) and ``top``.
    """

    table: pl.DataFrame
    onset: datetime | None
    window: Window
    baseline: Window
    changes: pl.DataFrame = field(repr=False)
    surges: pl.DataFrame = field(repr=False)
    origin_spans: pl.DataFrame = field(repr=False)
    blame: pl.DataFrame = field(repr=False)
    events: pl.DataFrame = field(repr=False)
    #: event pairs that held in the baseline and broke in the window (per service)
    broken_paths: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    #: the excess of each additive total (``total``: busy_seconds, failed_requests) per service
    totals: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    #: ``signal, service, value, strength, top``: every signal's output (the verdict reads it)
    signals: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    #: what the ranking was run on (frames, windows, options), for :attr:`verdict`
    inputs: dict[str, Any] | None = field(default=None, repr=False)
    _verdict: Any = field(default=None, repr=False, compare=False)
    #: Grafana Explore links for the evidence (:class:`workbench.grafana_links.ExploreLinks`;
    #: set by the Investigation when the incident has a Grafana), or None
    links: Any = field(default=None, repr=False, compare=False)
    #: when the metric changes began: the ranking's anchor for change events (``onset``
    #: unless an Investigation set its own)
    changes_onset: datetime | None = field(default=None, repr=False)

    @property
    def verdict(self) -> Any:
        """How much the top suspect stands out (:class:`~workbench.analysis.verdict.Verdict`:
        ``level`` clear/weak/none, ``reason``, the numbers); computed on first use."""
        if self._verdict is None:
            from workbench.analysis.verdict import assess

            self._verdict = assess(self)
        return self._verdict

    @property
    def ranking(self) -> list[str]:
        """Services with evidence, most suspect first (tied ones in name order: see
        :meth:`worst_rank` for an honest position)."""
        return self.table.filter(pl.col("rank").is_not_null())["service"].to_list()

    def rank_of(self, service: str) -> int | None:
        """1-based rank of ``service``, shared by equal scores (the best position of the
        tie); None if it has no evidence or is not in the table."""
        got = self.table.filter(pl.col("service") == service)["rank"]
        return int(got[0]) if got.len() and got[0] is not None else None

    def worst_rank(self, service: str) -> int | None:
        """The last position ``service`` could hold among the services tied with it (how
        far down a reader may have to look); None if it is not ranked.

        >>> sus.rank_of("b"), sus.worst_rank("b")    # b tied with c for second place
        (2, 3)
        """
        best = self.rank_of(service)
        if best is None:
            return None
        score = self.table.filter(pl.col("service") == service)["score"][0]
        ranked = self.table.filter(pl.col("rank").is_not_null())
        return int((ranked["score"].round(TIE_DIGITS) >= round(score, TIE_DIGITS)).sum())

    def evidence(self, service: str) -> Evidence:
        """The series, templates, spans, blame rows, events, broken paths and totals
        behind ``service``."""
        svc = pl.col("service") == service

        def own(df: pl.DataFrame) -> pl.DataFrame:
            return df.filter(svc) if "service" in df.columns else df

        return Evidence(
            service=service,
            series=self.changes.filter(svc & pl.col("changed")),
            templates=self.surges.filter(svc & pl.col("surge")),
            spans=self.origin_spans.filter(pl.col("blame_service") == service),
            # only operations that took longer (as series: only those that changed): a
            # row of 0 ms extra listed among "slow operations" contradicted itself
            blame=self.blame.filter(
                svc & (pl.col("extra_ms") > 0) if "extra_ms" in self.blame.columns else svc
            ),
            events=self.events.filter(svc),
            paths=own(self.broken_paths),
            # only the totals above their normal (as series: only those that changed);
            # a row with no excess listed as "total above normal" contradicted itself
            totals=own(self.totals).filter(pl.col("excess") > 0)
            if "excess" in self.totals.columns
            else own(self.totals),
            links=self.links,
        )

    def _repr_html_(self) -> str:
        from workbench.summaries import suspects_html

        return suspects_html(self)

    def __repr__(self) -> str:
        top = ", ".join(self.ranking[:3])
        # the verdict once computed (it runs a few placebo rankings, too slow for a repr)
        v = f"; verdict: {self._verdict}" if self._verdict is not None else ""
        return f"Suspects({self.table.height} services; top: {top}{v})"


@memoised
def blame_services(spans: pl.DataFrame) -> pl.DataFrame:
    """Spans plus ``blame_service``: the callee a client span waits for (its child span's
    service when that differs, else the peer named in its attributes), else its service.

    Spans without a kind (``unspecified``, common in Zipkin/Jaeger/CSV exports) count as
    client spans when all their children belong to one other service.
    """
    if spans.height == 0:
        return spans.with_columns(blame_service=pl.col("service"))
    parents = spans.select(
        "trace_id", pl.col("span_id").alias("parent_span_id"), pl.col("service").alias("_ps")
    ).unique(subset=["trace_id", "parent_span_id"], keep="first")
    child = (
        spans.select("trace_id", "parent_span_id", "service")
        .drop_nulls("parent_span_id")
        .join(parents, on=["trace_id", "parent_span_id"], how="inner")
        .group_by("trace_id", "parent_span_id")
        .agg(
            _n=pl.len(),
            _n_other=(pl.col("service") != pl.col("_ps")).sum(),
            _child_service=pl.col("service").filter(pl.col("service") != pl.col("_ps")).first(),
        )
        .rename({"parent_span_id": "span_id"})
    )
    out = spans.join(child, on=["trace_id", "span_id"], how="left")
    try:
        from workbench.analysis._util import peer_name

        peer = peer_name() if "attributes" in spans.columns else pl.lit(None, pl.String)
    except ImportError:  # pragma: no cover - the helper ships with graph.py
        peer = pl.lit(None, pl.String)
    is_client = (pl.col("kind") == "client") | (
        (pl.col("kind") == "unspecified") & (pl.col("_n_other") == pl.col("_n"))
    )
    other_child = pl.col("_child_service").is_not_null()
    blame = (
        pl.when(is_client & other_child)
        .then(pl.col("_child_service"))
        .when(is_client & pl.col("_n").is_null())
        .then(pl.coalesce(peer, pl.col("service")))
        .otherwise(pl.col("service"))
    )
    return out.with_columns(blame_service=blame.fill_null(pl.col("service"))).drop(
        "_n", "_n_other", "_child_service"
    )


def errors_from_logs(spans: pl.DataFrame, logs: pl.DataFrame) -> pl.DataFrame:
    """When no span carries an error status (exports without status, e.g. CSV dumps),
    mark as ``error`` the spans that an error or fatal log line points at (by
    ``trace_id`` and ``span_id``). Spans with statuses are returned unchanged."""
    if spans.height == 0 or logs.height == 0 or failing_spans(spans).height:
        return spans
    bad = (
        logs.filter(pl.col("level").is_in(["error", "fatal"]) & pl.col("span_id").is_not_null())
        .select("trace_id", "span_id")
        .unique()
        .with_columns(_err=pl.lit(True))
    )
    if bad.height == 0:
        return spans
    return (
        spans.join(bad, on=["trace_id", "span_id"], how="left", maintain_order="left")
        .with_columns(
            status=pl.when(pl.col("_err")).then(pl.lit("error")).otherwise(pl.col("status"))
        )
        .drop("_err")
    )


def _frames_from(obj: Any, **kw: Any) -> dict[str, Any]:
    got: dict[str, Any] = {}
    if obj is not None and not isinstance(obj, dict):
        got = {
            "metrics": obj.metrics,
            "logs": obj.logs,
            "spans": obj.spans,
            "events": obj.events,
            "window": obj.window,
            "baseline": obj.baseline,
            "rate_window": getattr(obj, "metric_rate_window", None),
        }
    elif isinstance(obj, dict):
        got = dict(obj)
    for k, v in kw.items():
        if v is not None:
            got[k] = v
    for kind in ("metrics", "logs", "spans", "events"):
        if got.get(kind) is None:
            got[kind] = frames.empty(kind)
    return got


def _call_edges(spans: pl.DataFrame, edges: pl.DataFrame | None) -> pl.DataFrame:
    if edges is not None:
        return edges.select("caller", "callee")
    if spans.height == 0:
        return pl.DataFrame(schema={"caller": pl.String, "callee": pl.String})
    try:
        from workbench.analysis.graph import service_graph

        return service_graph(spans).edges.select("caller", "callee")
    except ImportError:  # pragma: no cover - graph.py ships alongside
        b = blame_services(spans)
        parent = b.select(
            "trace_id", pl.col("span_id").alias("parent_span_id"), pl.col("service").alias("caller")
        )
        return (
            b.join(parent, on=["trace_id", "parent_span_id"])
            .select("caller", callee="blame_service")
            .filter(pl.col("caller") != pl.col("callee"))
            .unique()
        )


def _descendant_max(
    edges: pl.DataFrame,
    value: dict[str, float],
    explains: Callable[[str, str], bool] | None = None,
) -> dict[str, tuple[float, str | None]]:
    """For each service, the largest ``value`` among the services it calls, directly or
    not (only those ``explains(service, callee)`` accepts, when given)."""
    import networkx as nx

    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_edges_from(
        (a, b) for a, b in edges.select("caller", "callee").iter_rows() if a and b and a != b
    )
    out: dict[str, tuple[float, str | None]] = {}
    for s in value:
        best, who = 0.0, None
        if s in g:
            for d in nx.descendants(g, s):
                v = value.get(d, 0.0)
                if v > best and (explains is None or explains(s, d)):
                    best, who = v, d
        out[s] = (best, who)
    return out


#: a callee carrying at least this share of a caller's extra of an additive total (busy
#: seconds, failed requests) carries the same extra: the caller's is its calls' wait
SAME_EXTRA = 0.9


class _Explains:
    """``explains(caller, callee)``: can the callee's anomaly account for the caller's
    symptoms? Yes when the callee has evidence of its own (errors starting there, extra
    time spent there, a code path cut short, a resource at capacity). Otherwise, where an
    additive total (busy seconds, failed requests) is measured for both, only when the
    callee carries the caller's extra of it (at least :data:`SAME_EXTRA` of the caller's
    excess): the extra seconds a caller waits are its callee's seconds counted again one
    hop up, the failures it returns the callee's. A callee whose symptoms (a metric
    z-score, a log surge) do not add up to the caller's extra does not explain it: a
    level unlike a distant reference period, or a traffic swing, is common in callees and
    no reason to acquit a caller. Without a total that rose at the caller and is measured
    for the callee too, the callee's anomaly is taken to explain the caller's symptoms, as
    the call graph alone suggests."""

    def __init__(self, local: dict[str, float], totals: pl.DataFrame) -> None:
        self.local = local
        self.excess: dict[str, dict[str, float]] = {}
        if totals.height and "total" in totals.columns:
            for svc, total, ex in totals.select("service", "total", "excess").iter_rows():
                self.excess.setdefault(svc, {})[total] = ex or 0.0

    def __call__(self, caller: str, callee: str) -> bool:
        if self.local.get(callee, 0.0) > 0:
            return True
        mine, theirs = self.excess.get(caller, {}), self.excess.get(callee, {})
        # the totals of the caller that rose, measured for the callee too
        shared = [t for t, e in mine.items() if e > 0 and t in theirs]
        if not shared:
            return True
        return any(theirs[t] >= SAME_EXTRA * mine[t] for t in shared)


#: the ``edges`` column marking a callee that records nothing of its own (a remote endpoint)
REMOTE = "callee_remote"


def remote_endpoints(edges: pl.DataFrame | None) -> set[str]:
    """The callees ``edges`` marks as remote endpoints (a true ``callee_remote``) that no
    edge names a caller: nodes known only through their callers' calls to them.

    A service map drawn from client-side instrumentation holds nodes with nothing recorded
    of their own: a host or load balancer called over HTTP (AWS X-Ray's ``remote`` nodes,
    "a downstream service of indeterminate type"), an uninstrumented peer. Their latency,
    failures and requests are the callers' view of the call, and whatever serves the call
    behind them is not in the map: a dead end there does not mean they call nothing.

    >>> remote_endpoints(pl.DataFrame({"caller": ["web"], "callee": ["lb"], "callee_remote": [True]}))
    {'lb'}
    """
    if edges is None or REMOTE not in edges.columns or edges.height == 0:
        return set()
    marked = set(edges.filter(pl.col(REMOTE).fill_null(False))["callee"].to_list())
    return marked - set(edges["caller"].to_list())


class _Unknown:
    """Membership test: True for a service whose callees cannot be known (see
    :func:`workbench.analysis.verdict.unseen_callees`): one with no spans of its own
    (while others have spans) that no edge names a caller, or a remote endpoint the map
    marks (:func:`remote_endpoints`): both show symptoms of calls whose far side was not
    recorded."""

    def __init__(self, spans: pl.DataFrame, edges: pl.DataFrame, remote: set[str]) -> None:
        self.traced = spans.height > 0
        self.known = set(spans["service"].unique().to_list()) if self.traced else set()
        if edges.height:
            self.known.update(edges["caller"].unique().to_list())
        self.remote = remote

    def __contains__(self, service: object) -> bool:
        # spans of its own or an edge naming it a caller: what it calls is known
        return (self.traced or service in self.remote) and service not in self.known


def _combine(table: pl.DataFrame, role: str) -> pl.Expr:
    """``1 - prod(1 - weight * value)`` over the signals of one role."""
    out = pl.lit(1.0)
    for sg in SIGNALS:
        if sg.role == role:
            out = out * (1 - sg.weight * pl.col(sg.name))
    return 1 - out


def signal_context(
    incident_or_frames: Any = None,
    *,
    window: Window | None = None,
    baseline: Window | None = None,
    metric_baseline: Window | None = None,
    metrics: pl.DataFrame | None = None,
    logs: pl.DataFrame | None = None,
    spans: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
    event_lookback: timedelta = timedelta(minutes=30),
    rate_window: timedelta | None = None,
    strengths_only: bool = False,
    **_ignored: Any,
) -> Context:
    """The :class:`~workbench.analysis.signals.Context` :func:`rank_suspects` computes its
    signals on (same arguments; ``edges`` and ``graph_discount`` only weigh the ranking
    and are ignored here). The verdict computes just the signals it compares from it,
    with ``strengths_only`` (it reads each service's strength, not what names it).

    >>> ctx = signal_context(inc)
    >>> signal("metrics").compute(ctx)  # the metric-change evidence alone
    """
    f = _frames_from(
        incident_or_frames,
        window=window,
        baseline=baseline,
        metrics=metrics,
        logs=logs,
        spans=spans,
        events=events,
    )
    return Context(
        metrics=f["metrics"],
        logs=f["logs"],
        spans=f["spans"],
        events=f["events"],
        window=f["window"],
        baseline=f["baseline"],
        metric_baseline=metric_baseline,
        event_lookback=event_lookback,
        rate_window=rate_window if rate_window is not None else f.get("rate_window"),
        strengths_only=strengths_only,
    )


def rank_suspects(
    incident_or_frames: Any = None,
    *,
    window: Window | None = None,
    baseline: Window | None = None,
    metric_baseline: Window | None = None,
    metrics: pl.DataFrame | None = None,
    logs: pl.DataFrame | None = None,
    spans: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
    edges: pl.DataFrame | None = None,
    graph_discount: float = 0.8,
    event_lookback: timedelta = timedelta(minutes=30),
    rate_window: timedelta | None = None,
) -> Suspects:
    """Rank services by how likely each is the cause of the incident.

    Pass an :class:`~workbench.Incident` (anything with ``metrics, logs, spans, events,
    window, baseline``), or a dict of those, or the frames and windows as keywords
    (keywords override). ``metric_baseline`` gives metrics a longer baseline than logs and
    traces when the data have one; ``rate_window`` the window the metric points are rates
    over when a source computed them so (default: an Incident's
    ``metric_rate_window``; none for raw samples), so a change's run counts independent
    windows; ``edges`` (``caller, callee``) gives the call graph when
    spans cannot (default: :func:`workbench.analysis.graph.service_graph` of the spans);
    an optional boolean ``callee_remote`` column marks callees that record nothing of
    their own (:func:`remote_endpoints`: a load balancer or host seen only in its callers'
    calls), whose symptoms are then discounted by the strongest anomaly elsewhere, as a
    traced service's without spans: what serves those calls may be any other service.

    >>> sus = rank_suspects(inc)
    >>> sus.table.select("rank", "service", "score", "why").head()
    >>> sus.evidence(sus.ranking[0]).templates
    """
    ctx = signal_context(
        incident_or_frames,
        window=window,
        baseline=baseline,
        metric_baseline=metric_baseline,
        metrics=metrics,
        logs=logs,
        spans=spans,
        events=events,
        event_lookback=event_lookback,
        rate_window=rate_window,
    )
    # side by side: each signal is mostly polars work (the shared pieces computed once)
    outs = run_all({sg.name: functools.partial(sg.compute, ctx) for sg in SIGNALS})
    signals = pl.concat([o.with_columns(signal=pl.lit(name)) for name, o in outs.items()]).select(
        "signal", *SIGNAL_SCHEMA
    )

    names: set[str] = set(signals["service"].drop_nulls().to_list())
    for df in (ctx.metrics, ctx.logs, ctx.spans):
        if "service" in df.columns and df.height:
            names.update(x for x in df["service"].unique().to_list() if x)
    table = pl.DataFrame({"service": sorted(names)}, schema={"service": pl.String})
    for name, o in outs.items():
        table = table.join(
            o.select(
                "service",
                pl.col("value").alias(name),
                pl.col("top").alias(f"_{name}_top"),
                pl.col("strength").alias(f"_{name}_strength"),
            ),
            on="service",
            how="left",
        )
    table = table.with_columns(pl.col(list(SIGNAL_COLUMNS)).fill_null(0.0))
    table = table.with_columns(_local=_combine(table, "local"), _sympt=_combine(table, "symptom"))
    table = table.with_columns(_raw=1 - (1 - pl.col("_local")) * (1 - pl.col("_sympt")))
    edges_df = _call_edges(ctx.blamed_spans, edges)
    raw = dict(zip(table["service"], table["_raw"], strict=True))
    explains = _Explains(dict(zip(table["service"], table["_local"], strict=True)), ctx.totals)
    desc = _descendant_max(edges_df, raw, explains)
    # a service whose callees are unknown (no spans of its own among traced services, no
    # edge naming it a caller) may call any of the others: its symptoms are discounted by
    # the strongest anomaly elsewhere (with no traces at all every service is alike and
    # the discount would only rescale the scores: not applied); a remote endpoint the map
    # marks is alike: its symptoms are the callers' view of calls served by something the
    # map does not show, which may be any of the others
    unknown = _Unknown(ctx.spans, edges_df, remote_endpoints(edges))
    strongest = sorted(((v, o) for o, v in raw.items()), reverse=True)[:2]
    for s, (best, _who) in list(desc.items()):
        if s in unknown and raw[s] > 0:
            other = next(((v, o) for v, o in strongest if o != s), (0.0, None))
            if other[0] > best:
                desc[s] = other
    table = table.with_columns(
        _desc=pl.Series([desc[s][0] for s in table["service"]], dtype=pl.Float64),
        victim_of=pl.Series([desc[s][1] for s in table["service"]], dtype=pl.String),
    )
    sympt_adj = pl.col("_sympt") * (1 - graph_discount * pl.col("_desc").clip(0.0, 1.0))
    score = 1 - (1 - pl.col("_local")) * (1 - sympt_adj)
    for sg in SIGNALS:
        if sg.role == "boost":
            score = score * (1 + sg.weight * pl.col(sg.name)) + 0.01 * pl.col(sg.name)
    table = table.with_columns(score=score).with_columns(
        victim_of=pl.when(pl.col("_desc") >= 0.5 * pl.col("_raw"))
        .then(pl.col("victim_of"))
        .otherwise(None),
        _key=pl.col("score").round(TIE_DIGITS),
    )
    # equal scores share a rank; a service without any evidence is not ranked at all
    table = table.sort(["_key", "service"], descending=[True, False]).with_columns(
        rank=pl.when(pl.col("_key") > 0)
        .then(pl.col("_key").rank("min", descending=True).cast(pl.UInt32))
        .otherwise(None)
    )
    why = [_why(r, ctx.window) for r in table.iter_rows(named=True)]
    table = table.with_columns(why=pl.Series(why, dtype=pl.String)).select(
        "rank", "service", "score", *SIGNAL_COLUMNS, "victim_of", "why"
    )
    return Suspects(
        table=table,
        onset=ctx.onset,
        changes_onset=ctx.onset,
        window=ctx.window,
        baseline=ctx.baseline,
        changes=ctx.changes,
        surges=ctx.surges_about,
        origin_spans=ctx.origin_spans,
        blame=ctx.blame,
        events=ctx.near_events,
        broken_paths=ctx.broken_paths,
        totals=ctx.totals,
        signals=signals,
        inputs={
            "metrics": ctx.metrics,
            "logs": ctx.logs,
            "spans": ctx.spans,
            "events": ctx.events,
            "window": ctx.window,
            "baseline": ctx.baseline,
            "metric_baseline": metric_baseline,
            "edges": edges,
            "graph_discount": graph_discount,
            "event_lookback": event_lookback,
            "rate_window": ctx.rate_window,
        },
    )


def _why(r: dict[str, Any], window: Window) -> str:
    """A suspect's evidence in words, each kind by its ``explain`` (``window``: the
    window ranked, for the kinds whose numbers name it)."""
    bits = []
    for sg in SIGNALS:
        v = r.get(sg.name, 0.0)
        if v > (0.0 if sg.role == "boost" else 0.05):
            bits.append(
                sg.explain(
                    {
                        "value": v,
                        "top": r.get(f"_{sg.name}_top"),
                        "strength": r.get(f"_{sg.name}_strength") or 0.0,
                        "window": window,
                    }
                )
            )
    if r.get("victim_of"):
        bits.append(f"may be a victim of {r['victim_of']}")
    return "; ".join(bits) if bits else "no anomaly"
