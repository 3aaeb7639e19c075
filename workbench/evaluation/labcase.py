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
  (the same length just before);
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

import polars as pl

from workbench.evaluation.alerting import DETECTION_DELAY, LOOK_AHEAD
from workbench.evaluation.cases import Case
from workbench.timewindow import parse_time

__all__ = ["first_alert", "lab_case", "lab_cases"]

ALERTS_FILE = Path("events") / "alertmanager-webhook.jsonl"


def lab_cases(path: str | Path, *, detection_delay: timedelta = DETECTION_DELAY) -> Iterator[Case]:
    """Cases from one lab scenario directory or a directory of them (sorted by name)."""
    p = Path(path)
    dirs = (
        [p]
        if (p / "truth.json").exists()
        else sorted(d for d in p.iterdir() if (d / "truth.json").exists())
    )
    for d in dirs:
        yield lab_case(d, detection_delay=detection_delay)


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


def lab_case(d: Path, *, detection_delay: timedelta = DETECTION_DELAY) -> Case:
    """One lab scenario directory as a case at alert time (see the module docstring)."""
    from workbench.commands.new import alert_window
    from workbench.incident import Incident
    from workbench.sources.files import DirectorySource

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
    window = alert_window({"startsAt": alert.isoformat()}, now=now)
    inc = Incident(meta.get("incident_id") or d.name, window, sources=[DirectorySource(d)])
    inc.load()
    problems: list[str] = []
    data = meta.get("window")
    if data and inc.baseline.start < parse_time(data["start"]):
        short = parse_time(data["start"]) - inc.baseline.start
        problems.append(
            f"baseline: starts {short.total_seconds() / 60:.1f} min before the scenario's "
            "data: that part of it is empty"
        )
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
