"""Explorer tabs for the evidence: Logs (patterns, search, raw lines), Traces (list and
waterfall), Suspects (ranking with one-click evidence).

Like :mod:`widgets.views_charts`: ``render()`` on show; clicks call explorer methods
(``set_services``, ``set_trace``, ``show_tab``).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, cast

import ipywidgets as w
import polars as pl

from widgets._charts import chart_widget, set_chart
from widgets._html import WARN, services_note
from workbench.display import format_value, unit_nowrap
from workbench.grafana_view import links_html


def _ms(value: float | None) -> str:
    """A duration in milliseconds as the tables write it (``760 ms``, ``1.2 s``)."""
    return format_value(value, "duration_ms")


if TYPE_CHECKING:
    from widgets.explorer import IncidentExplorer

__all__ = ["LogsView", "SuspectsView", "TracesView"]


#: ``n`` that asks :meth:`Investigation.patterns` for every pattern
_ALL = 2**31


def patterns_note(every: pl.DataFrame, shown: int, services: str, search: str = "") -> str:
    """What the Logs tab's list holds, as HTML: how many patterns the window has (not
    the list's cap), how many are new and how many more surge (a new pattern is flagged
    surging too: counted once).

    >>> patterns_note(inv.patterns(n=2**31), 100, "all services")
    '100 of 122 patterns in the window for all services: <b>6 new</b>, 6 more surging (listed first).'
    """
    n = every.height
    n_new = int(every["new"].sum()) if n else 0
    n_surge = int((every["surge"] & ~every["new"]).sum()) if n else 0
    count = f"{shown} of {n}" if shown < n else f"{n}"
    match = f" matching {search!r}" if search else ""
    return (
        f"{count} patterns in the window for {html.escape(services)}{html.escape(match)}: "
        f"<b>{n_new} new</b>, {n_surge} more surging (listed first)."
    )


class LogsView(w.VBox):
    """Log patterns (new and surging first), a search box, the raw lines behind one."""

    def __init__(self, ex: IncidentExplorer) -> None:
        self.ex = ex
        self.search = w.Text(
            description="Search",
            placeholder="words in a pattern or line",
            continuous_update=False,
            tooltip="Filter patterns by text (case-insensitive); press Enter",
        )
        self.patterns = w.Select(
            options=[],
            rows=12,
            description="Patterns",
            layout=w.Layout(width="100%"),
            tooltip="NEW = not in the baseline; ▲ = surging against the baseline",
        )
        self.note = w.HTML()
        self.lines = w.HTML()
        self.line_list = w.Select(
            options=[],
            rows=10,
            layout=w.Layout(width="100%", display="none"),
            tooltip="Pick a line, then open its trace",
        )
        self.open_trace_button = w.Button(
            description="Open its trace",
            icon="stream",
            disabled=True,
            tooltip="The trace and span this log line was written in, as a waterfall",
        )
        self.table: pl.DataFrame | None = None
        self.shown_lines: pl.DataFrame | None = None
        self._want_template: str | None = None
        self._syncing = False
        self.search.observe(lambda _c: self._searched(), names="value")
        self.patterns.observe(self._chosen, names="value")
        self.line_list.observe(lambda _c: self._line_picked(), names="value")
        self.line_list.add_class("wb-log-lines")
        self.patterns.add_class("wb-patterns")
        self.open_trace_button.on_click(lambda _b: self.open_line_trace())
        super().__init__(
            [self.search, self.note, self.patterns, self.lines, self.line_list,
             self.open_trace_button]
        )  # fmt: skip

    def _line_picked(self) -> None:
        i = self.line_list.value
        ok = self.shown_lines is not None and i is not None and self.shown_lines["_traced"][i]
        self.open_trace_button.disabled = not ok

    def open_line_trace(self, index: int | None = None) -> None:
        """Open the trace (and span) of the shown line ``index`` (default: the picked one)."""
        i = self.line_list.value if index is None else index
        if self.shown_lines is None or i is None:
            return
        row = self.shown_lines.row(i, named=True)
        if row["_traced"]:
            self.ex.open_log_line(row["trace_id"], row.get("span_id"))

    def saved(self) -> dict[str, Any]:
        return {"search": self.search.value, "template": self.selected_template}

    def restore(self, state: dict[str, Any]) -> None:
        self._syncing = True
        try:
            self.search.value = state.get("search", "")
        finally:
            self._syncing = False
        self._want_template = state.get("template")

    @property
    def selected_template(self) -> str | None:
        """The template whose lines are shown."""
        i = self.patterns.value
        if self.table is None or i is None or i >= self.table.height:
            return self._want_template
        return self.table["template"][i]

    def select_template(self, template: str) -> None:
        """Show the lines behind ``template`` (clears the search if it hides it)."""
        self._want_template = template
        if self.table is not None and template not in self.table["template"].to_list():
            self._syncing = True
            try:
                self.search.value = ""
            finally:
                self._syncing = False
        if self.ex.ready:
            self.render()

    def _searched(self) -> None:
        if self._syncing:
            return
        self.ex._save()
        if self.ex.ready:
            self.render()

    def render(self) -> None:
        ex = self.ex
        # every pattern, to count them; the list shows the first max_patterns
        every = ex.inv.patterns(search=self.search.value, n=_ALL)
        t = every.head(ex.max_patterns)
        self.table = t
        opts = []
        for i, r in enumerate(t.iter_rows(named=True)):
            flag = "NEW " if r["new"] else ("▲ " if r["surge"] else "")
            text = r["template"] if len(r["template"]) <= 110 else r["template"][:109] + "…"
            opts.append((f"{flag}{r['n_incident']:>6,} × {r['service']}: {text}", i))
        want = self._want_template
        self._syncing = True
        try:
            self.patterns.options = opts
            index = None
            if want is not None and want in t["template"].to_list():
                index = t["template"].to_list().index(want)
            self.patterns.value = index
        finally:
            self._syncing = False
        self.note.value = (
            "<p>" + patterns_note(every, t.height, services_note(ex), self.search.value) + "</p>"
        )
        self._show_lines()

    def _chosen(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        i = change["new"]
        if self.table is not None and i is not None and i < self.table.height:
            self._want_template = self.table["template"][i]
        self.ex._save()
        self._show_lines()

    def _show_lines(self) -> None:
        ex = self.ex
        i = self.patterns.value
        if self.table is None or i is None or i >= self.table.height:
            self.shown_lines = None
            self.lines.value = "<p><i>Pick a pattern to see its raw lines.</i></p>"
            self.line_list.options = []
            self.line_list.layout.display = "none"
            self.open_trace_button.disabled = True
            return
        row = self.table.row(i, named=True)
        lines = ex.inv.pattern_lines(
            row["template_id"],
            services=[row["service"]] if row["service"] else ex.services,
            n=ex.max_log_lines,
        )
        traced = (
            ex.inv.traced(lines["trace_id"].to_list()) if "trace_id" in lines.columns else set()
        )
        # only a line whose trace has spans loaded can be followed (sampling drops some)
        lines = lines.with_columns(
            pl.col("trace_id").is_in(list(traced)).alias("_traced")
            if "trace_id" in lines.columns
            else pl.lit(False).alias("_traced")
        )
        self.shown_lines = lines
        opts = []
        for k, r in enumerate(lines.iter_rows(named=True)):
            mark = "↗ " if r["_traced"] else "  "
            text = r["message"].splitlines()[0] if r["message"] else ""
            opts.append(
                (f"{mark}{r['ts']:%H:%M:%S} {r['service']} {r['level'].upper():5} {text}", k)
            )
        links = ex.inv.links
        url = links.logs(row["service"], row["template"]) if links and row["service"] else None
        self.lines.value = (
            f"<p>First {lines.height} of {row['n_incident']} lines of "
            f"<code>{html.escape(row['template'])}</code> in the window "
            f"({row['n_baseline']} in the baseline). ↗ = written in a trace whose spans are "
            "loaded: pick the line, then <i>Open its trace</i>."
            + (f" Open in Grafana: {links_html({'logs': url})}" if url else "")
            + "</p>"
        )
        self.line_list.options = opts
        self.line_list.value = None
        self.line_list.layout.display = "" if opts else "none"
        self.open_trace_button.disabled = True


class TracesView(w.VBox):
    """Failed and slow traces of the focus; a waterfall of the selected one."""

    def __init__(self, ex: IncidentExplorer) -> None:
        self.ex = ex
        self.list = w.Select(
            options=[],
            rows=10,
            description="Traces",
            layout=w.Layout(width="100%"),
            tooltip="✕ = failed; slowest first. Arrow keys move, the waterfall follows",
        )
        self.note = w.HTML()
        self.chart: w.Widget | None = None
        self._box = w.Box()
        self.details = w.HTML()
        self.table: pl.DataFrame | None = None
        self.waterfall: pl.DataFrame | None = None
        self._syncing = False
        small = w.Layout(width="auto")
        self.find_id = w.Text(placeholder="trace id (prefix)", layout=w.Layout(width="16em"),
                              continuous_update=False)  # fmt: skip
        self.find_service = w.Dropdown(options=[("any service", "")], value="", layout=small)
        self.find_operation = w.Text(placeholder="operation (words)", continuous_update=False,
                                     layout=w.Layout(width="14em"))  # fmt: skip
        self.find_status = w.Dropdown(
            options=[("failed and slow", "any"), ("failed only", "failed"), ("ok only", "ok")],
            value="any",
            layout=small,
        )
        self.find_min_ms = w.BoundedFloatText(
            value=0, min=0, max=1e9, description="≥ ms", layout=w.Layout(width="11em")
        )
        self.search_row = w.HBox(
            [self.find_id, self.find_service, self.find_operation, self.find_status,
             self.find_min_ms], layout=w.Layout(flex_flow="row wrap"),
        )  # fmt: skip
        for field in (self.find_id, self.find_service, self.find_operation, self.find_status,
                      self.find_min_ms):  # fmt: skip
            field.observe(lambda _c: self._searched(), names="value")
        self.list.observe(self._chosen, names="value")
        self.list.add_class("wb-trace-list")
        self.search_row.add_class("wb-trace-search")
        super().__init__([self.search_row, self.note, self.list, self._box, self.details])

    def search_values(self) -> dict[str, Any]:
        """The search as keyword arguments of ``Investigation.traces``."""
        return {
            "trace_id": self.find_id.value.strip(),
            "service": self.find_service.value or "",
            "operation": self.find_operation.value.strip(),
            "status": self.find_status.value,
            "min_duration_ms": float(self.find_min_ms.value or 0),
        }

    def search(self, **values: Any) -> None:
        """Set the search fields (``trace_id``, ``service``, ``operation``, ``status``,
        ``min_duration_ms``) and list the traces that match."""
        fields = {"trace_id": self.find_id, "service": self.find_service,
                  "operation": self.find_operation, "status": self.find_status,
                  "min_duration_ms": self.find_min_ms}  # fmt: skip
        self._syncing = True
        try:
            for k, v in values.items():
                if k == "service" and v and v not in [o[1] for o in self.find_service.options]:
                    self.find_service.options = [*self.find_service.options, (v, v)]
                fields[k].value = v
        finally:
            self._syncing = False
        self._searched()

    def _searched(self) -> None:
        if self._syncing:
            return
        if self.ex.ready:
            self.render()

    def render(self) -> None:
        ex = self.ex
        names = sorted(set(ex.investigation.incident.services_seen))
        keep = self.find_service.value
        self._syncing = True
        try:
            self.find_service.options = [("any service", ""), *[(n, n) for n in names]]
            self.find_service.value = keep if keep in names else ""
        finally:
            self._syncing = False
        search = {k: v for k, v in self.search_values().items() if v not in ("", 0.0, "any")}
        t = ex.inv.traces(n=ex.max_traces, **search)
        self.table = t
        opts = [
            (
                f"{'✕' if r['failed'] else ' '} {_ms(r['duration_ms']):>9}  "
                f"{r['root_service']}: {r['root_name']}  {r['start']:%H:%M:%S}"
                + (f"  (fails at {r['error_service']}: {r['error_name']})" if r["failed"] else "")
                + f"  [{r['trace_id'][:12]}]",
                r["trace_id"],
            )
            for r in t.iter_rows(named=True)
        ]
        if ex.selected_trace and ex.selected_trace not in t["trace_id"].to_list():
            opts.insert(0, (f"(selected) [{ex.selected_trace[:12]}]", ex.selected_trace))
        self._syncing = True
        try:
            self.list.options = opts
            self.list.value = ex.selected_trace
        finally:
            self._syncing = False
        n_failed = int(t["failed"].sum()) if t.height else 0
        asked = ", ".join(f"{k.replace('_', ' ')} {v!r}" for k, v in search.items())
        self.note.value = (
            f"<p>{t.height} traces starting in the window through "
            f"{html.escape(services_note(ex))}{' matching ' + html.escape(asked) if asked else ''}"
            f": {n_failed} failed (✕, first), then the slowest that did not fail. Pick one "
            "for its waterfall.</p>"
        )
        self._show_waterfall()

    def _chosen(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.ex.set_trace(change["new"])

    def _show_waterfall(self) -> None:
        from workbench.charts.waterfall import trace_waterfall_chart

        ex = self.ex
        if not ex.selected_trace:
            self.waterfall = None
            self._box.children = []
            self.details.value = ""
            return
        wf = ex.inv.waterfall(ex.selected_trace)
        self.waterfall = wf
        chart = trace_waterfall_chart(wf)
        if self.chart is None:
            self.chart = chart_widget(chart)
        else:
            set_chart(self.chart, chart)
        self._box.children = [self.chart]
        self.details.value = self._details(wf)

    def _details(self, wf: pl.DataFrame) -> str:
        ex = self.ex
        origin = wf.filter(pl.col("error_origin"))
        parts = []
        if ex.selected_span and "span_id" in wf.columns:
            spans = wf.filter(pl.col("span_id") == ex.selected_span)
            if spans.height:
                sp = spans.row(0, named=True)
                parts.append(
                    f"<p role='note'><b>The log line's span</b>: <b>{html.escape(sp['service'])}"
                    f"</b> {html.escape(sp['name'])} ({_ms(sp['duration_ms'])}, span "
                    f"<code>{html.escape(ex.selected_span)}</code>)</p>"
                )
        if origin.height:
            o = origin.row(0, named=True)
            parts.append(
                f"<p role='note'><b style='color:{WARN}'>Fails at</b> "
                f"<b>{html.escape(o['service'])}</b>: {html.escape(o['name'])} "
                f"({_ms(o['duration_ms'])}, +{_ms(o['offset_ms'])} into the trace)</p>"
            )
        trace = ex.selected_trace  # set: render() shows no details without one
        links = ex.inv.links
        url = links.trace(trace) if links is not None and trace else None
        if url:
            parts.append(f"<p>Open in Grafana: {links_html({'trace': url})}</p>")
        # the lines as loaded: their attributes are not shown (no second read of a lean load)
        logs = (
            ex.inv.trace_logs(trace, n=ex.max_log_lines, attributes=False)
            if trace
            else pl.DataFrame()
        )
        if logs.height:
            body = "\n".join(
                f"{r['ts']:%H:%M:%S.%f}"[:-3]
                + f" {r['service']} {r['level'].upper():5} {r['message'].splitlines()[0]}"
                for r in logs.iter_rows(named=True)
            )
            parts.append(
                f"<p>Log lines of this trace ({logs.height}):</p>"
                f"<pre style='font-size:11px;white-space:pre-wrap'>{html.escape(body)}</pre>"
            )
        return "".join(parts)


def _grafana(links: Any, ev: Any) -> str:
    """One suspect's Grafana Explore links as a line ("" without Grafana)."""
    got = links_html(links.evidence(ev)) if links is not None else ""
    return f"<br><small>Open in Grafana: {got}</small>" if got else ""


def verdict_note(verdict: Any, ranked: bool = True) -> str:
    """The verdict line above the ranking, in the headline's words: ``Verdict: weak — ...``
    ("judging…" while it is computed; "" when nothing was ranked).

    >>> verdict_note(inv.verdict.value)
    "<p>...<b>Verdict: <span ...>weak</span></b> — checkout stands out (...)</p>"
    """
    if not ranked:
        return ""
    if verdict is None:
        return "<p><i>Verdict: judging how much the top suspect stands out…</i></p>"
    level = str(verdict.level)
    colour = VERDICT_COLOURS.get(level, "#57606a")
    return (
        f"<p role='status'><b>Verdict: <span style='color:{colour}'>{html.escape(level)}"
        f"</span></b> — {unit_nowrap(html.escape(str(verdict.reason)))}</p>"
    )


#: the headline's colours for a verdict level
VERDICT_COLOURS = {"clear": "#1a7f37", "weak": "#9a6700", "none": "#57606a"}


class SuspectsView(w.VBox):
    """The ranking; each piece of evidence is a button that opens its view."""

    def __init__(self, ex: IncidentExplorer, *, top: int = 8) -> None:
        self.ex = ex
        self.top = top
        self.note = w.HTML("<p><i>Ranking suspects…</i></p>")
        self.rerank_button = w.Button(
            description="Rank on this window",
            icon="sync",
            layout=w.Layout(display="none", width="auto"),
            tooltip="Rank the suspects again on the window on show (a few seconds)",
        )
        self.rerank_button.on_click(lambda _b: self.ex.rerank())
        self.rows = w.VBox()
        self.buttons: dict[tuple[str, str], w.Button] = {}
        super().__init__([self.note, self.rerank_button, self.rows])

    def render(self) -> None:
        ex = self.ex
        sus = ex.suspects
        if sus is None:
            self.note.value = "<p><i>Ranking suspects… (this tab fills in when done)</i></p>"
            return
        from workbench.display import format_window

        # the one onset every view shows, when the ranking is of the investigation's window
        if sus.window == ex.investigation.window:
            first = ex.investigation.onset
            onset = f"onset {first.formatted()}" if first.value else "no onset found"
        else:
            onset = f"onset {sus.onset:%H:%M:%S} UTC" if sus.onset else "no onset found"
        stale = sus.window != ex.window
        self.note.value = (
            f"<p>Ranked on <b>{html.escape(format_window(sus.window))}</b> "
            f"({html.escape(onset)}). Each button opens the evidence in its tab.</p>"
            + (
                f"<p role='status' style='color:{WARN}'>The views show "
                f"{html.escape(format_window(ex.window))}; this ranking is of "
                f"{html.escape(format_window(sus.window))}. Rank again to rank that window.</p>"
                if stale
                else ""
            )
        )
        self.note.value += verdict_note(ex.verdict if sus.ranking else None, bool(sus.ranking))
        self.rerank_button.layout.display = "" if stale else "none"
        self.buttons = {}
        rows = []
        ranked = sus.table.filter(pl.col("rank").is_not_null())  # no evidence: not ranked
        if ranked.height == 0:
            self.note.value += "<p><b>No service has evidence against it in this window.</b></p>"
        elif ranked.height > self.top:  # a cut is never silent
            self.note.value += (
                f"<p><small>The first {self.top} of {ranked.height} ranked services "
                "(Code gives the suspects table with all of them).</small></p>"
            )
        for r in ranked.head(self.top).iter_rows(named=True):
            svc = r["service"]
            ev = sus.evidence(svc)
            grafana = _grafana(getattr(sus, "links", None), ev)
            head = w.HTML(
                f"<div><b>{r['rank']}. {html.escape(svc)}</b> — score {r['score']:.2f}"
                f"<br><small>{html.escape(r['why'])}</small>{grafana}</div>",
                layout=w.Layout(width="45%"),
            )
            specs = [
                ("graph", "Graph", "project-diagram", f"{svc} and its neighbours in the graph", 1),
                ("metrics", "Metrics", "chart-line", f"RED panels of {svc}", 1),
                ("logs", f"Log patterns ({ev.templates.height})", "align-left",
                 f"the surging log patterns of {svc}", ev.templates.height),
                ("trace", f"Failing traces ({ev.spans['trace_id'].n_unique()})", "stream",
                 f"the first trace whose errors start at {svc}, as a waterfall",
                 ev.spans.height),
                ("changes", f"Changes ({ev.events.height})", "history",
                 f"deploys, rollbacks, config and chaos on {svc} in the timeline",
                 ev.events.height),
            ]  # fmt: skip
            btns = []
            for kind, label, icon, tip, count in specs:
                # at least the usual width, wider when the label needs it (no "Failing…")
                b = w.Button(
                    description=label,
                    icon=icon,
                    tooltip=f"Open {tip}",
                    layout=w.Layout(width="auto", min_width="148px"),
                )
                b.disabled = not count
                b.on_click(lambda _b, s=svc, k=kind: self.open_evidence(s, k))
                self.buttons[(svc, kind)] = b
                btns.append(b)
            rows.append(w.HBox([head, w.HBox(btns, layout=w.Layout(flex_flow="row wrap"))]))
        self.rows.children = rows

    def open_evidence(self, service: str, kind: str) -> None:
        """Open one piece of evidence: ``kind`` is graph, metrics, logs, trace or changes."""
        ex = self.ex
        ev = ex.suspects.evidence(service)
        if kind == "graph":
            ex.focus_service(service)
            ex.show_tab("graph")
        elif kind == "metrics":
            ex.set_services([service], centre=service)
            ex.show_tab("overview")
        elif kind == "logs":
            ex.set_services([service], centre=service)
            if ev.templates.height:
                top = ev.templates.sort("z", descending=True)["template"][0]
                cast(LogsView, ex.views["logs"]).select_template(top)
            ex.show_tab("logs")
        elif kind == "trace":
            ex.set_services([service], centre=service)
            if ev.spans.height:
                ex.set_trace(ev.spans.sort("start")["trace_id"][0])
            ex.show_tab("traces")
        elif kind == "changes":
            ex.set_services([service], centre=service)
            ex.show_tab("timeline")
        else:
            raise ValueError(f"unknown evidence kind {kind!r}")
