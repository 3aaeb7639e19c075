"""Explorer tabs built on charts: Overview (RED, brush), Graph (click), Timeline.

Each view is a widget with ``render()``, called when its tab is shown after the state
changed. Views read the explorer's plain state (``window``, ``services``), ask its
investigation (``explorer.inv``: the :class:`~workbench.Investigation` narrowed to that
state) for the answers, draw them with ``workbench.charts`` and write widget values; a
click calls an explorer method (``focus_service``, ``set_window``). They compute nothing.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import polars as pl

from widgets._charts import (
    chart_widget,
    interval_to_window,
    point_values,
    set_chart,
    watch_selection,
)
from widgets._html import WARN, services_note, table_html

if TYPE_CHECKING:
    from widgets.explorer import IncidentExplorer

__all__ = ["GraphView", "OverviewView", "TimelineView"]


class OverviewView(w.VBox):
    """RED per service; brushing a time range narrows the explorer's window."""

    def __init__(self, ex: IncidentExplorer) -> None:
        from widgets.pickers import WindowPicker

        self.ex = ex
        self.note = w.HTML(
            "<p>Drag across a chart to narrow the window of every view (or type it below); "
            "<i>Whole window</i> undoes it.</p>"
        )
        # the keyboard path to the same window as a brush
        self.picker = WindowPicker(default="1h", on_change=self._typed)
        for text in (
            self.picker.duration,
            self.picker.start,
            self.picker.end,
            self.picker.moment,
            self.picker.before,
            self.picker.after,
        ):
            text.continuous_update = False
        self.window_error = w.HTML()
        self.summary = w.HTML()
        self.chart: w.Widget | None = None
        self._box = w.Box()
        self._syncing = False
        self.rendered_services: list[str] = []
        #: the window the time axes are zoomed to (None: the whole data)
        self.zoom: Any = None
        super().__init__([self.note, self.picker, self.window_error, self._box, self.summary])
        self.sync_picker()

    def sync_picker(self) -> None:
        """Show the explorer's window in the picker (without feeding it back); a message
        about an earlier typed window no longer applies and is cleared."""
        self._syncing = True
        try:
            self.picker.set_window(self.ex.window)
            self.picker._refresh()
        finally:
            self._syncing = False
        self.window_error.value = ""

    def _typed(self, window: Any) -> None:
        if self._syncing:
            return
        from workbench.errors import ConfigError

        try:
            self.ex.set_window(window)
            self.window_error.value = ""
        except ConfigError as err:
            self.window_error.value = (
                f"<p role='alert' style='color:{WARN}'>{html.escape(err.message)}</p>"
            )

    def render(self) -> None:
        from workbench.charts import red_panels
        from workbench.display import html_table
        from workbench.investigation import span_label
        from workbench.investigation.quantities import SUMMARY_DEFINITION

        ex = self.ex
        inv = ex.inv
        self.sync_picker()
        r = ex.red.frame
        present = set(r["service"].unique().to_list())
        services = [s for s in ex.services if s in present]
        # a brush zooms every time axis to the window it chose; Whole window zooms out
        zoom = inv.window if inv.window != ex.incident.window else None
        chart = red_panels(
            r, inv.window, inv.baseline, services=services or None, brush=True, zoom=zoom
        )
        self.zoom = zoom
        if self.chart is None:
            self.chart = chart_widget(chart, debounce_ms=400, wait_for_end=True)
            watch_selection(self.chart, "time", self._brushed)
            self._box.children = [self.chart]
        else:
            set_chart(self.chart, chart)
        self.rendered_services = services
        source = (
            "<p role='status'><i>RED from the traces (rates count sampled traces) while "
            "the metrics are aggregated…</i></p>"
            if ex.red_from == "traces"
            else ""
        )
        summary = ex.red_summary()
        # the notebook's red_summary table, formatted the same way (units, precision):
        # one value per quantity for one window, whichever place shows it
        self.summary.value = source + html_table(
            summary,
            columns=[
                "service",
                "rate_inc",
                "error_ratio_base",
                "error_ratio_inc",
                "p95_base_ms",
                "p95_inc_ms",
            ],
            caption=f"Window {span_label(inv.window)} against baseline "
            f"{span_label(inv.baseline)}, {services_note(ex)}, most changed first ("
            f"{SUMMARY_DEFINITION})",
            max_rows=12,
            more_hint="Code gives the red_summary frame",
            cell_padding="1px 8px",
        )

    def _brushed(self, value: dict[str, Any]) -> None:
        win = interval_to_window(value, "ts")
        if win is None:
            return
        full = self.ex.incident.full_window
        from workbench.timewindow import Window

        start, end = max(win.start, full.start), min(win.end, full.end)
        if end > start:
            self.ex.set_window(Window(start, end))


class GraphView(w.VBox):
    """The call graph; a click (or the Service list) focuses on a service's neighbourhood."""

    def __init__(self, ex: IncidentExplorer) -> None:
        self.ex = ex
        self.colour = w.ToggleButtons(
            options=[("error ratio", "error_ratio"), ("p95 vs baseline", "p95_ratio")],
            value="error_ratio",
            description="Colour by",
            tooltips=[
                "share of requests that failed in the window",
                "p95 latency in the window divided by the baseline's",
            ],
        )
        self.picker = w.Dropdown(
            options=[("(all services)", "")],
            value="",
            description="Service",
            tooltip="Focus on a service and its callers and callees (same as clicking it)",
        )
        self.info = w.HTML()
        self.chart: w.Widget | None = None
        self._box = w.Box()
        self._signature: tuple[Any, ...] = ()
        self._syncing = False
        self._from_click = False
        self.colour.observe(lambda _c: self._recolour(), names="value")
        self.picker.observe(self._picked, names="value")
        super().__init__([w.HBox([self.colour, self.picker]), self._box, self.info])

    def saved(self) -> dict[str, Any]:
        return {"colour": self.colour.value}

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("colour") in ("error_ratio", "p95_ratio"):
            self.colour.value = state["colour"]

    def _recolour(self) -> None:
        self.ex._save()
        if self.ex.ready:
            self.render()

    def render(self) -> None:
        from workbench.analysis.graph import ServiceGraph
        from workbench.charts import service_graph_chart

        ex = self.ex
        inv = ex.investigation.narrow(window=ex.window)
        # while the metrics load, the graph's numbers are the spans'; then the RED ones
        g = (inv.graph if ex.red_from == "metrics" else inv.graph_spans).value
        names = g.nodes["service"].to_list()
        self._syncing = True
        try:
            self.picker.options = [("(all services)", ""), *[(n, n) for n in names]]
            self.picker.value = ex.service if ex.service in names else ""
        finally:
            self._syncing = False
        signature = (str(ex.window), self.colour.value, tuple(ex.services), ex.red_from)
        if self._from_click:
            # the focus came from a click on this chart: keep it (and its highlight)
            self._from_click = False
            self._signature = signature
        if signature != self._signature:
            self._signature = signature
            nodes = inv.node_changes(spans=ex.red_from != "metrics")
            shown = ServiceGraph(edges=g.edges, nodes=nodes, seconds=g.seconds, window=g.window)
            chart = service_graph_chart(
                shown, selectable=True, color_by=self.colour.value, diff=inv.graph_diff.value
            )
            if self.chart is None:
                self.chart = chart_widget(chart)
                watch_selection(self.chart, "service", self._clicked)
                self._box.children = [self.chart]
            else:
                set_chart(self.chart, chart)
        self.info.value = self._info(g)

    def _info(self, g: Any) -> str:
        from workbench.investigation import span_label

        ex = self.ex
        if not ex.service:
            return (
                f"<p>{self.errors_start()} Click a service, or pick it in the list, to focus "
                "on it and its neighbours.</p>"
            )
        row = g.nodes.filter(pl.col("service") == ex.service)
        stats = (
            table_html(
                row.select("service", "requests", "rate_per_s", "error_ratio", "p95_ms"),
                caption=f"{span_label(ex.window)} (RED definitions)",
            )
            if row.height
            else ""
        )
        return (
            f"<p><b>{html.escape(ex.service)}</b> — called by "
            f"{html.escape(', '.join(g.callers(ex.service)) or 'nobody')}; calls "
            f"{html.escape(', '.join(g.callees(ex.service)) or 'nothing')}.</p>{stats}"
        )

    def origin(self) -> str | None:
        """Where errors start, as the ranking says: the best-ranked suspect whose failing
        requests' errors start there (its ``errors`` signal), or None."""
        sus = self.ex.suspects
        if sus is None or "errors" not in sus.table.columns:
            return None
        hit = sus.table.filter(pl.col("errors") > 0).sort("rank")
        return hit["service"][0] if hit.height else None

    def errors_start(self) -> str:
        """The "errors start at" sentence, the same service as the ranking's origin."""
        sus = self.ex.suspects
        if sus is None:
            return "Errors start at: <i>(waiting for the ranking)</i>."
        origin = self.origin()
        if origin is None:
            return "Errors start at: <b>none</b> (no failing requests start at any service)."
        from workbench.display import format_window

        rank = sus.rank_of(origin)
        return (
            f"Errors start at: <b>{html.escape(origin)}</b> (suspect #{rank}: failing "
            f"requests' errors start there, ranked on {html.escape(format_window(sus.window))})."
        )

    def _clicked(self, value: list[dict[str, Any]]) -> None:
        names = point_values(value, "service")
        self._from_click = True
        try:
            self.ex.focus_service(names[-1] if names else None)
        finally:
            self._from_click = False

    def _picked(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.ex.focus_service(change["new"] or None)


class TimelineView(w.VBox):
    """Events, onsets and log-pattern surges on one time axis."""

    def __init__(self, ex: IncidentExplorer) -> None:
        self.ex = ex
        self.chart: w.Widget | None = None
        self._box = w.Box()
        self.table = w.HTML()
        self.frame: pl.DataFrame | None = None
        super().__init__([self._box, self.table])

    def render(self) -> None:
        from workbench.charts import timeline_chart

        ex = self.ex
        if ex.red_from != "metrics":
            self.table.value = (
                "<p role='status'><i>The timeline (events, onsets, log surges) shows when "
                "the metrics have loaded…</i></p>"
            )
            return
        tl = ex.inv.timeline.frame  # the notebook's timeline, narrowed to the focus
        self.frame = tl
        zoom = ex.window if ex.window != ex.incident.window else None
        chart = timeline_chart(tl, zoom=zoom)
        if self.chart is None:
            self.chart = chart_widget(chart)
            self._box.children = [self.chart]
        else:
            set_chart(self.chart, chart)
        # the rows the notebook's table and the postmortem show, said how many of how many
        table = ex.inv.timeline_table.value
        self.table.value = table_html(
            table.view(),
            caption=f"{services_note(ex)} (times UTC): {table.note}",
        )
