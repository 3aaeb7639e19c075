"""Change detection over every metric series: robust score and onset, vectorised.

For each series (one ``metric, service, labels`` combination) the incident window is
compared with the baseline window using the baseline's **median** and a robust spread
(scaled MAD, falling back to the mean absolute deviation and a small relative floor when
the baseline is flat), never its mean and standard deviation, so a few baseline spikes
do not hide a change and a flat baseline does not divide by zero.

* ``score``  the *sustained* peak: the largest ``|z|`` held for ``min_run`` consecutive
  points inside the incident window (one-point blips do not count); a run still holding
  at the window's end is cut short by it, so there ``min_run - 1`` observations count when
  they span :data:`END_HOLD` (2 min): with per-minute data and a window ending two
  minutes after a fault, a change that began at the fault has two points and is seen
  now, not three minutes later; with data every 30 s or finer nothing changes;
* ``onset``  the first point of the first run of ``min_run`` points with ``|z| >= threshold``
  (null when the series did not change);
* a change already there before the window is not this incident's: when every point of
  the **lead-in** (as long as the window, just before it, outside the baseline: data
  between a distant reference period and the incident) is beyond the threshold in the
  change's direction and the change holds from the window's first point, the series is
  not ``changed`` (a level unlike a reference period
  months away that held all along is no change at the alert). Where the baseline ends
  where the window begins there is no such lead-in and nothing changes;
* a run is counted in independent observations, not points: when the points are rates
  over a ``rate_window`` longer than the data step (a Prometheus source's
  ``rate(x[120s])`` every 30 s), ``k`` consecutive points cover about
  ``(k - 1) * step / rate_window + 1`` windows, so a run needs
  ``(min_run - 1) * rate_window / step + 1`` points (:func:`run_points`; one isolated
  error then shows as 4-5 overlapping non-zero points, not a sustained change). Without
  a rate window (files, raw samples) a run is ``min_run`` points;
* counters (``*_total``, ``*_count``, ``*_sum``, ``*_bucket``) are turned into per-second
  rates first (resets clipped to zero);
* a counter of rare events (whole-number increases, no event in most baseline intervals)
  is judged as counts: its ``score`` is capped at the Poisson ``z`` of the events in the
  window against a cautious expectation ``(baseline events + 1)`` scaled to the window,
  so a burst of one or two errors from a near-zero baseline is not a change.

Everything is one polars ``group_by``/``over`` pass over the whole frame: 10,000 series
of 240 points score in well under a second (``bench/bench_changes.py``).

Example::

    >>> from workbench.analysis.changes import score_changes
    >>> ch = score_changes(inc.metrics, inc.window, inc.baseline)
    >>> ch.filter(pl.col("changed")).head(10)     # biggest sustained changes first
    >>> series_samples(inc.metrics, ch.row(0, named=True))   # the points behind one row
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import polars as pl
from polars.datatypes import DataTypeClass

from workbench.analysis._util import memoised, sort_by_series
from workbench.analysis.stats import poisson_z
from workbench.timewindow import Window

__all__ = [
    "CHANGE_SCHEMA",
    "COUNTER_SUFFIXES",
    "END_HOLD",
    "onset_of_changes",
    "rate_counters",
    "run_points",
    "samples_by_series",
    "score_changes",
    "series_samples",
]

COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")

CHANGE_SCHEMA: dict[str, pl.DataType | DataTypeClass] = {
    "metric": pl.String,
    "service": pl.String,
    "labels": pl.List(pl.Struct({"key": pl.String, "value": pl.String})),
    "score": pl.Float64,
    "peak": pl.Float64,
    "shift": pl.Float64,
    "direction": pl.String,
    "onset": pl.Datetime("us", "UTC"),
    "changed": pl.Boolean,
    "baseline_median": pl.Float64,
    "baseline_scale": pl.Float64,
    "incident_median": pl.Float64,
    #: the level the series holds at the window's end: the median of its last run of
    #: points (a resource driven to capacity in the last minutes is there now, while the
    #: window's median still holds the minutes before the fault)
    "end_level": pl.Float64,
    #: the level the run that gives the score held (its median; the window's median
    #: when the window is shorter than a run): what a reader is told changed
    "run_level": pl.Float64,
    #: ``up``/``down``: ``run_level`` against the baseline's median (``direction`` when
    #: they are equal): the way the change went for the ranking rules
    #: (:func:`~workbench.analysis.metric_rules.went`) and the evidence. ``direction``
    #: follows the window's median, which does not move when a series held at 1 drops
    #: to 0 for a fifth of the window ("up, 1 -> 1")
    "moved": pl.String,
    "n_baseline": pl.UInt32,
    "n_incident": pl.UInt32,
}

_MAD_K = 1.4826  # scaled MAD estimates sigma for normal data
_MEANAD_K = 1.2533  # scaled mean absolute deviation estimates sigma for normal data
_REL_FLOOR = 0.01  # smallest spread, relative to the values compared
#: a run cut by the window's end must still have held this long (and one independent
#: observation fewer than a run): with per-minute data the last 2 points, with data every
#: 30 s or finer more points than a run, so there the usual run governs
END_HOLD = timedelta(minutes=2)
_EPS = 1e-9


def _series_id_fast() -> pl.Expr:
    return (pl.col("metric").hash(1) ^ pl.col("service").hash(2) ^ pl.col("labels").hash(3)).alias(
        "_sid"
    )


def _new_series() -> pl.Expr:
    """True on the first row of each series (rows sorted by ``_sid, ts``)."""
    return (pl.col("_sid") != pl.col("_sid").shift(1)).fill_null(True)


def _by_series(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` (with ``_sid``) ordered by series and time: returned as is when every series
    is already one contiguous, time-ordered block (what sources produce), else sorted."""
    check = df.select(
        _blocks=_new_series().sum(),
        _series=pl.col("_sid").n_unique(),
        _back=(~_new_series() & (pl.col("ts") < pl.col("ts").shift(1))).sum(),
    ).row(0)
    if check[0] == check[1] and check[2] == 0:
        return df
    return sort_by_series(df)


@memoised  # shared by the metric changes and RED within an investigation
def samples_by_series(metrics: pl.DataFrame) -> pl.DataFrame:
    """``ts, metric, service, value, labels`` of ``metrics`` plus ``_sid`` (one id per
    ``metric, service, labels`` series), ordered by series and time: the samples as
    :func:`rate_counters` (``ordered=True``) and RED's counter rates take them.

    >>> samples_by_series(inc.metrics).filter(pl.col("metric") == "http_server_requests_total")
    """
    df = metrics.select("ts", "metric", "service", "value", "labels")
    return _by_series(df.with_columns(_series_id_fast()))


def rate_counters(
    metrics: pl.DataFrame,
    suffixes: tuple[str, ...] = COUNTER_SUFFIXES,
    *,
    keep_increase: bool = False,
    ordered: bool = False,
) -> pl.DataFrame:
    """Turn counter series (names ending in ``suffixes``) into per-second rates.
    ``ordered``: ``metrics`` carry ``_sid`` and are in series order already (as
    :func:`samples_by_series` returns them).

    Other series pass through unchanged. The first sample of each counter series has no
    rate and is dropped; counter resets (a decrease) give a rate of 0. Adds ``_sid`` and
    returns the rows sorted by series and time; with ``keep_increase`` also ``_inc``, the
    counter's increase since the previous sample (null for other series).
    """
    df = metrics if ordered else _by_series(metrics.with_columns(_series_id_fast()))
    is_counter = pl.any_horizontal([pl.col("metric").str.ends_with(s) for s in suffixes])
    # sorted by series: a plain diff is the per-series diff except on each first row
    dt = pl.col("ts").diff().dt.total_microseconds() / 1e6
    dv = pl.col("value").diff()
    rate = pl.when(~_new_series() & (dt > 0)).then(dv.clip(lower_bound=0) / dt).otherwise(None)
    inc = pl.when(is_counter & ~_new_series()).then(dv.clip(lower_bound=0))
    df = df.with_columns(
        pl.when(is_counter).then(rate).otherwise(pl.col("value")).alias("value"),
        *([inc.alias("_inc")] if keep_increase else []),
    )
    return df.filter(pl.col("value").is_not_null() & pl.col("value").is_finite())


@memoised
def _series_values(metrics: pl.DataFrame, counters_as_rates: bool) -> pl.DataFrame:
    """The samples ordered by series with counters as rates (``_sid``, ``_inc``): the
    part of :func:`score_changes` that does not depend on the windows (shared by the
    ranking and the verdict's placebo rankings within an investigation)."""
    df = samples_by_series(metrics)
    if counters_as_rates:
        return rate_counters(df, keep_increase=True, ordered=True)
    return df.with_columns(_inc=pl.lit(None, pl.Float64))


def run_points(min_run: int, rate_window: timedelta | None, step: timedelta | None) -> int:
    """How many consecutive points make a run of ``min_run`` independent observations.

    Points that are rates over ``rate_window`` taken every ``step`` overlap when the
    window is longer than the step: ``k`` points cover ``(k - 1) * step / rate_window + 1``
    windows, so a run needs ``(min_run - 1) * rate_window / step + 1`` points (rounded
    up). Without a window, or one no longer than the step, every point is its own
    observation: ``min_run``.

    >>> run_points(3, timedelta(seconds=120), timedelta(seconds=30))
    9
    >>> run_points(3, None, timedelta(seconds=60))
    3
    """
    if rate_window is None or step is None or step <= timedelta(0) or rate_window <= step:
        return min_run
    per = rate_window / step  # points per independent window
    return max(min_run, math.ceil((min_run - 1) * per - 1e-9) + 1)


@memoised
def _series_step(df: pl.DataFrame) -> timedelta | None:
    """The median gap between consecutive points of a series (rows sorted by series)."""
    gap = (
        df.select(pl.when(~_new_series()).then(pl.col("ts").diff()).alias("_gap"))["_gap"]
        .drop_nulls()
        .median()
    )
    return gap if isinstance(gap, timedelta) and gap > timedelta(0) else None


def score_changes(
    metrics: pl.DataFrame,
    window: Window,
    baseline: Window,
    *,
    threshold: float = 4.0,
    min_run: int = 3,
    counters_as_rates: bool = True,
    rate_window: timedelta | None = None,
) -> pl.DataFrame:
    """Score every metric series' change from ``baseline`` to ``window``.

    Returns one row per series that has points in both windows, sorted by ``score``
    (descending): ``metric, service, labels, score, peak, shift, direction, onset,
    changed, baseline_median, baseline_scale, incident_median, end_level, run_level, moved,
    n_baseline, n_incident`` (``end_level``: the median of the last run of points in the
    window; ``run_level``: the median of the run that gives the score, and ``moved`` its
    side of the baseline's median: the way the change went, for the rules and the reader).
    ``shift`` is the signed median ``z`` over the incident window (``direction`` its sign,
    or the sign of the run at the window's end when that run gives the score); ``peak`` the largest
    single ``|z|``; ``changed`` is true when a run of ``min_run`` points (fewer if the
    window has fewer; at the window's end ``min_run - 1`` observations spanning
    :data:`END_HOLD`, when ``min_run >= 3``) stays at ``|z| >= threshold``. ``rate_window``: the window the
    points are rates over, when the source computed them so (a Prometheus source's
    signals declare it, :attr:`workbench.Incident.metric_rate_window`); a run then
    counts ``min_run`` independent windows (:func:`run_points`), not points. A change
    every point of the lead-in already held (as long as the window, just before it,
    outside the baseline) is not ``changed``: it began before the window.

    Example::

        >>> score_changes(inc.metrics, inc.window, inc.baseline, threshold=4).head()
    """
    if metrics.height == 0:
        return pl.DataFrame(schema=CHANGE_SCHEMA)
    df = _series_values(metrics, counters_as_rates)
    in_w = (pl.col("ts") >= window.start) & (pl.col("ts") < window.end)
    names = _series_names(df)
    base = _baseline_stats(df, baseline.start, baseline.end)
    inc = (
        df.filter(in_w)
        .select("_sid", "ts", "value", "_inc")
        .join(base, on="_sid", how="inner", maintain_order="left")
        # a series that began just before the window (a pod a rollout started) has
        # fewer baseline points than a run: no level to compare with (its first rate
        # against itself), as a series without baseline points has none. When the data
        # hold no longer baseline for any series, every series is alike: kept
        .filter(pl.col("n_baseline") >= min(min_run, _longest(base)))
        .with_columns(_z=_z_expr())  # an all-zero baseline: 1 % of the value as spread
    )
    if inc.height == 0:
        return pl.DataFrame(schema=CHANGE_SCHEMA)
    # a run in independent observations: overlapping rate windows need more points
    step = _series_step(df)
    rate_step = step if rate_window else None
    run = run_points(min_run, rate_window, rate_step)
    # a run still holding at the window's end is cut short by it (censored): there one
    # independent observation fewer counts if it has held END_HOLD, so a change that began
    # two minutes before "now" in per-minute data is seen while a lone blip at the end is
    # not (only for runs of 3 or more; with finer data the usual run governs)
    end = run
    if min_run >= 3 and step is not None:
        held = math.ceil(END_HOLD / step - 1e-9)
        end = max(run_points(min_run - 1, rate_window, rate_step), held)
    # rows stay sorted by (_sid, ts): series boundaries and runs without group windows
    new = _new_series()
    hit = pl.col("_absz") >= threshold
    inc = inc.with_columns(_absz=pl.col("_z").abs(), _new=new, _row=pl.int_range(pl.len()))
    inc = inc.with_columns(
        _hit=hit,
        _run=(new | (hit != hit.shift(1))).fill_null(True).cum_sum(),
        _first=pl.when(pl.col("_new")).then(pl.col("_row")).forward_fill(),
        _held=pl.col("_absz").rolling_min(window_size=run, min_samples=1),
        _held_end=pl.col("_absz").rolling_min(window_size=end, min_samples=1),
    ).with_columns(
        _idx=pl.col("_row") - pl.col("_first"),
        _runlen=pl.len().over("_run"),
    )
    out = inc.group_by("_sid").agg(
        # a run of ``run`` points holds ``_held`` once ``run`` points exist in the series
        _sustained=pl.col("_held").filter(pl.col("_idx") >= run - 1).max(),
        # the censored run at the window's end: its last ``end`` points all held
        _end=pl.col("_held_end").filter(pl.col("_idx") >= end - 1).last(),
        _end_onset=pl.col("ts").filter(pl.col("_run") == pl.col("_run").last()).min(),
        _last_z=pl.col("_z").last(),
        _short=pl.col("_absz").min(),
        peak=pl.col("_absz").max(),
        shift=pl.col("_z").median(),
        _onset_k=pl.col("ts").filter(pl.col("_hit") & (pl.col("_runlen") >= run)).min(),
        _onset_all=pl.col("ts").filter(pl.col("_hit")).min(),
        _first_ts=pl.col("ts").min(),
        _all_hit=pl.col("_hit").all(),
        baseline_median=pl.col("baseline_median").first(),
        baseline_scale=pl.col("baseline_scale").first(),
        incident_median=pl.col("value").median(),
        end_level=pl.col("value").tail(run).median(),
        # the run that holds ``_sustained``: the ``run`` points ending where ``_held`` (the
        # rolling minimum of |z| over them) is largest
        _run_level=pl.col("value")
        .slice(pl.col("_held").filter(pl.col("_idx") >= run - 1).arg_max().fill_null(0), run)
        .median(),
        n_baseline=pl.col("n_baseline").first(),
        n_incident=pl.len(),
        _w_events=pl.col("_inc").sum(),
        _w_frac=_fraction(),
        _b_events=pl.col("_b_events").first(),
        _b_frac=pl.col("_b_frac").first(),
    )
    out = out.with_columns(_rare_z=_rare_event_z())
    short = pl.col("n_incident") < run  # fewer points than a run: all must hold
    end_run = (pl.lit(end < run) & (pl.col("_end") >= threshold)).fill_null(False)
    # when that cut run gives the score, its sign is the change's direction (the window's
    # median may still be the minutes before it began)
    by_end = end_run & ~short & (pl.col("_end") > pl.col("_sustained").fill_null(0.0))
    out = out.with_columns(
        _by_end=by_end,
        _sustained=pl.when(end_run & ~short)
        .then(pl.max_horizontal(pl.col("_sustained"), pl.col("_end")))
        .otherwise(pl.col("_sustained")),
        _onset_k=pl.when(end_run & ~short)
        .then(pl.min_horizontal(pl.col("_onset_k"), pl.col("_end_onset")))
        .otherwise(pl.col("_onset_k")),
    )
    out = (
        out.with_columns(
            score=pl.min_horizontal(
                pl.when(short)
                .then(pl.col("_short"))
                .otherwise(pl.col("_sustained"))
                .fill_null(0.0),
                pl.col("_rare_z").fill_null(math.inf),
            ),
            onset=pl.when(pl.col("_rare_z").fill_null(math.inf) >= threshold).then(
                pl.when(short)
                .then(pl.when(pl.col("_all_hit")).then(pl.col("_onset_all")))
                .otherwise(pl.col("_onset_k"))
            ),
        )
        .with_columns(
            direction=pl.when(
                pl.when(pl.col("_by_end")).then(pl.col("_last_z")).otherwise("shift") >= 0
            )
            .then(pl.lit("up"))
            .otherwise(pl.lit("down")),
            changed=pl.col("onset").is_not_null(),
            run_level=pl.when(short)
            .then(pl.col("incident_median"))
            .when(pl.col("_by_end"))
            .then(pl.col("end_level"))
            .otherwise(pl.col("_run_level")),
        )
        .with_columns(
            moved=pl.when(pl.col("run_level") > pl.col("baseline_median"))
            .then(pl.lit("up"))
            .when(pl.col("run_level") < pl.col("baseline_median"))
            .then(pl.lit("down"))
            .otherwise(pl.col("direction")),
        )
    )
    out = _predating(out, df, window, baseline, base, threshold)
    out = out.join(names, on="_sid", how="left")
    return (
        out.select(list(CHANGE_SCHEMA))
        .cast({"n_baseline": pl.UInt32, "n_incident": pl.UInt32})
        .sort(["score", "metric", "service"], descending=[True, False, False], nulls_last=True)
    )


def _z_expr() -> pl.Expr:
    """A point's z against its series' baseline (``value``, ``baseline_median``,
    ``baseline_scale``); an all-zero baseline has no spread at all: there 1 % of the value
    compared counts as the spread, so 0 -> x scores 100 rather than x / 1e-9."""
    scale = (
        pl.when(pl.col("baseline_scale") <= _EPS)
        .then(pl.max_horizontal(pl.lit(_EPS), _REL_FLOOR * pl.col("value").abs()))
        .otherwise(pl.col("baseline_scale"))
    )
    return (pl.col("value") - pl.col("baseline_median")) / scale


def _predating(
    out: pl.DataFrame,
    df: pl.DataFrame,
    window: Window,
    baseline: Window,
    base: pl.DataFrame,
    threshold: float,
) -> pl.DataFrame:
    """A change whose level every point of the lead-in (as long as the window, just
    before it; points in the baseline are the baseline's) already held, beyond
    ``threshold`` in the same direction, and that holds from the window's first point on,
    began before the window: not this incident's (``changed`` false, no onset)."""
    span = window.end - window.start
    in_l = (
        (pl.col("ts") >= window.start - span)
        & (pl.col("ts") < window.start)
        & ~((pl.col("ts") >= baseline.start) & (pl.col("ts") < baseline.end))
    )
    pts = df.filter(in_l).select("_sid", "value")
    if pts.height == 0:
        return out
    held = (
        pts.join(base.select("_sid", "baseline_median", "baseline_scale"), on="_sid")
        .with_columns(_lz=_z_expr())
        .group_by("_sid")
        .agg(_lead_lo=pl.col("_lz").min(), _lead_hi=pl.col("_lz").max())
    )
    out = out.join(held, on="_sid", how="left")
    # held from the lead-in into the window: the change's run starts at the window's
    # first point (a series back to normal in the window and changing again is a new change)
    before = (
        (pl.col("onset") <= pl.col("_first_ts"))
        & (
            ((pl.col("direction") == "up") & (pl.col("_lead_lo") >= threshold))
            | ((pl.col("direction") == "down") & (pl.col("_lead_hi") <= -threshold))
        )
    ).fill_null(False)
    return out.with_columns(
        onset=pl.when(before).then(None).otherwise(pl.col("onset")),
        changed=pl.col("changed") & ~before,
    ).drop("_lead_lo", "_lead_hi")


@memoised
def _series_names(df: pl.DataFrame) -> pl.DataFrame:
    """``_sid, metric, service, labels`` once per series of :func:`_series_values`."""
    return df.select("_sid", "metric", "service", "labels").unique("_sid", keep="first")


@memoised
def _baseline_stats(df: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """Per series of :func:`_series_values`, its robust level and spread over the
    baseline ``start..end`` (shared by every comparison against the same baseline: the
    verdict's placebo windows)."""
    in_b = (pl.col("ts") >= start) & (pl.col("ts") < end)
    return (
        df.filter(in_b)
        .group_by("_sid")
        .agg(
            baseline_median=pl.col("value").median(),
            _mad=(pl.col("value") - pl.col("value").median()).abs().median(),
            _meanad=(pl.col("value") - pl.col("value").median()).abs().mean(),
            n_baseline=pl.len(),
            _b_events=pl.col("_inc").sum(),
            _b_frac=_fraction(),
        )
        .with_columns(
            baseline_scale=pl.max_horizontal(
                pl.when(pl.col("_mad") > 0)
                .then(_MAD_K * pl.col("_mad"))
                .otherwise(_MEANAD_K * pl.col("_meanad")),
                _REL_FLOOR * pl.col("baseline_median").abs(),
                pl.lit(_EPS),
            )
        )
        .drop("_mad", "_meanad")
    )


def _longest(base: pl.DataFrame) -> int:
    """The most baseline points any series has (0 without any)."""
    if base.height == 0:
        return 0
    return int(base.select(pl.col("n_baseline").max()).item() or 0)


def _fraction() -> pl.Expr:
    """Largest fractional part of a counter's increases (0 for a count of whole events,
    null for a series that is not a counter)."""
    return (pl.col("_inc") - pl.col("_inc").round()).abs().max()


def _rare_event_z() -> pl.Expr:
    """For a counter of rare events, the Poisson ``z`` of the events in the window; null
    for other series.

    A rate of rare events is judged as counts, not by its robust spread (which collapses
    when most baseline intervals see no event): ``k`` events in the window are a change
    only if improbable under Poisson with a cautious expectation, the baseline's
    ``(events + 1)`` scaled to the window's number of intervals."""
    rare = (pl.col("_b_frac") == 0) & (pl.col("_w_frac") == 0) & (pl.col("baseline_median") == 0)
    expected = (pl.col("_b_events") + 1) * pl.col("n_incident") / pl.col("n_baseline")
    return pl.when(rare).then(poisson_z(pl.col("_w_events"), expected).abs())


def onset_of_changes(
    changes: pl.DataFrame, *, top: int = 20, quantile: float = 0.1
) -> datetime | None:
    """A robust onset of the whole incident: an early quantile of the onsets of the
    ``top`` strongest changed series (the very first onset is often a lone noisy series,
    and many weak late changes, such as a later unrelated rollout, should not move it).
    ``None`` if nothing changed.
    """
    on = changes.filter(pl.col("changed")).sort("score", descending=True).head(top)["onset"]
    if on.len() == 0:
        return None
    return on.sort().gather(int(quantile * (on.len() - 1))).item()


def series_samples(metrics: pl.DataFrame, row: dict) -> pl.DataFrame:
    """The raw samples of the series behind one row of :func:`score_changes`.

    >>> series_samples(inc.metrics, changes.row(0, named=True))
    """
    want = pl.DataFrame(
        {"metric": [row["metric"]], "service": [row["service"]], "labels": [row["labels"]]},
        schema={k: CHANGE_SCHEMA[k] for k in ("metric", "service", "labels")},
    ).with_columns(_series_id_fast())
    sid = want["_sid"][0]
    return (
        metrics.with_columns(_series_id_fast())
        .filter(pl.col("_sid") == sid)
        .drop("_sid")
        .sort("ts")
    )
