"""Charts as widgets: offline ``JupyterChart`` (selections reach Python), SVG otherwise.

``chart_widget(chart)`` returns a widget showing an altair chart with no network:
altair's ``JupyterChart`` with its JavaScript bundled by vl-convert (see
:func:`workbench.charts.render.enable_offline`), or, without anywidget, a static SVG.
``watch_selection`` calls back with a selection's value whenever the user changes it,
also after the chart object is replaced. ``interval_to_window`` and ``point_values``
turn selection values into plain Python values.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ipywidgets as w

from workbench.charts import render as _render
from workbench.timewindow import Window, parse_time

__all__ = [
    "bundle_cache_dir",
    "chart_widget",
    "interactive_available",
    "interval_to_window",
    "point_values",
    "watch_selection",
]

log = logging.getLogger(__name__)

#: vega-embed options: SVG (crisp, testable), no action menu (it links to the web editor)
EMBED_OPTIONS = {"renderer": "svg", "actions": False}


@functools.cache
def interactive_available() -> bool:
    """True when altair's JupyterChart can run offline here (anywidget + vl-convert).

    The JavaScript bundle vl-convert builds (seconds, once per kernel) is kept in
    :func:`bundle_cache_dir` and reused by later kernels."""
    if importlib.util.find_spec("anywidget") is None:
        return False
    from workbench.charts.render import jupyterchart_offline

    jupyterchart_offline()
    return True


#: where the offline chart JavaScript is cached (shared with the notebook's renderer)
bundle_cache_dir = _render.cache_dir
_bundle_path = _render._jupyterchart_bundle_path


def chart_widget(chart: Any, *, debounce_ms: int = 10, wait_for_end: bool = False) -> w.Widget:
    """A widget showing ``chart`` offline. ``wait_for_end`` sends a selection to Python
    only once the user stops dragging (brushes), after ``debounce_ms`` of quiet."""
    if interactive_available():
        import altair as alt

        return alt.JupyterChart(
            chart,
            debounce_wait=debounce_ms,
            max_wait=not wait_for_end,
            embed_options=EMBED_OPTIONS,
        )
    from workbench.charts.render import to_svg

    return w.HTML(value=to_svg(chart))


def set_chart(widget: w.Widget, chart: Any) -> None:
    """Replace the chart shown by a widget from :func:`chart_widget`."""
    if hasattr(widget, "chart"):
        widget.chart = chart
    else:
        from workbench.charts.render import to_svg

        widget.value = to_svg(chart)


def watch_selection(widget: w.Widget, name: str, callback: Callable[[Any], None]) -> None:
    """Call ``callback(value)`` when selection ``name`` changes in the browser, across
    chart replacements (JupyterChart builds a new ``selections`` object per chart)."""
    if not hasattr(widget, "selections"):
        return

    def attach(_change: object = None) -> None:
        sel = widget.selections
        if name in sel.trait_names():
            sel.observe(lambda ch: callback(ch["new"].value), names=name)

    attach()
    widget.observe(attach, names="chart")


def _as_time(v: Any) -> datetime:
    if isinstance(v, int | float):
        return datetime.fromtimestamp(v / 1000.0, tz=UTC)
    if isinstance(v, dict) and "year" in v:  # vega datetime object
        return datetime(
            int(v["year"]),
            int(v.get("month", 1)),
            int(v.get("date", 1)),
            int(v.get("hours", 0)),
            int(v.get("minutes", 0)),
            int(v.get("seconds", 0)),
            tzinfo=UTC,
        )
    return parse_time(str(v))


def interval_to_window(value: dict[str, Any] | None, field: str = "ts") -> Window | None:
    """The window an interval selection on a time field covers (to whole seconds), or
    None when the brush is empty or not on ``field``."""
    if not value or field not in value or len(value[field]) != 2:
        return None
    a, b = sorted(_as_time(x) for x in value[field])
    a, b = a.replace(microsecond=0), b.replace(microsecond=0)
    if b <= a:
        return None
    return Window(a, b)


def point_values(value: list[dict[str, Any]] | None, field: str) -> list[Any]:
    """The values of ``field`` in a point selection (in click order)."""
    return [p[field] for p in (value or []) if field in p]
