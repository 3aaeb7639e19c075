"""Capacity: utilisation, seasonality, trend, headroom and when a resource runs out.

Input is a *usage* frame (the metrics contract, or any frame with ``ts, service,
resource, value``) already aggregated per service and resource (ask the server for that:
see ``PrometheusSource`` with a coarse step, or ``date_bin``/``time_bucket`` in SQL), and
the *capacity* of each resource (a number per service/resource, or a frame of limits).

The forecast fits the daily peak utilisation with ordinary least squares (statsmodels),
linear or log-linear (compound growth), whichever explains the history better, and
reports the date the fitted peak crosses the threshold, with an 80 % band from the
prediction interval.

Example::

    >>> table = capacity_table(usage, capacity=limits, threshold=0.8)
    >>> table.head()        # runs-out-first order
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
import polars as pl

from workbench.errors import BadData

__all__ = [
    "Forecast",
    "capacity_table",
    "daily_peaks",
    "forecast_path",
    "forecast_saturation",
    "seasonality",
    "utilisation",
]


def utilisation(
    usage: pl.DataFrame, capacity: pl.DataFrame | float | dict[tuple[str, str], float]
) -> pl.DataFrame:
    """``ts, service, resource, used, capacity, utilisation`` from usage and capacity.

    ``capacity`` is a single number, a dict ``{(service, resource): value}``, or a frame
    ``service, resource, [ts,] value`` (a time-varying limit is joined as-of on ``ts``).
    """
    _require(usage, ("ts", "service", "resource", "value"), "usage")
    u = usage.select("ts", "service", "resource", pl.col("value").cast(pl.Float64).alias("used"))
    if isinstance(capacity, int | float):
        out = u.with_columns(capacity=pl.lit(float(capacity)))
    elif isinstance(capacity, dict):
        cap = pl.DataFrame(
            {
                "service": [k[0] for k in capacity],
                "resource": [k[1] for k in capacity],
                "capacity": [float(v) for v in capacity.values()],
            }
        )
        out = u.join(cap, on=["service", "resource"], how="left")
    else:
        _require(capacity, ("service", "resource", "value"), "capacity")
        cap = capacity.rename({"value": "capacity"}).with_columns(
            pl.col("capacity").cast(pl.Float64)
        )
        if "ts" in cap.columns:
            # sorted by ts overall, hence within every (service, resource) group
            out = u.sort("ts").join_asof(
                cap.sort("ts"),
                on="ts",
                by=["service", "resource"],
                strategy="backward",
                check_sortedness=False,
            )
        else:
            out = u.join(
                cap.select("service", "resource", "capacity"),
                on=["service", "resource"],
                how="left",
            )
    missing = out.filter(pl.col("capacity").is_null() | (pl.col("capacity") <= 0))
    if missing.height:
        pairs = missing.select("service", "resource").unique().head(5).rows()
        raise BadData(
            f"no positive capacity for {len(pairs)}+ service/resource pair(s), e.g. {pairs}",
            field="capacity",
            hint="give a limit for every service and resource, or drop those rows",
        )
    return out.with_columns(utilisation=pl.col("used") / pl.col("capacity")).sort(
        "service", "resource", "ts"
    )


def daily_peaks(
    util: pl.DataFrame,
    *,
    quantile: float = 0.99,
    sustain: str | None = "1h",
    busy_hour: bool = True,
) -> pl.DataFrame:
    """Per service, resource and UTC day: the peak and the mean utilisation.

    ``busy_hour=True`` (default): the peak is the day's mean over its *time-consistent
    busy hour*, the ``sustain``-long slot of the day that is busiest on average over the
    whole history (telephony's TCBH). Taking each day's own maximum instead picks the
    noise's highs and brings saturation forecasts early. ``busy_hour=False``: a high
    ``quantile`` of the day's ``sustain``-long means (``sustain=None``: of the samples).
    """
    if sustain:
        util = (
            util.with_columns(pl.col("ts").dt.truncate(sustain))
            .group_by("service", "resource", "ts")
            .agg(pl.col("utilisation").mean(), n=pl.len())
        )
    else:
        util = util.with_columns(n=pl.lit(1, pl.UInt32))
    util = util.with_columns(
        day=pl.col("ts").dt.truncate("1d"), slot=pl.col("ts") - pl.col("ts").dt.truncate("1d")
    )
    if busy_hour:
        slot = (
            util.group_by("service", "resource", "slot")
            .agg(avg=pl.col("utilisation").mean())
            .sort("avg", "slot", descending=[True, False])
            .group_by("service", "resource", maintain_order=True)
            .agg(busy=pl.col("slot").first())
        )
        util = util.join(slot, on=["service", "resource"])
        peak = pl.col("utilisation").filter(pl.col("slot") == pl.col("busy")).mean()
    else:
        peak = pl.col("utilisation").quantile(quantile)
    return (
        util.group_by("service", "resource", "day")
        .agg(
            peak=peak,
            mean=(pl.col("utilisation") * pl.col("n")).sum() / pl.col("n").sum(),
            samples=pl.col("n").sum(),
        )
        .drop_nulls("peak")
        .sort("service", "resource", "day")
    )


def seasonality(util: pl.DataFrame) -> pl.DataFrame:
    """Daily and weekly shape per service and resource: the hour-of-day and day-of-week
    profiles' amplitude relative to the mean (0 = flat), and peak-to-average."""
    base = util.with_columns(hour=pl.col("ts").dt.hour(), dow=pl.col("ts").dt.weekday())
    mean = base.group_by("service", "resource").agg(
        mean=pl.col("utilisation").mean(), peak=pl.col("utilisation").max()
    )
    hourly = (
        base.group_by("service", "resource", "hour")
        .agg(v=pl.col("utilisation").mean())
        .group_by("service", "resource")
        .agg(
            daily_amplitude=(pl.col("v").max() - pl.col("v").min()),
            peak_hour=pl.col("hour").sort_by("v").last(),
        )
    )
    weekly = (
        base.group_by("service", "resource", "dow")
        .agg(v=pl.col("utilisation").mean())
        .group_by("service", "resource")
        .agg(weekly_amplitude=(pl.col("v").max() - pl.col("v").min()), n_days=pl.len())
    )
    return (
        mean.join(hourly, on=["service", "resource"])
        .join(weekly, on=["service", "resource"])
        .with_columns(
            daily_amplitude=pl.col("daily_amplitude") / pl.col("mean"),
            weekly_amplitude=pl.when(pl.col("n_days") >= 7)
            .then(pl.col("weekly_amplitude") / pl.col("mean"))
            .otherwise(None),
            peak_to_average=pl.col("peak") / pl.col("mean"),
        )
        .drop("n_days", "peak")
    )


@dataclass(frozen=True)
class Forecast:
    """When the peak utilisation of one series crosses ``threshold``.

    ``saturates_at`` is None when the trend never reaches it (flat or falling);
    ``earliest``/``latest`` bound it with the 80 % prediction interval; ``growth_per_day``
    is the fitted daily change of peak utilisation at the end of the history."""

    model: str
    growth_per_day: float
    saturates_at: datetime | None
    earliest: datetime | None
    latest: datetime | None
    r2: float


class _Fit:
    """OLS of daily peaks on time (linear, or log for compound growth), with day-of-week
    effects when ``weekly``; predictions are for a busy day of the week."""

    def __init__(self, days: list[datetime], y: np.ndarray, *, weekly: bool | None) -> None:
        import statsmodels.api as sm

        self.d0 = days[0]
        self.t = np.array([(x - days[0]).total_seconds() / 86400 for x in days])
        dows = np.array([x.weekday() for x in days])
        if weekly is None:  # two weeks or more, every weekday seen
            weekly = len(days) >= 14 and len(set(dows.tolist())) == 7
        self.weekly = weekly
        x = self._design(self.t, dows)
        self.fits = {"linear": sm.OLS(y, x).fit()}
        if np.all(y > 0):
            self.fits["compound"] = sm.OLS(np.log(y), x).fit()
        self.busy = {n: self._busy_days(f) for n, f in self.fits.items()}
        self.sse = {n: float(np.sum((self._predict(n, x)[0] - y) ** 2)) for n in self.fits}
        self.model = min(self.sse, key=self.sse.__getitem__)
        sst = float(np.sum((y - y.mean()) ** 2)) or 1e-12
        self.r2 = 1 - self.sse[self.model] / sst

    def _design(
        self, t: np.ndarray, dows: np.ndarray | None, w: np.ndarray | None = None
    ) -> np.ndarray:
        cols = [np.ones_like(t), t]
        if self.weekly:
            if dows is not None:  # Monday is the base
                cols += [(dows == k).astype(float) for k in range(1, 7)]
            else:
                assert w is not None, "weekday weights are needed without weekdays"
                cols += [np.full_like(t, wk) for wk in w]
        return np.column_stack(cols)

    def _busy_days(self, fit: Any) -> np.ndarray:
        """Weights of the weekday dummies for "a busy day": the mean of the weekdays whose
        effect is within two standard errors of the busiest (not the busiest alone: the
        largest of seven noisy estimates is biased high)."""
        if not self.weekly:
            return np.zeros(6)
        params = np.asarray(fit.params)
        se = np.asarray(fit.bse)
        effects = np.r_[0.0, params[2:8]]
        spread = 2 * float(np.median(se[2:8]))
        busy = effects >= effects.max() - spread
        w = busy / busy.sum()
        return w[1:]  # Monday is the base level

    def _predict(self, name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frame = self.fits[name].get_prediction(x).summary_frame(alpha=0.2)
        cols = (
            frame["mean"].to_numpy(),
            frame["obs_ci_lower"].to_numpy(),
            frame["obs_ci_upper"].to_numpy(),
        )
        return tuple(np.exp(c) for c in cols) if name == "compound" else cols

    def predict(self, tt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, lower, upper (80 %) of the chosen model at days ``tt`` since the first,
        on a busy day of the week."""
        return self._predict(self.model, self._design(tt, None, self.busy[self.model]))


def forecast_saturation(
    days: list[datetime] | pl.Series,
    peaks: list[float] | pl.Series | np.ndarray,
    *,
    threshold: float,
    horizon_days: int = 365,
    weekly: bool | None = None,
) -> Forecast:
    """Fit daily peaks and find the day they cross ``threshold`` (within ``horizon_days``).

    With ``weekly`` (default: when there are two weeks or more of days) the fit has a
    day-of-week effect and the forecast follows the busy days (those within two standard
    errors of the busiest), so quiet weekends neither drag the trend down nor delay the
    date.
    """
    d = list(days)
    y = np.asarray(peaks, dtype=float)
    if len(d) < 3 or not np.all(np.isfinite(y)):
        raise BadData("a forecast needs at least 3 days of finite peaks", field="peak")
    fit = _Fit(d, y, weekly=weekly)
    t = fit.t
    future = np.arange(t[-1], t[-1] + horizon_days + 1, 0.25)
    mean, lower, upper = fit.predict(future)

    def crossing(series: np.ndarray) -> datetime | None:
        idx = np.nonzero(series >= threshold)[0]
        return d[0] + timedelta(days=float(future[idx[0]])) if idx.size else None

    slope_mean = fit.predict(np.array([t[-1] - 1.0, t[-1]]))[0]
    return Forecast(
        model=fit.model,
        growth_per_day=float(slope_mean[1] - slope_mean[0]),
        saturates_at=crossing(mean),
        earliest=crossing(upper),
        latest=crossing(lower),
        r2=fit.r2,
    )


def capacity_table(
    usage: pl.DataFrame,
    *,
    capacity: pl.DataFrame | float | dict[tuple[str, str], float],
    threshold: float = 0.8,
    horizon_days: int = 365,
    recent_days: int = 7,
) -> pl.DataFrame:
    """The "runs out first" table: one row per service and resource, sorted by
    saturation date (soonest first), then by growth relative to headroom.

    Columns: service, resource, utilisation_mean, utilisation_peak (recent), headroom
    (1 - recent peak / threshold ... as a fraction of capacity), peak_to_average,
    daily_amplitude, growth_per_day, saturates_at, earliest, latest, days_left, model,
    r2, outpaces (growth would use up the headroom within the horizon).
    """
    util = utilisation(usage, capacity)
    peaks = daily_peaks(util)
    season = seasonality(util)
    rows = []
    for (service, resource), g in peaks.group_by(["service", "resource"], maintain_order=True):
        g = g.sort("day")
        if g.height < 3:
            continue
        fc = forecast_saturation(
            g["day"].to_list(), g["peak"].to_numpy(), threshold=threshold, horizon_days=horizon_days
        )
        last_day = g["day"][-1]
        recent_peak = float(cast(float, g.tail(recent_days)["peak"].max()))
        days_left = (
            (fc.saturates_at - last_day).total_seconds() / 86400 if fc.saturates_at else math.inf
        )
        rows.append(
            {
                "service": service,
                "resource": resource,
                "utilisation_peak": recent_peak,
                "headroom": threshold - recent_peak,
                "growth_per_day": fc.growth_per_day,
                "saturates_at": fc.saturates_at,
                "earliest": fc.earliest,
                "latest": fc.latest,
                "days_left": days_left,
                "model": fc.model,
                "r2": fc.r2,
            }
        )
    if not rows:
        raise BadData("no service/resource has 3 or more days of history", field="ts")
    table = pl.DataFrame(rows).with_columns(
        pl.col("saturates_at", "earliest", "latest").cast(pl.Datetime("us", "UTC")),
        outpaces=pl.col("days_left") <= horizon_days,
        headroom_days=pl.when(pl.col("growth_per_day") > 0)
        .then(pl.col("headroom") / pl.col("growth_per_day"))
        .otherwise(None),
    )
    return (
        table.join(season, on=["service", "resource"], how="left")
        .rename({"mean": "utilisation_mean"})
        .sort(["days_left", "growth_per_day"], descending=[False, True])
    )


def forecast_path(
    peaks: pl.DataFrame,
    *,
    threshold: float,
    horizon_days: int = 90,
    pairs: list[tuple[str, str]] | None = None,
) -> pl.DataFrame:
    """The fitted daily peak and its 80 % band, from the first day of history to
    ``horizon_days`` after the last, for charts: ``service, resource, day, peak`` (observed,
    null in the future), ``fitted, lower, upper, model``. Same fit as
    :func:`forecast_saturation` (the busy days' trend when there are two weeks or more); ``pairs`` limits it to some (service, resource).

    >>> forecast_path(daily_peaks(util), threshold=0.8, pairs=[("checkout", "cpu")])
    """

    out = []
    for (service, resource), g in peaks.group_by(["service", "resource"], maintain_order=True):
        if pairs is not None and (service, resource) not in pairs:
            continue
        g = g.sort("day")
        if g.height < 3:
            continue
        days = g["day"].to_list()
        y = g["peak"].to_numpy()
        fit = _Fit(days, y, weekly=None)
        t = fit.t
        tt = np.arange(0.0, t[-1] + horizon_days + 1, 1.0)
        cols = fit.predict(tt)
        observed = dict(zip(t.round(6), y, strict=True))
        out.append(
            pl.DataFrame(
                {
                    "service": service,
                    "resource": resource,
                    "day": [days[0] + timedelta(days=float(x)) for x in tt],
                    "peak": [observed.get(round(float(x), 6)) for x in tt],
                    "fitted": cols[0],
                    "lower": cols[1],
                    "upper": cols[2],
                    "model": fit.model,
                },
                schema_overrides={"peak": pl.Float64},
            )
        )
    if not out:
        raise BadData("no service/resource has 3 or more days of history", field="day")
    return pl.concat(out).with_columns(pl.col("day").cast(pl.Datetime("us", "UTC")))


def _require(df: pl.DataFrame, cols: tuple[str, ...], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise BadData(
            f"{what} frame lacks column(s) {missing}",
            field=missing[0],
            hint=f"{what} needs {list(cols)}",
        )
