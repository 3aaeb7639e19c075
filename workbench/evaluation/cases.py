"""Labelled RCA cases from three layouts, as frames plus windows plus the true cause.

* **lab**: a ``workbench lab generate`` directory (``scenario.json`` + ``truth.json``), or a
  directory of them;
* **nezha**: the Nezha Train-Ticket layout (``cases.csv``, ``rca_data/<day>/...``,
  ``construct_data/<day>/...``);
* **petshop**: the PetShop layout (``<scenario>/noissue``, ``<scenario>/{train,test}/issue_*``).

Each case is a :class:`Case` built lazily (one at a time) so a suite never sits in memory.

Nezha: see :mod:`workbench.evaluation.nezha` (the alert is the injection time plus a
detection delay; missing files are listed in ``Case.problems``).

Lab: see :mod:`workbench.evaluation.labcase` (the alert is the first one the scenario's
Alertmanager payloads hold at or after the fault's start; the window is the product's
alert window up to two minutes after it).

PetShop specifics: metrics only; the ``noissue`` period (normal operation, months away in
time) is the baseline; ``graph.csv`` (row calls column: the AWS X-Ray service map) is
``Case.edges``, given to the investigation as a notebook user gives theirs
(``Investigation(inc, edges=...)``). With the blunt callee discount the map traded AC@3
0.87 -> 0.71 for AC@1 0.42 -> 0.50 (issue 14, diagnosis7), because most callees carry
z-scores that are no anomaly of theirs (traffic swings, levels that differ from the distant
reference period); since a callee acquits a caller only when it carries the caller's extra
seconds or failures (:class:`workbench.analysis.suspects._Explains`), the map lifts AC@1
0.42 -> 0.75 with AC@3 0.87 -> 0.88 (diagnosis13). Node names are X-Ray's ``<name>_<type>``: a Lambda function shows as two
nodes, the Lambda service's (``X_AWS::Lambda``, the invocation) calling the function's
(``X_AWS::Lambda::Function``, its code), as the map records; they are kept apart and the
truth label is matched by its own node name. X-Ray's ``remote`` type ("a downstream
service of indeterminate type": a host or load balancer such as
``servi-petsi.us-west-2.elb.amazonaws.com_remote``, seen only in its callers' HTTP calls,
nothing recorded of its own) becomes the map's ``callee_remote`` column (see
:func:`workbench.analysis.suspects.remote_endpoints`); no node is linked to another by
its name. The alert (``target``: node,
metric, statistic, timestamp) gives the case its time: the incident window is the first
whole 5-minute step at or after the alert time (the step the data set's own evaluation
analyses). The issue's step before it lies between the distant reference period and the
incident: a change it already held predates the alert (the lead-in of
:func:`workbench.analysis.changes.score_changes`, as long as the window). Nothing else of the alert
is used, and no series is derived here: the
ranking derives its additive totals from the metrics themselves
(:mod:`workbench.analysis.totals`).

Every case lists what could not be loaded whole in ``Case.problems``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.evaluation.csvread import read_csv as _read_csv
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
    #: when the case's alert fired (what the user is given; None when the layout has none)
    alert: datetime | None = None
    #: how the alert was found, when the layout says more than its rule (e.g. a lab case
    #: where no alert fired and the detection delay stands in for one); "" otherwise
    alert_from: str = ""
    #: what could not be loaded whole: absent files, unreadable columns, dropped or
    #: repaired rows, merged names (each with its reason); empty when nothing was lost
    problems: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """True when something of the case's data was missing, dropped or repaired."""
        return bool(self.problems)

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


def nezha_cases(path: str | Path, **kw) -> Iterator[Case]:
    """Cases of the Nezha layout (:func:`workbench.evaluation.nezha.nezha_cases`)."""
    from workbench.evaluation.nezha import nezha_cases as cases

    return cases(path, **kw)


# lab ---------------------------------------------------------------------------------------
def lab_cases(path: str | Path, **kw) -> Iterator[Case]:
    """Cases from one lab scenario directory or a directory of them, at alert time
    (:func:`workbench.evaluation.labcase.lab_cases`)."""
    from workbench.evaluation.labcase import lab_cases as cases

    return cases(path, **kw)


def lab_case(d: Path, **kw) -> Case:
    """One lab scenario directory as a case (:func:`workbench.evaluation.labcase.lab_case`)."""
    from workbench.evaluation.labcase import lab_case as case

    return case(d, **kw)


# petshop -----------------------------------------------------------------------------------
def _petshop_metrics(csv: Path, notes: list[str] | None = None) -> pl.DataFrame:
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
    if notes is not None:
        bad = long.filter(
            ~pl.col("value").cast(pl.Float64, strict=False).is_finite().fill_null(False)
        ).height
        if bad:
            notes.append(f"{csv.parent.name}/{csv.name}: {bad} value(s) not numbers: dropped")
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


def _alert_window(m: pl.DataFrame, alert_ts: float | None) -> Window:
    """The first whole step at or after the alert; without an alert time, the whole issue."""
    steps = m["ts"].unique().sort()
    if alert_ts is None or steps.len() < 2:
        return _span_of(m)
    at = datetime.fromtimestamp(float(alert_ts), tz=UTC)
    after = steps.filter(steps >= at)
    if after.len() == 0:
        return _span_of(m)
    start = after[0]
    step = steps.diff().drop_nulls().median()
    return Window(start, start + step)


#: X-Ray's node type for "a downstream service of indeterminate type" (AWS GetServiceGraph):
#: a node inferred from its callers' client calls, with no segments of its own
XRAY_REMOTE_TYPE = "remote"


def _petshop_edges(csv: Path) -> pl.DataFrame:
    """``caller, callee, callee_remote``: the X-Ray service map, a callee marked remote
    when its X-Ray type (the ``_<type>`` ending of the node name) is ``remote``."""
    g = _read_csv(csv)
    first = g.columns[0]
    long = g.unpivot(index=first, variable_name="callee", value_name="w").filter(
        pl.col("w").cast(pl.Float64, strict=False) > 0
    )
    return long.select(
        caller=pl.col(first),
        callee=pl.col("callee"),
        callee_remote=pl.col("callee").str.ends_with(f"_{XRAY_REMOTE_TYPE}"),
    ).filter(pl.col("caller") != pl.col("callee"))


def _span_of(df: pl.DataFrame) -> Window:
    lo, hi = cast(datetime, df["ts"].min()), cast(datetime, df["ts"].max())
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
        yield sc, _petshop_metrics(csv)


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
            notes: list[str] = []
            m = _petshop_metrics(d / "metrics.csv", notes)
            alert = target["target"]
            kind = alert.get("metric")
            window = _alert_window(m, alert.get("timestamp"))
            yield Case(
                id=f"{sc.name}/{d.parent.name}/{d.name}",
                truth=target["root_cause"]["node"],
                fault=kind or "",
                window=window,
                baseline=baseline,
                metrics=pl.concat([normal, m]),
                edges=edges,
                layout="petshop",
                group=f"{sc.name}:{kind}",
                alert=window.start,
                problems=notes,
            )
