"""The timeline as people read it: one table for the notebook, the explorer and the postmortem.

:attr:`workbench.Investigation.timeline` holds every row (events, onsets, recoveries,
log-pattern surges, notes). A person at 3 a.m. wants the few that matter, and the same
few wherever they look, so the table is made here, once:

1. :func:`condense`: rollout step events folded into the change record that spans them
   (their count in its evidence), rows ending long before the first onset left out,
   each row's evidence prefixed with the frame it comes from (``signal``).
2. :func:`pick`: at most ``max_rows`` rows (:data:`TIMELINE_ROWS`), chosen by what they
   say, not by where they fall: error/latency onsets, recoveries, rollbacks and notes
   first, then changes and alerts, then log-pattern surges, each group nearest the first
   onset first; shown earliest first. What is left out is counted, kind by kind.
3. :func:`timeline_table` does both and says so in one sentence (``note``).

The notebook (``inv.timeline_table``), the explorer's Timeline tab and the postmortem's
Timeline section all show :func:`timeline_table`'s rows.

Example::

    >>> t = timeline_table(inv.timeline.frame, inc)
    >>> t.note      # '20 of 44 timeline rows shown: 16 rollout step events folded ...'
    >>> t.shown     # ts, end, kind, service, title, source, evidence, signal
    >>> t.rows      # every row after condensing (the postmortem's editable timeline)
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from workbench.analysis.impact import ONSET_KINDS
from workbench.analysis.red import RED_METRICS, REQUESTS_TOTAL
from workbench.analysis.timeline import CHANGE_KINDS, KIND_LABEL, TIMELINE_SCHEMA
from workbench.display import format_duration, format_time, html_table

__all__ = [
    "KIND_LABEL",
    "SCHEMA",
    "TIMELINE_ROWS",
    "TimelineTable",
    "condense",
    "pick",
    "present",
    "timeline_table",
]

#: Columns of a presented timeline: the timeline's own plus ``signal`` (its frame).
SCHEMA = {**TIMELINE_SCHEMA, "signal": pl.String()}
WINDOW_KINDS = ("incident", "baseline")
#: The most rows the timeline table shows (the notebook, the explorer, the postmortem).
TIMELINE_ROWS = 30
#: Which rows a short table keeps first (lower first): what happened to the service,
#: then what changed around it, then what the logs say.
_TIER = {
    "error_spike": 0,
    "latency_spike": 0,
    "recovery": 0,
    "rollback": 0,
    "annotation": 0,
    "deploy": 1,
    "config": 1,
    "chaos": 1,
    "alert": 1,
}
_PLURAL = {
    "log_surge": "log-pattern surges",
    "alert": "alerts",
    "deploy": "deploys",
    "error_spike": "error onsets",
    "latency_spike": "latency onsets",
    "recovery": "recoveries",
    "annotation": "notes",
}


def _collapse_rollouts(ev: pl.DataFrame) -> pl.DataFrame:
    """Fold point events of a change (rollout steps) into the change record that spans
    them (same service, a deploy/rollback/config record with an ``end``), keeping the
    count in the record's evidence: a postmortem wants one row per change. Adds
    ``_folded`` (how many rows each row stands for besides itself) and ``_fold`` (what
    its evidence says about them)."""
    ev = ev.with_row_index("_row")
    rec = ev.filter(pl.col("kind").is_in(list(CHANGE_KINDS)) & pl.col("end").is_not_null())
    points = ev.filter(
        pl.col("kind").is_in(["deploy", "rollback"]) & pl.col("end").is_null()
    ).select("_row", "service", "ts", pl.col("source").alias("_psrc"))
    pairs = points.join(
        rec.select(pl.col("_row").alias("_rec"), "service", pl.col("ts").alias("_rs"), "end"),
        on="service",
        how="inner",
    ).filter((pl.col("ts") >= pl.col("_rs")) & (pl.col("ts") <= pl.col("end")))
    pairs = pairs.sort("_rs", descending=True).unique("_row", keep="first")
    folded = pairs.group_by("_rec").agg(
        pl.len().alias("_folded"), pl.col("_psrc").unique().sort().str.join(", ").alias("_fsrc")
    )
    return (
        ev.filter(~pl.col("_row").is_in(pairs["_row"].to_list()))
        .join(folded, left_on="_row", right_on="_rec", how="left")
        .with_columns(
            pl.col("_folded").fill_null(0),
            pl.when(pl.col("_folded") > 0)
            .then(
                pl.lit(" (+")
                + pl.col("_folded").cast(pl.String)
                + pl.lit(" step events from ")
                + pl.col("_fsrc")
                + pl.lit(" folded into this row)")
            )
            .otherwise(pl.lit(""))
            .alias("_fold"),
        )
        .drop("_row", "_fsrc")
    )


def condense(
    timeline: pl.DataFrame,
    incident: Any,
    *,
    lookback: timedelta = timedelta(minutes=30),
) -> tuple[pl.DataFrame, str]:
    """The postmortem's view of the investigation's one timeline
    (:attr:`workbench.Investigation.timeline`) and a sentence saying how it was condensed.

    No row is computed here: the rows are the timeline's, rollout step events folded into
    the change record that spans them (their count in its evidence), rows ending more than
    ``lookback`` before the first onset (or the window start) left out, and each row's
    evidence prefixed with the frame it comes from (``signal``: ``events``, ``metrics``,
    ``spans``, ``logs``, ``annotations`` or ``workbench``).

    >>> rows, note = condense(inv.timeline.frame, inc)
    """
    tl = timeline.select(list(TIMELINE_SCHEMA)).cast(TIMELINE_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
    metric_services = set(
        incident.metrics.filter(pl.col("metric").is_in([REQUESTS_TOTAL, *RED_METRICS]))["service"]
        .unique()
        .to_list()
    )
    from_metrics = pl.col("service").is_in(list(metric_services))
    kind, src = pl.col("kind"), pl.col("source")
    signal = (
        pl.when(kind.is_in(list(WINDOW_KINDS)))
        .then(pl.lit("workbench"))
        .when(kind == "annotation")
        .then(pl.lit("annotations"))
        .when(kind == "log_surge")
        .then(pl.lit("logs"))
        .when(src == "red")
        .then(pl.when(from_metrics).then(pl.lit("metrics")).otherwise(pl.lit("spans")))
        .otherwise(pl.lit("events"))
    )
    red_source = (
        pl.when(from_metrics).then(pl.lit(f"red({REQUESTS_TOTAL})")).otherwise(pl.lit("red(spans)"))
    )
    tl = tl.with_columns(signal.alias("signal")).with_columns(
        pl.when(pl.col("signal").is_in(["metrics", "spans"]))
        .then(red_source)
        .otherwise(src)
        .alias("source")
    )
    cite = (
        pl.when(pl.col("signal") == "events")
        .then(
            pl.lit("events/")
            + pl.col("source").fill_null("?")
            + pl.lit(" ")
            + pl.col("ts").dt.strftime("%H:%M:%S")
            + pl.col("_fold")
        )
        .when(pl.col("signal").is_in(["metrics", "spans"]))
        .then(pl.col("signal") + pl.lit("/") + pl.col("source").fill_null("?"))
        .when(pl.col("signal") == "logs")
        .then(pl.lit("logs/templates"))
        .otherwise(pl.lit(None))
    )
    ev = pl.col("evidence").fill_null("")
    folded = _collapse_rollouts(tl).with_columns(
        pl.when(cite.is_null())
        .then(ev)
        .when(ev == "")
        .then(cite)
        .otherwise(cite + pl.lit(": ") + ev)
        .alias("evidence")
    )
    start = incident.window.start
    cutoff = min(start, _first_onset(tl, start)) - lookback
    keep = pl.col("kind").is_in(list(WINDOW_KINDS)) | (
        pl.col("end").fill_null(pl.col("ts")) >= cutoff
    )
    kept = folded.filter(keep)
    n_folded = int(kept["_folded"].sum())  # rows kept + folded + dropped = the timeline's
    dropped = folded.height - kept.height + int(folded.filter(~keep)["_folded"].sum())
    order = {"baseline": 0, "incident": 1}
    out = (
        kept.with_columns(
            pl.col("kind").replace_strict(order, default=2, return_dtype=pl.Int8).alias("_o")
        )
        .sort("ts", "_o", "kind", "service", nulls_last=True)
        .drop("_o", "_folded", "_fold")
        .select(list(SCHEMA))
    )
    said = []
    if n_folded:
        said.append(
            f"{n_folded} rollout step events folded into the change they belong to "
            "(counted in its evidence)"
        )
    if dropped:
        said.append(
            f"{dropped} rows ending before {cutoff:%H:%M} UTC ({format_duration(lookback)} "
            "before the first onset or the window) left out"
        )
    return out, "; ".join(said)


def _first_onset(rows: pl.DataFrame, fallback: datetime) -> datetime:
    onsets = rows.filter(pl.col("kind").is_in(list(ONSET_KINDS)))
    first = onsets["ts"].min() if onsets.height else None
    return first if isinstance(first, datetime) else fallback


def pick(
    rows: pl.DataFrame, *, max_rows: int = TIMELINE_ROWS, anchor: datetime | None = None
) -> tuple[pl.DataFrame, dict[str, int]]:
    """At most ``max_rows`` of ``rows`` (the ``incident``/``baseline`` window rows do not
    count and are not returned), earliest first, and how many of each kind were left out.

    Kept first: error/latency onsets, recoveries, rollbacks and notes; then deploys,
    config changes, chaos experiments and alerts; then the rest (log-pattern surges);
    within each group the rows nearest ``anchor`` (default: the first onset, else the
    first row) first.

    >>> shown, left_out = pick(rows, max_rows=30)   # left_out: {"log_surge": 12}
    """
    items = rows.filter(~pl.col("kind").is_in(list(WINDOW_KINDS)))
    if items.height <= max_rows:
        return items, {}
    first_ts = items["ts"].min()
    fallback = first_ts if isinstance(first_ts, datetime) else datetime.now().astimezone()
    at = anchor or _first_onset(items, fallback)
    ranked = items.with_row_index("_i").with_columns(
        pl.col("kind").replace_strict(_TIER, default=2, return_dtype=pl.Int8).alias("_tier"),
        (pl.col("ts") - pl.lit(at)).abs().alias("_dist"),
    )
    order = ranked.sort("_tier", "_dist", "_i")
    kept = order.head(max_rows).sort("_i").drop("_i", "_tier", "_dist")
    left = order.slice(max_rows).group_by("kind").len()
    return kept, {str(k): int(n) for k, n in left.iter_rows()}


@dataclass(frozen=True)
class TimelineTable:
    """The timeline as people read it: ``shown`` (at most :data:`TIMELINE_ROWS` rows,
    earliest first), ``rows`` (every row after :func:`condense`, window rows included),
    ``note`` (one sentence: what was folded, left out and why), ``total`` (rows of the
    timeline it was made from).

    >>> t = inv.timeline_table
    >>> t.frame                      # the rows shown
    """

    shown: pl.DataFrame
    rows: pl.DataFrame
    note: str
    total: int

    @property
    def frame(self) -> pl.DataFrame:
        """The rows shown (ts, end, kind, service, title, source, evidence, signal)."""
        return self.shown

    def view(self, *, evidence: bool = False) -> pl.DataFrame:
        """The shown rows with readable columns: ``time``, ``what`` (the kind in words),
        ``service``, ``event`` (and ``evidence``)."""
        cols = [
            pl.col("ts").alias("time"),
            pl.col("kind").replace_strict(KIND_LABEL, default=pl.col("kind")).alias("what"),
            "service",
            pl.col("title").alias("event"),
        ]
        if evidence:
            cols.append("evidence")
        return self.shown.select(cols)

    def _repr_html_(self) -> str:
        nowrap = "<span style='white-space:nowrap'>{}</span>"
        cells = {
            "time": lambda v, r: nowrap.format(html.escape(format_time(v, with_date=False))),
            "what": lambda v, r: nowrap.format(html.escape(str(v))),
        }
        table = html_table(
            self.view(),
            max_rows=max(self.shown.height, 1),
            cell_html=cells,
            headers={"time": "time (UTC)"},
        )
        return f"<p style='margin:2px 0'><small>{html.escape(self.note)}</small></p>{table}"

    def __len__(self) -> int:
        return self.shown.height


def present(
    rows: pl.DataFrame, *, said: str = "", total: int | None = None, max_rows: int = TIMELINE_ROWS
) -> TimelineTable:
    """The table of condensed ``rows`` (:func:`condense`): :func:`pick` and the note.
    ``said`` is what condensing did (:func:`condense`'s note), ``total`` the rows of the
    timeline it came from, window rows aside (default: as many as ``rows`` holds).

    >>> t = present(pm.timeline, said=pm.timeline_note, total=pm.timeline_total)
    """
    shown, left = pick(rows, max_rows=max_rows)
    items = rows.filter(~pl.col("kind").is_in(list(WINDOW_KINDS))).height
    total = items if total is None else total
    parts = [said] if said else []
    if left:
        n = sum(left.values())
        kinds = ", ".join(
            f"{c} {_PLURAL.get(k, k.replace('_', ' ') + ' rows')}" for k, c in sorted(left.items())
        )
        parts.append(
            f"{n} more past the table's {max_rows} rows left out ({kinds}: the farthest from "
            "the first onset; `inv.timeline.frame` has them all)"
        )
    head = f"{shown.height} of {total} timeline rows shown"
    note = head + (": " + "; ".join(parts) if parts else "") + "."
    return TimelineTable(shown=shown, rows=rows, note=note, total=total)


def timeline_table(
    timeline: pl.DataFrame,
    incident: Any,
    *,
    lookback: timedelta = timedelta(minutes=30),
    max_rows: int = TIMELINE_ROWS,
) -> TimelineTable:
    """The one timeline table of the investigation's ``timeline``: :func:`condense`,
    then :func:`present` (:func:`pick` and a note saying how many rows are shown of how
    many and what became of the others).

    >>> t = timeline_table(inv.timeline.frame, inc)
    >>> print(t.note)
    """
    rows, said = condense(timeline, incident, lookback=lookback)
    total = timeline.filter(~pl.col("kind").is_in(list(WINDOW_KINDS))).height
    return present(rows, said=said, total=total, max_rows=max_rows)
