"""``Investigation``: an Incident plus every answer about it, each computed once.

The notebook, the explorer, the postmortem and ``workbench eval rca`` all read the same
object, so the same question gets the same answer everywhere. Views are computed on first
use and memoised in a store shared by every investigation derived with :meth:`narrow`:
what does not depend on the window (RED per step, mined log templates, the spans with
errors from logs) is computed once per incident; what does is keyed by its window,
baseline and focus, so going back to a window costs nothing.

Each view is an :class:`~workbench.investigation.answer.Answer` naming its window,
baseline, services and definition. The analysis itself is the pure functions of
:mod:`workbench.analysis`; this module only decides what runs on what, once.

Example::

    >>> from workbench import Incident, Investigation
    >>> inv = Investigation(Incident.demo())
    >>> inv.red_summary                  # RED per service, window against baseline
    >>> inv.suspects                     # the ranking (inv.verdict: does #1 stand out?)
    >>> inv.findings                     # the draft for the incident channel
    >>> narrow = inv.narrow(window=Window.parse("...11:00Z..11:30Z"), services=["checkout"])
    >>> narrow.red_summary               # shares the frames and the RED already computed
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import polars as pl

from workbench.analysis._util import memo_scope
from workbench.analysis.threads import start
from workbench.errors import ConfigError
from workbench.investigation import quantities as q
from workbench.investigation.answer import Answer
from workbench.investigation.drill import DrillDown
from workbench.investigation.missing import mark_suspects, missing_evidence
from workbench.timewindow import Window

__all__ = ["DEFINITIONS", "Investigation"]

#: what each view holds, shown under it (one sentence each)
DEFINITIONS: dict[str, str] = {
    "red": q.RED_DEFINITION,
    "red_traces": q.RED_DEFINITION + " (all from the spans: rates count sampled traces)",
    "red_summary": q.SUMMARY_DEFINITION,
    "graph": "calls between services from the spans starting in the window; node error "
    "ratio, rate and p95 are the RED definitions over the same window; edges keep the "
    "spans' counts (rates and error ratios of the traces kept, often sampled)",
    "graph_raw": "calls between services from the spans starting in the window (span "
    "counts: rates count sampled traces)",
    "graph_baseline": "calls between services from the spans starting in the baseline; "
    "node numbers are the baseline's RED quantities",
    "graph_baseline_raw": "calls between services from the spans starting in the baseline",
    "graph_diff": "every call edge, baseline against window: new, vanished, error ratio "
    "rise, p95 ratio; counted in the traces kept (often sampled, failing ones kept first: "
    "an edge's error ratio can exceed its callee's RED error ratio)",
    "templates": "every log line with its Drain template (variable fields masked)",
    "surges": "log templates new in the window or whose rate rose against the baseline "
    "(Poisson likelihood-ratio z >= 3 and rate ratio >= 2)",
    "top_errors": "the most frequent masked error messages in the window",
    "onsets": q.ONSET_DEFINITION,
    "timeline": "events (deploys, rollbacks, config, chaos, alerts), error and latency "
    "onsets per service and when each went back under its threshold (recovery), "
    "log-pattern surges and the annotation log on one time axis",
    "timeline_table": "the timeline as a table for people: rollout steps folded into their "
    "change, rows long before the onset left out, at most 30 rows (onsets, recoveries, "
    "rollbacks and notes first, then changes and alerts, then log surges, nearest the "
    "onset first); the note says what is left out",
    "error_spans": "the spans, with error status taken from error log lines when no span "
    "carries a status",
    "origins": "where failing traces' errors start (the deepest failing span), by service "
    "and operation, share of failing traces in the window",
    "blame": "where the extra critical-path time of the window's slow traces goes, against "
    "the baseline's normal ones",
    "suspects": "services ranked by trace error origins, latency blame, metric changes, log "
    "surges, broken code paths, saturation and changes before the onset",
    "missing": "per signal that failed or came back partial: the ranking evidence it feeds "
    "and the services it is missing for",
    "verdict": "whether the top suspect stands out: its evidence against the same ranking "
    "on fault-free windows from the baseline, and its lead over #2",
    "findings": "the draft for the incident channel, from the views above",
    "impact": "failed requests and error budget burned over the impact period (first "
    "onset to recovery)",
}


class _Store:
    """Memo shared by an investigation and every one derived from it: one value per key,
    computed once even when threads ask at the same time."""

    def __init__(self) -> None:
        self.values: dict[tuple[Any, ...], Any] = {}
        #: what memoised analysis functions share within this investigation (memo_scope)
        self.memo: dict[Any, Any] = {}
        self.locks: dict[tuple[Any, ...], threading.Lock] = {}
        self.guard = threading.Lock()

    def get(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        try:
            return self.values[key]
        except KeyError:
            pass
        with self.guard:
            lock = self.locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self.values:
                self.values[key] = compute()
            return self.values[key]

    def peek(self, key: tuple[Any, ...]) -> Any:
        return self.values.get(key)


class Investigation(DrillDown):
    """The one place where analysis of an incident runs (see the module doc).

    ``incident`` is an :class:`~workbench.Incident` (frames load on first use).
    ``window`` narrows the incident window (default: the incident's own); ``services``
    narrows the per-service views (RED summary, timeline, surges, origins, blame) to a
    focus (the ranking and the graph always span every service: a cause may lie outside
    the focus). ``alert`` names the alerting service (shown with the answers; the ranking
    does not take it: it ranks every service on its own evidence). ``metric_baseline`` and
    ``edges`` are passed to :func:`~workbench.analysis.suspects.rank_suspects` as they are.

    >>> inv = Investigation(inc)
    >>> inv.suspects.ranking[:3]
    >>> inv.verdict.level
    """

    def __init__(
        self,
        incident: Any,
        *,
        window: Window | None = None,
        services: Sequence[str] = (),
        alert: str | None = None,
        metric_baseline: Window | None = None,
        edges: pl.DataFrame | None = None,
        _store: _Store | None = None,
    ) -> None:
        from workbench.incident import Incident

        if not isinstance(incident, Incident):
            raise ConfigError(
                f"an Investigation needs an Incident, got {type(incident).__name__}",
                hint="Incident.demo(), Incident.from_directory(...), Incident.from_frames(...)",
            )
        self.incident = incident
        win = window or incident.window
        full = incident.full_window
        if win.start < full.start or win.end > full.end:
            raise ConfigError(
                f"window {win} is outside the data loaded ({full})",
                hint="open a new Incident for another time range",
            )
        self._window = win
        # the baseline rule of Incident.narrow (the incident's, unless the window reaches
        # into it: then the same length just before the window)
        self._baseline = (
            incident.baseline if win == incident.window else incident.narrow(win).baseline
        )
        self.services: tuple[str, ...] = tuple(dict.fromkeys(services))
        self.alert = alert
        self.options: dict[str, Any] = {
            "metric_baseline": metric_baseline,
            "edges": edges,
        }
        self._store = _store or _Store()

    # what it looks at ------------------------------------------------------------------
    @property
    def window(self) -> Window:
        """The incident window the views look at."""
        return self._window

    @property
    def baseline(self) -> Window:
        """What "normal" looks like for every comparison."""
        return self._baseline

    @property
    def view(self) -> Any:
        """The incident narrowed to :attr:`window` (frames shared, nothing re-loaded)."""
        if self._window == self.incident.window:
            return self.incident
        return self.incident.narrow(self._window)

    @property
    def id(self) -> str:
        return str(self.incident.id)

    def narrow(
        self, *, window: Window | None = None, services: Sequence[str] | None = None
    ) -> Investigation:
        """A derived investigation over ``window`` (within the data loaded) and/or the
        ``services`` focus (``[]``: all); it shares the frames and every answer that
        does not depend on what changed.

        >>> inv.narrow(window=Window.parse("2026-11-20T11:00Z..2026-11-20T11:30Z"))
        """
        return Investigation(
            self.incident,
            window=window or self.window,
            services=self.services if services is None else services,
            alert=self.alert,
            **self.options,
            _store=self._store,
        )

    # plumbing --------------------------------------------------------------------------
    def _opts_key(self) -> tuple[Any, ...]:
        o = self.options
        edges = o["edges"]
        return (
            self.alert,
            o["metric_baseline"],
            None if edges is None else id(edges),
        )

    def _answer(
        self,
        name: str,
        key: tuple[Any, ...],
        compute: Callable[[], Any],
        *,
        baseline: bool = True,
        services: bool = False,
        window: Window | None = None,
    ) -> Answer:
        def run() -> Answer:
            t0 = time.perf_counter()
            with memo_scope(self._store.memo):
                value = compute()
            return Answer(
                name=name,
                value=value,
                window=window or self.window,
                baseline=self.baseline if baseline else None,
                definition=DEFINITIONS[name],
                services=self.services if services else (),
                seconds=time.perf_counter() - t0,
            )

        ans: Answer = self._store.get((name, *key), run)
        # Grafana links follow incident.grafana as it is now (set or unset after computing)
        links = self.links
        if name == "suspects":
            ans.value.links = links
        elif name == "findings" and ans.value.top_suspect:
            if links is None:
                ans.value.top_links = {}
            else:
                full = self.narrow(services=[]) if self.services else self
                sus = full.suspects.value
                ans.value.top_links = links.evidence(sus.evidence(ans.value.top_suspect))
        return ans if links is None else replace(ans, links=links)

    @property
    def links(self) -> Any:
        """Grafana Explore links over baseline start .. window end
        (:class:`~workbench.grafana_links.ExploreLinks`), or None when the incident has no
        Grafana (``incident.grafana``); every answer carries them."""
        from workbench.grafana_links import explore_links

        return explore_links(self.incident, window=self.window, baseline=self.baseline)

    def _focus(self, df: pl.DataFrame, *, keep_null: bool = False) -> pl.DataFrame:
        if not self.services or "service" not in df.columns:
            return df
        keep = pl.col("service").is_in(list(self.services))
        return df.filter(keep | pl.col("service").is_null() if keep_null else keep)

    def has(self, name: str) -> bool:
        """True when view ``name`` is already computed for this window and focus (the
        explorer draws what is ready without waiting)."""
        keys = {
            "red": ("red",),
            "red_traces": ("red_traces",),
            "templates": ("templates",),
            "suspects": ("suspects", self.window, self.baseline, self._opts_key()),
        }
        key = keys.get(name)
        if key is None:
            raise ConfigError(f"has() knows {sorted(keys)}, not {name!r}")
        return self._store.peek(key) is not None

    # RED ---------------------------------------------------------------------------------
    @property
    def red(self) -> Answer:
        """RED per service and step over baseline + window (metrics, else spans)."""
        from workbench.analysis.red import red

        inc = self.incident
        return self._answer("red", (), lambda: red(inc.metrics, inc.spans), window=inc.full_window)

    @property
    def red_traces(self) -> Answer:
        """RED from the spans alone: seconds where the metrics take longer (the explorer
        shows it first, then :attr:`red`)."""
        from workbench.analysis.red import red

        inc = self.incident
        return self._answer("red_traces", (), lambda: red(None, inc.spans), window=inc.full_window)

    def _red_summary_full(self) -> Answer:
        red_frame = self.red.frame
        return self._answer(
            "red_summary",
            (self.window, self.baseline),
            lambda: q.summary(red_frame, window=self.window, baseline=self.baseline),
        )

    @property
    def red_summary(self) -> Answer:
        """One row per service, window against baseline (see :mod:`.quantities`)."""
        return self._focused("red_summary", self._red_summary_full())

    def summary_of(self, red_frame: pl.DataFrame) -> pl.DataFrame:
        """The RED summary of ``red_frame`` (e.g. :attr:`red_traces`) for this window
        and focus, by the same definition as :attr:`red_summary`."""
        return self._focus(q.summary(red_frame, window=self.window, baseline=self.baseline))

    def _focused(
        self, name: str, full: Answer, *, keep_null: bool = False, key: tuple[Any, ...] = ()
    ) -> Answer:
        """``full`` cut to the services in focus; ``key``: what else ``full`` depends on
        (the annotation log's head for the timeline), so a new ``full`` is cut again."""
        if not self.services:
            return full
        return self._store.get(
            (name, "focus", full.window, full.baseline, self.services, *key),
            lambda: Answer(
                name=name,
                value=self._focus(full.value, keep_null=keep_null),
                window=full.window,
                baseline=full.baseline,
                definition=full.definition,
                services=self.services,
                seconds=full.seconds,
            ),
        )

    # graph -------------------------------------------------------------------------------
    def _graph(self, name: str, window: Window) -> Answer:
        from workbench.analysis.graph import service_graph

        spans = self.incident.spans
        return self._answer(
            name,
            (window,),
            lambda: service_graph(spans, window=window),
            baseline=False,
            window=window,
        )

    def _graph_red(self, name: str, raw: Answer, side: str) -> Answer:
        from workbench.analysis.graph import ServiceGraph

        summary = self._red_summary_full().frame

        def compute() -> ServiceGraph:
            g = raw.value
            nodes = q.graph_nodes(g.nodes, summary, g.seconds, side=side)
            return ServiceGraph(edges=g.edges, nodes=nodes, seconds=g.seconds, window=g.window)

        return self._answer(name, (self.window, self.baseline), compute, window=raw.window)

    @property
    def graph(self) -> Answer:
        """The service graph over the window (a :class:`~workbench.analysis.graph.ServiceGraph`).
        Node ``error_ratio``, ``rate_per_s``, ``p95_ms`` (and ``requests``, ``errors``) are
        the RED quantities over the same window (one number per quantity, whichever view
        shows it); edges keep the spans' call counts."""
        return self._graph_red("graph", self._graph("graph_raw", self.window), "inc")

    @property
    def graph_baseline(self) -> Answer:
        """The service graph over the baseline, nodes with the baseline's RED numbers."""
        return self._graph_red(
            "graph_baseline", self._graph("graph_baseline_raw", self.baseline), "base"
        )

    @property
    def graph_diff(self) -> Answer:
        """Every call edge, baseline against window (:func:`~workbench.analysis.graph.graph_diff`)."""
        from workbench.analysis.graph import graph_diff

        base = self._graph("graph_baseline_raw", self.baseline).value
        g = self._graph("graph_raw", self.window).value
        return self._answer("graph_diff", (self.window, self.baseline), lambda: graph_diff(base, g))

    @property
    def graph_spans(self) -> Answer:
        """The service graph over the window with the spans' own numbers (sampled
        traces): what the explorer draws before the metrics arrive."""
        return self._graph("graph_raw", self.window)

    def node_changes(self, *, spans: bool = False) -> pl.DataFrame:
        """The graph's nodes with their baseline error ratio and p95 and the changes
        (what the explorer colours the graph by): RED numbers on both sides, or with
        ``spans=True`` the spans' own (before the metrics arrive)."""
        from workbench.analysis.focus import node_changes

        if spans:
            base = self._graph("graph_baseline_raw", self.baseline).value
            return node_changes(base, self.graph_spans.value)
        return node_changes(self.graph_baseline.value, self.graph.value)

    # logs --------------------------------------------------------------------------------
    @property
    def templates(self) -> Answer:
        """Every log line with its template (:func:`~workbench.analysis.templates.mine_templates`)."""
        from workbench.analysis.templates import mine_templates

        logs = self.incident.logs
        return self._answer(
            "templates", (), lambda: mine_templates(logs), window=self.incident.full_window,
            baseline=False,
        )  # fmt: skip

    def _surges_full(self) -> Answer:
        from workbench.analysis.templates import template_surges

        mined = self.templates.frame
        return self._answer(
            "surges",
            (self.window, self.baseline),
            lambda: template_surges(mined, self.window, self.baseline),
        )

    @property
    def surges(self) -> Answer:
        """Log templates new or surging in the window against the baseline."""
        return self._focused("surges", self._surges_full())

    @property
    def top_errors(self) -> Answer:
        """The most frequent masked error messages in the window."""
        from workbench.analysis.logs import top_error_messages

        logs = self.incident.logs
        full = self._answer(
            "top_errors",
            (self.window, self.baseline),
            lambda: top_error_messages(logs, window=self.window, baseline=self.baseline),
        )
        return self._focused("top_errors", full)

    # timeline ----------------------------------------------------------------------------
    def _onsets_full(self) -> Answer:
        red_frame = self.red.frame
        return self._answer(
            "onsets", (self.baseline,), lambda: q.onsets(red_frame, baseline=self.baseline)
        )

    @property
    def onsets(self) -> Answer:
        """Per service, when its error ratio and p95 first rose clearly above the
        baseline (:func:`.quantities.onsets`)."""
        return self._focused("onsets", self._onsets_full())

    def _timeline_full(self) -> Answer:
        from workbench.analysis.focus import surges_as_timeline
        from workbench.analysis.timeline import annotations_as_timeline, build_timeline

        inc = self.incident
        red_frame = self.red.frame
        notes = inc.annotations

        def compute() -> pl.DataFrame:
            tl = build_timeline(inc.events, red_frame, window=self.window, baseline=self.baseline)
            surges = self._surges_full().frame
            if self.window != inc.window and self.window.start > inc.window.start:
                surges = _rose_when_it_rose(surges, self.narrow(window=inc.window))
            parts = [tl, surges_as_timeline(surges)]
            if len(notes):
                parts.append(annotations_as_timeline(notes.to_frame()))
            return pl.concat(parts, how="vertical").sort("ts", maintain_order=True)

        # a note added later (inc.note) makes a new timeline: the log's head is in the key
        return self._answer("timeline", (self.window, self.baseline, notes.head), compute)

    @property
    def timeline(self) -> Answer:
        """ONE timeline: events, error/latency onsets and recoveries, log-pattern surges
        and the annotation log; the notebook, the explorer, the findings and the
        postmortem all show these rows (the postmortem condenses them:
        :attr:`postmortem_timeline`)."""
        return self._focused(
            "timeline",
            self._timeline_full(),
            keep_null=True,
            key=(self.incident.annotations.head,),
        )

    @property
    def timeline_table(self) -> Answer:
        """:attr:`timeline` as the table the notebook, the explorer's Timeline tab and the
        postmortem show (:func:`workbench.timeline_view.timeline_table`): the same rows
        everywhere, with a note saying how many are shown of how many and what was left out.

        >>> inv.timeline_table.note
        """
        from workbench.timeline_view import timeline_table

        tl = self.timeline
        view = self.view
        return self._answer(
            "timeline_table",
            (self.window, self.baseline, self.services, self.incident.annotations.head),
            lambda: timeline_table(tl.frame, view),
            services=True,
        )

    @property
    def onset(self) -> q.Quantity:
        """When the incident began: the first error or latency onset inside the window
        (:func:`.quantities.onset`), with its window and definition."""
        return q.onset(self._onsets_full().frame, window=self.window)

    # traces ------------------------------------------------------------------------------
    @property
    def error_spans(self) -> Answer:
        """The spans, error status from error logs when no span carries one."""
        from workbench.analysis.suspects import errors_from_logs

        inc = self.incident
        return self._answer(
            "error_spans", (), lambda: errors_from_logs(inc.spans, inc.logs),
            window=inc.full_window, baseline=False,
        )  # fmt: skip

    @property
    def origins(self) -> Answer:
        """Where failing traces' errors start (:func:`~workbench.analysis.traces.error_origins`)."""
        from workbench.analysis.traces import error_origins

        spans = self.error_spans.frame
        full = self._answer(
            "origins", (self.window,), lambda: error_origins(spans, window=self.window),
            baseline=False,
        )  # fmt: skip
        return self._focused("origins", full)

    @property
    def blame(self) -> Answer:
        """Where the extra time of slow traces goes (:func:`~workbench.analysis.traces.latency_blame`)."""
        from workbench.analysis.traces import latency_blame

        spans = self.error_spans.frame
        full = self._answer(
            "blame",
            (self.window, self.baseline),
            lambda: latency_blame(spans, window=self.window, baseline=self.baseline),
        )
        return self._focused("blame", full)

    # suspects ----------------------------------------------------------------------------
    @property
    def missing(self) -> Answer:
        """What the ranking could not see: per signal that failed or came back partial,
        the evidence it feeds and the services it is missing for
        (:func:`.missing.missing_evidence`; empty when everything loaded whole)."""
        inc = self.incident
        inc.load()  # every signal first (concurrently): the outcomes say what failed
        return self._answer(
            "missing", (), lambda: missing_evidence(inc), window=inc.full_window, baseline=False
        )

    @property
    def suspects(self) -> Answer:
        """The ranked suspects (:func:`~workbench.analysis.suspects.rank_suspects`) over
        the window, all services. When a signal could not be loaded whole, the ranking
        says so: a ``missing`` column, a "missing evidence" line and a verdict at most
        ``weak`` naming it (:func:`.missing.mark_suspects`)."""
        from workbench.analysis.suspects import rank_suspects

        inc = self.incident
        o = self.options

        def compute() -> Any:
            frames = {
                "metrics": inc.metrics,
                "logs": inc.logs,
                "spans": inc.spans,
                "events": inc.events,
            }
            # the onset (RED, then each service's) beside the ranking, which needs neither
            onset = start(lambda: self.onset)
            sus = rank_suspects(
                frames,
                window=self.window,
                baseline=self.baseline,
                metric_baseline=o["metric_baseline"],
                edges=o["edges"],
                rate_window=inc.metric_rate_window,
            )
            # one onset everywhere: the ranking keeps its own (``changes_onset``, where it
            # looks for change events); what it shows is the investigation's
            first = onset.result().value
            if first is not None:
                sus = replace(sus, onset=first)
            return mark_suspects(sus, self.missing.frame)

        return self._answer("suspects", (self.window, self.baseline, self._opts_key()), compute)

    @property
    def verdict(self) -> Answer:
        """Whether the top suspect stands out (``Suspects.verdict``, computed once)."""
        sus = self.suspects.value
        return self._answer(
            "verdict", (self.window, self.baseline, self._opts_key()), lambda: sus.verdict
        )

    # what people read --------------------------------------------------------------------
    @property
    def findings(self) -> Answer:
        """The draft for the incident channel (:func:`workbench.report.findings`), from the
        same answers the notebook shows."""
        from workbench.report import findings

        def compute() -> Any:
            full = self.narrow(services=[]) if self.services else self
            return findings(
                self.view,
                suspects=full.suspects.value,
                red_summary=full.red_summary.frame,
                timeline=full.timeline.frame,
                surges=full.surges.frame,
                origins=full.origins.frame,
                onset=full.onset,
                verdict=full.verdict.value if full.suspects.value.ranking else None,
            )

        return self._answer("findings", (self.window, self.baseline, self._opts_key()), compute)

    def impact_of(self, *, slo_target: float = 0.999, slo_window_days: float = 30) -> Answer:
        """The impact against an SLO (:func:`workbench.analysis.impact.impact`) over the
        postmortem timeline."""
        from workbench.analysis.impact import impact

        tl = self._timeline_full().frame

        def compute() -> Any:
            return impact(
                self.view,
                timeline=tl,
                red_frame=self.red.frame,
                slo_target=slo_target,
                slo_window_days=slo_window_days,
            )

        return self._answer(
            "impact", (self.window, self.baseline, slo_target, slo_window_days), compute
        )

    @property
    def impact(self) -> Answer:
        """The impact against the default SLO (99.9% over 30 days); see :meth:`impact_of`."""
        return self.impact_of()

    @property
    def postmortem_timeline(self) -> Answer:
        """The postmortem's presentation of :attr:`timeline` (all services)
        (:func:`workbench.postmortem.draft_timeline`): the same rows, rollout steps folded
        into their change's row and rows long before the onset left out, each said."""
        from workbench.postmortem import draft_timeline

        full = self._timeline_full()
        return self._answer(
            "timeline",
            ("postmortem", self.window, self.baseline, self.incident.annotations.head),
            lambda: draft_timeline(self.view, timeline=full.frame),
        )

    def postmortem(self, **options: Any) -> Any:
        """The postmortem draft (:func:`workbench.postmortem.draft`) from this
        investigation's RED, timeline, impact and suspects; ``options`` are ``draft``'s
        (``slo_target``, ``slo_window_days``, ``authors``, ``status``, ``title``).

        >>> pm = inv.postmortem(slo_target=0.999, authors=["alice"])
        """
        from workbench.postmortem import draft

        slo = {k: options[k] for k in ("slo_target", "slo_window_days") if k in options}
        return draft(
            self.view,
            suspects=self.suspects.value,
            red_frame=self.red.frame,
            timeline=self._timeline_full().frame,
            impact=self.impact_of(**slo).value,
            verdict=self.verdict.value if self.suspects.value.ranking else None,
            **options,
        )

    # display -----------------------------------------------------------------------------
    def computed(self) -> list[str]:
        """The names of the views computed so far (any window)."""
        return sorted({k[0] for k in self._store.values})

    def __repr__(self) -> str:
        svc = f", services={list(self.services)}" if self.services else ""
        return f"Investigation({self.id!r}, window={self.window}{svc})"

    def _repr_html_(self) -> str:
        import html

        from workbench.investigation.answer import span_label

        svc = ", ".join(self.services) or "all"
        return (
            f"<div><b>Investigation</b> {html.escape(self.id)}: window "
            f"{html.escape(span_label(self.window))} against baseline "
            f"{html.escape(span_label(self.baseline))}; services {html.escape(svc)}. "
            f"<small>inv.red_summary, inv.graph, inv.timeline, inv.surges, inv.origins, "
            f"inv.blame, inv.suspects, inv.verdict, inv.missing, inv.findings, inv.impact</small></div>"
        )


def _rose_when_it_rose(surges: pl.DataFrame, whole: Investigation) -> pl.DataFrame:
    """A narrowed window's surges (``surges``) with each pattern's ``rose_at`` taken from
    the incident window's (``whole``) when it rose there earlier: a narrowed timeline
    said "11:11:45 new log pattern: unhandled exception…" at the brushed window's left
    edge for a pattern new since 11:05:06 (look11)."""
    if "rose_at" not in surges.columns or surges.height == 0:
        return surges
    full = whole._surges_full().frame
    keys = [c for c in ("service", "template_id") if c in surges.columns and c in full.columns]
    if "rose_at" not in full.columns or not keys:
        return surges
    earlier = full.filter(pl.col("surge")).select(*keys, pl.col("rose_at").alias("_whole"))
    return (
        surges.join(earlier, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            rose_at=pl.when(pl.col("rose_at").is_not_null())
            .then(pl.min_horizontal("rose_at", "_whole"))
            .otherwise(pl.col("rose_at"))
        )
        .drop("_whole")
    )
