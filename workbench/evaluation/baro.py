"""BARO's robust metric scoring, implemented from its paper as a baseline.

Pham, Ha, Zhang: "BARO: Robust Root Cause Analysis for Microservices via Multivariate
Bayesian Online Change Point Detection", FSE 2024. Its root-cause scoring step fits a
RobustScaler on the normal period of every metric (centre = median, scale = inter-quartile
range; a zero IQR scales by 1, as scikit-learn's RobustScaler does), transforms the
anomalous period, scores each metric by its largest absolute scaled value, and ranks
root causes by that score. Here a service's score is the maximum over its metrics.

Simplification: the anomalous period is the incident window given by the case (BARO
finds it with multivariate BOCPD); counters are turned into per-second rates first, as for
our own scoring, so a monotone counter does not dominate.

Example::

    >>> baro_rank(case.metrics, case.window, case.baseline)[:3]
"""

from __future__ import annotations

import polars as pl

from workbench.analysis.changes import rate_counters
from workbench.timewindow import Window

__all__ = ["baro_rank", "baro_scores"]


def baro_scores(metrics: pl.DataFrame, window: Window, baseline: Window) -> pl.DataFrame:
    """Per service: ``score`` (max |robust-scaled| value in the window) and the metric."""
    if metrics.height == 0:
        return pl.DataFrame(schema={"service": pl.String, "score": pl.Float64, "metric": pl.String})
    df = rate_counters(metrics.select("ts", "metric", "service", "value", "labels"))
    in_w = (pl.col("ts") >= window.start) & (pl.col("ts") < window.end)
    in_b = (pl.col("ts") >= baseline.start) & (pl.col("ts") < baseline.end)
    fit = (
        df.filter(in_b)
        .group_by("_sid")
        .agg(
            _med=pl.col("value").median(),
            _iqr=pl.col("value").quantile(0.75, "linear")
            - pl.col("value").quantile(0.25, "linear"),
        )
        .with_columns(_iqr=pl.when(pl.col("_iqr") > 0).then(pl.col("_iqr")).otherwise(1.0))
    )
    scored = (
        df.filter(in_w)
        .join(fit, on="_sid")
        .with_columns(_s=((pl.col("value") - pl.col("_med")) / pl.col("_iqr")).abs())
        .group_by("_sid")
        .agg(pl.col("service").first(), pl.col("metric").first(), score=pl.col("_s").max())
    )
    return (
        scored.filter(pl.col("service").is_not_null())
        .sort("score", descending=True)
        .group_by("service", maintain_order=True)
        .agg(pl.col("score").first(), pl.col("metric").first())
        .sort(["score", "service"], descending=[True, False])
    )


def baro_rank(metrics: pl.DataFrame, window: Window, baseline: Window) -> list[str]:
    """Services ranked by BARO's robust score, most suspect first."""
    return baro_scores(metrics, window, baseline)["service"].to_list()
