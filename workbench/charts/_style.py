"""Shared chart style: colour-blind-safe palettes, a UTC time axis, size caps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import altair as alt
import polars as pl
import polars.selectors as cs

from workbench.chart_svg import FONT, INTERACTIVE_NOTE

_Chart = TypeVar("_Chart", bound=alt.TopLevelMixin)

__all__ = [
    "BASELINE_FILL",
    "ERROR_SCHEME",
    "ERROR_STOPS",
    "FONT",
    "INCIDENT_FILL",
    "INTERACTIVE_NOTE",
    "MAX_ROWS",
    "NUMBER_LABEL",
    "OKABE_ITO",
    "error_scale",
    "interactive_subtitle",
    "iso",
    "stable_floats",
    "time_scale",
    "time_x",
]

#: Okabe & Ito's palette, distinguishable with every common colour-vision deficiency.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Error-ratio colours: neutral grey at 0 (healthy is not warm), then ColorBrewer's
#: OrRd (sequential, colour-blind safe) from pale orange to dark red (failing).
ERROR_SCHEME = ("#eeeeee", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000")
#: where each of :data:`ERROR_SCHEME`'s colours sits, as a share of the scale's top: a
#: ratio of 1 % of the top already leaves grey, 10 % is clearly orange
ERROR_STOPS = (0.0, 0.01, 0.1, 0.4, 1.0)
INCIDENT_FILL = "#D55E00"
BASELINE_FILL = "#56B4E9"
#: Vega label expression: thousands as 12k, small values plainly (0.4, not SI's "400m").
NUMBER_LABEL = (
    "abs(datum.value) >= 1000 ? format(datum.value, '.3~s') : format(datum.value, '.3~g')"
)
#: Most rows a chart may carry (altair's own limit, 5000, stays on as a safety net).
MAX_ROWS = 4000


def error_scale(max_ratio: float | None = None) -> alt.Scale:
    """Colour scale for error ratios 0..1: neutral grey at 0, warming through orange to
    dark red at the top (the largest ratio shown, at least 20 %), stretched so small
    ratios already show (:data:`ERROR_STOPS`)."""
    top = max(0.2, min(1.0, max_ratio or 0.0))
    return alt.Scale(
        domain=[round(top * s, 6) for s in ERROR_STOPS], range=list(ERROR_SCHEME), clamp=True
    )


def interactive_subtitle(chart: _Chart, title: str, subtitle: str, note: str) -> _Chart:
    """Set ``chart``'s title with ``subtitle`` and, on a line of its own, ``note``: what
    only a live chart does ("hover a mark for its evidence"). Static exports drop that line,
    so an SVG in a postmortem never asks the reader to hover.
    """
    return chart.properties(
        title=alt.Title(title, subtitle=[subtitle, note]),
        usermeta={INTERACTIVE_NOTE: note},
    )


def time_scale(zoom: Any = None) -> alt.Scale:
    """A UTC time scale; with ``zoom`` (a window: ``.start``, ``.end``) its domain is
    that window, so a chart zoomed to a brushed range shows only that range."""
    if zoom is None:
        return alt.Scale(type="utc")
    return alt.Scale(type="utc", domain=[iso(zoom.start), iso(zoom.end)])


def time_x(field: str = "ts", title: str = "time (UTC)", *, zoom: Any = None, **kw: Any) -> alt.X:
    """An x encoding on a UTC time scale with HH:MM labels (zoomed to ``zoom``)."""
    return alt.X(
        f"{field}:T",
        title=title,
        scale=time_scale(zoom),
        axis=alt.Axis(format="%H:%M", labelOverlap=True, grid=False),
        **kw,
    )


def iso(t: datetime) -> str:
    """An ISO 8601 UTC string Vega parses the same in every browser."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stable_floats(frame: pl.DataFrame, digits: int = 9) -> pl.DataFrame:
    """``frame`` with its float columns rounded to ``digits`` significant digits, far
    below what a chart shows. Parallel float sums differ in their last bit from run to
    run; rounded, the same data gives the same chart spec (and the SVG cache hits).

    >>> stable_floats(pl.DataFrame({"x": [1.7045454545454548]}))["x"].to_list()
    [1.70454545]
    """
    return frame.with_columns(cs.float().round_sig_figs(digits))
