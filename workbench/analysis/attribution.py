"""Whose failing calls: a callee's or one caller's.

A client span's error is put on the callee it waits for
(:func:`~workbench.analysis.suspects.blame_services`): a failing database fails the calls
of every service that uses it. But a caller with a broken network (packet loss, a full
connection pool on its side) fails its own calls too, and those errors land on the
callee just the same. The two differ in who sees them: **a failing callee fails its
calls from all its callers; a failing caller fails its calls, and the callee's other
callers are fine.**

:func:`caller_side_edges` finds the second case: a callee with at least two callers in
the window, exactly one of which fails its calls beyond noise (Poisson ``z >= 2``
against its own baseline rate, the error signal's noise level), while the others,
which would have shown the failure had the callee failed them at that caller's rate,
show it far less (Poisson ``z <= -2``). Such a caller's failing calls to callees that
only it calls are its own too (a failing caller fails its calls to every callee).
:func:`own_failures` puts those calls' errors on the caller. A callee with one caller,
called by no caller shown failing, cannot be told apart this way: left as it is.

Example::

    >>> from workbench.analysis.attribution import caller_side_edges, own_failures
    >>> caller_side_edges(blamed, window=inc.window, baseline=inc.baseline)  # caller, callee
    >>> own_failures(blamed, window=inc.window, baseline=inc.baseline)       # re-blamed spans
"""

from __future__ import annotations

import polars as pl

from workbench.analysis._util import memo_active, memoised
from workbench.analysis.stats import poisson_z
from workbench.analysis.traces import failing_spans
from workbench.analysis.windowcounts import WindowCounts
from workbench.timewindow import Window

__all__ = ["NOISE_Z", "caller_side_edges", "own_failures"]

#: a count this many Poisson z from its expectation is beyond noise (the error signal's
#: level: :func:`workbench.analysis.stats.beyond_noise`)
NOISE_Z = 2.0

_EDGES = {"caller": pl.String, "callee": pl.String}


@memoised
def _client_calls(bsp: pl.DataFrame) -> pl.DataFrame:
    """The calls (spans blamed on another service), narrowed to the columns counted: the
    verdict's placebos then filter a few narrow columns, not every span's attributes."""
    return bsp.filter(pl.col("service") != pl.col("blame_service")).select(
        "start", caller="service", callee="blame_service", _err=pl.col("status") == "error"
    )


@memoised
def _call_counts(bsp: pl.DataFrame) -> WindowCounts | None:
    """The calls indexed by (caller, callee) and time: each window (the verdict's
    placebos) is then counted without a pass over the calls."""
    return WindowCounts.build(_client_calls(bsp), "start", ("caller", "callee"), "_err")


@memoised  # the verdict's placebos share one baseline: its calls are counted once
def _calls(bsp: pl.DataFrame, w: Window, n: str, e: str) -> pl.DataFrame:
    """``caller, callee``, calls ``n`` and failing calls ``e`` in ``w`` (pairs with a
    call there)."""
    # the index pays once several windows are counted (kept in an investigation's memo)
    index = _call_counts(bsp) if memo_active() else None
    if index is not None:
        return index.count(w, n, e)
    inside = (pl.col("start") >= w.start) & (pl.col("start") < w.end)
    return (
        _client_calls(bsp)
        .filter(inside)
        .group_by("caller", "callee")
        .agg(pl.len().alias(n), pl.col("_err").sum().alias(e))
    )


def caller_side_edges(bsp: pl.DataFrame, *, window: Window, baseline: Window) -> pl.DataFrame:
    """``caller, callee`` pairs whose failing calls are the caller's own (see the module
    docstring). ``bsp``: spans with ``blame_service``
    (:func:`~workbench.analysis.suspects.blame_services`).

    >>> caller_side_edges(blamed, window=win, baseline=base)  # doctest: +SKIP
    shape: (1, 2)  # cart -> redis: only cart's calls to redis fail
    """
    if bsp.height == 0 or "status" not in bsp.columns or not failing_spans(bsp).height:
        return pl.DataFrame(schema=_EDGES)
    win = _calls(bsp, window, "_nw", "_ew")
    if win.height == 0 or not win["_ew"].sum():
        return pl.DataFrame(schema=_EDGES)
    calls = win.join(
        _calls(bsp, baseline, "_nb", "_eb"), on=["caller", "callee"], how="left"
    ).with_columns(pl.col("_nb", "_eb").fill_null(0))
    # the caller's failing calls beyond its own baseline rate per call (cautious: + 1)
    expected = pl.col("_nw") * (pl.col("_eb") + 1) / (pl.col("_nb") + 1)
    calls = calls.with_columns(
        _fails=poisson_z(pl.col("_ew"), expected.clip(lower_bound=0.5)) >= NOISE_Z
    )
    if not calls["_fails"].any():  # no caller fails beyond noise: most windows
        return pl.DataFrame(schema=_EDGES)
    calls = calls.with_columns(
        _callers=pl.len().over("callee"),
        _failing=pl.col("_fails").sum().over("callee"),
        _n_all=pl.col("_nw").sum().over("callee"),
        _e_all=pl.col("_ew").sum().over("callee"),
    )
    one = calls.filter(pl.col("_fails") & (pl.col("_callers") >= 2) & (pl.col("_failing") == 1))
    # the others' calls at the failing caller's rate: what they would have seen had the
    # callee failed them alike; far fewer seen, the failure is the caller's
    n_other = pl.col("_n_all") - pl.col("_nw")
    e_other = pl.col("_e_all") - pl.col("_ew")
    would = n_other * pl.col("_ew") / pl.col("_nw")
    shown = one.filter(poisson_z(e_other, would.clip(lower_bound=0.5)) <= -NOISE_Z)
    if shown.height == 0:  # the usual case (and every placebo window's)
        return pl.DataFrame(schema=_EDGES)
    # a failing caller fails its calls to every callee: once its own failure is shown on
    # a shared callee, its failing calls to callees nobody else calls (which no other
    # caller can clear) are the same failure
    alone = calls.filter(
        pl.col("caller").is_in(shown["caller"].implode())
        & pl.col("_fails")
        & (pl.col("_callers") == 1)
    )
    return pl.concat([shown, alone]).select("caller", "callee").unique(maintain_order=True)


def own_failures(bsp: pl.DataFrame, *, window: Window, baseline: Window) -> pl.DataFrame:
    """``bsp`` with the calls of :func:`caller_side_edges` blamed on their caller (their
    ``blame_service`` set to the span's own service); unchanged when there are none.

    >>> own_failures(blamed, window=win, baseline=base)  # doctest: +SKIP
    """
    edges = caller_side_edges(bsp, window=window, baseline=baseline)
    if edges.height == 0:
        return bsp
    mark = edges.with_columns(_own=pl.lit(True)).rename(
        {"caller": "service", "callee": "blame_service"}
    )
    return (
        bsp.join(mark, on=["service", "blame_service"], how="left", maintain_order="left")
        .with_columns(
            blame_service=pl.when(pl.col("_own"))
            .then(pl.col("service"))
            .otherwise(pl.col("blame_service"))
        )
        .drop("_own")
    )
