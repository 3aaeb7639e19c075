"""The most frequent error log messages, grouped after masking their variable parts.

Numbers, ids, hex strings, UUIDs, IP addresses, URLs, paths and durations in the first
line of each message become ``<*>`` (the same masks the template miner uses, see
:func:`workbench.analysis.templates.mask_expr`), so "timeout after 5012 ms calling
10.0.3.7:5432" and "timeout after 498 ms calling 10.0.9.1:5432" count as one message.
This is the quick view; :mod:`workbench.analysis.templates` mines full templates.

Example::

    >>> from workbench.analysis.logs import top_error_messages
    >>> top_error_messages(inc.logs, window=inc.window, baseline=inc.baseline).head(10)
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from workbench import frames
from workbench.analysis._util import check_columns, filter_window
from workbench.analysis.templates import mask_expr
from workbench.timewindow import Window

__all__ = ["TOP_ERRORS_SCHEMA", "mask_message", "top_error_messages"]

TOP_ERRORS_SCHEMA = {
    "service": pl.String(),
    "pattern": pl.String(),
    "count": pl.Int64(),
    "baseline_count": pl.Int64(),
    "rate_ratio": pl.Float64(),
    "new": pl.Boolean(),
    "first_seen": frames.TS,
    "last_seen": frames.TS,
    "example": pl.String(),
}


def mask_message(column: str | pl.Expr = "message") -> pl.Expr:
    """The first line of a message with its variable parts masked as ``<*>``.

    >>> logs.with_columns(pattern=mask_message())
    """
    e = pl.col(column) if isinstance(column, str) else column
    return mask_expr(e.str.split("\n").list.first())


def top_error_messages(
    logs: pl.DataFrame,
    *,
    window: Window | None = None,
    baseline: Window | None = None,
    levels: Sequence[str] = ("error", "fatal"),
    by_service: bool = True,
    n: int = 20,
) -> pl.DataFrame:
    """The ``n`` most frequent masked error messages in ``window`` (all rows if None).

    Columns: ``service`` (null when ``by_service=False``), ``pattern``, ``count`` (in the
    window), ``baseline_count`` (in ``baseline``, 0 without one), ``rate_ratio`` (per-second
    rate in the window over the baseline's; null when the baseline had none), ``new``
    (seen in the window but not in the baseline; false without a baseline),
    ``first_seen``, ``last_seen`` (in the window) and ``example`` (one raw message).
    Sorted by count, then new patterns first.
    """
    check_columns(logs, ("ts", "service", "level", "message"), "logs")
    errs = logs.filter(pl.col("level").is_in(list(levels)))
    # each distinct message masked once (error lines repeat: 13k lines, 2k messages in
    # the demo), joined back
    patterns = errs.select(pl.col("message").unique()).with_columns(mask_message().alias("pattern"))
    errs = errs.join(
        patterns, on="message", how="left", maintain_order="left", nulls_equal=True
    ).with_columns(
        (pl.col("service") if by_service else pl.lit(None, dtype=pl.String)).alias("_svc"),
    )
    inc = filter_window(errs, "ts", window)
    top = (
        inc.group_by("_svc", "pattern")
        .agg(
            pl.len().cast(pl.Int64).alias("count"),
            pl.col("ts").min().alias("first_seen"),
            pl.col("ts").max().alias("last_seen"),
            pl.col("message").sort_by("ts").first().alias("example"),
        )
        .sort(["count", "_svc", "pattern"], descending=[True, False, False], nulls_last=True)
        .head(n)
    )
    if baseline is not None:
        base = (
            filter_window(errs, "ts", baseline)
            .group_by("_svc", "pattern")
            .agg(pl.len().cast(pl.Int64).alias("baseline_count"))
        )
        top = top.join(base, on=["_svc", "pattern"], how="left", nulls_equal=True)
        top = top.with_columns(pl.col("baseline_count").fill_null(0))
        inc_s = (window.duration if window else baseline.duration).total_seconds()
        base_s = baseline.duration.total_seconds()
        top = top.with_columns(
            pl.when(pl.col("baseline_count") > 0)
            .then((pl.col("count") / inc_s) / (pl.col("baseline_count") / base_s))
            .alias("rate_ratio"),
            (pl.col("baseline_count") == 0).alias("new"),
        )
    else:
        top = top.with_columns(
            pl.lit(0, dtype=pl.Int64).alias("baseline_count"),
            pl.lit(None, dtype=pl.Float64).alias("rate_ratio"),
            pl.lit(False).alias("new"),
        )
    return (
        top.rename({"_svc": "service"})
        .select(list(TOP_ERRORS_SCHEMA))
        .cast(TOP_ERRORS_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
        .sort(
            ["count", "new", "service", "pattern"],
            descending=[True, True, False, False],
            nulls_last=True,
        )
    )
