"""``IncidentExplorer``: one widget to investigate an incident without writing code.

Tabs: **Overview** (RED per service, baseline shaded; brush a time range to narrow the
window of every view), **Graph** (call graph coloured by error ratio or latency change;
click a service to focus on it and its neighbours), **Timeline** (alerts, deploys,
rollbacks, chaos, log-pattern surges, error onsets), **Logs** (patterns, new and surging
first; search; the raw lines behind a pattern), **Traces** (failed and slow traces of the
focus; a waterfall with the critical path and the failing span) and **Suspects** (the
ranking, each piece of evidence one click from its view).

The state is plain values: ``explorer.window`` (a :class:`~workbench.Window`),
``explorer.services`` (the focus; empty = all), ``explorer.selected_trace``;
``explorer.to_code()`` is the Python that reproduces the view, ``explorer.frames()`` the
frames it shows. Pass ``key=`` to keep the choices when the cell is re-run. Loading runs
in a thread with a progress bar and a Cancel button. Every number shown is an answer of
the :class:`~workbench.Investigation` it is given (or builds from an Incident): the
explorer and its tabs ask it and draw, they compute nothing, so the notebook's cells
and the explorer show the same numbers for the same window.

Example::

    >>> from workbench import Incident, Investigation
    >>> from widgets import IncidentExplorer
    >>> inv = Investigation(Incident.demo())
    >>> ex = IncidentExplorer(inv, key="inc")  # an Incident works too
    >>> ex                                   # the widget
    >>> ex.services = ["checkout"]           # or click a node in the Graph tab
    >>> print(ex.to_code())                  # paste into a cell
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import ipywidgets as w
import polars as pl

from widgets._tasks import BackgroundTask
from widgets.pickers import _STATE
from workbench.errors import ConfigError
from workbench.gate import Gate, gated
from workbench.incident import SIGNALS, Incident
from workbench.investigation import Investigation
from workbench.timewindow import Window

__all__ = ["TABS", "IncidentExplorer"]

log = logging.getLogger(__name__)

TABS = ("overview", "graph", "timeline", "logs", "traces", "suspects")
_TITLES = ("Overview", "Graph", "Timeline", "Logs", "Traces", "Suspects")
#: block text inside the explorer's HTML widgets at a reading line height
_TEXT_CSS = (
    ".wb-explorer .widget-html-content > div, .wb-explorer .widget-html-content > p, "
    ".wb-explorer .widget-html-content > table {line-height: 1.45}"
)
_STEPS = ("logs, spans, events", "analysis", "metrics", "RED from metrics", "suspects", "verdict")


def _judge(inv: Any) -> Any:
    """The verdict on ``inv``'s top suspect (``inv.verdict``, what the headline shows), or
    None when nothing was ranked (the headline then says "none" in its own words)."""
    return inv.verdict.value if inv.suspects.value.ranking else None


class _View(Protocol):
    """What the explorer asks of each tab's view."""

    def render(self) -> None: ...


#: above this many metric samples, the first view shows RED from the traces (seconds)
#: and the metric-based RED replaces it when ready (it can take tens of seconds)
QUICK_RED_ROWS = 500_000
#: how long the first view waits for the metrics (loading beside the other signals)
#: before it shows RED from the traces
METRICS_GRACE_S = 0.5


class _Loader:
    """``incident.load(signals)`` in a thread; ``wait()`` re-raises what it raised."""

    def __init__(self, incident: Incident, signals: list[Any], gate: Gate | None = None) -> None:
        self.error: BaseException | None = None

        def run() -> None:
            try:
                with gated(gate):  # None: no gate (this thread's context starts empty)
                    incident.load(signals)
            except BaseException as err:  # re-raised by wait() in the loading thread
                self.error = err

        self.thread = threading.Thread(target=run, name="workbench-load", daemon=True)
        self.thread.start()

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def wait(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


class IncidentExplorer(w.VBox):
    """Interactive view of an :class:`~workbench.Investigation` (see the module doc).

    ``investigation`` is an Investigation (its window and services are where the
    explorer starts) or an :class:`~workbench.Incident` (an Investigation is built).
    ``key`` keeps the user's choices across re-runs of the cell; ``background=False``
    loads in the calling thread (scripts, tests); ``incident_expr`` is the Python
    expression ``to_code()`` writes to re-open the incident (default: inferred from
    its source, e.g. ``Incident.from_directory(...)``, else the variable ``inc``).
    ``max_log_lines``, ``max_traces`` and ``max_patterns`` cap what reaches the browser.
    """

    def __init__(
        self,
        investigation: Investigation | Incident,
        *,
        key: str | None = None,
        background: bool = True,
        incident_expr: str | None = None,
        max_log_lines: int = 50,
        max_traces: int = 50,
        max_patterns: int = 100,
    ) -> None:
        from widgets.views_charts import GraphView, OverviewView, TimelineView
        from widgets.views_evidence import LogsView, SuspectsView, TracesView

        if isinstance(investigation, Incident):
            investigation = Investigation(investigation)
        if not isinstance(investigation, Investigation):
            raise ConfigError(
                "IncidentExplorer needs an Investigation or an Incident, got "
                f"{type(investigation).__name__}"
            )
        self.investigation = investigation
        incident = investigation.incident
        self.incident = incident
        self.key = key
        self.incident_expr = incident_expr
        self.max_log_lines = max_log_lines
        self.max_traces = max_traces
        self.max_patterns = max_patterns
        self._lock = threading.RLock()
        self._window = investigation.window
        self._services: list[str] = list(investigation.services)
        self._service: str | None = None
        self._trace: str | None = None
        #: the span a log line pointed at (shown in the waterfall's details)
        self.selected_span: str | None = None
        self._narrowed: Investigation | None = None
        #: "traces" while RED comes from the spans (metrics still loading), then "metrics"
        self.red_from: str | None = None
        self.suspects: Any = None
        #: the verdict on :attr:`suspects`' top suspect (None: not judged yet)
        self.verdict: Any = None

        # wrapped text reads as text: JupyterLab gives every HTML widget the line height of
        # a button (28px), which spread a suspect's two-line "why" over six widely spaced
        # lines (look11); single-line labels beside buttons keep it
        self.title = w.HTML(
            f"<style>{_TEXT_CSS}</style><h3 style='margin:4px 0'>{html.escape(incident.title)}</h3>"
        )
        self.state_line = w.HTML()
        self.reset_window_button = w.Button(
            description="Whole window",
            icon="expand",
            tooltip="Back to the incident's own window (undo a brush)",
        )
        self.clear_services_button = w.Button(
            description="All services",
            icon="globe",
            tooltip="Drop the service focus: show every service",
        )
        self.code_button = w.ToggleButton(
            description="Code", icon="code", tooltip="Show the Python that reproduces this view"
        )
        self.code = w.Textarea(
            layout=w.Layout(width="100%", height="14em", display="none"),
            description="",
            disabled=False,
        )
        self.reset_window_button.on_click(lambda _b: self.reset_window())
        self.clear_services_button.on_click(lambda _b: self.set_services([]))
        self.code_button.observe(self._toggle_code, names="value")
        self.task = BackgroundTask(_STEPS)
        self.message = w.HTML()

        self.views: dict[str, _View] = {
            "overview": OverviewView(self),
            "graph": GraphView(self),
            "timeline": TimelineView(self),
            "logs": LogsView(self),
            "traces": TracesView(self),
            "suspects": SuspectsView(self),
        }
        self.tabs = w.Tab(children=[self.views[t] for t in TABS])
        self.tabs.titles = _TITLES
        self._dirty: set[str] = set(TABS)
        self.tabs.observe(self._tab_changed, names="selected_index")
        toolbar = w.HBox([self.reset_window_button, self.clear_services_button, self.code_button])
        super().__init__(
            [self.title, self.state_line, toolbar, self.task, self.message, self.tabs, self.code]
        )
        self.add_class("wb-explorer")
        self._restore()
        self._show_state()
        self.load(background=background)

    # plain values ---------------------------------------------------------------------
    @property
    def window(self) -> Window:
        """The window every view shows (the incident's, or narrower after a brush)."""
        return self._window

    @window.setter
    def window(self, value: Window) -> None:
        self.set_window(value)

    @property
    def services(self) -> list[str]:
        """The services in focus (a clicked service and its neighbours); empty = all."""
        return list(self._services)

    @services.setter
    def services(self, value: Sequence[str]) -> None:
        self.set_services(value)

    @property
    def service(self) -> str | None:
        """The service clicked last (the centre of ``services``), if any."""
        return self._service

    @property
    def selected_trace(self) -> str | None:
        """The trace shown in the Traces tab's waterfall."""
        return self._trace

    @selected_trace.setter
    def selected_trace(self, value: str | None) -> None:
        self.set_trace(value)

    @property
    def tab(self) -> str:
        """The tab on show: one of :data:`TABS`."""
        return TABS[self.tabs.selected_index or 0]

    @tab.setter
    def tab(self, name: str) -> None:
        self.show_tab(name)

    @property
    def inv(self) -> Investigation:
        """The investigation narrowed to ``window`` and ``services``: what every tab asks."""
        key = (self._window, tuple(self._services))
        cur = self._narrowed
        if cur is None or (cur.window, cur.services) != key:
            cur = self.investigation.narrow(window=self._window, services=self._services)
            self._narrowed = cur
        return cur

    @property
    def view(self) -> Incident:
        """The incident narrowed to ``window`` (frames shared, nothing re-loaded)."""
        return self.inv.view

    @property
    def ready(self) -> bool:
        """True once the frames are loaded and the first view's answers computed."""
        return self.red_from is not None

    @property
    def red(self) -> Any:
        """The RED answer on show: from the traces while the metrics load, then the
        investigation's own."""
        inv = self.investigation
        return inv.red_traces if self.red_from == "traces" else inv.red

    def red_summary(self) -> Any:
        """The RED summary of the window and focus on show (same definition either way)."""
        if self.red_from == "traces":
            return self.inv.summary_of(self.red.frame)
        return self.inv.red_summary.frame

    # changing the state ------------------------------------------------------------------
    def set_window(self, window: Window) -> None:
        """Narrow (or widen) every view to ``window``; it must lie within the data loaded
        (the incident's baseline and window)."""
        if not isinstance(window, Window):
            raise ConfigError(f"window must be a Window, got {type(window).__name__}")
        full = self.incident.full_window
        if window.start < full.start or window.end > full.end:
            raise ConfigError(
                f"window {window} is outside the data loaded ({full})",
                hint="open a new Incident for another time range",
            )
        if window == self._window:
            return
        self._window = window
        self._changed()

    def reset_window(self) -> None:
        """Back to the incident's own window."""
        self.set_window(self.incident.window)

    def set_services(self, services: Sequence[str], *, centre: str | None = None) -> None:
        """Focus on ``services`` (empty: all). ``centre`` is the service they surround."""
        chosen = list(dict.fromkeys(services))
        if chosen == self._services and centre == self._service:
            return
        self._services = chosen
        self._service = centre if centre in chosen else (chosen[0] if len(chosen) == 1 else None)
        self._changed()

    def focus_service(self, service: str | None) -> None:
        """Focus on ``service`` and its callers and callees (what a click in the graph does);
        None clears the focus."""
        if not service:
            self.set_services([])
            return
        around = self.investigation.narrow(window=self._window).neighbourhood(service)
        self.set_services(around, centre=service)

    def set_trace(self, trace_id: str | None) -> None:
        """Show ``trace_id`` in the Traces tab's waterfall."""
        if trace_id == self._trace:
            return
        self._trace = trace_id
        self._save()
        self._show_state()
        self._dirty.add("traces")
        self._render_current()

    def open_log_line(self, trace_id: str, span_id: str | None = None) -> None:
        """Follow a log line to its trace (and span): the Traces tab shows its waterfall."""
        self.selected_span = span_id or None
        self._trace = None  # re-render even when the trace is already the selected one
        self.set_trace(trace_id)
        self.show_tab("traces")

    def rerank(self) -> None:
        """Rank the suspects again on the window on show (after a brush): the Suspects tab
        then says which window it ranked. Runs in the calling thread (a few seconds)."""
        narrowed = self.investigation.narrow(window=self._window)
        self.suspects = narrowed.suspects.value
        self.verdict = _judge(narrowed)
        self._dirty |= {"suspects", "graph"}
        self._render_current()

    def show_tab(self, name: str) -> None:
        """Switch to tab ``name`` (one of :data:`TABS`)."""
        if name not in TABS:
            raise ConfigError(f"no tab {name!r}; one of {TABS}")
        self.tabs.selected_index = TABS.index(name)

    # loading -------------------------------------------------------------------------
    def load(self, *, background: bool = True) -> None:
        """Load the frames and the analysis behind the views (a thread; progress shown
        after a second; Cancel stops it between steps)."""
        inc = self.incident
        inv = self.investigation

        def work(step: Any) -> None:
            from widgets._charts import interactive_available

            # bundle the chart JavaScript (once per kernel, offline) while frames load
            bundling = threading.Thread(target=interactive_available, daemon=True)
            bundling.start()
            # metrics (often the biggest by far) load in the background: the first view
            # needs only logs, spans and events (RED from the traces until they arrive).
            # They start at once when every source loads side by side (300 lab services:
            # suspects 4.7-4.8 s from opening instead of 5.2-5.3 s, first view 2.1 ->
            # 2.3 s); after the rest when a source takes turns (large files), or the
            # metrics would hold the first view back
            side_by_side = all(getattr(s, "loads_concurrently", True) for s in inc.sources)
            # until the first view is drawn the metrics load works in one thread (its
            # Parquet pieces side by side would take the cores the first view waits for)
            gate = Gate()
            metrics = _Loader(inc, ["metrics"], gate) if side_by_side else None
            step("logs, spans, events")
            inc.load([sig for sig in SIGNALS if sig != "metrics"])  # concurrently
            step("analysis")
            if metrics is None:
                metrics = _Loader(inc, ["metrics"], gate)
            grace = time.monotonic() + METRICS_GRACE_S
            if inv.has("red") or inc.spans.height == 0:
                step("metrics")
                gate.open()  # the first view waits for the metrics
                metrics.wait()
            # what the first view needs besides RED, while the metrics load
            inv.templates  # noqa: B018 - computed now, memoised in the investigation
            inv.node_changes(spans=True)  # the graphs from the spans (no metrics needed)
            metrics.join(max(0.0, grace - time.monotonic()))
            if metrics.done:
                metrics.wait()  # re-raises a failure
            # many raw samples (or still loading): RED from the traces first
            quick = (
                not inv.has("red")
                and inc.spans.height > 0
                and (not metrics.done or inc.metrics.height > QUICK_RED_ROWS)
            )
            if quick:
                inv.red_traces  # noqa: B018
            else:
                inv.red  # noqa: B018
            bundling.join()
            with self._lock:
                self.red_from = "traces" if quick else "metrics"
            self._analysed()
            gate.open()
            if not metrics.done:
                step("metrics")
                metrics.wait()
                if self.incident.partial:
                    self._analysed_partial()
            if self.red_from == "traces":
                step("RED from metrics")
                inv.red  # noqa: B018
                with self._lock:
                    self.red_from = "metrics"
                self._dirty |= {"overview", "timeline", "graph"}
                self._render_current()
            step("suspects")
            self.suspects = inv.suspects.value
            step("verdict")  # the headline's (memoised): computed here when it did not run
            self.verdict = _judge(inv)

        self.message.value = ""
        self.task.start(
            work,
            on_done=lambda _r: self._suspects_ready(),
            on_cancel=self._cancelled,
            on_error=self._failed,
            background=background,
        )

    def wait(self, timeout: float | None = None) -> str:
        """Block until loading ends; returns ``"done"``, ``"cancelled"`` or ``"failed"``."""
        return self.task.wait(timeout)

    def cancel(self) -> None:
        """Stop loading (what the Cancel button does)."""
        self.task.cancel()

    @property
    def load_status(self) -> str:
        """``running``, ``done``, ``cancelled`` or ``failed``."""
        return self.task.status

    def _analysed_partial(self) -> None:
        from widgets.pickers import SourceStatusPanel

        self.status_panel = SourceStatusPanel(self.incident)
        self.message.value = (
            "<p role='alert' style='color:#b35806'><b>Some data is missing or partial"
            "</b>: the views show what the sources returned (details below).</p>"
            + self.status_panel.table.value
        )

    def _analysed(self) -> None:
        if self.incident.partial:
            self._analysed_partial()
        self._dirty = set(TABS)
        self._render_ahead()

    def _suspects_ready(self) -> None:
        self._dirty.add("suspects")
        self._render_ahead()

    def _render_ahead(self) -> None:
        """Render the tab on show once its answers are ready, for whoever looks at it;
        not in a run whose outputs are made static (:func:`workbench.notebook.static_run`:
        the explorer becomes a note there, and its first tab, the RED panels, cost the
        demo's headless run 0.2 s of the kernel). A tab asked for renders either way."""
        from workbench.notebook import static_run

        if not static_run():
            self._render_current()

    def _cancelled(self) -> None:
        done = " The views show what was ready." if self.ready else ""
        self.message.value = (
            f"<p role='status'><b>Loading cancelled.</b>{done} Run "
            "<code>explorer.load()</code> to try again.</p>"
        )
        if self.ready:
            self._dirty.add("suspects")
            self._render_current()

    def _failed(self, err: BaseException) -> None:
        log.warning("explorer load failed: %s", err)
        self.message.value = (
            f"<p role='alert' style='color:#b35806'><b>Loading failed:</b> "
            f"{html.escape(str(err))}</p>"
        )

    # rendering -------------------------------------------------------------------------
    def _changed(self) -> None:
        self._save()
        self._show_state()
        self._dirty = set(TABS)
        self._render_current()

    def _tab_changed(self, _change: object = None) -> None:
        self._save()
        self._render_current()

    def _render_current(self) -> None:
        if not self.ready:
            return
        name = self.tab
        if name in self._dirty:
            self._dirty.discard(name)
            with self._lock:
                self.views[name].render()
        if self.code_button.value:
            self.code.value = self.to_code()

    def render_all(self) -> None:
        """Render every tab now (normally a tab renders when shown)."""
        if not self.ready:
            return
        for name in TABS:
            self._dirty.discard(name)
            self.views[name].render()

    def _show_state(self) -> None:
        from workbench.display import format_window

        where = "whole incident window" if self._window == self.incident.window else "narrowed"
        svc = ", ".join(self._services) if self._services else "all"
        trace = f" · trace <code>{html.escape(self._trace[:16])}</code>" if self._trace else ""
        self.state_line.value = (
            f"<div role='status'><b>Window</b> {html.escape(format_window(self._window))} "
            f"({where}) · "
            f"<b>Services</b> {html.escape(svc)}{trace}</div>"
        )

    def _toggle_code(self, change: dict[str, Any]) -> None:
        self.code.layout.display = "flex" if change["new"] else "none"
        if change["new"]:
            self.code.value = self.to_code()

    # state across re-runs ---------------------------------------------------------------
    def _save(self) -> None:
        if not self.key:
            return
        _STATE[self.key] = {
            "incident": self.incident.id,
            "window": str(self._window),
            "services": list(self._services),
            "service": self._service,
            "trace": self._trace,
            "tab": self.tab,
            **{k: v.saved() for k, v in self.views.items() if hasattr(v, "saved")},
        }

    def _restore(self) -> None:
        saved = _STATE.get(self.key or "", {})
        if not saved or saved.get("incident") != self.incident.id:
            return
        try:
            win = Window.parse(saved["window"])
            full = self.incident.full_window
            if full.start <= win.start and win.end <= full.end:
                self._window = win
        except (ConfigError, KeyError):
            pass
        self._services = list(saved.get("services", []))
        self._service = saved.get("service")
        self._trace = saved.get("trace")
        for k, v in self.views.items():
            if hasattr(v, "restore") and k in saved:
                v.restore(saved[k])
        if saved.get("tab") in TABS:
            self.tabs.selected_index = TABS.index(saved["tab"])

    # reproducible -----------------------------------------------------------------------
    def _incident_code(self) -> tuple[str, str]:
        """(import line, expression) re-opening the incident, or ("", "") if unknown."""
        if self.incident_expr:
            return "", self.incident_expr
        inc = self.incident
        if len(inc.sources) == 1:
            src = inc.sources[0]
            kind = type(src).__name__
            if kind == "DirectorySource":
                return "", (
                    f"Incident.from_directory({str(src.path)!r}, id={inc.id!r}, "
                    f"window=Window.parse({str(inc.window)!r}))"
                )
            if kind == "BundleSource":
                return "", f"Incident.from_bundle({str(src.path)!r})"
        return "", ""

    def to_code(self) -> str:
        """Python reproducing the current view: the investigation narrowed to the window
        and the service focus, the frames the tabs show and the selected trace. Paste it
        into a cell.

        >>> print(explorer.to_code())
        """
        _imp, expr = self._incident_code()
        lines = ["from workbench import Incident, Investigation, Window", ""]
        if expr:
            lines.append(f"inc = {expr}")
        else:
            lines.append("# `inc` is the Incident the explorer was opened on")
        trace = f", trace={self._trace!r}" if self._trace else ""
        lines += [
            "inv = Investigation(inc).narrow(",
            f"    window=Window.parse({str(self._window)!r}), services={self._services!r}",
            ")",
            "view, services = inv.view, list(inv.services)",
            f"frames = inv.frames(max_traces={self.max_traces}{trace})",
            'metrics, logs, spans, traces = (frames[k] for k in ("metrics", "logs", "spans", '
            '"traces"))',
        ]
        if self._trace:
            lines.append('waterfall = frames["waterfall"]')
        return "\n".join(lines) + "\n"

    def frames(self) -> dict[str, pl.DataFrame]:
        """The frames behind the current view, computed exactly as ``to_code()`` writes:
        ``metrics``, ``logs``, ``spans``, ``traces`` (and ``waterfall`` with a trace)."""
        return self.inv.frames(max_traces=self.max_traces, trace=self._trace)

    def __repr__(self) -> str:
        return (
            f"IncidentExplorer({self.incident.id!r}, window={self._window}, "
            f"services={self._services}, trace={self._trace!r}, {self.load_status})"
        )
