"""Drill-down questions of an investigation: the neighbours of a service, the log
patterns and raw lines of the focus, the traces through it, one trace's waterfall and
logs, and the frames behind what is shown.

They are what the explorer's tabs ask (the widgets draw, the investigation answers);
each runs the pure functions of :mod:`workbench.analysis.focus` and
:mod:`workbench.analysis.waterfall` on the investigation's window and services focus,
memoised like every other view.

Example::

    >>> inv = Investigation(inc).narrow(services=["checkout"])
    >>> inv.patterns(search="timeout")          # new first, then surging
    >>> inv.traces(n=20)                        # failed first, then the slowest
    >>> inv.waterfall(inv.traces()["trace_id"][0])

A large directory's spans and logs are loaded without the attributes no view reads
(:mod:`workbench.sources.files.detail`): :meth:`DrillDown.attributes_held` says so, and
:meth:`DrillDown.detailed`, :meth:`DrillDown.trace_logs` and :meth:`DrillDown.frames`
read every attribute of the services and traces drilled into from the sources again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from workbench.investigation.core import _Store
    from workbench.timewindow import Window

__all__ = ["DrillDown"]


class DrillDown:
    """Mixin of :class:`~workbench.investigation.Investigation` (see the module doc)."""

    incident: Any
    services: tuple[str, ...]
    _store: _Store

    # provided by Investigation (window and baseline as read-only properties)
    if TYPE_CHECKING:

        @property
        def window(self) -> Window: ...
        @property
        def baseline(self) -> Window: ...

    graph_spans: Any
    templates: Any

    def _memo(self, key: tuple[Any, ...], compute: Any) -> Any:
        return self._store.get(("drill", *key), compute)

    def neighbourhood(self, service: str) -> list[str]:
        """``service`` first, then its callers and callees in the window's graph."""
        from workbench.analysis.focus import neighbourhood

        # the edges are the spans' whatever the node numbers: no need to wait for metrics
        edges = self.graph_spans.value.edges
        return self._memo(
            ("neighbourhood", self.window, service), lambda: neighbourhood(edges, service)
        )

    def patterns(self, *, search: str = "", n: int = 200) -> pl.DataFrame:
        """Log templates of the window and focus: new first, then surging, then the most
        frequent (:func:`~workbench.analysis.focus.pattern_table`)."""
        from workbench.analysis.focus import pattern_table

        mined = self.templates.frame
        return self._memo(
            ("patterns", self.window, self.baseline, self.services, search, n),
            lambda: pattern_table(
                mined, self.window, self.baseline, services=self.services, search=search, n=n
            ),
        )

    def pattern_lines(
        self, template_id: int, *, services: list[str] | None = None, n: int = 50
    ) -> pl.DataFrame:
        """The raw lines behind one template in the window (``services`` default: the
        focus)."""
        from workbench.analysis.focus import pattern_lines

        mined = self.templates.frame
        svc = list(self.services) if services is None else services
        return pattern_lines(mined, template_id, window=self.window, services=svc, n=n)

    def traces(self, *, n: int = 50, **search: Any) -> pl.DataFrame:
        """Traces starting in the window through the focus: failed first, then the
        slowest (:func:`~workbench.analysis.focus.trace_table`); ``search`` narrows them
        (``trace_id``, ``service``, ``operation``, ``status``, ``min_duration_ms``).

        >>> inv.traces(operation="POST /checkout", status="failed", min_duration_ms=200)
        """
        from workbench.analysis.focus import trace_table

        spans = self.incident.spans
        key = tuple(sorted(search.items()))
        return self._memo(
            ("traces", self.window, self.services, n, key),
            lambda: trace_table(
                spans, window=self.window, services=list(self.services), n=n, **search
            ),
        )

    def waterfall(self, trace_id: str) -> pl.DataFrame:
        """One trace as a waterfall with its critical path and failing span."""
        from workbench.analysis.waterfall import trace_waterfall

        spans = self.incident.spans
        return self._memo(("waterfall", trace_id), lambda: trace_waterfall(spans, trace_id))

    def traced(self, trace_ids: list[str | None]) -> set[str]:
        """Which of ``trace_ids`` have spans loaded (a log line's trace may not have been
        sampled): the ones a log line can be followed to."""
        wanted = {t for t in trace_ids if t}
        if not wanted:
            return set()
        spans = self.incident.spans
        hit = spans.filter(pl.col("trace_id").is_in(list(wanted)))["trace_id"].unique()
        return set(hit.to_list())

    def trace_logs(self, trace_id: str, *, n: int = 50, attributes: bool = True) -> pl.DataFrame:
        """The log lines of one trace, earliest first (at most ``n``), with every attribute
        (read again from the sources when the first pass held none, see
        :meth:`attributes_held`; ``attributes=False``: as loaded, no second read).

        >>> inv.trace_logs("4bf92f3577b34da6a3ce929d0e0e4736", n=20)
        """
        if attributes and self.attributes_held()["logs"] != "all":
            logs = self.detailed("logs", trace_ids=[trace_id])
        else:
            logs = self.incident.logs
        return logs.filter(pl.col("trace_id") == trace_id).sort("ts").head(n)

    def attributes_held(self) -> dict[str, str]:
        """How much of the spans' and logs' attributes the incident holds: ``"all"``, or
        ``"used"`` when a source loaded only what the investigation reads (spans: the
        keys naming a call's peer; logs: none; :mod:`workbench.sources.files.detail`).
        Every view's answer is the same either way; :meth:`detailed` and :meth:`frames`
        read the rest for what a user drills into.

        >>> inv.attributes_held()
        {'spans': 'used', 'logs': 'used'}
        """
        return {sig: self.incident.attributes_held(sig) for sig in ("spans", "logs")}

    def detailed(
        self,
        signal: str,
        *,
        services: list[str] | None = None,
        trace_ids: list[str] | None = None,
    ) -> pl.DataFrame:
        """The ``signal`` (spans or logs) rows of ``services`` and ``trace_ids`` (each
        default: all) over baseline and window **with every attribute**
        (:meth:`~workbench.incident.Incident.with_attributes`: the incident's own rows
        when they hold them all, else each source asked again; memoised).

        >>> inv.detailed("spans", trace_ids=[trace]).select("name", "attributes")
        """
        if signal not in ("spans", "logs"):
            raise ValueError(f"detailed reads spans or logs, not {signal!r}")
        svc = tuple(sorted(services)) if services is not None else None
        ids = tuple(sorted(set(trace_ids))) if trace_ids is not None else None
        if self.attributes_held()[signal] == "all":
            return self.incident.with_attributes(signal, services=svc, trace_ids=ids)
        return self._memo(
            ("detailed", signal, svc, ids),
            lambda: self.incident.with_attributes(signal, services=svc, trace_ids=ids),
        )

    def metric_grain(self) -> str:
        """``series`` when the incident's metrics are raw samples; ``service`` or
        ``signals`` when a source answered the first pass per service (large data, or a
        Prometheus source's RED + saturation): then :meth:`raw_metrics` fetches the raw
        series of the services a user drills into."""
        grains = {
            o.result.extra.get("grain", "series")
            for (_, sig), o in self.incident.outcomes.items()
            if sig == "metrics" and o.result is not None
        }
        grains.discard("series")
        return sorted(grains)[0] if grains else "series"

    def raw_metrics(self, services: list[str] | None = None) -> pl.DataFrame:
        """The raw metric samples of ``services`` (default: the focus) over baseline and
        window. When the first pass loaded per-service aggregates or signals, each metrics
        source is asked again for those services' raw series (memoised); otherwise they
        are the incident's own samples.

        >>> inv.raw_metrics(["checkout"]).filter(pl.col("metric") == "up")
        """
        from workbench import frames as fr
        from workbench.analysis.focus import for_services

        svc = sorted(services if services is not None else self.services)
        if self.metric_grain() == "series" or not svc:
            return for_services(self.incident.metrics, svc) if svc else self.incident.metrics

        def fetch() -> pl.DataFrame:
            inc = self.incident
            parts = [
                src.raw_metrics(inc.full_window, services=svc).frame
                for src in inc.sources
                if "metrics" in src.capabilities and hasattr(src, "raw_metrics")
            ]
            return fr.concat(parts, "metrics") if parts else fr.empty("metrics")

        return self._memo(("raw_metrics", tuple(svc)), fetch)

    def frames(self, *, max_traces: int = 50, trace: str | None = None) -> dict[str, pl.DataFrame]:
        """The frames behind the focus: ``metrics`` (raw samples, see
        :meth:`raw_metrics`) and ``logs`` in the window of the services, ``spans`` of the
        traces touching them, ``traces`` (:meth:`traces`) and, with ``trace``, its
        ``waterfall``. Logs and spans carry every attribute (:meth:`detailed` when the
        first pass held only what the views read)."""
        from workbench.analysis.focus import for_services, traces_touching

        view = self.incident.narrow(self.window)
        s = list(self.services)
        metrics = self.raw_metrics(s) if s else view.metrics
        held = self.attributes_held()
        logs = view.logs if held["logs"] == "all" else self.detailed("logs", services=s or None)
        spans = traces_touching(view.in_window(view.spans, "start"), s)
        if held["spans"] != "all":  # the same rows, read again with every attribute
            ids = spans["trace_id"].unique().to_list() if s else None
            spans = traces_touching(
                view.in_window(self.detailed("spans", trace_ids=ids), "start"), s
            )
        out = {
            "metrics": for_services(view.in_window(metrics), s),
            "logs": for_services(view.in_window(logs), s),
            "spans": spans,
            "traces": self.traces(n=max_traces),
        }
        if trace:
            out["waterfall"] = self.waterfall(trace)
        return out
