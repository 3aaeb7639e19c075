"""The Nezha layout (Train-Ticket, Online Boutique): cases as an on-call engineer meets them.

Layout: ``cases.csv``, ``rca_data/<day>/{log,trace,metric}/``, optionally
``construct_data/<day>/{log,trace}/`` (a fault-free reference minute). See the data
sets' SOURCE.md.

**Alert time, not fault time.** A user never knows the injection time; an alert fires
some time after the fault starts. The case's alert is the injection time plus a
detection delay (:data:`DETECTION_DELAY`, an option); the incident window is what an
engineer opening the notebook shortly after the alert looks at: from
:data:`LOOK_BACK` before the alert to :data:`LOOK_AHEAD` after it. The product finds
the onset inside it.

**Baseline: the data before the incident on the same day.** The 20 minutes before the
window, for every signal. Logs and traces exist only as minute files: every minute file
of the day in the baseline or the window is read; when the data set has a fault-free
reference minute of the same day (``construct_data``), it is placed at the end of the
baseline instead (the known-normal reference Nezha itself compares with), shifted in time
and said so in the case's notes.

**Missing data is reported, not skipped** (``Case.problems``): absent minute files,
metric files without a time or service column, rows whose ``TimeStamp`` disagrees with
their ``Time`` text (repaired from ``Time`` when it parses), values that are not numbers,
service names that differ only in case (one name kept: the lower-case one, as pod names
are). Services are pod names without their last two ``-`` parts.

**Per-call latency tables** (``source_50.csv``, ``destination_50.csv`` of Online
Boutique) are read as the callee's ``CallLatencyP50(s)`` series, labelled with the
``caller`` and the ``reporter`` (:mod:`workbench.evaluation.nezha_edges`).

Example::

    >>> from workbench.evaluation.nezha import nezha_cases
    >>> case = next(nezha_cases("../shared/data/nezha-onlineboutique"))
    >>> case.problems[:2]
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import polars as pl

from workbench import frames
from workbench.evaluation import nezha_edges as ne
from workbench.evaluation.alerting import DETECTION_DELAY, LOOK_AHEAD
from workbench.evaluation.cases import Case
from workbench.evaluation.csvread import read_csv
from workbench.timewindow import Window

__all__ = ["DETECTION_DELAY", "LOOK_AHEAD", "LOOK_BACK", "nezha_cases", "one_name_per_service"]

#: the incident window starts this long before the alert and ends :data:`LOOK_AHEAD` after
#: it (the engineer opens the notebook); the alert is the injection plus
#: :data:`DETECTION_DELAY` (both shared with the lab, :mod:`workbench.evaluation.alerting`)
LOOK_BACK = timedelta(minutes=3)
#: the baseline: this long before the window, the same day
BASELINE = timedelta(minutes=20)
#: a ``TimeStamp`` further than this from its row's ``Time`` text is wrong
_CLOCK_SLACK_S = 120


def _nezha_service(col: str = "PodName") -> pl.Expr:
    return pl.col(col).str.replace(r"-[^-]+-[^-]+$", "")


def _nezha_logs(files: list[Path], notes: list[str] | None = None) -> pl.DataFrame:
    parts = [read_csv(f, notes=notes) for f in files if f.exists()]
    if not parts:
        return frames.empty("logs")
    d = pl.concat(parts, how="diagonal_relaxed")
    line = pl.col("Log").str.json_path_match("$.log").str.strip_chars_end()
    d = d.with_columns(_line=line).with_columns(
        _lvl=pl.col("_line").str.extract(r"^\S+\s+([A-Z]+)\s", 1).str.to_lowercase(),
        _msg=pl.col("_line").str.replace(r"^\S+\s+[A-Z]+\s+", ""),
    )
    level = (
        pl.when(pl.col("_lvl") == "warning")
        .then(pl.lit("warn"))
        .when(pl.col("_lvl").is_in(list(frames.LEVELS)))
        .then(pl.col("_lvl"))
        .otherwise(pl.lit("unknown"))
    )
    # a few rows carry a corrupt (negative) TimeUnixNano; their Timestamp text is intact
    nano = pl.col("TimeUnixNano").cast(pl.Int64, strict=False)
    text = (
        pl.col("Timestamp")
        .str.strip_suffix("Z")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="ns", strict=False)
        .dt.replace_time_zone("UTC")
    )
    ts = pl.when(nano > 0).then(pl.from_epoch(nano, "ns").dt.replace_time_zone("UTC"))
    out = d.select(
        ts=pl.coalesce(ts, text),
        service=_nezha_service(),
        level=level,
        message=pl.col("_msg").fill_null(pl.col("Log")),
        trace_id=pl.col("TraceID"),
        span_id=pl.col("SpanID"),
        attributes=pl.lit([], dtype=frames.KV),
    )
    return frames.validate(out, "logs", source="nezha logs")


def _nezha_spans(files: list[Path], notes: list[str] | None = None) -> pl.DataFrame:
    parts = [read_csv(f, notes=notes) for f in files if f.exists()]
    if not parts:
        return frames.empty("spans")
    d = pl.concat(parts, how="diagonal_relaxed")
    start = pl.from_epoch(pl.col("StartTimeUnixNano").cast(pl.Int64), "ns").dt.replace_time_zone(
        "UTC"
    )
    end = pl.from_epoch(pl.col("EndTimeUnixNano").cast(pl.Int64), "ns").dt.replace_time_zone("UTC")
    out = d.select(
        trace_id=pl.col("TraceID"),
        span_id=pl.col("SpanID"),
        parent_span_id=pl.when(pl.col("ParentID") == "root")
        .then(None)
        .otherwise(pl.col("ParentID")),
        service=_nezha_service(),
        name=pl.col("OperationName"),
        kind=pl.lit("unspecified"),
        start=start,
        end=pl.max_horizontal(start, end),
        duration_ms=(
            pl.col("EndTimeUnixNano").cast(pl.Int64) - pl.col("StartTimeUnixNano").cast(pl.Int64)
        ).clip(lower_bound=0)
        / 1e6,
        status=pl.lit("unset"),
        attributes=pl.lit([], dtype=frames.KV),
    )
    return frames.validate(out, "spans", source="nezha traces")


def _time_text(col: str) -> pl.Expr:
    """Unix seconds from Nezha's Go time text (``2022-08-22 03:51:19.79 +0000 UTC m=+0.3``)."""
    return (
        pl.col(col)
        .str.slice(0, 19)
        .str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
        .dt.epoch("s")
    )


def _metric_file(
    f: Path,
    lo: int,
    hi: int,
    notes: list[str],
    nan: dict[str, int],
    services: set[str] | None = None,
) -> pl.DataFrame | None:
    """One metric file as long rows (``TimeStamp, service, metric, value, labels``) within
    ``[lo, hi]``; what was repaired or left out goes to ``notes``. A per-call latency
    table (:mod:`workbench.evaluation.nezha_edges`) is read when ``services`` (the
    services of the pod files) is given."""
    d = read_csv(f, notes=notes)
    cols = {c.lower(): c for c in d.columns}
    ts_col, time_col = cols.get("timestamp"), cols.get("time")
    if ts_col is None and time_col is None:
        notes.append(f"metric/{f.name}: no time column (columns {d.columns[:3]}...): not read")
        return None
    per_call = services is not None and ne.edge_file(f.name) is not None
    if "PodName" not in d.columns and "ServiceName" not in d.columns and not per_call:
        notes.append(f"metric/{f.name}: no PodName or ServiceName column: not read")
        return None
    stamp = pl.col(ts_col).cast(pl.Float64, strict=False).cast(pl.Int64) if ts_col else None
    text = _time_text(time_col) if time_col else None
    if stamp is not None and text is not None:
        d = d.with_columns(_stamp=stamp, _text=text)
        wrong = (pl.col("_stamp") - pl.col("_text")).abs() > _CLOCK_SLACK_S
        off = d.filter(wrong)
        if off.height:
            gap = cast(float, (off["_stamp"] - off["_text"]).median())
            notes.append(
                f"metric/{f.name}: TimeStamp disagrees with Time in {off.height} of "
                f"{d.height} rows (by {gap:+.0f} s): repaired from Time"
            )
        d = d.with_columns(
            TimeStamp=pl.when(wrong).then(pl.col("_text")).otherwise(pl.col("_stamp"))
        ).drop("_stamp", "_text")
    else:
        d = d.with_columns(TimeStamp=stamp if stamp is not None else text)
    bad_ts = d["TimeStamp"].null_count()
    if bad_ts:
        notes.append(f"metric/{f.name}: {bad_ts} row(s) without a readable time dropped")
    d = d.filter(pl.col("TimeStamp").is_between(lo, hi))
    if d.height == 0:
        return None
    drop = {ts_col, time_col, "TimeStamp", "PodName", "ServiceName"}
    if per_call:
        calls = [c for c in d.columns if c not in drop]
        return ne.edge_rows(d, f.name, calls, services or set(), notes, nan)
    if "PodName" in d.columns:
        ids = {"service": _nezha_service(), "pod": pl.col("PodName")}
    else:
        ids = {"service": pl.col("ServiceName"), "pod": pl.lit(None, pl.String)}
    value_cols = [c for c in d.columns if c not in drop]
    long = d.with_columns(**ids).unpivot(
        index=["TimeStamp", "service", "pod"],
        on=value_cols,
        variable_name="metric",
        value_name="value",
    )
    num = pl.col("value").cast(pl.Float64, strict=False)
    bad = long.filter(num.is_null() | ~num.is_finite())
    if bad.height:
        nan[f.name] = bad.height
        odd = bad.filter(pl.col("value").str.to_lowercase() != "nan").height
        if odd:
            notes.append(f"metric/{f.name}: {odd} value(s) not numbers: dropped")
    labels = (
        pl.when(pl.col("pod").is_null())
        .then(pl.lit([], dtype=frames.KV))
        .otherwise(pl.concat_list(pl.struct(key=pl.lit("pod"), value=pl.col("pod"))))
    )
    return (
        long.with_columns(value=num)
        .filter(pl.col("value").is_finite())
        .select("TimeStamp", "service", "metric", "value", labels=labels.cast(frames.KV))
    )


def _nezha_metrics(day_dir: Path, lo: int, hi: int, notes: list[str]) -> pl.DataFrame:
    parts = []
    nan: dict[str, int] = {}
    files = sorted((day_dir / "metric").glob("*.csv"))
    for f in files:
        if ne.edge_file(f.name) is None:
            got = _metric_file(f, lo, hi, notes, nan)
            if got is not None and got.height:
                parts.append(got)
    # the per-call tables name calls by the services of the pod files
    services = {x for p in parts for x in p["service"].unique().to_list() if x}
    for f in files:
        if ne.edge_file(f.name) is not None:
            got = _metric_file(f, lo, hi, notes, nan, services=services)
            if got is not None and got.height:
                parts.append(got)
    if nan:
        notes.append(
            f"metrics: {sum(nan.values())} NaN value(s) in {len(nan)} file(s) (a latency of a "
            "minute without requests): left out"
        )
    if not parts:
        return frames.empty("metrics")
    m = pl.concat(parts)
    out = m.select(
        ts=pl.from_epoch("TimeStamp", "s").dt.replace_time_zone("UTC"),
        metric=pl.col("metric"),
        service=pl.col("service"),
        value=pl.col("value"),
        labels=pl.col("labels"),
    )
    return frames.validate(out, "metrics", source=str(day_dir / "metric"))


def one_name_per_service(
    named: dict[str, pl.DataFrame], notes: list[str]
) -> dict[str, pl.DataFrame]:
    """Service names that differ only in case become one (the lower-case spelling, else
    the most common one); each merge is noted.

    >>> one_name_per_service({"metrics": m}, notes)["metrics"]["service"].unique()
    """
    counts: dict[str, int] = {}
    for df in named.values():
        if df.height and "service" in df.columns:
            for name, n in df.group_by("service").len().iter_rows():
                if name is not None:
                    counts[name] = counts.get(name, 0) + n
    groups: dict[str, list[str]] = {}
    for name in counts:
        groups.setdefault(name.casefold(), []).append(name)
    rename: dict[str, str] = {}
    for key, names in groups.items():
        if len(names) < 2:
            continue
        keep = key if key in names else max(names, key=lambda x: counts[x])
        for other in names:
            if other != keep:
                rename[other] = keep
                notes.append(f"service {other!r} is {keep!r} (names differ only in case)")
    if not rename:
        return named
    return {
        k: df.with_columns(pl.col("service").replace(rename)) if "service" in df.columns else df
        for k, df in named.items()
    }


def _minutes(lo: datetime, hi: datetime) -> list[str]:
    """Names (``HH_MM``) of the minute files that cover part of ``[lo, hi]`` (a file
    ``HH_MM`` holds about the minute ending at HH:MM)."""
    out = []
    t = lo.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t <= hi + timedelta(minutes=1):
        out.append(t.strftime("%H_%M"))
        t += timedelta(minutes=1)
    return out


def nezha_cases(
    path: str | Path, *, detection_delay: timedelta = DETECTION_DELAY
) -> Iterator[Case]:
    """Cases of the Nezha layout (see the module docstring for windows and baselines)."""
    root = Path(path)
    table = read_csv(root / "cases.csv")
    listing = root / "MISSING_FROM_SNAPSHOT.txt"
    listed = (
        {x.strip() for x in listing.read_text().splitlines() if x.strip()}
        if listing.exists()
        else set()
    )
    for row in table.iter_rows(named=True):
        notes: list[str] = []
        day = row["day"]
        t0 = datetime.fromtimestamp(int(row["inject_epoch_from_inject_time"]), tz=UTC)
        alert = t0 + detection_delay
        window = Window(alert - LOOK_BACK, alert + LOOK_AHEAD)
        baseline = Window(window.start - BASELINE, window.start)
        day_dir = root / "rca_data" / day
        cons_dir = root / "construct_data" / day
        cons_logs = sorted((cons_dir / "log").glob("*_log.csv"))
        cons_traces = sorted((cons_dir / "trace").glob("*_trace.csv"))
        reference = bool(cons_logs or cons_traces)
        minutes = _minutes(window.start if reference else baseline.start, window.end)
        own = set(row["minute_files"].split(";"))
        want: dict[str, list[Path]] = {}
        for kind in ("log", "trace"):
            files = [day_dir / kind / f"{m}_{kind}.csv" for m in minutes]
            want[kind] = [f for f in files if f.exists()]
            # the case's own minute files must be there; others may not be in the data set
            absent = [day_dir / kind / f"{m}_{kind}.csv" for m in sorted(own)]
            absent = [f for f in absent if not f.exists()]
            if absent:
                known = all(str(f.relative_to(root)) in listed for f in absent)
                notes.append(
                    f"{len(absent)} of the case's {kind} minute files absent: "
                    + ", ".join(f.name for f in absent)
                    + (" (listed in MISSING_FROM_SNAPSHOT.txt)" if known else "")
                )
        logs = _nezha_logs(want["log"], notes)
        spans = _nezha_spans(want["trace"], notes)
        if reference:
            logs, spans = _with_reference(logs, spans, cons_logs, cons_traces, window, notes)
        else:
            notes.append(
                "no fault-free reference minute for this day: the baseline of logs and traces "
                f"is the day's data before the window ({_count(logs, spans, baseline)})"
            )
        lo_s, hi_s = int(baseline.start.timestamp()), int(window.end.timestamp())
        metrics = _nezha_metrics(day_dir, lo_s, hi_s, notes)
        named = one_name_per_service({"metrics": metrics, "logs": logs, "spans": spans}, notes)
        yield Case(
            id=row["case_id"],
            truth=row["root_cause_service"],
            fault=row["inject_type"],
            window=window,
            baseline=baseline,
            metrics=named["metrics"],
            logs=named["logs"],
            spans=named["spans"],
            layout="nezha",
            group=row["inject_type"],
            alert=alert,
            problems=notes,
        )


def _count(logs: pl.DataFrame, spans: pl.DataFrame, w: Window) -> str:
    n_l = logs.filter((pl.col("ts") >= w.start) & (pl.col("ts") < w.end)).height
    n_s = spans.filter((pl.col("start") >= w.start) & (pl.col("start") < w.end)).height
    return f"{n_l} log lines, {n_s} spans"


def _with_reference(
    logs: pl.DataFrame,
    spans: pl.DataFrame,
    cons_logs: list[Path],
    cons_traces: list[Path],
    window: Window,
    notes: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The day's fault-free reference minute, shifted to end just before the window, added
    to the frames (the real data before the window is dropped so the two do not mix)."""
    logs = logs.filter(pl.col("ts") >= window.start)
    spans = spans.filter(pl.col("start") >= window.start)
    c_logs = _nezha_logs(cons_logs, notes)
    c_spans = _nezha_spans(cons_traces, notes)
    # (span starts, not ends: a few exported spans carry absurd end times)
    ends = [
        cast(datetime, x) for x in (c_logs["ts"].max(), c_spans["start"].max()) if x is not None
    ]
    if not ends:
        notes.append("the reference minute holds no rows: no baseline for logs and traces")
        return logs, spans
    shift = window.start - max(ends) - timedelta(microseconds=1)
    # the reference's length in minute files against the window's: shorter, the cautious
    # expectation of a count (errors, log lines; ``(baseline + 1)`` scaled to the window)
    # is mostly its ``+ 1``, and a rise of a few failing requests is within noise
    ref_min = len({f.name[:5] for f in cons_logs + cons_traces})
    win_min = window.duration.total_seconds() / 60
    short = (
        f" ({ref_min} min against a {win_min:.0f}-min window: a rise of a few failing "
        "requests or log lines is within the noise of so short a baseline)"
        if ref_min < win_min
        else ""
    )
    notes.append(
        "baseline of logs and traces: the day's fault-free reference minute, moved by "
        f"{shift.total_seconds() / 60:+.0f} min to end at the window's start{short}"
    )
    c_logs = c_logs.with_columns(pl.col("ts") + shift)
    c_spans = c_spans.with_columns(pl.col("start") + shift, pl.col("end") + shift)
    return pl.concat([c_logs, logs]), pl.concat([c_spans, spans])
