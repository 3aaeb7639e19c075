"""Headless tests of the small widgets: values, validation, state kept across re-runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from widgets import ServicePicker, SourceStatusPanel, WindowPicker
from workbench import ConfigError, Incident, Window
from workbench.errors import SourceUnavailable
from workbench.sources.base import Source

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def test_window_picker_modes_and_errors() -> None:
    seen: list[Window] = []
    wp = WindowPicker(default="45m", now=lambda: NOW, on_change=seen.append)
    assert wp.window == Window(NOW - timedelta(minutes=45), NOW)
    wp.duration.value = "2h"
    assert wp.window.duration == timedelta(hours=2) and seen[-1] == wp.window
    wp.mode.value = "absolute"
    wp.start.value = "2026-11-27T02:00:00Z"
    wp.end.value = "2026-11-27T01:00:00Z"
    with pytest.raises(ConfigError, match="not after its start"):
        _ = wp.window
    assert "not after its start" in wp.message.value
    wp.end.value = "2026-11-27T02:30:00Z"
    assert wp.window.duration == timedelta(minutes=30)
    wp.mode.value = "around"
    wp.moment.value = "2026-11-27T02:00:00Z"
    assert wp.window == Window.around("2026-11-27T02:00:00Z", before="30m", after="15m")


def test_window_picker_keeps_state_across_reruns() -> None:
    a = WindowPicker(key="t-rerun", now=lambda: NOW)
    a.set_window(Window.parse("2026-11-27T01:00:00Z..2026-11-27T02:00:00Z"))
    b = WindowPicker(key="t-rerun", now=lambda: NOW)
    assert b.mode.value == "absolute" and b.window == a.window


def test_service_picker_filter_keeps_selection_and_state() -> None:
    sp = ServicePicker(["checkout", "cart", "payment", "catalog"], key="t-svc")
    sp.services = ["cart", "nope"]
    assert sp.services == ["cart"]
    sp.filter.value = "pay"
    assert set(sp.select.options) == {"payment", "cart"}
    assert ServicePicker(["cart", "payment"], key="t-svc").services == ["cart"]


class _Down(Source):
    kind = "down"
    capabilities = frozenset({"logs"})

    def logs(self, query, window, *, services=None):  # type: ignore[override]
        raise SourceUnavailable("connection refused", source=self.name, hint="start it")


def test_status_panel_shows_errors_first() -> None:
    inc = Incident("I", Window(NOW - timedelta(hours=1), NOW), sources=[_Down(name="loki")])
    inc.load(["logs"])
    panel = SourceStatusPanel(inc)
    assert panel.problems[0]["status"] == "error"
    assert "connection refused" in panel.table.value and "loki" in panel.table.value
