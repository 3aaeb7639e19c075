"""One timeline: changes, alerts and error/latency onsets, with the incident window.

Columns: ``ts, end, kind, service, title, source, evidence``.

* events (``deploy``, ``rollback``, ``config``, ``chaos``, ``alert``, ``annotation``) come
  from the events frame as they are; ``evidence`` summarises their attributes;
* ``error_spike`` / ``latency_spike`` rows mark the onset per service: the first step after
  the baseline where the value rises clearly above the baseline (median + ``k`` scaled
  MADs, and at least ``min_rise`` above the median) and stays there for ``sustain``
  steps; ``end`` is the last step of that episode;
* a ``recovery`` row per onset whose episode ended inside the window: when the value went
  back under the onset threshold (the onset row's ``end``);
* one ``incident`` row spans the incident window (and a ``baseline`` row the baseline).

Example::

    >>> from workbench.analysis.red import red
    >>> from workbench.analysis.timeline import build_timeline, onsets
    >>> r = red(inc.metrics, inc.spans)
    >>> onsets(r, "error_ratio", baseline=inc.baseline)          # service, onset, ...
    >>> build_timeline(inc.events, r, window=inc.window, baseline=inc.baseline)
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from workbench import frames
from workbench.analysis._util import check_columns, filter_window
from workbench.display import format_change, format_percent, format_value
from workbench.timewindow import Window

__all__ = [
    "CHANGE_KINDS",
    "KEY_ATTRIBUTES",
    "KIND_LABEL",
    "ONSET_SCHEMA",
    "TIMELINE_COLUMNS",
    "TIMELINE_SCHEMA",
    "annotations_as_timeline",
    "build_timeline",
    "onsets",
]

TIMELINE_COLUMNS = ("ts", "end", "kind", "service", "title", "source", "evidence")
TIMELINE_SCHEMA = {
    "ts": frames.TS,
    "end": frames.TS,
    "kind": pl.String(),
    "service": pl.String(),
    "title": pl.String(),
    "source": pl.String(),
    "evidence": pl.String(),
}
ONSET_SCHEMA = {
    "service": pl.String(),
    "onset": frames.TS,
    "end": frames.TS,
    "baseline_median": pl.Float64(),
    "baseline_mad": pl.Float64(),
    "threshold": pl.Float64(),
    "peak": pl.Float64(),
    "peak_ts": frames.TS,
}
#: the kinds of change event: what someone did to a service (deploy, rollback, config, chaos)
CHANGE_KINDS = ("deploy", "rollback", "config", "chaos")
#: What each kind of timeline row is called where people read it (the timeline table
#: of the notebook, the explorer and the postmortem, and the timeline chart's lanes).
KIND_LABEL = {
    "deploy": "deploy",
    "rollback": "rollback",
    "config": "config change",
    "chaos": "chaos experiment",
    "alert": "alert fired",
    "error_spike": "errors rise",
    "latency_spike": "latency rises",
    "recovery": "recovered",
    "log_surge": "log pattern",
    "annotation": "note",
    "incident": "incident",
}
_MAD_K = 1.4826  # scales the MAD to a standard deviation for normal data


def onsets(
    red_frame: pl.DataFrame,
    column: str = "error_ratio",
    *,
    baseline: Window,
    k: float = 4.0,
    min_rise: float | None = None,
    sustain: int = 3,
) -> pl.DataFrame:
    """Per service, when ``column`` of a RED-like frame (``ts``, ``service``, ``column``)
    first rose clearly above its baseline after the baseline window ended.

    The threshold is ``median + max(k * 1.4826 * MAD, min_rise)`` of the baseline
    window's values; the onset is the first of ``sustain`` consecutive steps above it
    (steps with no value break a run). ``min_rise`` defaults to 0.02 for ratios (two
    percentage points) and to half the baseline median for other columns, so a flat,
    noiseless baseline does not turn every wobble into a spike.

    Returns one row per service with an onset, earliest first: ``service, onset, end``
    (end of the last step of that episode; the step is the smallest spacing of ``ts``),
    ``baseline_median``, ``baseline_mad``, ``threshold``,
    ``peak``, ``peak_ts``.
    """
    check_columns(red_frame, ("ts", "service", column), "RED")
    if sustain < 1:
        raise ValueError("sustain must be at least 1")
    df = red_frame.select("ts", "service", pl.col(column).cast(pl.Float64).alias("v"))
    spacing = df["ts"].unique().sort().diff().drop_nulls()
    step = spacing.filter(spacing > timedelta(0)).min() if spacing.len() else None
    step = step if isinstance(step, timedelta) else timedelta(0)
    base = (
        filter_window(df, "ts", baseline)
        .drop_nulls("v")
        .group_by("service")
        .agg(pl.col("v").median().alias("med"), pl.col("v").alias("_vals"))
        .with_columns(
            (
                pl.col("_vals")
                .list.eval((pl.element() - pl.element().median()).abs())
                .list.median()
            ).alias("mad")
        )
        .drop("_vals")
    )
    if min_rise is None:
        floor = pl.lit(0.02) if "ratio" in column else (pl.col("med").abs() * 0.5)
    else:
        floor = pl.lit(float(min_rise))
    base = base.with_columns(
        (pl.col("med") + pl.max_horizontal(pl.col("mad") * (_MAD_K * k), floor)).alias("thr")
    )
    after = (
        df.filter(pl.col("ts") >= baseline.end)
        .join(base, on="service", how="inner")
        .sort("service", "ts")
        .with_columns((pl.col("v") > pl.col("thr")).fill_null(False).alias("_above"))
        .with_columns(
            (pl.col("_above") != pl.col("_above").shift(1).over("service"))
            .fill_null(True)
            .cum_sum()
            .over("service")
            .alias("_run")
        )
    )
    runs = (
        after.filter(pl.col("_above"))
        .group_by("service", "_run")
        .agg(
            pl.col("ts").min().alias("onset"),
            (pl.col("ts").max() + step).alias("end"),
            pl.len().alias("_n"),
            pl.col("v").max().alias("peak"),
            pl.col("ts").sort_by("v", descending=True).first().alias("peak_ts"),
            pl.col("med").first().alias("baseline_median"),
            pl.col("mad").first().alias("baseline_mad"),
            pl.col("thr").first().alias("threshold"),
        )
        .filter(pl.col("_n") >= sustain)
        .sort("service", "onset")
        .group_by("service", maintain_order=True)
        .first()
    )
    return (
        runs.select(list(ONSET_SCHEMA))
        .cast(ONSET_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
        .sort("onset", "service")
    )


#: attributes that identify an event, cited first in its evidence (then the others)
KEY_ATTRIBUTES = (
    "labels.alertname",
    "fingerprint",
    "labels.severity",
    "target_revision",
    "revision",
    "history_id",
    "experiment",
)


def _evidence_of_attributes() -> pl.Expr:
    rank = {k: i for i, k in enumerate(KEY_ATTRIBUTES)}
    pairs = pl.col("attributes").list.eval(
        (pl.element().struct.field("key") + "=" + pl.element().struct.field("value")).sort_by(
            pl.element()
            .struct.field("key")
            .replace_strict(rank, default=len(rank), return_dtype=pl.Int32),
            maintain_order=True,
        )
    )
    return pairs.list.head(6).list.join("; ").fill_null("")


def build_timeline(
    events: pl.DataFrame | None = None,
    red_frame: pl.DataFrame | None = None,
    *,
    window: Window,
    baseline: Window | None = None,
    k: float = 4.0,
    sustain: int = 3,
    latency: bool = True,
) -> pl.DataFrame:
    """Line up events, onsets and recoveries with the incident window, sorted by time.

    ``events`` is an events frame (any kinds); ``red_frame`` a RED frame (see
    :mod:`workbench.analysis.red`) from which error-ratio (and, with ``latency``, p95)
    onsets are found against ``baseline`` (default: the window before ``window``); each
    onset whose episode ends before the window does gets a ``recovery`` row at that end.
    Events are kept when they overlap the baseline + incident windows; their evidence
    names the identifying attributes first (:data:`KEY_ATTRIBUTES`).

    Example::

        >>> tl = build_timeline(inc.events, r, window=inc.window, baseline=inc.baseline)
        >>> tl.filter(pl.col("ts") < inc.window.start)     # what happened just before
    """
    baseline = baseline or window.baseline()
    span = baseline.union(window)
    parts: list[pl.DataFrame] = [
        pl.DataFrame(
            {
                "ts": [window.start, baseline.start],
                "end": [window.end, baseline.end],
                "kind": ["incident", "baseline"],
                "service": [None, None],
                "title": ["incident window", "baseline window"],
                "source": ["workbench", "workbench"],
                "evidence": [str(window), str(baseline)],
            },
            schema=TIMELINE_SCHEMA,
        )
    ]
    if events is not None and events.height:
        check_columns(events, ("ts", "end", "kind", "service", "title", "source"), "events")
        ev = events.filter(
            (pl.col("ts") < span.end) & (pl.col("end").fill_null(pl.col("ts")) >= span.start)
        )
        evidence = (_evidence_of_attributes() if "attributes" in ev.columns else pl.lit("")).alias(
            "evidence"
        )
        parts.append(
            ev.select("ts", "end", "kind", "service", "title", "source", evidence).cast(
                TIMELINE_SCHEMA  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
            )
        )
    if red_frame is not None and red_frame.height:
        specs = [("error_ratio", "error_spike", "errors")]
        if latency:
            specs.append(("p95_ms", "latency_spike", "p95 latency"))
        base_span = f"{baseline.start:%H:%M}–{baseline.end:%H:%M} UTC"
        for column, kind, label in specs:
            on = onsets(red_frame, column, baseline=baseline, k=k, sustain=sustain)
            if on.height == 0:
                continue
            fmt = _fmt_ratio if column == "error_ratio" else _fmt_ms
            # the baseline as every view states it (the RED summary's quantity over the
            # baseline window), not the onset rule's median of steps, which the findings
            # showed beside it as a second baseline (0.7% against 0.9%)
            base_of = _baseline_values(red_frame, column, baseline, on["service"])
            rows = [
                {
                    "ts": r["onset"],
                    "end": r["end"],
                    "kind": kind,
                    "service": r["service"],
                    # the peak is one step's value, not the window's: say so
                    "title": f"{label} rise on {r['service']}: "
                    + format_change(
                        f"baseline {fmt(base_of.get(r['service']))}",
                        f"peak of one step {fmt(r['peak'])} at {r['peak_ts']:%H:%M}",
                    ),
                    "source": "red",
                    "evidence": (
                        f"baseline {base_span} {fmt(base_of.get(r['service']))}; "
                        f"threshold {fmt(r['threshold'])} (median of its steps "
                        f"{fmt(r['baseline_median'])} + {k:g} scaled MADs of "
                        f"{fmt(r['baseline_mad'])}); above it {r['onset']:%H:%M:%S}–"
                        f"{r['end']:%H:%M:%S} UTC, peak {fmt(r['peak'])} at {r['peak_ts']:%H:%M:%S}"
                    ),
                }
                for r in on.iter_rows(named=True)
            ]
            # when it went back under the threshold: computed once, here, for every view
            rows += [
                {
                    "ts": r["end"],
                    "end": None,
                    "kind": "recovery",
                    "service": r["service"],
                    "title": f"{label} back to normal on {r['service']}: under the onset "
                    f"threshold {fmt(r['threshold'])} from {r['end']:%H:%M}",
                    "source": "red",
                    "evidence": (
                        f"above {fmt(r['threshold'])} (median of the baseline's steps "
                        f"{fmt(r['baseline_median'])} + {k:g} scaled MADs, or the minimum rise) "
                        f"from {r['onset']:%H:%M:%S}; back under it from {r['end']:%H:%M:%S} "
                        "UTC (end of the onset episode)"
                    ),
                }
                for r in on.iter_rows(named=True)
                if r["end"] < window.end
            ]
            parts.append(pl.DataFrame(rows, schema=TIMELINE_SCHEMA))
    order = {"baseline": 0, "incident": 1}
    return (
        pl.concat(parts, how="vertical")
        .with_columns(
            pl.col("kind").replace_strict(order, default=2, return_dtype=pl.Int8).alias("_o")
        )
        .sort("ts", "_o", "kind", "service", nulls_last=True)
        .drop("_o")
    )


def _baseline_values(
    red_frame: pl.DataFrame, column: str, baseline: Window, services: pl.Series
) -> dict[str, float | None]:
    """Per service, ``column``'s value over the baseline window by the one definition of
    that quantity (:func:`workbench.analysis.red.error_ratio_over_window`,
    :func:`~workbench.analysis.red.p95_over_window`): what the RED summary shows as the
    baseline."""
    from workbench.analysis.red import error_ratio_over_window, p95_over_window

    if column == "error_ratio" and "rate" in red_frame.columns:
        expr = error_ratio_over_window()
    elif column == "p95_ms":
        expr = p95_over_window()
    else:
        expr = pl.col(column).median()
    got = (
        filter_window(red_frame, "ts", baseline)
        .filter(pl.col("service").is_in(services.implode()))
        .group_by("service")
        .agg(expr.alias("v"))
    )
    return dict(zip(got["service"].to_list(), got["v"].to_list(), strict=True))


def _fmt_ratio(v: float | None) -> str:
    return "n/a" if v is None else format_percent(v)


def _fmt_ms(v: float | None) -> str:
    """A p95 as the tables write it (``496 ms``, ``3.73 ms``)."""
    return "n/a" if v is None else format_value(v, "p95_ms")


def annotations_as_timeline(notes: pl.DataFrame) -> pl.DataFrame:
    """The annotation log (:meth:`workbench.annotations.AnnotationLog.to_frame`, with
    ``seq`` as the row order) as timeline rows of kind ``annotation``: at the moment each
    note is about, citing its place in the log and its hash.

    >>> annotations_as_timeline(inc.annotations.to_frame())
    """
    n = notes.with_row_index("_seq", offset=1)
    by = (
        pl.when(pl.col("author").is_not_null())
        .then(", by " + pl.col("author"))
        .otherwise(pl.lit(""))
    )
    ref = pl.when(pl.col("ref").is_not_null()).then(", ref " + pl.col("ref")).otherwise(pl.lit(""))
    return n.select(
        pl.col("at").alias("ts"),
        pl.lit(None, frames.TS).alias("end"),
        pl.lit("annotation").alias("kind"),
        pl.lit(None, pl.String).alias("service"),
        pl.format("[{}] {}", pl.col("kind"), pl.col("text")).alias("title"),
        pl.col("author").fill_null("annotation log").alias("source"),
        pl.format(
            "annotations #{} ({}{}{}), hash {}",
            pl.col("_seq"),
            pl.col("kind"),
            by,
            ref,
            pl.col("hash").str.slice(0, 12),
        ).alias("evidence"),
    ).cast(TIMELINE_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
