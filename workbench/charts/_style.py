"""Shared chart style: colour-blind-safe palettes, a UTC time axis, size caps."""

from __future__ import annotations

from datetime import datetime

import altair as alt

__all__ = [
    "BASELINE_FILL",
    "ERROR_SCHEME",
    "INCIDENT_FILL",
    "MAX_ROWS",
    "NUMBER_LABEL",
    "OKABE_ITO",
    "error_scale",
    "iso",
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
#: Sequential ColorBrewer scheme (colour-blind safe): light = healthy, dark red = failing.
ERROR_SCHEME = "yelloworangered"
INCIDENT_FILL = "#D55E00"
BASELINE_FILL = "#56B4E9"
#: Vega label expression: thousands as 12k, small values plainly (0.4, not SI's "400m").
NUMBER_LABEL = (
    "abs(datum.value) >= 1000 ? format(datum.value, '.3~s') : format(datum.value, '.3~g')"
)
#: Most rows a chart may carry (altair's own limit, 5000, stays on as a safety net).
MAX_ROWS = 4000


def error_scale(max_ratio: float | None = None) -> alt.Scale:
    """Colour scale for error ratios 0..1, stretched so small ratios already show."""
    top = max(0.2, min(1.0, max_ratio or 0.0))
    return alt.Scale(scheme=ERROR_SCHEME, domain=[0.0, top], clamp=True, type="sqrt")


def time_x(field: str = "ts", title: str = "time (UTC)", **kw: object) -> alt.X:
    """An x encoding on a UTC time scale with HH:MM labels."""
    return alt.X(
        f"{field}:T",
        title=title,
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format="%H:%M", labelOverlap=True, grid=False),
        **kw,  # type: ignore[arg-type]
    )


def iso(t: datetime) -> str:
    """An ISO 8601 UTC string Vega parses the same in every browser."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
