"""Labelled RCA cases from three layouts, as frames plus windows plus the true cause.

* **lab**: a ``workbench lab generate`` directory (``scenario.json`` + ``truth.json``), or a
  directory of them;
* **nezha**: the Nezha Train-Ticket layout (``cases.csv``, ``rca_data/<day>/...``,
  ``construct_data/<day>/...``);
* **petshop**: the PetShop layout (``<scenario>/noissue``, ``<scenario>/{train,test}/issue_*``).

Each case is a :class:`Case` built lazily (one at a time) so a suite never sits in memory.

Nezha specifics (see its SOURCE.md): logs and traces exist only for the three minute
files of each case plus one fault-free "construct" period of the same day; that period
is shifted in time to end just before the case's first minute file and alone forms the
baseline of logs and traces (the known-normal reference Nezha itself compares with).
The real data before the injection time stay in the frames, outside both windows: the
injection times are only accurate to about a minute, so that data may already hold the
fault. Metrics (1-minute rows) use the 20 minutes before injection as their baseline. Services are pod names without
their last two ``-`` parts.

PetShop specifics: metrics only; the ``noissue`` period (normal operation, months away in
time) is the baseline; ``graph.csv`` gives the call graph (row calls column). The alert
(``target``: node, metric, statistic, timestamp) is the case's input: the incident window
is the first whole 5-minute step at or after the alert time (the step the data set's own
evaluation analyses), the steps before it are the lead-in, the focus is the alerting node
and its metric+statistic. Each step's ``latency`` Average (seconds per request),
``availability`` Average (% of requests that succeeded) and ``requests`` Sum give two
additive totals per node, added as series: ``busy_seconds`` (seconds spent serving the
step's requests) and ``failed_requests``; a latency alert is ranked by the excess of the
first, an availability alert by the excess of the second.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.timewindow import Window

__all__ = ["Case", "detect_layout", "iter_cases", "lab_cases", "nezha_cases", "petshop_cases"]


@dataclass
class Case:
    """One labelled incident: frames, windows, ground truth."""

    id: str
    truth: str
    fault: str
    window: Window
    baseline: Window
    metrics: pl.DataFrame = field(default_factory=lambda: frames.empty("metrics"))
    logs: pl.DataFrame = field(default_factory=lambda: frames.empty("logs"))
    spans: pl.DataFrame = field(default_factory=lambda: frames.empty("spans"))
    events: pl.DataFrame = field(default_factory=lambda: frames.empty("events"))
    metric_baseline: Window | None = None
    edges: pl.DataFrame | None = None
    layout: str = ""
    group: str = ""
    focus: str | None = None
    focus_metric: str | None = None
    focus_total: str | None = None
    lead_in: Window | None = None

    def frames(self) -> dict[str, pl.DataFrame]:
        return {
            "metrics": self.metrics,
            "logs": self.logs,
            "spans": self.spans,
            "events": self.events,
        }


def detect_layout(path: str | Path) -> str:
    """``lab``, ``lab-suite``, ``nezha`` or ``petshop`` for a directory; ConfigError otherwise."""
    p = Path(path)
    if not p.is_dir():
        raise ConfigError(f"{p} is not a directory")
    if (p / "scenario.json").exists() and (p / "truth.json").exists():
        return "lab"
    if (p / "cases.csv").exists() and (p / "rca_data").is_dir():
        return "nezha"
    if (p / "noissue").is_dir() or any((c / "noissue").is_dir() for c in p.iterdir() if c.is_dir()):
        return "petshop"
    if any((c / "truth.json").exists() for c in p.iterdir() if c.is_dir()):
        return "lab-suite"
    raise ConfigError(
        f"{p} is not a known RCA layout",
        hint="expected a lab scenario directory (scenario.json + truth.json), a directory of "
        "them, the Nezha layout (cases.csv + rca_data/) or the PetShop layout (*/noissue)",
    )


def iter_cases(path: str | Path) -> Iterator[Case]:
    """Every case under ``path``, whatever its layout."""
    layout = detect_layout(path)
    if layout in ("lab", "lab-suite"):
        return lab_cases(path)
    if layout == "nezha":
        return nezha_cases(path)
    return petshop_cases(path)


# lab ---------------------------------------------------------------------------------------
def lab_cases(path: str | Path) -> Iterator[Case]:
    """Cases from one lab scenario directory or a directory of them (sorted by name)."""
    p = Path(path)
    dirs = (
        [p]
        if (p / "truth.json").exists()
        else sorted(d for d in p.iterdir() if (d / "truth.json").exists())
    )
    for d in dirs:
        yield lab_case(d)


def lab_case(d: Path) -> Case:
    from workbench.incident import Incident

    truth = json.loads((d / "truth.json").read_text())
    inc = Incident.from_directory(d)
    inc.load()
    return Case(
        id=d.name,
        truth=truth["root_cause_service"],
        fault=truth.get("fault", ""),
        window=inc.window,
        baseline=inc.baseline,
        metrics=inc.metrics,
        logs=inc.logs,
        spans=inc.spans,
        events=inc.events,
        layout="lab",
        group=truth.get("fault", ""),
    )


# nezha -------------------------------------------------------------------------------------
def _nezha_service(col: str = "PodName") -> pl.Expr:
    return pl.col(col).str.replace(r"-[^-]+-[^-]+$", "")


def _read_csv(path: Path, **kw) -> pl.DataFrame:
    try:
        return pl.read_csv(path, infer_schema=False, **kw)
    except pl.exceptions.ComputeError as exc:
        if kw:
            raise BadData(f"cannot read {path}: {exc}", source=str(path)) from exc
        return _read_ragged_csv(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise BadData(f"cannot read {path}: {exc}", source=str(path)) from exc


def _read_ragged_csv(path: Path) -> pl.DataFrame:
    """A CSV with a few badly quoted rows (Nezha logs have one): rows with extra fields
    keep them joined into the last column, so no row is lost; the count is logged."""
    import csv
    import logging

    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise BadData(f"{path} is empty", source=str(path))
    header, body = rows[0], rows[1:]
    n = len(header)
    fixed = 0
    out = []
    for i, r in enumerate(body, start=2):
        if len(r) > n:
            r = [*r[: n - 1], ",".join(r[n - 1 :])]
            fixed += 1
        elif len(r) < n:
            raise BadData(
                f"{path} line {i} has {len(r)} fields, expected {n}", source=str(path), field="line"
            )
        out.append(r)
    if fixed:
        logging.getLogger(__name__).warning("%s: %d row(s) with extra fields kept", path, fixed)
    return pl.DataFrame(out, schema=header, orient="row")


def _nezha_logs(files: list[Path], shift: timedelta = timedelta(0)) -> pl.DataFrame:
    parts = [_read_csv(f) for f in files if f.exists()]
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
        ts=pl.coalesce(ts, text) + shift,
        service=_nezha_service(),
        level=level,
        message=pl.col("_msg").fill_null(pl.col("Log")),
        trace_id=pl.col("TraceID"),
        span_id=pl.col("SpanID"),
        attributes=pl.lit([], dtype=frames.KV),
    )
    return frames.validate(out, "logs", source="nezha logs")


def _nezha_spans(files: list[Path], shift: timedelta = timedelta(0)) -> pl.DataFrame:
    parts = [_read_csv(f) for f in files if f.exists()]
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
        start=start + shift,
        end=pl.max_horizontal(start, end) + shift,
        duration_ms=(
            pl.col("EndTimeUnixNano").cast(pl.Int64) - pl.col("StartTimeUnixNano").cast(pl.Int64)
        ).clip(lower_bound=0)
        / 1e6,
        status=pl.lit("unset"),
        attributes=pl.lit([], dtype=frames.KV),
    )
    return frames.validate(out, "spans", source="nezha traces")


def _nezha_metrics(day_dir: Path, lo: int, hi: int) -> pl.DataFrame:
    parts = []
    for f in sorted((day_dir / "metric").glob("*.csv")):
        d = _read_csv(f)
        if "TimeStamp" not in d.columns:
            continue
        d = d.with_columns(pl.col("TimeStamp").cast(pl.Float64).cast(pl.Int64)).filter(
            pl.col("TimeStamp").is_between(lo, hi)
        )
        if d.height == 0:
            continue
        if "PodName" in d.columns:
            ids = {"service": _nezha_service(), "pod": pl.col("PodName")}
        else:
            ids = {"service": pl.col("ServiceName"), "pod": pl.lit(None, pl.String)}
        value_cols = [
            c for c in d.columns if c not in ("Time", "TimeStamp", "PodName", "ServiceName")
        ]
        long = d.with_columns(**ids).unpivot(
            index=["TimeStamp", "service", "pod"],
            on=value_cols,
            variable_name="metric",
            value_name="value",
        )
        parts.append(long)
    if not parts:
        return frames.empty("metrics")
    m = pl.concat(parts)
    labels = (
        pl.when(pl.col("pod").is_null())
        .then(pl.lit([], dtype=frames.KV))
        .otherwise(pl.concat_list(pl.struct(key=pl.lit("pod"), value=pl.col("pod"))))
    )
    out = m.select(
        ts=pl.from_epoch("TimeStamp", "s").dt.replace_time_zone("UTC"),
        metric=pl.col("metric"),
        service=pl.col("service"),
        value=pl.col("value").cast(pl.Float64, strict=False),
        labels=labels.cast(frames.KV),
    ).filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
    return frames.validate(out, "metrics", source=str(day_dir / "metric"))


def nezha_cases(path: str | Path, *, incident_minutes: int = 3) -> Iterator[Case]:
    """Cases of the Nezha layout (see the module docstring for the windows used)."""
    root = Path(path)
    cases = _read_csv(root / "cases.csv")
    for row in cases.iter_rows(named=True):
        day = row["day"]
        t0 = datetime.fromtimestamp(int(row["inject_epoch_from_inject_time"]), tz=UTC)
        day_dir = root / "rca_data" / day
        minutes = row["minute_files"].split(";")
        window = Window(t0, t0 + timedelta(minutes=incident_minutes))
        # logs and traces: the baseline is the fault-free "construct" data alone, shifted
        # to end just before the real data; the real data before the injection stay in the frames but out of both windows
        # (injection times are only accurate to about a minute, so that data may
        # already hold the fault)
        logs = _nezha_logs([day_dir / "log" / f"{m}_log.csv" for m in minutes])
        spans = _nezha_spans([day_dir / "trace" / f"{m}_trace.csv" for m in minutes])
        firsts = [x for x in (logs["ts"].min(), spans["start"].min()) if x is not None]
        cut = min([t0, *firsts]) - timedelta(seconds=1)
        baseline = Window(cut - timedelta(minutes=1), cut)
        metric_baseline = Window(t0 - timedelta(minutes=20), t0)
        cons = sorted((root / "construct_data" / day / "log").glob("*_log.csv"))
        if cons:
            minute = cons[0].name.split("_log")[0]
            c_logs = _nezha_logs(cons)
            c_spans = _nezha_spans(
                [root / "construct_data" / day / "trace" / f"{minute}_trace.csv"]
            )
            # (span starts, not ends: a few exported spans carry absurd end times)
            ends = [x for x in (c_logs["ts"].max(), c_spans["start"].max()) if x is not None]
            starts = [x for x in (c_logs["ts"].min(), c_spans["start"].min()) if x is not None]
            if ends:
                shift = cut - max(ends) - timedelta(microseconds=1)
                c_logs = c_logs.with_columns(pl.col("ts") + shift)
                c_spans = c_spans.with_columns(pl.col("start") + shift, pl.col("end") + shift)
                baseline = Window(min(starts) + shift, cut)
                logs = pl.concat([c_logs, logs])
                spans = pl.concat([c_spans, spans])
        lo = int((t0 - timedelta(minutes=20)).timestamp())
        hi = int((t0 + timedelta(minutes=10)).timestamp())
        yield Case(
            id=row["case_id"],
            truth=row["root_cause_service"],
            fault=row["inject_type"],
            window=window,
            baseline=baseline,
            metric_baseline=metric_baseline,
            metrics=_nezha_metrics(day_dir, lo, hi),
            logs=logs,
            spans=spans,
            layout="nezha",
            group=row["inject_type"],
        )


# petshop -----------------------------------------------------------------------------------
def _petshop_metrics(csv: Path) -> pl.DataFrame:
    raw = _read_csv(csv, has_header=False)
    if raw.height < 5:
        raise BadData(f"{csv} has no data rows", source=str(csv))
    head = [raw.row(i) for i in range(3)]
    nodes, metrics_, stats = head
    data = raw.slice(4)
    cols = {}
    for j in range(1, raw.width):
        cols[f"c{j}"] = (nodes[j], metrics_[j], stats[j])
    data = data.rename(
        {raw.columns[0]: "ts", **{raw.columns[j]: f"c{j}" for j in range(1, raw.width)}}
    )
    long = data.unpivot(index="ts", variable_name="col", value_name="value").filter(
        pl.col("value").is_not_null() & (pl.col("value") != "")
    )
    meta = pl.DataFrame(
        {
            "col": list(cols),
            "service": [v[0] for v in cols.values()],
            "metric": [f"{v[1]}_{v[2]}" for v in cols.values()],
        }
    )
    out = (
        long.join(meta, on="col")
        .select(
            ts=pl.from_epoch(
                pl.col("ts").cast(pl.Float64).cast(pl.Int64), "s"
            ).dt.replace_time_zone("UTC"),
            metric=pl.col("metric"),
            service=pl.col("service"),
            value=pl.col("value").cast(pl.Float64, strict=False),
            labels=pl.lit([], dtype=frames.KV),
        )
        .filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
    )
    return frames.validate(out, "metrics", source=str(csv))


#: the additive total that carries each alert kind's symptom (see the module docstring)
PETSHOP_TOTALS = {"latency": "busy_seconds", "availability": "failed_requests"}


def _petshop_totals(m: pl.DataFrame) -> pl.DataFrame:
    """``busy_seconds`` = latency Average x requests Sum and ``failed_requests`` = requests
    Sum x (100 - availability Average) / 100 per node and step; a step without requests
    spent no time and failed nothing (0), a step without a request count gives nothing."""
    parts = ("latency_Average", "availability_Average", "requests_Sum")
    used = m.filter(pl.col("metric").is_in(parts))
    if used.height == 0:
        return frames.empty("metrics")
    wide = used.pivot(
        on="metric", index=["ts", "service"], values="value", aggregate_function="first"
    )
    for c in parts:
        if c not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    wide = wide.filter(pl.col("requests_Sum").is_not_null())
    req = pl.col("requests_Sum")
    idle = req == 0
    busy = pl.when(idle).then(0.0).otherwise(pl.col("latency_Average") * req)
    failed = pl.when(idle).then(0.0).otherwise((100.0 - pl.col("availability_Average")) / 100 * req)
    out = wide.select(
        "ts", "service", busy_seconds=busy, failed_requests=failed.clip(lower_bound=0.0)
    ).unpivot(index=["ts", "service"], variable_name="metric", value_name="value")
    return out.filter(pl.col("value").is_not_null() & pl.col("value").is_finite()).select(
        "ts", "metric", "service", "value", labels=pl.lit([], dtype=frames.KV)
    )


def _with_totals(m: pl.DataFrame, source: str) -> pl.DataFrame:
    return frames.validate(pl.concat([m, _petshop_totals(m)]), "metrics", source=source)


def _alert_windows(m: pl.DataFrame, alert_ts: float | None) -> tuple[Window, Window | None]:
    """(incident window, lead-in): the first whole step at or after the alert and the
    steps before it; without an alert time, the whole issue and no lead-in."""
    steps = m["ts"].unique().sort()
    if alert_ts is None or steps.len() < 2:
        return _span_of(m), None
    at = datetime.fromtimestamp(float(alert_ts), tz=UTC)
    after = steps.filter(steps >= at)
    if after.len() == 0:
        return _span_of(m), None
    start = after[0]
    step = steps.diff().drop_nulls().median()
    lead = Window(steps[0], start) if steps[0] < start else None
    return Window(start, start + step), lead


def _petshop_edges(csv: Path) -> pl.DataFrame:
    g = _read_csv(csv)
    first = g.columns[0]
    long = g.unpivot(index=first, variable_name="callee", value_name="w").filter(
        pl.col("w").cast(pl.Float64, strict=False) > 0
    )
    return long.select(caller=pl.col(first), callee=pl.col("callee")).filter(
        pl.col("caller") != pl.col("callee")
    )


def _span_of(df: pl.DataFrame) -> Window:
    lo, hi = df["ts"].min(), df["ts"].max()
    return Window(lo, hi + timedelta(seconds=1))


def petshop_scenarios(path: str | Path) -> Iterator[tuple[Path, pl.DataFrame]]:
    """Each PetShop scenario directory (``path`` itself or its children holding
    ``noissue/``) with its normal-period metrics, derived totals included."""
    root = Path(path)
    scenarios = (
        [root]
        if (root / "noissue").is_dir()
        else sorted(d for d in root.iterdir() if (d / "noissue").is_dir())
    )
    for sc in scenarios:
        csv = sc / "noissue" / "metrics.csv"
        yield sc, _with_totals(_petshop_metrics(csv), str(csv))


def petshop_cases(path: str | Path) -> Iterator[Case]:
    """Cases of the PetShop layout, scenario by scenario, train and test issues."""
    for sc, normal in petshop_scenarios(path):
        baseline = _span_of(normal)
        edges = _petshop_edges(sc / "graph.csv") if (sc / "graph.csv").exists() else None
        issues = sorted(
            (d for d in sc.glob("*/issue_*") if (d / "target.json").exists()),
            key=lambda d: (d.parent.name, int(d.name.split("_")[1])),
        )
        for d in issues:
            target = json.loads((d / "target.json").read_text())
            m = _with_totals(_petshop_metrics(d / "metrics.csv"), str(d / "metrics.csv"))
            alert = target["target"]
            kind, stat = alert.get("metric"), alert.get("agg")
            window, lead_in = _alert_windows(m, alert.get("timestamp"))
            yield Case(
                id=f"{sc.name}/{d.parent.name}/{d.name}",
                truth=target["root_cause"]["node"],
                fault=kind or "",
                window=window,
                baseline=baseline,
                metrics=pl.concat([normal, m]),
                edges=edges,
                layout="petshop",
                focus=alert.get("node"),
                focus_metric=f"{kind}_{stat}" if kind and stat else kind,
                focus_total=PETSHOP_TOTALS.get(kind or ""),
                lead_in=lead_in,
                group=f"{sc.name}:{kind}",
            )
