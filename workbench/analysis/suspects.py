"""Ranked suspects: which service most likely broke, with the evidence for each.

Seven signals per service, each scaled to 0..1:

==========  ==================================================================  ======
signal      from                                                                 weight
==========  ==================================================================  ======
errors      where failing requests' errors start (:func:`traces.error_origins`),  0.9
            counted only as far as they rose against the baseline's error rate per
            request, and scaled by how far beyond Poisson noise the rise is
latency     where the extra time of slow traces goes (:func:`traces.latency_blame`) 0.8
            times how much slower the incident's requests are
metrics     the largest sustained robust change of the service's series            0.7
            (:func:`changes.score_changes`)
logs        the strongest surge of a log template (:func:`templates.template_surges`) 0.6
patterns    a code path cut short: an event pair of the service (span name, log      0.8
            statement) that held in the baseline and broke in the window
            (:func:`patterns.broken_patterns`)
saturation  a usage series of the service in percent of its capacity that rose to   0.8
            90 % or more (:func:`metric_rules.saturation`, the USE method)
events      a deploy, rollback, config change or chaos experiment on the service   boost
            from 30 min before the onset to 5 min after
==========  ==================================================================  ======

Trace signals already point at the deepest failing span, and a broken code path or a
saturated resource is the service's own, so errors, latency, patterns and saturation
are not discounted. Metric and log symptoms travel
up the call graph (a caller whose callee fails also shows errors and latency), so a
service's metric/log part is discounted by the anomaly of the services it depends on
(directly or not): a caller failing because its callee fails is a victim, not a cause
(the "deepest anomalous node" rule, soft). Client spans' time and errors are put on the
callee they wait for (the child span's service, else the peer named in the attributes).

Metric changes count only in the direction that hurts when the name says which one
does (availability or success rate down, latency or errors up: a series rising from an
all-zero baseline to 100 % availability is not a fault), and client-side latency series
(a service's wait on its callees) are left to the callee. Metric changes are counted once
(:mod:`workbench.analysis.metric_rules`): host-level series reported under every pod of a
machine are left out, the quantiles of one latency (P90/P95/P99) are scored by their
median, and falls of usage series (CPU, syscalls, bytes, operations: less work arriving)
do not count.

With ``focus`` (the alerting service), services with no path of anomalous services down
the call graph from it are ranked after those with one (the anomaly-traversal rule of
the PetShop baseline).

Example::

    >>> from workbench.analysis.suspects import rank_suspects
    >>> sus = rank_suspects(inc)           # an Incident, or frames + windows
    >>> sus.table.head()                   # rank, service, score, per-signal columns, why
    >>> sus.evidence("catalog").series     # the metric series behind it, as a frame
    >>> sus                                # in a notebook: a summary
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from workbench import frames
from workbench.analysis import changes as ch
from workbench.analysis import metric_rules as mr
from workbench.analysis import patterns as pt
from workbench.analysis import templates as tp
from workbench.analysis import traces as tr
from workbench.analysis._util import memoised
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
]

WEIGHTS = {
    "errors": 0.9,
    "latency": 0.8,
    "metrics": 0.7,
    "logs": 0.6,
    "patterns": 0.8,
    "saturation": 0.8,
}
CHANGE_KINDS = ("deploy", "rollback", "config", "chaos")
_LEVEL_WEIGHT = {"fatal": 1.0, "error": 1.0, "warn": 0.8}
# metrics where only one direction is bad: a success rate that rises or a latency that
# falls is recovery (or, from an all-zero baseline, a series that just started), not harm
_HIGHER_IS_BETTER = r"(?i)(availab|success|uptime|apdex)"
_LOWER_IS_BETTER = r"(?i)(latency|duration|error|fail|_seconds)"


# latency a service measures on its outgoing calls (OTel ``http.client.request.duration``,
# Nezha's ``PodClientLatencyP99``): time spent waiting for a callee, so the callee's
# symptom, not the caller's (the trace signals put client spans' time on the callee too)
_CLIENT_LATENCY = r"(?i)(client.*(latency|duration))|((latency|duration).*client)"


def callee_symptom() -> pl.Expr:
    """True for series that measure the wait on a callee (client-side latency)."""
    return pl.col("metric").str.contains(_CLIENT_LATENCY)


def benign_change() -> pl.Expr:
    """True for a change in the harmless direction of a metric whose name says which
    direction hurts: success rates/availability going up, latency/errors going down."""
    name = pl.col("metric")
    up = pl.col("direction") == "up"
    return (name.str.contains(_HIGHER_IS_BETTER) & up) | (
        name.str.contains(_LOWER_IS_BETTER) & ~name.str.contains(_HIGHER_IS_BETTER) & ~up
    )


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

    def _repr_html_(self) -> str:
        from workbench.summaries import evidence_html

        return evidence_html(self)


@dataclass
class Suspects:
    """Ranked services with the evidence for each.

    ``table``: ``rank, service, score, errors, latency, metrics, logs, patterns,
    saturation, events, victim_of, why``. ``onset`` is when the incident began (robust,
    from the metric changes). ``verdict`` says how much the top suspect stands out
    (clear, weak or none).
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
    #: the excess of the additive total the ranking used (``focus_total``), per service
    totals: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    #: what the ranking was run on (frames, windows, options), for :attr:`verdict`
    inputs: dict[str, Any] | None = field(default=None, repr=False)
    _verdict: Any = field(default=None, repr=False, compare=False)

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
        """Services, most suspect first."""
        return self.table["service"].to_list()

    def rank_of(self, service: str) -> int | None:
        """1-based rank of ``service`` (None if it is not in the table)."""
        try:
            return self.ranking.index(service) + 1
        except ValueError:
            return None

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
            blame=self.blame.filter(svc),
            events=self.events.filter(svc),
            paths=own(self.broken_paths),
            totals=own(self.totals),
        )

    def _repr_html_(self) -> str:
        from workbench.summaries import suspects_html

        return suspects_html(self)

    def __repr__(self) -> str:
        top = ", ".join(self.ranking[:3])
        # the verdict once computed (it runs a few placebo rankings, too slow for a repr)
        v = f"; verdict: {self._verdict}" if self._verdict is not None else ""
        return f"Suspects({self.table.height} services; top: {top}{v})"


def _sat(x: pl.Expr, scale: float) -> pl.Expr:
    return 1.0 - (-(x.clip(lower_bound=0.0)) / scale).exp()


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
    if spans.height == 0 or logs.height == 0 or (spans["status"] == "error").any():
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
        }
    elif isinstance(obj, dict):
        got = dict(obj)
    for k, v in kw.items():
        if v is not None:
            got[k] = v
    for kind in ("metrics", "logs", "spans", "events"):
        if got.get(kind) is None:
            got[kind] = frames.empty(kind)  # type: ignore[arg-type]
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
    edges: pl.DataFrame, value: dict[str, float]
) -> dict[str, tuple[float, str | None]]:
    """For each service, the largest ``value`` among the services it calls, directly or not."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_edges_from(
        (a, b) for a, b in edges.select("caller", "callee").iter_rows() if a and b and a != b
    )
    out: dict[str, tuple[float, str | None]] = {}
    for s in value:
        best, who = 0.0, None
        if s in g:
            for d in nx.descendants(g, s):
                v = value.get(d, 0.0)
                if v > best:
                    best, who = v, d
        out[s] = (best, who)
    return out


_UNLINKED = 0.1  # score kept by a service with no anomalous path to the focus


def _anomalous_reach(edges: pl.DataFrame, focus: str, anomalous: set[str]) -> set[str]:
    """``focus`` plus every service reachable from it along calls whose callee is
    anomalous (the path of anomalies a fault travels up to the symptom)."""
    nxt: dict[str, list[str]] = {}
    for a, b in edges.select("caller", "callee").iter_rows():
        if a and b and a != b:
            nxt.setdefault(a, []).append(b)
    seen, todo = {focus}, [focus]
    while todo:
        for b in nxt.get(todo.pop(), []):
            if b in anomalous and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


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
    focus: str | None = None,
    focus_metric: str | None = None,
    focus_total: str | None = None,
    lead_in: Window | None = None,
    graph_discount: float = 0.8,
    event_lookback: timedelta = timedelta(minutes=30),
) -> Suspects:
    """Rank services by how likely each is the cause of the incident.

    Pass an :class:`~workbench.Incident` (anything with ``metrics, logs, spans, events,
    window, baseline``), or a dict of those, or the frames and windows as keywords
    (keywords override). ``metric_baseline`` gives metrics a longer baseline than logs and
    traces when the data have one; ``edges`` (``caller, callee``) gives the call graph when
    spans cannot (default: :func:`workbench.analysis.graph.service_graph` of the spans).
    ``focus`` names the service whose symptom started the investigation (the alerting
    service): a cause must reach it through the call graph over anomalous services only
    (each hop a service it calls that is itself anomalous); services that cannot are
    kept but ranked after those that can. ``focus_metric`` (a substring of metric names,
    e.g. ``"latency"`` for a latency alert) makes the metric signal use only the series of
    the alert's kind, as the alert's symptom travels along that kind of series.
    ``focus_total`` names an additive per-service total of the alert's kind (seconds spent
    serving requests, failed requests): the metric signal is then each service's excess
    of that total (:func:`workbench.analysis.excess.excess_totals`), relative to the
    largest, instead of the z-score of its series; ``lead_in`` (the steps just before the
    alert) marks shifts that predate the alert.

    >>> sus = rank_suspects(inc)
    >>> sus.table.select("rank", "service", "score", "why").head()
    >>> sus.evidence(sus.ranking[0]).templates
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
    win: Window = f["window"]
    base: Window = f["baseline"]
    mbase = metric_baseline or base
    m, lg, sp, ev = f["metrics"], f["logs"], f["spans"], f["events"]

    # metrics ---------------------------------------------------------------------------
    changes = ch.score_changes(m, win, mbase)
    onset = ch.onset_of_changes(changes) or win.start
    met = (
        _harmful_changes(changes, focus_metric)
        .group_by("service")
        .agg(
            pl.col("score").max().alias("_m"),
            pl.col("metric").sort_by("score").last().alias("_m_top"),
        )
        # relative strength: real data are heavy-tailed, so many services pass any fixed
        # z; the strongest change scores 1 (if it passes the threshold at all)
        .with_columns(
            metrics=(pl.col("_m").log1p() / pl.col("_m").max().log1p())
            * _sat(pl.col("_m"), 20.0).max()
        )
    )

    totals = pl.DataFrame()
    if focus_total is not None:
        met, totals = _excess_signal(m, win, mbase, focus_total, lead_in)
    # a service's own resource driven to its capacity is a cause (USE saturation)
    satsig = mr.saturation(changes)

    # logs ------------------------------------------------------------------------------
    if lg.height:
        surges = tp.template_surges(lg, win, base)
    else:
        surges = pl.DataFrame(
            schema={
                "service": pl.String,
                "template": pl.String,
                "z": pl.Float64,
                "surge": pl.Boolean,
                "level": pl.String,
            }
        )
    lw = (
        pl.col("level").replace_strict(_LEVEL_WEIGHT, default=0.5, return_dtype=pl.Float64)
        if "level" in surges.columns
        else pl.lit(0.5)
    )
    logsig = (
        surges.filter(pl.col("surge") & pl.col("service").is_not_null())
        .with_columns(_l=_sat(pl.col("z"), 10.0) * lw)
        .group_by("service")
        .agg(
            pl.col("_l").max().alias("logs"),
            pl.col("template").sort_by("_l").last().alias("_l_top"),
        )
    )

    # a code path that stopped reaching a step it always reached in the baseline (an
    # event pair of the service that broke) shows where a request was cut short
    broken = pt.broken_patterns(lg, sp, win, base)
    patsig = pt.pattern_signal(broken)

    # traces ----------------------------------------------------------------------------
    sp = errors_from_logs(sp, lg)
    bsp = blame_services(sp) if sp.height else sp.with_columns(blame_service=pl.col("service"))
    origin_spans = tr.error_origin_spans(bsp, window=win)
    err = _error_signal(bsp, win, base)
    blame, lat = _latency_signal(bsp, win, base)

    # events ----------------------------------------------------------------------------
    near = ev.filter(
        pl.col("kind").is_in(list(CHANGE_KINDS))
        & (pl.col("ts") >= onset - event_lookback)
        & (pl.col("ts") <= max(onset, win.start) + timedelta(minutes=5))
        & pl.col("service").is_not_null()
    )
    evsig = near.group_by("service").agg(
        events=pl.lit(1.0), _e_top=pl.col("title").sort_by("ts").last()
    )

    # combine ---------------------------------------------------------------------------
    names: set[str] = set()
    for df in (met, logsig, err, lat, evsig, patsig, satsig):
        names.update(x for x in df["service"].to_list() if x)
    for df in (m, lg, sp):
        if "service" in df.columns and df.height:
            names.update(x for x in df["service"].unique().to_list() if x)
    table = pl.DataFrame({"service": sorted(names)}, schema={"service": pl.String})
    for df, cols in (
        (err, ["errors", "_e_ops"]),
        (lat, ["latency", "_lat_ops"]),
        (met, ["metrics", "_m_top", "_m"]),
        (logsig, ["logs", "_l_top"]),
        (evsig, ["events", "_e_top"]),
        (patsig, ["patterns", "_p_top"]),
        (satsig, ["saturation", "_s_top"]),
    ):
        table = table.join(df.select("service", *cols), on="service", how="left")
    num = ["errors", "latency", "metrics", "logs", "patterns", "saturation", "events"]
    table = table.with_columns(pl.col(num).fill_null(0.0))
    w = WEIGHTS
    # a broken code path inside a service is the service's own behaviour, like an error
    # that starts there, so it is local evidence (not discounted as a callee's symptom)
    local = 1 - (1 - w["errors"] * pl.col("errors")) * (1 - w["latency"] * pl.col("latency")) * (
        1 - w["patterns"] * pl.col("patterns")
    ) * (1 - w["saturation"] * pl.col("saturation"))
    sympt = 1 - (1 - w["metrics"] * pl.col("metrics")) * (1 - w["logs"] * pl.col("logs"))
    table = table.with_columns(_local=local, _sympt=sympt).with_columns(
        _raw=1 - (1 - pl.col("_local")) * (1 - pl.col("_sympt"))
    )
    edges_df = _call_edges(bsp, edges)
    raw = dict(zip(table["service"], table["_raw"], strict=True))
    desc = _descendant_max(edges_df, raw)
    table = table.with_columns(
        _desc=pl.Series([desc[s][0] for s in table["service"]], dtype=pl.Float64),
        victim_of=pl.Series([desc[s][1] for s in table["service"]], dtype=pl.String),
    )
    sympt_adj = pl.col("_sympt") * (1 - graph_discount * pl.col("_desc").clip(0.0, 1.0))
    base_score = 1 - (1 - pl.col("_local")) * (1 - sympt_adj)
    table = table.with_columns(
        score=base_score * (1 + 0.5 * pl.col("events")) + 0.01 * pl.col("events")
    )
    if focus is not None:
        linked = _anomalous_reach(edges_df, focus, {s for s, v in raw.items() if v > 0})
        table = table.with_columns(
            score=pl.when(pl.col("service").is_in(list(linked)))
            .then(pl.col("score"))
            .otherwise(pl.col("score") * _UNLINKED)
        )
    table = table.with_columns(
        victim_of=pl.when(pl.col("_desc") >= 0.5 * pl.col("_raw"))
        .then(pl.col("victim_of"))
        .otherwise(None)
    )
    table = table.sort(["score", "service"], descending=[True, False]).with_row_index(
        "rank", offset=1
    )
    why = [_why(r) for r in table.iter_rows(named=True)]
    table = table.with_columns(why=pl.Series(why, dtype=pl.String)).select(
        "rank", "service", "score", *num, "victim_of", "why"
    )
    return Suspects(
        table=table,
        onset=onset,
        window=win,
        baseline=base,
        changes=changes,
        surges=surges,
        origin_spans=origin_spans,
        blame=blame,
        events=near,
        broken_paths=broken,
        totals=totals,
        inputs={
            "metrics": m,
            "logs": lg,
            "spans": f["spans"],
            "events": ev,
            "window": win,
            "baseline": base,
            "metric_baseline": metric_baseline,
            "edges": edges,
            "focus": focus,
            "focus_metric": focus_metric,
            "focus_total": focus_total,
            "lead_in": lead_in,
            "graph_discount": graph_discount,
            "event_lookback": event_lookback,
        },
    )


def _excess_signal(
    m: pl.DataFrame, win: Window, base: Window, metric: str, lead_in: Window | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The metric signal from an additive total: totals share one unit across services, so
    the service with the largest excess accounts for most of the symptom (share of it).
    Returns the signal and the excess rows behind it (the evidence)."""
    from workbench.analysis.excess import excess_totals

    ex = excess_totals(m, win, base, metric=metric, lead_in=lead_in).filter(pl.col("excess") > 0)
    signal = ex.select(
        "service",
        _m=pl.col("excess"),
        _m_top=pl.lit(metric),
        metrics=pl.col("share"),
    )
    return signal, ex


def _harmful_changes(changes: pl.DataFrame, focus_metric: str | None) -> pl.DataFrame:
    """The metric changes that count as a service's symptom: each counted once (a
    host-level series copied onto every pod says nothing about which service broke, a
    latency's quantiles are one measurement, a service doing less work is not where a
    fault is; see ``metric_rules``), in the harmful direction, not a wait on a callee, and
    of the alert's kind when ``focus_metric`` is given."""
    return (
        mr.quantile_consensus(mr.without_host_level(changes))
        .filter(~mr.usage_drop())
        .filter(
            pl.col("changed")
            & pl.col("service").is_not_null()
            & ~benign_change()
            & ~callee_symptom()
            & (pl.col("metric").str.contains(focus_metric, literal=True) if focus_metric else True)
        )
    )


def _error_signal(bsp: pl.DataFrame, win: Window, base: Window) -> pl.DataFrame:
    """Share of the *extra* failing traces (above the baseline's rate) starting at each
    service: background errors cancel out."""
    schema = {"service": pl.String, "errors": pl.Float64, "_e_ops": pl.String}
    if bsp.height == 0 or "status" not in bsp.columns:
        return pl.DataFrame(schema=schema)
    ow = tr.error_origins(bsp, window=win, by=("blame_service",))
    if ow.height == 0:
        return pl.DataFrame(schema=schema)
    ob = tr.error_origins(bsp, window=base, by=("blame_service",)).select(
        "blame_service", _tb=pl.col("traces")
    )
    scale = tp.covered_seconds(bsp["start"], win) / tp.covered_seconds(bsp["start"], base)
    ops = (
        tr.error_origins(bsp, window=win, by=("blame_service", "name"))
        .group_by("blame_service")
        .agg(_e_ops=pl.col("name").first())
    )
    out = (
        ow.join(ob, on="blame_service", how="left")
        .join(ops, on="blame_service", how="left")
        .join(_traffic(bsp, win, base), on="blame_service", how="left")
        .with_columns(_expected=_expected_errors(scale))
        .with_columns(_excess=(pl.col("traces") - pl.col("_expected")).clip(0.0))
    )
    total = out["_excess"].sum()
    if not total:
        return pl.DataFrame(schema=schema)
    # an excess within the noise of the expected count (Poisson z below 2) is not
    # evidence; the share is scaled by how far beyond the noise it is
    z = tp._poisson_z(pl.col("traces"), pl.col("_expected").clip(lower_bound=0.5))
    sure = 1.0 - (-((z - 2.0).clip(lower_bound=0.0)) / 2.0).exp()
    return out.select(
        service=pl.col("blame_service"),
        errors=(pl.col("_excess") / total * sure).cast(pl.Float64),
        _e_ops=pl.col("_e_ops"),
    )


def _traffic(bsp: pl.DataFrame, win: Window, base: Window) -> pl.DataFrame:
    """Traces through each service (``blame_service``) in the window (``_nw``) and the
    baseline (``_nb``)."""

    def n(w: Window, name: str) -> pl.DataFrame:
        inside = (pl.col("start") >= w.start) & (pl.col("start") < w.end)
        return (
            bsp.filter(inside)
            .group_by("blame_service")
            .agg(pl.col("trace_id").n_unique().alias(name))
        )

    return n(win, "_nw").join(n(base, "_nb"), on="blame_service", how="full", coalesce=True)


def _expected_errors(scale: float) -> pl.Expr:
    """Failing traces a service would show in the window at its baseline error rate.

    Errors are judged per request, not per second: more traffic brings more of the
    usual errors. The baseline rate is taken at its upper plausible value
    ``(errors + 1) / (requests + 1)``, since a rate measured on a handful of requests is
    uncertain. A service without baseline requests falls back to the time rate."""
    per_request = (
        pl.col("_nw").fill_null(0) * (pl.col("_tb").fill_null(0) + 1) / (pl.col("_nb") + 1)
    )
    per_second = pl.col("_tb").fill_null(0) * scale
    return pl.when(pl.col("_nb").fill_null(0) > 0).then(per_request).otherwise(per_second)


def _latency_signal(
    bsp: pl.DataFrame, win: Window, base: Window
) -> tuple[pl.DataFrame, pl.DataFrame]:
    schema = {"service": pl.String, "latency": pl.Float64, "_lat_ops": pl.String}
    empty_blame = pl.DataFrame(
        schema={"service": pl.String, "name": pl.String, "extra_ms": pl.Float64}
    )
    if bsp.height == 0:
        return empty_blame, pl.DataFrame(schema=schema)
    blame = tr.latency_blame(bsp, window=win, baseline=base, by=("blame_service", "name"))
    if blame.height == 0:
        return empty_blame, pl.DataFrame(schema=schema)
    blame = blame.rename({"blame_service": "service"})
    roots = bsp.filter(pl.col("parent_span_id").is_null())
    if roots.height == 0:
        roots = tr.span_tree(bsp).filter(pl.col("is_root"))
    rw = roots.filter((pl.col("start") >= win.start) & (pl.col("start") < win.end))["duration_ms"]
    rb = roots.filter((pl.col("start") >= base.start) & (pl.col("start") < base.end))["duration_ms"]
    slower = 0.0
    if rw.len() and rb.len():
        qb = rb.quantile(0.9) or 0.0
        qw = rw.quantile(0.9) or 0.0
        mb = rb.median() or 0.0
        mw = rw.median() or 0.0
        ratio = max(qw / qb if qb > 0 else 1.0, mw / mb if mb > 0 else 1.0)
        slower = min(max((ratio - 1.0) / 0.5, 0.0), 1.0)
    per = (
        blame.group_by("service")
        .agg(
            pl.col("share").sum().alias("_share"),
            pl.col("name").sort_by("extra_ms").last().alias("_lat_ops"),
        )
        .with_columns(latency=(pl.col("_share") * slower).clip(0.0, 1.0))
        .select("service", "latency", "_lat_ops")
    )
    return blame, per


def _why(r: dict[str, Any]) -> str:
    bits = []
    if r["errors"] > 0.05:
        bits.append(
            f"errors start here ({r['errors']:.0%}{', ' + r['_e_ops'] if r.get('_e_ops') else ''})"
        )
    if r["latency"] > 0.05:
        bits.append(f"slow requests spend extra time here ({r['_lat_ops']})")
    if r["metrics"] > 0.05:
        bits.append(f"{r['_m_top']} changed (score {r['_m']:.0f})")
    if r["logs"] > 0.05:
        bits.append(f"log surge: {r['_l_top']}")
    if r.get("saturation", 0.0) > 0.05:
        bits.append(f"{r['_s_top']} near capacity")
    if r.get("patterns", 0.0) > 0.05:
        bits.append(f"code path cut short: {r['_p_top']}")
    if r["events"] > 0:
        bits.append(f"change just before: {r['_e_top']}")
    if r.get("victim_of"):
        bits.append(f"may be a victim of {r['victim_of']}")
    return "; ".join(bits) if bits else "no anomaly"
