"""Small widgets usable on their own: a window picker, a service picker, a status panel.

They expose plain values (``picker.window``, ``picker.services``) and keep what the user
chose when the cell is re-run: pass the same ``key`` and the new widget starts from the
old one's state.

Example::

    >>> from widgets import WindowPicker, ServicePicker
    >>> wp = WindowPicker(key="main", default="45m")
    >>> wp                       # shows the picker
    >>> wp.window                # a workbench.Window
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import ipywidgets as w

from workbench import Window
from workbench.errors import ConfigError
from workbench.incident import Incident
from workbench.timewindow import parse_duration, parse_time

__all__ = ["ServicePicker", "SourceStatusPanel", "WindowPicker"]

# State kept across cell re-runs, keyed by the caller's ``key``.
_STATE: dict[str, dict[str, Any]] = {}

MODES = ("last", "absolute", "around")


class WindowPicker(w.VBox):
    """Pick an incident window: "last 45 minutes", absolute times, or around a moment
    (an alert's start). ``.window`` is the chosen :class:`~workbench.Window`, ``.error``
    says why the current input is not a window (or is empty)."""

    def __init__(
        self,
        *,
        key: str | None = None,
        default: str = "45m",
        now: Callable[[], datetime] | None = None,
        on_change: Callable[[Window], None] | None = None,
    ) -> None:
        self._key = key
        self._now = now
        self._callbacks: list[Callable[[Window], None]] = [on_change] if on_change else []
        saved = _STATE.get(key, {}) if key else {}
        self.mode = w.ToggleButtons(
            options=[("Last", "last"), ("From..to", "absolute"), ("Around", "around")],
            value=saved.get("mode", "last"),
            description="Window",
            tooltips=["a duration ending now", "absolute start and end (UTC)", "around a moment"],
        )
        self.duration = w.Text(
            value=saved.get("duration", default),
            description="Duration",
            placeholder="45m, 2h, 1h30m",
        )
        self.start = w.Text(
            value=saved.get("start", ""), description="Start", placeholder="2026-11-27T03:00:00Z"
        )
        self.end = w.Text(value=saved.get("end", ""), description="End", placeholder="now")
        self.moment = w.Text(
            value=saved.get("moment", ""), description="Moment", placeholder="alert startsAt"
        )
        self.before = w.Text(value=saved.get("before", "30m"), description="Before")
        self.after = w.Text(value=saved.get("after", "15m"), description="After")
        self.message = w.HTML()
        self._rows = {
            "last": w.HBox([self.duration]),
            "absolute": w.HBox([self.start, self.end]),
            "around": w.HBox([self.moment, self.before, self.after]),
        }
        super().__init__()
        for control in (
            self.mode,
            self.duration,
            self.start,
            self.end,
            self.moment,
            self.before,
            self.after,
        ):
            control.observe(self._changed, names="value")
        self._window: Window | None = None
        self.error: str | None = None
        self._refresh()

    @property
    def window(self) -> Window:
        """The chosen window; raises ``ConfigError`` with the reason if the input is invalid."""
        if self._window is None:
            raise ConfigError(self.error or "no window chosen")
        return self._window

    def set_window(self, window: Window) -> None:
        """Set an absolute window (e.g. from a brush on a chart)."""
        self.start.value = str(window).split("..")[0]
        self.end.value = str(window).split("..")[1]
        self.mode.value = "absolute"

    def observe_window(self, callback: Callable[[Window], None]) -> None:
        """Call ``callback(window)`` whenever a valid window is chosen."""
        self._callbacks.append(callback)

    def _compute(self) -> Window:
        now = self._now() if self._now else None
        if self.mode.value == "last":
            return Window.last(parse_duration(self.duration.value), now=now)
        if self.mode.value == "absolute":
            return Window(
                parse_time(self.start.value, now=now), parse_time(self.end.value or "now", now=now)
            )
        return Window.around(
            parse_time(self.moment.value, now=now), before=self.before.value, after=self.after.value
        )

    def _changed(self, _change: object = None) -> None:
        self._refresh()
        if self._window is not None:
            for cb in self._callbacks:
                cb(self._window)

    def _refresh(self) -> None:
        self.children = [self.mode, self._rows[self.mode.value], self.message]
        try:
            self._window = self._compute()
            self.error = None
            from workbench.display import format_window

            self.message.value = f"<span>{html.escape(format_window(self._window))}</span>"
        except ConfigError as err:
            self._window = None
            self.error = err.message
            self.message.value = f"<span style='color:#b35806'>{html.escape(err.message)}</span>"
        if self._key:
            _STATE[self._key] = {
                "mode": self.mode.value,
                "duration": self.duration.value,
                "start": self.start.value,
                "end": self.end.value,
                "moment": self.moment.value,
                "before": self.before.value,
                "after": self.after.value,
            }


class ServicePicker(w.VBox):
    """Pick services. ``.services`` is the chosen list (empty: all)."""

    def __init__(
        self, services: Sequence[str], *, key: str | None = None, selected: Sequence[str] = ()
    ) -> None:
        self._key = key
        saved = _STATE.get(key, {}) if key else {}
        options = sorted(set(services))
        keep = [s for s in saved.get("services", selected) if s in options]
        self.select = w.SelectMultiple(
            options=options, value=keep, description="Services", rows=min(10, max(3, len(options)))
        )
        self.filter = w.Text(placeholder="filter…", description="Find")
        self.filter.observe(self._filtered, names="value")
        self.select.observe(self._save, names="value")
        self._all = options
        super().__init__([self.filter, self.select])

    @property
    def services(self) -> list[str]:
        return list(self.select.value)

    @services.setter
    def services(self, value: Sequence[str]) -> None:
        self.select.value = tuple(v for v in value if v in self._all)

    def _filtered(self, change: dict[str, Any]) -> None:
        needle = change["new"].lower()
        chosen = self.select.value
        self.select.options = [s for s in self._all if needle in s.lower() or s in chosen]
        self.select.value = chosen

    def _save(self, _change: object = None) -> None:
        if self._key:
            _STATE[self._key] = {"services": list(self.select.value)}


class SourceStatusPanel(w.VBox):
    """What each source returned for an incident: rows, time taken, partial results and
    errors, worst first. Call ``refresh()`` after loading more."""

    def __init__(self, incident: Incident) -> None:
        self.incident = incident
        self.table = w.HTML()
        super().__init__([self.table])
        self.refresh()

    @property
    def problems(self) -> list[dict[str, Any]]:
        """Rows whose status is not ok."""
        return [r for r in self.incident.status().iter_rows(named=True) if r["status"] != "ok"]

    def refresh(self) -> None:
        st = self.incident.status()
        order = {"error": 0, "partial": 1, "empty": 2, "ok": 3}
        rows = sorted(st.iter_rows(named=True), key=lambda r: (order[r["status"]], r["source"]))
        colour = {"error": "#b35806", "partial": "#e08214", "empty": "#e08214", "ok": "#1b7837"}
        body = "".join(
            f"<tr><td>{html.escape(r['source'])}</td><td>{r['signal']}</td>"
            f"<td style='color:{colour[r['status']]}'><b>{r['status']}</b></td>"
            f"<td style='text-align:right'>{r['rows']:,}</td><td style='text-align:right'>"
            f"{r['elapsed_s']:.2f}s</td><td>{html.escape(r['detail'] or '')}</td></tr>"
            for r in rows
        )
        empty = "<tr><td colspan=6>nothing loaded yet</td></tr>" if not rows else ""
        self.table.value = (
            "<table class='wb-status'><tr><th>source</th><th>signal</th><th>status</th>"
            f"<th>rows</th><th>time</th><th>detail</th></tr>{body}{empty}</table>"
        )
