"""How much more of an additive total each service had during the incident.

Some per-service series are *totals in a shared unit*: seconds spent serving requests
in a step (mean latency x requests, a histogram's ``_sum``), failed requests in a step.
They add up across services, so comparing their **excess** over normal says which service
accounts for most of a symptom, where a z-score only says how unusual each one is: a
load balancer seen by one caller can have a far more unusual mean latency than the
backend behind it, yet the backend spends more extra seconds, because it serves every
caller.

Rules (each a general principle):

* the excess is counted only in the direction that hurts (more seconds, more failures);
* it is what lies beyond the service's normal range: the window's level minus what the
  service reaches in ``quantile`` of normal steps, so a busy service's ordinary noise is
  not an anomaly, neither as a reason to count a step nor as part of its size. (Measured
  from the normal *median*, a step just past the range's top would bring the whole
  spread from median to top with it: a large, noisy service swinging one step past its
  usual high would outweigh a quiet one whose level jumped far beyond anything it does;
  the errors and latency signals likewise count only what is beyond chance);
* a shift already present in *every* step of the lead-in (the steps just before the
  alert) predates the alert and is not part of this incident: the level to beat is the
  higher of the normal range's top and the lead-in's lowest step.

Series with several label sets (pods, instances) are summed per service and timestamp
first, since totals add up.

Example::

    >>> from workbench.analysis.excess import excess_totals
    >>> ex = excess_totals(metrics, window, baseline, metric="busy_seconds", lead_in=lead)
    >>> ex.head()       # service, value, normal, threshold, lead_in, excess, share
"""

from __future__ import annotations

import polars as pl

from workbench.timewindow import Window

__all__ = ["EXCESS_SCHEMA", "excess_totals"]

EXCESS_SCHEMA = {
    "service": pl.String,
    "value": pl.Float64,
    "normal": pl.Float64,
    "threshold": pl.Float64,
    "lead_in": pl.Float64,
    "excess": pl.Float64,
    "share": pl.Float64,
}


def _in(w: Window) -> pl.Expr:
    return (pl.col("ts") >= w.start) & (pl.col("ts") < w.end)


def excess_totals(
    metrics: pl.DataFrame,
    window: Window,
    baseline: Window,
    *,
    metric: str,
    lead_in: Window | None = None,
    quantile: float = 0.95,
) -> pl.DataFrame:
    """Per service: the excess of the additive total ``metric`` in ``window`` over normal.

    Returns ``service, value, normal, threshold, lead_in, excess, share`` sorted by
    ``excess`` (descending): ``value`` is the median step in the window, ``normal`` the
    baseline median, ``threshold`` the baseline's ``quantile`` (the top of the normal
    range), ``lead_in`` the lowest step of ``lead_in`` (null without one), ``excess`` how
    far ``value`` rises above the higher of ``threshold`` and ``lead_in`` (0 at or below
    them), ``share`` the excess relative to the largest one (0..1). Services without
    baseline or window steps are left out.

    >>> excess_totals(m, win, base, metric="failed_requests").filter(pl.col("excess") > 0)
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    tot = (
        metrics.filter((pl.col("metric") == metric) & pl.col("service").is_not_null())
        .filter(pl.col("value").is_finite())
        .group_by("service", "ts")
        .agg(pl.col("value").sum())
    )
    base = (
        tot.filter(_in(baseline))
        .group_by("service")
        .agg(
            normal=pl.col("value").median(),
            threshold=pl.col("value").quantile(quantile, "linear"),
        )
    )
    now = tot.filter(_in(window)).group_by("service").agg(value=pl.col("value").median())
    if lead_in is not None:
        lead = tot.filter(_in(lead_in)).group_by("service").agg(lead_in=pl.col("value").min())
    else:
        lead = pl.DataFrame(schema={"service": pl.String, "lead_in": pl.Float64})
    out = (
        now.join(base, on="service", how="inner")
        .join(lead, on="service", how="left")
        # beyond the normal range's top (and the lead-in's floor): the part normal noise
        # does not reach, continuous at the top (just past it is just a little)
        .with_columns(
            excess=(
                pl.col("value")
                - pl.max_horizontal(
                    pl.col("threshold"), pl.col("lead_in").fill_null(pl.col("threshold"))
                )
            ).clip(lower_bound=0.0)
        )
    )
    top = out["excess"].max() if out.height else None
    out = out.with_columns(share=(pl.col("excess") / top) if top else pl.lit(0.0, dtype=pl.Float64))
    return (
        out.select(list(EXCESS_SCHEMA))
        .cast(EXCESS_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
        .sort(["excess", "service"], descending=[True, False])
    )
