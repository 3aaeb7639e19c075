"""Shared statistics of the diagnosis: one definition each, used by every signal.

* :func:`poisson_z` — how far an observed count is from the count expected (signed root
  of the Poisson likelihood-ratio statistic, about N(0, 1));
* :func:`saturate` — map a non-negative strength onto 0..1 (``1 - exp(-x / scale)``);
* :func:`beyond_noise` — 0..1 certainty that a z passed a noise level;
* :func:`covered_seconds` — the seconds of a window that the data actually cover.

Example::

    >>> import polars as pl
    >>> from workbench.analysis.stats import poisson_z
    >>> pl.select(z=poisson_z(pl.lit(30), pl.lit(10.0))).item() > 5
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import polars as pl

from workbench.timewindow import Window

__all__ = ["beyond_noise", "covered_seconds", "poisson_z", "saturate"]


def poisson_z(observed: pl.Expr, expected: pl.Expr) -> pl.Expr:
    """Signed square root of the Poisson likelihood-ratio statistic (about N(0,1)).

    >>> pl.select(z=poisson_z(pl.lit(10), pl.lit(10.0))).item()
    0.0
    """
    o = observed.cast(pl.Float64)
    term = pl.when(o > 0).then(o * (o / expected).log()).otherwise(0.0)
    g = (2.0 * (term - (o - expected))).clip(lower_bound=0.0)
    return pl.when(o >= expected).then(g.sqrt()).otherwise(-g.sqrt())


def saturate(x: pl.Expr, scale: float) -> pl.Expr:
    """``1 - exp(-max(x, 0) / scale)``: 0 at 0, 0.63 at ``scale``, towards 1 beyond.

    >>> round(pl.select(saturate(pl.lit(2.0), 2.0)).item(), 2)
    0.63
    """
    return 1.0 - (-(x.clip(lower_bound=0.0)) / scale).exp()


def beyond_noise(z: pl.Expr, noise: float = 2.0, scale: float = 2.0) -> pl.Expr:
    """0..1: how sure a z is past ``noise`` (0 at or below it, 0.63 at ``noise + scale``).

    >>> pl.select(beyond_noise(pl.lit(1.5))).item()
    0.0
    """
    return saturate(z - noise, scale)


def covered_seconds(ts: pl.Series, window: Window) -> float:
    """Seconds of ``window`` that the data cover: from the window's start (or the first
    point, if later) to its end (or the last point, if earlier); at least 1 s.

    Rates over a window the data only half cover (a log export that stops early) would
    otherwise look halved.

    >>> covered_seconds(pl.Series([], dtype=pl.Datetime("us", "UTC")), win)  # doctest: +SKIP
    3600.0
    """
    inside = ts.filter((ts >= window.start) & (ts < window.end))
    if inside.len() == 0:
        return max(window.duration.total_seconds(), 1.0)
    lo, hi = cast(datetime, inside.min()), cast(datetime, inside.max())
    full = window.duration.total_seconds()
    # data starting or ending within a minute of the edge count as covering it
    slack = min(60.0, full / 10)
    start = window.start if (lo - window.start).total_seconds() <= slack else lo
    end = window.end if (window.end - hi).total_seconds() <= slack else hi
    return max((end - start).total_seconds(), 1.0)
