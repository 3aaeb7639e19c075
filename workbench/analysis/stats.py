"""Shared statistics of the diagnosis: one definition each, used by every signal.

* :func:`poisson_z` — how far an observed count is from the count expected (about
  N(0, 1): the likelihood-ratio root above the expectation, the Poisson tail below it);
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
    """How far a count lies from the count expected, as a normal quantile (about N(0,1)).

    At or above the expectation: the signed square root of the Poisson likelihood-ratio
    statistic. Below it: the normal quantile of the Poisson probability of so few
    (``P(X <= observed)``, by the Wilson-Hilferty approximation, within 0.02 of exact
    for any count), never above 0. The likelihood-ratio root overstates a shortfall at
    small counts: 0 seen where 2.5 were expected happens 8% of the time (exact z -1.41),
    but the root reads -2.25, past the -2 that calls it "beyond noise" (lab
    demo-gen20-s803: one caller's 0 failures in 18 calls to a failing service, against
    another caller's 8 in 57, made the failure that caller's own).

    >>> pl.select(z=poisson_z(pl.lit(10), pl.lit(10.0))).item()
    0.0
    >>> round(pl.select(z=poisson_z(pl.lit(0), pl.lit(2.53))).item(), 2)
    -1.42
    """
    o = observed.cast(pl.Float64)
    term = pl.when(o > 0).then(o * (o / expected).log()).otherwise(0.0)
    g = (2.0 * (term - (o - expected))).clip(lower_bound=0.0)
    # P(X <= o) = P(chi2 with 2(o + 1) degrees of freedom > 2 expected); Wilson-Hilferty
    n = o + 1.0
    below = -3.0 * n.sqrt() * ((expected / n).pow(1.0 / 3.0) - 1.0 + 1.0 / (9.0 * n))
    return pl.when(o >= expected).then(g.sqrt()).otherwise(below.clip(upper_bound=0.0))


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
