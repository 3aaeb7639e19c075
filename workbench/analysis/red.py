"""RED per service over time: request rate, error ratio, latency quantiles.

One frame shape, whatever the input::

    ts, service, rate, error_ratio, p50_ms, p95_ms, p99_ms

``rate`` is requests per second, ``error_ratio`` the share of requests that failed
(0..1, null when there were no requests), ``p*_ms`` latency quantiles in milliseconds.

Three inputs give it:

* raw Prometheus metrics (the lab's, or any exporter following the same names):
  ``http_server_requests_total{code}`` counters become per-second rates per series
  (counter resets handled per series, as ``rate()`` does), errors are codes ``5xx``,
  and quantiles come from ``http_server_request_duration_seconds_bucket`` with the
  ``histogram_quantile`` interpolation applied to the per-bucket rate sums;
* series already aggregated by a backend, named with the constants below (a
  ``PrometheusSource`` returns these from the :data:`RED_PROMQL` queries);
* spans, when only traces exist: requests entering each service.

Metric names of pre-computed RED series (one series per ``service``):

=============================  =================================================
``red:request_rate``           requests per second
``red:error_rate``             failed (5xx) requests per second (optional)
``red:error_ratio``            failed / all requests, 0..1
``red:latency_p50_seconds``    median latency, seconds
``red:latency_p95_seconds``    95th percentile latency, seconds
``red:latency_p99_seconds``    99th percentile latency, seconds
=============================  =================================================

Example::

    >>> from workbench.analysis.red import red, red_summary
    >>> r = red(inc.metrics, inc.spans, step="1m")
    >>> red_summary(r, window=inc.window, baseline=inc.baseline).head()
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from workbench import frames
from workbench.analysis._util import (
    check_columns,
    entry_spans,
    filter_window,
    sort_by_series,
    step_of,
    truncate_every,
)
from workbench.analysis.changes import samples_by_series
from workbench.timewindow import Window

__all__ = [
    "DURATION_HISTOGRAM",
    "QUANTILES",
    "RED_COLUMNS",
    "RED_ERROR_RATE",
    "RED_ERROR_RATIO",
    "RED_LATENCY",
    "RED_LATENCY_P50",
    "RED_LATENCY_P95",
    "RED_LATENCY_P99",
    "RED_METRICS",
    "RED_PROMQL",
    "RED_REQUEST_RATE",
    "RED_SCHEMA",
    "REQUESTS_TOTAL",
    "counter_rate",
    "error_ratio_over_window",
    "histogram_quantiles",
    "p95_over_window",
    "rate_over_window",
    "red",
    "red_from_metrics",
    "red_from_spans",
    "red_summary",
]

RED_REQUEST_RATE = "red:request_rate"
RED_ERROR_RATE = "red:error_rate"
RED_ERROR_RATIO = "red:error_ratio"
RED_LATENCY_P50 = "red:latency_p50_seconds"
RED_LATENCY_P95 = "red:latency_p95_seconds"
RED_LATENCY_P99 = "red:latency_p99_seconds"
#: quantile -> pre-computed latency metric name
RED_LATENCY = {0.5: RED_LATENCY_P50, 0.95: RED_LATENCY_P95, 0.99: RED_LATENCY_P99}
RED_METRICS = (
    RED_REQUEST_RATE,
    RED_ERROR_RATE,
    RED_ERROR_RATIO,
    RED_LATENCY_P50,
    RED_LATENCY_P95,
    RED_LATENCY_P99,
)

REQUESTS_TOTAL = "http_server_requests_total"
DURATION_HISTOGRAM = "http_server_request_duration_seconds"
QUANTILES = (0.5, 0.95, 0.99)

#: PromQL giving each pre-computed RED series per ``service``; ``{range}`` is the rate
#: window (e.g. ``1m``; at least 4x the scrape interval).
RED_PROMQL = {
    RED_REQUEST_RATE: f"sum by (service) (rate({REQUESTS_TOTAL}[{{range}}]))",
    RED_ERROR_RATE: f'sum by (service) (rate({REQUESTS_TOTAL}{{{{code=~"5.."}}}}[{{range}}]))',
    RED_ERROR_RATIO: (
        f'sum by (service) (rate({REQUESTS_TOTAL}{{{{code=~"5.."}}}}[{{range}}]))'
        f" / sum by (service) (rate({REQUESTS_TOTAL}[{{range}}]))"
    ),
    **{
        name: (
            f"histogram_quantile({q}, sum by (service, le) "
            f"(rate({DURATION_HISTOGRAM}_bucket[{{range}}])))"
        )
        for q, name in RED_LATENCY.items()
    },
}

RED_COLUMNS = ("ts", "service", "rate", "error_ratio", "p50_ms", "p95_ms", "p99_ms")
RED_SCHEMA = {
    "ts": frames.TS,
    "service": pl.String(),
    "rate": pl.Float64(),
    "error_ratio": pl.Float64(),
    "p50_ms": pl.Float64(),
    "p95_ms": pl.Float64(),
    "p99_ms": pl.Float64(),
}

_QCOL = {0.5: "p50_ms", 0.95: "p95_ms", 0.99: "p99_ms"}


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=RED_SCHEMA)


def _labels_key() -> pl.Expr:
    kv = pl.element().struct.field("key") + "=" + pl.element().struct.field("value")
    return pl.col("labels").list.eval(kv).list.sort().list.join(",").fill_null("")


def _with_series_id(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` (without ``labels``) plus ``_sid``, an integer id per series: the same
    metric, service and label set (compared as sorted ``k=v`` pairs, so label order
    does not matter).

    The canonical label string is built once per distinct label set (found by hash), not
    once per sample, and the id joined back: cost grows with the samples, not with
    string work per sample.
    """
    hashed = df.with_columns(pl.struct("metric", "service", "labels").hash().alias("_h"))
    ids = (
        hashed.select("_h", "metric", "service", "labels")
        .unique("_h", keep="first")
        .with_columns(
            pl.concat_str(
                pl.col("metric"), pl.col("service").fill_null(""), _labels_key(), separator="\x1f"
            )
            .rank("dense")
            .alias("_sid")
        )
        .select("_h", "_sid")
    )
    return hashed.drop("labels").join(ids, on="_h", how="left").drop("_h")


def _by_red_series(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` (``ts, metric, service, value, labels`` and extra columns) without
    ``labels``, with ``_sid`` (RED's series: label order does not matter) and ordered
    by series and time. Rows of :func:`~workbench.analysis.changes.samples_by_series`
    (``_sid`` per ``metric, service, labels`` as given, already in that order) keep their
    ids and order when no two of their series differ only in the order of their labels."""
    if "_sid" not in df.columns:
        return sort_by_series(_with_series_id(df))
    first = df.select("_sid", "metric", "service", "labels").unique("_sid", keep="first")
    key = pl.concat_str(
        pl.col("metric"), pl.col("service").fill_null(""), _labels_key(), separator="\x1f"
    )
    ids = first.select("_sid", key.rank("dense").alias("_rid"))
    if ids["_rid"].n_unique() == ids.height:  # one label order per series: same series
        return df.drop("labels")
    return (
        df.drop("labels")
        .join(ids, on="_sid", how="left", maintain_order="left")
        .drop("_sid")
        .rename({"_rid": "_sid"})
        .sort("_sid", "ts", maintain_order=True)
    )


def _per_series(df: pl.DataFrame, label: pl.Expr) -> pl.DataFrame:
    """``df`` (rows of :func:`~workbench.analysis.changes.samples_by_series`) plus the
    column ``label`` computes from ``labels``: once per series (its samples share their
    labels), not once per sample."""
    once = df.select("_sid", "labels").unique("_sid", keep="first").select("_sid", label)
    return df.join(once, on="_sid", how="left", maintain_order="left")


def _series_rates(df: pl.DataFrame, step: timedelta, extra: list[str]) -> pl.DataFrame:
    """Per-series per-bucket rates of counter samples ``df`` (ts, metric, service, value,
    labels, and the ``extra`` label columns already extracted; or rows of
    :func:`~workbench.analysis.changes.samples_by_series` with those columns): ``ts``
    (bucket start), ``metric``, ``service``, the ``extra`` columns, ``rate``.

    Within a series the increase between two samples is ``v - prev``, or ``v`` after a
    reset (the value dropped); a bucket's rate is its increase over the time its sample
    pairs span, so a scrape gap or a partial bucket does not bias the rate.
    """
    same = pl.col("_sid") == pl.col("_sid").shift(1)
    cols = ["ts", "metric", "service", "value", "labels", *extra]
    d = (
        _by_red_series(df.select(*cols, *(["_sid"] if "_sid" in df.columns else [])))
        .with_columns(
            pl.when(same).then(pl.col("value").shift(1)).alias("_prev"),
            pl.when(same).then(pl.col("ts").shift(1)).alias("_prev_ts"),
        )
        .filter(pl.col("_prev").is_not_null())
        .with_columns(
            pl.when(pl.col("value") >= pl.col("_prev"))
            .then(pl.col("value") - pl.col("_prev"))
            .otherwise(pl.col("value"))
            .alias("_inc"),
            ((pl.col("ts") - pl.col("_prev_ts")).dt.total_microseconds() / 1e6).alias("_dt"),
            pl.col("ts").dt.truncate(truncate_every(step)).alias("_bucket"),
        )
        .filter(pl.col("_dt") > 0)
    )
    return (
        d.group_by("_sid", "_bucket")
        .agg(
            pl.col("metric").first(),
            pl.col("service").first(),
            *[pl.col(c).first() for c in extra],
            (pl.col("_inc").sum() / pl.col("_dt").sum()).alias("rate"),
        )
        .drop("_sid")
        .rename({"_bucket": "ts"})
    )


def counter_rate(
    metrics: pl.DataFrame,
    metric: str,
    *,
    step: str | timedelta = "1m",
    by: tuple[str, ...] = (),
    window: Window | None = None,
) -> pl.DataFrame:
    """Per-second rate of a counter, summed per ``service`` (and labels ``by``) per step.

    Like PromQL ``sum by (service, ...) (rate(metric[step]))`` evaluated once per step,
    with counter resets handled per series.

    Example::

        >>> counter_rate(inc.metrics, "process_cpu_seconds_total", step="1m", by=("pod",))
    """
    check_columns(metrics, ("ts", "metric", "service", "value", "labels"), "metrics")
    st = step_of(step)
    df = metrics.filter(pl.col("metric") == metric)
    df = df.with_columns(frames.attr("labels", k).alias(k) for k in by)
    rates = _series_rates(df, st, list(by))
    out = (
        rates.group_by(["ts", "service", *by])
        .agg(pl.col("rate").sum())
        .sort(["service", *by, "ts"])
    )
    return filter_window(out, "ts", window)


def histogram_quantiles(
    buckets: pl.DataFrame,
    *,
    by: list[str],
    quantiles: tuple[float, ...] = QUANTILES,
    le: str = "le",
    count: str = "rate",
) -> pl.DataFrame:
    """Prometheus ``histogram_quantile`` over cumulative bucket counts (or rates).

    ``buckets`` has the group columns ``by``, the upper bound ``le`` (float, ``inf`` for
    ``+Inf``) and the cumulative ``count``. Returns ``by`` + ``q`` + ``value``: linear
    interpolation inside the bucket holding rank ``q * total``; the lowest bucket starts
    at 0; a rank in the ``+Inf`` bucket gives the highest finite bound; groups with no
    observations or no ``+Inf`` bucket give null, as in Prometheus.
    """
    h = (
        buckets.group_by([*by, le])
        .agg(pl.col(count).sum())
        .sort([*by, le])
        .with_columns(pl.col(count).cum_max().over(by).alias("_c"))
    )
    totals = h.group_by(by).agg(
        pl.col("_c").filter(pl.col(le) == float("inf")).first().alias("_total")
    )
    h = h.with_columns(
        pl.col("_c").shift(1).over(by).fill_null(0.0).alias("_cprev"),
        pl.col(le).shift(1).over(by).alias("_lower"),
    ).join(totals, on=by, how="left", maintain_order="left")
    lower = pl.col("_lower").fill_null(pl.min_horizontal(pl.lit(0.0), pl.col(le)))
    value = (
        pl.when(pl.col(le) == float("inf"))
        .then(pl.col("_lower"))
        .otherwise(
            lower
            + (pl.col(le) - lower)
            * (pl.col("_rank") - pl.col("_cprev"))
            / (pl.col("_c") - pl.col("_cprev"))
        )
        .alias("value")
    )
    # per quantile, each group's lowest bucket holding the rank: ``h`` is in bound order
    # within each group, so the first such row in order (no cross join with the
    # quantiles and no sort of its rows: 300 lab services, 397k bucket rows, 0.65 CPU-s
    # before)
    hits = []
    for q in dict.fromkeys(quantiles):  # each once
        at = pl.lit(q, pl.Float64)
        rank = h.with_columns(q=at, _rank=at * pl.col("_total"))
        hits.append(
            rank.filter((pl.col("_total") > 0) & (pl.col("_c") >= pl.col("_rank")))
            .group_by(by, maintain_order=True)
            .first()
            .select(*by, "q", value)
        )
    got = pl.concat(hits)
    qs = pl.DataFrame({"q": list(quantiles)}, schema={"q": pl.Float64})
    everything = h.select(*by).unique().join(qs, how="cross")
    return everything.join(got, on=[*by, "q"], how="left").sort([*by, "q"])


def _from_precomputed(m: pl.DataFrame, st: timedelta) -> pl.DataFrame:
    every = truncate_every(st)
    g = (
        m.with_columns(
            pl.col("ts").dt.truncate(every),
            pl.when(pl.col("value").is_nan()).then(None).otherwise(pl.col("value")).alias("value"),
        )
        .group_by("ts", "service", "metric")
        .agg(pl.col("value").mean())
    )
    wide = g.pivot(on="metric", index=["ts", "service"], values="value")
    for name in RED_METRICS:
        if name not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(name))
    ratio = pl.coalesce(
        pl.col(RED_ERROR_RATIO),
        pl.when(pl.col(RED_REQUEST_RATE) > 0).then(
            pl.col(RED_ERROR_RATE) / pl.col(RED_REQUEST_RATE)
        ),
    )
    return wide.select(
        "ts",
        "service",
        pl.col(RED_REQUEST_RATE).alias("rate"),
        ratio.alias("error_ratio"),
        *[(pl.col(name) * 1000.0).alias(_QCOL[q]) for q, name in RED_LATENCY.items()],
    )


def red_from_metrics(
    metrics: pl.DataFrame,
    *,
    step: str | timedelta = "1m",
    window: Window | None = None,
    requests: str = REQUESTS_TOTAL,
    histogram: str = DURATION_HISTOGRAM,
) -> pl.DataFrame:
    """RED per service per step from a metrics frame (raw counters or ``red:*`` series).

    Pre-computed ``red:*`` series win when present (bucketed to ``step`` by mean).
    Otherwise ``requests`` (a counter with a ``code`` label) gives rate and error ratio
    (codes starting with 5), and ``histogram``'s ``_bucket`` series give p50/p95/p99.
    Returns an empty RED frame when neither is present.

    Example::

        >>> red_from_metrics(inc.metrics, step="1m", window=inc.window)
    """
    check_columns(metrics, ("ts", "metric", "service", "value", "labels"), "metrics")
    st = step_of(step)
    has_service = pl.col("service").is_not_null()
    pre = metrics.filter(pl.col("metric").is_in(list(RED_METRICS)) & has_service)
    if pre.height:
        out = _from_precomputed(pre, st)
    elif not (metrics["metric"] == requests).any():
        return _empty()
    else:
        # ordered by series once, and shared with the metric changes (changes.py)
        m = samples_by_series(metrics)
        req = _per_series(
            m.filter((pl.col("metric") == requests) & has_service),
            frames.attr("labels", "code").alias("code"),
        )
        if req.height == 0:
            return _empty()
        r = _series_rates(req, st, ["code"])
        rates = r.group_by("ts", "service").agg(
            pl.col("rate").sum().alias("rate"),
            pl.col("rate").filter(pl.col("code").str.starts_with("5")).sum().alias("_err"),
        )
        rates = rates.with_columns(
            pl.when(pl.col("rate") > 0).then(pl.col("_err") / pl.col("rate")).alias("error_ratio")
        ).drop("_err")
        b = _per_series(
            m.filter((pl.col("metric") == f"{histogram}_bucket") & has_service),
            frames.attr("labels", "le")
            .str.replace(r"^\+Inf$", "inf")
            .cast(pl.Float64, strict=False)
            .alias("le"),
        )
        out = rates
        if b.height:
            br = _series_rates(b.filter(pl.col("le").is_not_null()), st, ["le"])
            qv = histogram_quantiles(br, by=["ts", "service"])
            lat = qv.with_columns(
                (pl.col("value") * 1000.0),
                pl.col("q").replace_strict(_QCOL, return_dtype=pl.String).alias("_col"),
            ).pivot(on="_col", index=["ts", "service"], values="value")
            out = rates.join(lat, on=["ts", "service"], how="left")
        for c in _QCOL.values():
            if c not in out.columns:
                out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    out = out.select(RED_COLUMNS).cast(RED_SCHEMA).sort("service", "ts")  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
    return filter_window(out, "ts", window)


def red_from_spans(
    spans: pl.DataFrame, *, step: str | timedelta = "1m", window: Window | None = None
) -> pl.DataFrame:
    """RED per service per step from spans: the requests entering each service.

    A request is a span with no parent in the same service (see
    :func:`workbench.analysis._util.entry_spans`), counted in the step its ``start``
    falls in; ``rate`` is requests per second of the step, errors are ``status ==
    "error"``, quantiles interpolate linearly over ``duration_ms``.

    Example::

        >>> red_from_spans(inc.spans, step="1m")
    """
    check_columns(
        spans,
        ("trace_id", "span_id", "parent_span_id", "service", "start", "duration_ms", "status"),
        "spans",
    )
    st = step_of(step)
    secs = st.total_seconds()
    e = entry_spans(
        filter_window(spans, "start", window).select(
            "trace_id", "span_id", "parent_span_id", "service", "start", "duration_ms", "status"
        )
    ).filter(pl.col("service").is_not_null())
    out = (
        e.with_columns(pl.col("start").dt.truncate(truncate_every(st)).alias("ts"))
        .group_by("ts", "service")
        .agg(
            (pl.len() / secs).alias("rate"),
            (pl.col("status") == "error").mean().alias("error_ratio"),
            *[pl.col("duration_ms").quantile(q, "linear").alias(c) for q, c in _QCOL.items()],
        )
    )
    return out.select(RED_COLUMNS).cast(RED_SCHEMA).sort("service", "ts")  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)


def red(
    metrics: pl.DataFrame | None = None,
    spans: pl.DataFrame | None = None,
    *,
    step: str | timedelta = "1m",
    window: Window | None = None,
) -> pl.DataFrame:
    """RED per service: from metrics when they hold request counters or ``red:*``
    series, else from spans. Services present only in the spans (no metrics for them)
    are added from the spans.

    Span-derived rates count the traces that were kept: with head sampling they are a
    fraction of the real traffic (error ratios and latencies are not biased by it).

    Example::

        >>> r = red(inc.metrics, inc.spans, step="1m")
        >>> r.filter(pl.col("service") == "checkout").tail()
    """
    out = _empty()
    if metrics is not None and metrics.height:
        out = red_from_metrics(metrics, step=step, window=window)
    if spans is not None and spans.height:
        have = set(out["service"].unique().to_list())
        extra = red_from_spans(spans, step=step, window=window)
        if have:
            extra = extra.filter(~pl.col("service").is_in(list(have)))
        out = pl.concat([out, extra], how="vertical").sort("service", "ts")
    return out


def rate_over_window() -> pl.Expr:
    """Request rate of a service over a window: the mean of its steps' ``rate`` (req/s).
    The one definition of "request rate" every view uses."""
    return pl.col("rate").mean()


def error_ratio_over_window() -> pl.Expr:
    """Error ratio of a service over a window: failed over all requests, weighting each
    step by its request rate (steps without a ratio left out). The one definition of
    "error ratio" every view uses."""
    return (pl.col("rate") * pl.col("error_ratio")).sum() / pl.col("rate").filter(
        pl.col("error_ratio").is_not_null()
    ).sum()


def p95_over_window() -> pl.Expr:
    """p95 latency of a service over a window: the median of its steps' p95 (ms). The
    one definition of "p95" every view uses."""
    return pl.col("p95_ms").median()


def red_summary(red_frame: pl.DataFrame, *, window: Window, baseline: Window) -> pl.DataFrame:
    """One row per service comparing the incident window with the baseline.

    Columns: ``service``, ``rate_base``, ``rate_inc`` (mean req/s), ``error_ratio_base``,
    ``error_ratio_inc`` (request-weighted), ``p95_base_ms``, ``p95_inc_ms`` (median of
    the steps' p95), ``error_ratio_delta``, ``p95_ratio``; sorted by the error-ratio
    increase, then the latency ratio.

    Example::

        >>> red_summary(r, window=inc.window, baseline=inc.baseline).head(5)
    """
    check_columns(red_frame, RED_COLUMNS, "RED")

    def agg(w: Window, sfx: str) -> pl.DataFrame:
        return (
            filter_window(red_frame, "ts", w)
            .group_by("service")
            .agg(
                rate_over_window().alias(f"rate_{sfx}"),
                error_ratio_over_window().alias(f"error_ratio_{sfx}"),
                p95_over_window().alias(f"p95_{sfx}_ms"),
            )
        )

    b = agg(baseline, "base")
    i = agg(window, "inc")
    out = b.join(i, on="service", how="full", coalesce=True).with_columns(
        (pl.col("error_ratio_inc") - pl.col("error_ratio_base")).alias("error_ratio_delta"),
        (pl.col("p95_inc_ms") / pl.col("p95_base_ms")).alias("p95_ratio"),
    )
    return out.sort(
        ["error_ratio_delta", "p95_ratio", "service"],
        descending=[True, True, False],
        nulls_last=True,
    ).select(
        "service",
        "rate_base",
        "rate_inc",
        "error_ratio_base",
        "error_ratio_inc",
        "error_ratio_delta",
        "p95_base_ms",
        "p95_inc_ms",
        "p95_ratio",
    )
