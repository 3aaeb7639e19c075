"""Lab cases as an on-call engineer meets them: at the alert, not after the recovery.

A ``workbench lab generate`` directory holds two hours of telemetry (``scenario.json``),
the fault's start (``truth.json``: ``start``) and the alerts its rules fired
(``events/alertmanager-webhook.jsonl``, Alertmanager's webhook payloads). The scenario's
``incident_window`` (its whole second hour) holds the fault and its recovery: a
postmortem's view. A case is instead opened the way the product opens an incident from an
alert:

* **the alert** is the first alert whose ``startsAt`` is at or after the fault's start
  (the page this incident caused), read with the product's Alertmanager webhook reader
  (``startsAt`` is when the alert fired, its rule's ``for`` elapsed, as Prometheus sends
  it; the page itself comes Alertmanager's ``group_wait``, 30 s, later);
  when none fired, the fault's start plus the detection delay
  (:data:`~workbench.evaluation.alerting.DETECTION_DELAY`, ``--detection-delay``), and
  the case says so (``Case.alert_from``);
* **the window** is the product's alert window
  (:func:`workbench.commands.new.alert_window`, what ``workbench new --alert`` opens:
  ``--before`` 30 min ahead of ``startsAt``) with *now* the moment the engineer opens the
  notebook, :data:`~workbench.evaluation.alerting.LOOK_AHEAD` after the alert; the alert
  is taken as still firing then;
* **the baseline** is the :class:`~workbench.incident.Incident`'s default for that window
  (the same length just before), or the one the notebook parameter ``baseline`` names
  (``baseline="4h"``: :func:`workbench.notebook.baseline_window`, what
  ``open_incident(baseline=...)`` sets; ``workbench eval rca --baseline``);
* **the frames** are what that incident loads from the directory (baseline and window),
  nothing after *now*; an event's end after *now* (a deploy, a chaos run or an alert
  that ended later) is left open, as it was then.

Example::

    >>> from workbench.evaluation.labcase import lab_case
    >>> case = lab_case(Path("lab-out"))
    >>> case.alert, case.window.end - case.alert
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from workbench.evaluation.alerting import DETECTION_DELAY, LOOK_AHEAD
from workbench.evaluation.cases import Case
from workbench.timewindow import Window, parse_time

__all__ = ["first_alert", "lab_case", "lab_cases", "lab_quiet_case"]

ALERTS_FILE = Path("events") / "alertmanager-webhook.jsonl"


def lab_cases(
    path: str | Path, *, detection_delay: timedelta = DETECTION_DELAY, baseline: str = ""
) -> Iterator[Case]:
    """Cases from one lab scenario directory or a directory of them (sorted by name)."""
    p = Path(path)
    dirs = (
        [p]
        if (p / "truth.json").exists()
        else sorted(d for d in p.iterdir() if (d / "truth.json").exists())
    )
    for d in dirs:
        yield lab_case(d, detection_delay=detection_delay, baseline=baseline)


def first_alert(d: Path, fault_at: datetime) -> tuple[datetime, str] | None:
    """``(startsAt, "alertname on service")`` of the first alert of the scenario's webhook
    payloads that started at or after ``fault_at``; None when there is none (or no file).

    >>> first_alert(Path("lab-out"), parse_time("2026-11-20T11:12:00Z"))
    (datetime.datetime(2026, 11, 20, 11, 13, 15, tzinfo=datetime.timezone.utc), 'HighErrorRate on web')
    """
    from workbench.sources.files.events import read_file

    f = d / ALERTS_FILE
    if not f.exists():
        return None
    ev = read_file(f, format="alertmanager").frame
    after = ev.filter((pl.col("kind") == "alert") & (pl.col("ts") >= fault_at)).sort("ts")
    if after.height == 0:
        return None
    row = after.row(0, named=True)
    name = str(row["title"]).split(":")[0]
    return row["ts"], f"{name} on {row['service']}" if row["service"] else name


def lab_case(d: Path, *, detection_delay: timedelta = DETECTION_DELAY, baseline: str = "") -> Case:
    """One lab scenario directory as a case at alert time (see the module docstring);
    ``baseline`` as the notebook parameter (``""``: as long as the window, just before)."""
    from workbench.incident import Incident
    from workbench.notebook import baseline_window
    from workbench.sources.files import DirectorySource

    truth, meta, alert, alert_from, window = _at_alert(d, detection_delay)
    now = alert + LOOK_AHEAD
    inc = Incident(meta.get("incident_id") or d.name, window, sources=[DirectorySource(d)])
    if baseline:
        inc.baseline = baseline_window(baseline, inc.window)
    inc.load()
    problems = _short_baseline(meta, inc.baseline) + _load_problems(inc)
    return Case(
        id=d.name,
        truth=truth["root_cause_service"],
        fault=truth.get("fault", ""),
        window=inc.window,
        baseline=inc.baseline,
        metrics=inc.metrics,
        logs=inc.logs,
        spans=inc.spans,
        # an end after *now* (a deploy, a chaos run, an alert resolved later) is not known
        # yet: still under way
        events=inc.events.with_columns(
            end=pl.when(pl.col("end") <= now).then(pl.col("end")).otherwise(None)
        ),
        layout="lab",
        group=truth.get("fault", ""),
        alert=alert,
        alert_from=alert_from,
        problems=problems,
    )


def _at_alert(d: Path, detection_delay: timedelta) -> tuple[dict, dict, datetime, str, Window]:
    """``(truth, scenario, alert, how the alert was found, window)`` of scenario ``d``."""
    from workbench.commands.new import alert_window

    truth = json.loads((d / "truth.json").read_text())
    meta_file = d / "scenario.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    fault_at = parse_time(truth["start"])
    found = first_alert(d, fault_at)
    if found is not None:
        alert, what = found
        alert_from = f"first alert at or after the fault's start: {what}"
    else:
        alert = fault_at + detection_delay
        alert_from = (
            f"no alert fired at or after the fault's start: fault start + "
            f"{detection_delay.total_seconds():g} s detection delay"
        )
    now = alert + LOOK_AHEAD
    return truth, meta, alert, alert_from, alert_window({"startsAt": alert.isoformat()}, now=now)


def lab_quiet_case(
    d: Path, *, baseline: str = "", detection_delay: timedelta = DETECTION_DELAY
) -> Case:
    """A fault-free window of lab scenario directory ``d`` as the notebook opens one with
    a ``baseline`` parameter: the stretch as long as the case's window (:func:`lab_case`)
    just before it, against the baseline :func:`workbench.notebook.baseline_window` names
    for it (``""``: as long, just before); no data at or after the case's window start is
    seen. Truth ``""``, fault ``"none"``.

    >>> q = lab_quiet_case(Path("lab-out"), baseline="4h")
    >>> q.window.end == lab_case(Path("lab-out")).window.start
    True
    """
    from workbench.incident import Incident
    from workbench.notebook import baseline_window
    from workbench.sources.files import DirectorySource

    _, meta, _, _, w = _at_alert(d, detection_delay)
    window = Window(w.start - (w.end - w.start), w.start)
    inc = Incident(f"{d.name}/quiet", window, sources=[DirectorySource(d)])
    if baseline:
        inc.baseline = baseline_window(baseline, window)
    inc.load()

    def cut(df: pl.DataFrame, col: str) -> pl.DataFrame:
        return df.filter(pl.col(col) < window.end) if df.height else df

    return Case(
        id=f"{d.name}/quiet",
        truth="",
        fault="none",
        window=inc.window,
        baseline=inc.baseline,
        metrics=cut(inc.metrics, "ts"),
        logs=cut(inc.logs, "ts"),
        spans=cut(inc.spans, "start"),
        events=cut(inc.events, "ts"),
        layout="lab",
        group="quiet",
        problems=_short_baseline(meta, inc.baseline) + _load_problems(inc),
    )


def _load_problems(inc: Any) -> list[str]:
    """The loads of ``inc`` that failed or were partial, in the headline's words: the
    load logs them at INFO only, so ``workbench eval`` prints them from here."""
    from workbench.summaries import source_problems

    return source_problems(inc, ("error", "partial"))


def _short_baseline(meta: dict, baseline: Window) -> list[str]:
    """A note when ``baseline`` starts before the scenario's data (``scenario.json``'s
    ``window``): that part of it is empty."""
    from workbench.incident import scenario_data_start

    held = scenario_data_start(meta)
    if held is not None and baseline.start < held:
        short = held - baseline.start
        return [
            f"baseline: starts {short.total_seconds() / 60:.1f} min before the scenario's "
            "data: that part of it is empty"
        ]
    return []
