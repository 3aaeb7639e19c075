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
only it calls are its own too (a failing caller fails its calls to every callee). So
are its failing calls to another shared callee, once it is shown in trouble of its own
(failing alone here, or waiting alone on the way: below), when they rose above its
baseline's rate, no other caller of that callee fails beyond noise, and the others show
far fewer failures than its rate would give them: too few to be beyond noise alone, they
are the same trouble.
:func:`own_failures` puts those calls' errors on the caller. A callee with one caller,
called by no caller shown failing, cannot be told apart this way: left as it is.

**Time on the way follows the same rule.** The time a caller waits beyond its callee's
own time (the client span's duration minus the server span's: :func:`call_waits`) is
put on the callee too: a callee whose network is slow (Nezha's injected network delays,
Train-Ticket and Online Boutique) delays every caller's calls to it. A caller whose own
network is slow (packet loss, a delay on its pod) or whose CPU is starved (it sends late,
reads the reply late) makes its calls to every callee wait longer, and the callee's other
callers wait as before. :func:`caller_side_waits` finds that case as
:func:`caller_side_edges` does for failures, and :func:`own_waits` puts those calls'
time on the caller (the latency signal counts it there).

**Callers are compared on the same minutes.** A fault often stops some callers' traffic
(an earlier step of their requests fails first): a caller whose calls slowed or failed
while the callee's other callers made none was not shown to suffer alone. Both rules
compare callers only on the minutes in which at least two of them called the callee.

Example::

    >>> from workbench.analysis.attribution import caller_side_edges, own_failures
    >>> caller_side_edges(blamed, window=inc.window, baseline=inc.baseline)  # caller, callee
    >>> own_failures(blamed, window=inc.window, baseline=inc.baseline)       # re-blamed spans
    >>> caller_side_waits(blamed, window=inc.window, baseline=inc.baseline)  # caller, callee
"""

from __future__ import annotations

import polars as pl

from workbench.analysis._util import memo_active, memoised
from workbench.analysis.stats import poisson_z
from workbench.analysis.traces import _mean_se2, _welch_z, failing_spans
from workbench.analysis.windowcounts import WindowCounts
from workbench.timewindow import Window

__all__ = [
    "NOISE_Z",
    "call_waits",
    "caller_side_edges",
    "caller_side_waits",
    "own_failures",
    "own_waits",
]

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
    base = _calls(bsp, baseline, "_nb", "_eb")
    full = _failing(win, base)
    # callers shown waiting alone on the way (their own network or CPU): see below
    waiting = caller_side_waits(bsp, window=window, baseline=baseline)["caller"].unique()
    if not full["_fails"].any() and waiting.len() == 0:  # most windows
        return pl.DataFrame(schema=_EDGES)
    # callers are compared on the same minutes only, as for waits (:func:`_same_minutes`):
    # a caller failing while the callee's other callers made no calls is not shown to
    # fail alone
    same = (
        _same_minutes(_client_calls(bsp), window)
        .group_by("caller", "callee")
        .agg(pl.len().alias("_nw"), pl.col("_err").sum().alias("_ew"))
    )
    calls = _failing(same, base).with_columns(
        _callers=pl.len().over("callee"),
        _failing=pl.col("_fails").sum().over("callee"),
        _n_all=pl.col("_nw").sum().over("callee"),
        _e_all=pl.col("_ew").sum().over("callee"),
        _nb_all=pl.col("_nb").sum().over("callee"),
        _eb_all=pl.col("_eb").sum().over("callee"),
    )
    # the others' calls at the failing caller's rate: what they would have seen had the
    # callee failed them alike; far fewer seen, and together no more than their baseline's
    # (cautious) rate gives, the failure is the caller's. Others failing less, but beyond
    # their baseline together, are failed by the callee too (lab demo-gen8-s901: chat-2
    # failed 19 of ads's 142 calls and 6 of the other two callers' 150, each too few
    # alone to be beyond noise: not ads's own)
    n_other = pl.col("_n_all") - pl.col("_nw")
    e_other = pl.col("_e_all") - pl.col("_ew")
    would = n_other * pl.col("_ew") / pl.col("_nw")
    usual = (
        n_other * (pl.col("_eb_all") - pl.col("_eb") + 1) / (pl.col("_nb_all") - pl.col("_nb") + 1)
    )
    others_fine = (poisson_z(e_other, would.clip(lower_bound=0.5)) <= -NOISE_Z) & (
        poisson_z(e_other, usual.clip(lower_bound=0.5)) < NOISE_Z
    )
    one = pl.col("_fails") & (pl.col("_callers") >= 2) & (pl.col("_failing") == 1)
    shown = calls.filter(one & others_fine)
    # a caller shown in trouble of its own (failing alone on one callee, or waiting alone
    # on the way) has it on every call it makes: its calls to another shared callee that
    # fail more than its baseline's (cautious) rate, while no other caller of that callee
    # fails beyond noise and the others show far fewer failures than its rate would give
    # them, are its own too, though too few to be beyond noise alone (lab
    # packet-loss-gen20-s402: sms-2's packet loss failed 4 of its 31 calls to redis, 1 of
    # the others' 299, and slowed its calls to postgres alone)
    troubled = pl.concat([shown["caller"], waiting]).unique().implode()
    rose = pl.col("_ew") > pl.col("_nw") * (pl.col("_eb") + 1) / (pl.col("_nb") + 1)
    also = (
        pl.col("caller").is_in(troubled)
        & rose
        & (pl.col("_callers") >= 2)
        & (pl.col("_failing") - pl.col("_fails").cast(pl.Int64) == 0)
    )
    shown = calls.filter((one | also) & others_fine)
    if shown.height == 0:  # the usual case (and every placebo window's)
        return pl.DataFrame(schema=_EDGES)
    # a failing caller fails its calls to every callee: once its own failure is shown on
    # a shared callee, its failing calls to callees nobody else calls (which no other
    # caller can clear) are the same failure
    return _with_sole_callees(shown, full, "_fails")


def _failing(win: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """Each caller, callee pair's window counts (``_nw``, ``_ew``) against its baseline's
    (``_nb``, ``_eb``), and whether its failing calls rose beyond noise (``_fails``)."""
    calls = win.join(base, on=["caller", "callee"], how="left").with_columns(
        pl.col("_nb", "_eb").fill_null(0)
    )
    # the caller's failing calls beyond its own baseline rate per call (cautious: + 1)
    expected = pl.col("_nw") * (pl.col("_eb") + 1) / (pl.col("_nb") + 1)
    return calls.with_columns(
        _fails=poisson_z(pl.col("_ew"), expected.clip(lower_bound=0.5)) >= NOISE_Z
    )


def own_failures(bsp: pl.DataFrame, *, window: Window, baseline: Window) -> pl.DataFrame:
    """``bsp`` with the calls of :func:`caller_side_edges` blamed on their caller (their
    ``blame_service`` set to the span's own service); unchanged when there are none.

    >>> own_failures(blamed, window=win, baseline=base)  # doctest: +SKIP
    """
    return _reblame(bsp, caller_side_edges(bsp, window=window, baseline=baseline))


# time on the wire -----------------------------------------------------------------------
_WAIT: dict[str, pl.DataType] = {
    "caller": pl.String(),
    "callee": pl.String(),
    "start": pl.Datetime("us", "UTC"),
    "gap_ms": pl.Float64(),
}


@memoised
def call_waits(bsp: pl.DataFrame) -> pl.DataFrame:
    """``caller, callee, start, gap_ms``: one row per call whose two sides were traced (a
    span blamed on another service, :func:`~workbench.analysis.suspects.blame_services`,
    with exactly one child span, in that service): ``gap_ms`` is the caller's wait
    beyond the callee's own time (the client span's duration minus the server span's,
    to the microsecond), the time on the way between them.

    >>> call_waits(blamed).group_by("caller", "callee").agg(pl.col("gap_ms").median())  # doctest: +SKIP
    """
    need = {"trace_id", "span_id", "parent_span_id", "service", "blame_service", "duration_ms"}
    if bsp.height == 0 or not need <= set(bsp.columns):
        return pl.DataFrame(schema=_WAIT)
    kids = (
        bsp.drop_nulls("parent_span_id")
        .select("trace_id", span_id="parent_span_id", _cs="service", _cd="duration_ms")
        .group_by("trace_id", "span_id")
        .agg(_n=pl.len(), _cs=pl.col("_cs").first(), _cd=pl.col("_cd").first())
        .filter(pl.col("_n") == 1)
    )
    return (
        bsp.filter(pl.col("service") != pl.col("blame_service"))
        .select("trace_id", "span_id", "service", "blame_service", "start", "duration_ms")
        .join(kids, on=["trace_id", "span_id"], how="inner")
        .filter(pl.col("_cs") == pl.col("blame_service"))
        .select(
            caller="service",
            callee="blame_service",
            start="start",
            # to the microsecond the frames hold: below it, a difference of two
            # durations is float rounding, not time
            gap_ms=(pl.col("duration_ms") - pl.col("_cd")).round(3),
        )
    )


def _wait_stats(g: pl.DataFrame, w: Window, suffix: str) -> pl.DataFrame:
    inside = (pl.col("start") >= w.start) & (pl.col("start") < w.end)
    return (
        g.filter(inside)
        .group_by("caller", "callee")
        .agg(
            pl.len().alias("_n" + suffix),
            pl.col("gap_ms").sum().alias("_s" + suffix),
            (pl.col("gap_ms") ** 2).sum().alias("_q" + suffix),
        )
    )


@memoised  # own_waits and caller_side_edges ask it of the same spans and windows
def caller_side_waits(bsp: pl.DataFrame, *, window: Window, baseline: Window) -> pl.DataFrame:
    """``caller, callee`` pairs whose extra time on the way is the caller's own: the time
    a caller waits beyond its callee's own time (:func:`call_waits`) is put on the callee
    (a callee whose network is slow delays the calls of every caller); but a caller whose
    own network is slow delays its calls to every callee, and the callee's other callers
    wait as before. The rule is :func:`caller_side_edges`' for failing calls, with time:
    a callee with at least two callers, exactly one of which waits longer beyond noise
    (Welch ``z >= 2`` against its own baseline wait, as trace latency counts noise),
    while the others' wait rose clearly less than that caller's (``z <= -2``); then that
    caller's longer waits on callees only it calls are its own too.

    >>> caller_side_waits(blamed, window=win, baseline=base)  # doctest: +SKIP
    shape: (2, 2)  # cart -> redis, cart -> postgres: only cart's calls take longer
    """
    g = call_waits(bsp)
    if g.height == 0:
        return pl.DataFrame(schema=_EDGES)
    base = _wait_stats(g, baseline, "b")
    full = _slowed(_wait_stats(g, window, "w").join(base, on=["caller", "callee"], how="inner"))
    if full.height == 0 or not full["_slow"].any():
        return pl.DataFrame(schema=_EDGES)
    # callers are compared on the same minutes only: a caller whose calls slowed while
    # the callee's other callers made none (their traffic stopped with the fault) is not
    # shown to wait alone (lab network-delay-shop-s401: catalog's delay hit api-gateway's
    # calls after recommendation's had stopped, and was put on api-gateway)
    e = _slowed(
        _wait_stats(_same_minutes(g, window), window, "w").join(
            base, on=["caller", "callee"], how="inner"
        )
    )
    # the other callers of the same callee, pooled: their sums less this caller's
    tot = {c: pl.col(c).sum().over("callee") for c in ("_nw", "_sw", "_qw", "_nb", "_sb", "_qb")}
    e = e.with_columns(
        _callers=pl.len().over("callee"),
        _slowed=pl.col("_slow").sum().over("callee"),
        **{"_o" + c[1:]: tot[c] - pl.col(c) for c in tot},
    )
    one = e.filter(pl.col("_slow") & (pl.col("_callers") >= 2) & (pl.col("_slowed") == 1))
    if one.height == 0:
        return pl.DataFrame(schema=_EDGES)
    ow, ovw = _mean_se2("_onw", "_osw", "_oqw")
    ob, ovb = _mean_se2("_onb", "_osb", "_oqb")
    # the others' rise against this caller's: had the callee delayed every caller, theirs
    # would have risen alike; clearly less, the delay is this caller's
    shown = one.filter(_welch_z(ow - ob - pl.col("_rise"), ovw + ovb) <= -NOISE_Z)
    if shown.height == 0:
        return pl.DataFrame(schema=_EDGES)
    return _with_sole_callees(shown, full, "_slow")


def _with_sole_callees(shown: pl.DataFrame, full: pl.DataFrame, flag: str) -> pl.DataFrame:
    """``caller, callee``: the pairs ``shown`` to be their callers' own, and those
    callers' pairs of ``full`` marked ``flag`` whose callee only they call (a caller's own
    trouble hits its calls to every callee; no other caller can clear those)."""
    alone = full.filter(
        pl.col("caller").is_in(shown["caller"].implode())
        & pl.col(flag)
        & (pl.len().over("callee") == 1)
    )
    return pl.concat([shown.select("caller", "callee"), alone.select("caller", "callee")]).unique(
        maintain_order=True
    )


def _slowed(e: pl.DataFrame) -> pl.DataFrame:
    """Each caller, callee pair's rise of its mean wait over its baseline and whether it
    is beyond noise (``_slow``)."""
    mw, vw = _mean_se2("_nw", "_sw", "_qw")
    mb, vb = _mean_se2("_nb", "_sb", "_qb")
    return e.with_columns(_rise=mw - mb, _z=_welch_z(mw - mb, vw + vb)).with_columns(
        _slow=pl.col("_z") >= NOISE_Z
    )


def _same_minutes(g: pl.DataFrame, window: Window) -> pl.DataFrame:
    """The calls (``caller, callee, start`` rows) made in a minute of ``window`` in which
    at least two callers called the same callee: where callers can be compared at all."""
    inside = g.filter((pl.col("start") >= window.start) & (pl.col("start") < window.end))
    minute = pl.col("start").dt.truncate("1m")
    shared = (
        inside.group_by("callee", minute.alias("_m"))
        .agg(pl.col("caller").n_unique().alias("_k"))
        .filter(pl.col("_k") >= 2)
    )
    return (
        inside.with_columns(_m=minute)
        .join(shared.select("callee", "_m"), on=["callee", "_m"], how="semi")
        .drop("_m")
    )


def own_waits(bsp: pl.DataFrame, *, window: Window, baseline: Window) -> pl.DataFrame:
    """``bsp`` with the calls of :func:`caller_side_waits` blamed on their caller (their
    ``blame_service`` set to the span's own service), all of them (a call's time is
    counted whether it failed or not); unchanged when there are none.

    >>> own_waits(blamed, window=win, baseline=base)  # doctest: +SKIP
    """
    return _reblame(bsp, caller_side_waits(bsp, window=window, baseline=baseline))


def _reblame(bsp: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
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
