"""Lab cases at alert time: the alert is the first one at or after the fault's start, the
window is the product's alert window ending two minutes after it, nothing later is seen."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.commands.new import alert_window
from workbench.evaluation.labcase import first_alert, lab_case
from workbench.timewindow import parse_time

LOOK_AHEAD = timedelta(minutes=2)


def _payload(name: str, service: str, starts: str, status: str = "firing") -> str:
    alert = {
        "status": status,
        "labels": {"alertname": name, "service": service},
        "annotations": {"summary": f"{service} is unwell"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"{name}-{service}",
    }
    return json.dumps({"version": "4", "status": status, "receiver": "pager", "alerts": [alert]})


@pytest.fixture(scope="module")
def generated(lab_scenario_dir) -> Path:
    return lab_scenario_dir("db-outage", 2, services=8)


def _copy(src: Path, dst: Path, alerts: list[str] | None) -> Path:
    """The scenario ``src`` with its telemetry linked and its alert payloads replaced by
    ``alerts`` (None: no alert file at all)."""
    dst.mkdir()
    for f in ("truth.json", "scenario.json"):
        shutil.copy(src / f, dst / f)
    for d in ("metrics", "logs", "traces"):
        (dst / d).symlink_to(src / d)
    (dst / "events").mkdir()
    for f in (src / "events").iterdir():
        if f.name != "alertmanager-webhook.jsonl":
            (dst / "events" / f.name).symlink_to(f)
    if alerts is not None:
        (dst / "events" / "alertmanager-webhook.jsonl").write_text("\n".join(alerts) + "\n")
    return dst


def test_a_generated_case_opens_at_its_first_alert_after_the_fault(generated):
    truth = json.loads((generated / "truth.json").read_text())
    fault = parse_time(truth["start"])
    # the first alert at or after the fault, read here straight from the payloads
    starts = sorted(
        parse_time(a["startsAt"])
        for line in (generated / "events" / "alertmanager-webhook.jsonl").read_text().splitlines()
        if line.strip()
        for a in json.loads(line)["alerts"]
    )
    first = next(t for t in starts if t >= fault)
    case = lab_case(generated)
    assert case.alert == first
    assert case.alert_from.startswith("first alert at or after the fault's start")
    assert case.window.end == first + LOOK_AHEAD
    assert case.window.start == first - timedelta(minutes=30)  # workbench new --alert
    assert case.baseline.end == case.window.start
    assert case.baseline.end - case.baseline.start == case.window.end - case.window.start
    # nothing after the moment the notebook is opened
    for df, col in ((case.metrics, "ts"), (case.logs, "ts"), (case.spans, "start")):
        assert df.height > 0 and df[col].max() < case.window.end
        assert df[col].min() >= case.baseline.start
    ends = case.events["end"].drop_nulls()
    assert ends.len() == 0 or ends.max() <= case.window.end
    # the old case (the whole incident hour) saw the recovery; this one ends before it
    assert case.window.end < parse_time(truth["end"])


def test_an_alert_before_the_fault_is_not_its_page(generated, tmp_path):
    truth = json.loads((generated / "truth.json").read_text())
    fault = parse_time(truth["start"])
    iso = "%Y-%m-%dT%H:%M:%SZ"
    early = (fault - timedelta(minutes=5)).strftime(iso)
    page = (fault + timedelta(seconds=95)).strftime(iso)
    later = (fault + timedelta(minutes=4)).strftime(iso)
    d = _copy(
        generated,
        tmp_path / "case",
        [
            _payload("HighLatency", "web", early),
            _payload("HighErrorRate", "web", later),
            _payload("TargetDown", "postgres", page),
        ],
    )
    assert first_alert(d, fault) == (parse_time(page), "TargetDown on postgres")
    case = lab_case(d)
    assert case.alert == parse_time(page)
    assert case.window == alert_window({"startsAt": page}, now=parse_time(page) + LOOK_AHEAD)
    assert case.window.end == parse_time(page) + LOOK_AHEAD
    assert case.problems == []


def test_without_an_alert_the_detection_delay_stands_in_and_the_case_says_so(
    generated, tmp_path, capsys
):
    fault = parse_time(json.loads((generated / "truth.json").read_text())["start"])
    before_only = _payload("HighLatency", "web", (fault - timedelta(minutes=1)).isoformat())
    root = tmp_path / "suite"
    root.mkdir()
    d = _copy(generated, root / "quiet-rules", [before_only])
    case = lab_case(d, detection_delay=timedelta(seconds=90))
    assert case.alert == fault + timedelta(seconds=90)
    assert case.window.end == fault + timedelta(seconds=90) + LOOK_AHEAD
    assert "no alert fired" in case.alert_from and "90 s" in case.alert_from
    assert lab_case(_copy(generated, root / "no-file", None)).alert == fault + timedelta(seconds=60)
    assert main(["eval", "rca", str(root), "--detection-delay", "90", "--no-verdict"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("alert = the first Alertmanager alert at or after the fault's start")
    assert "+ 90 s detection delay" in out
    assert "alert: quiet-rules: no alert fired at or after the fault's start" in out
    assert "alert: 2 of 2 case(s) had no alert at or after the fault's start" in out


def test_a_source_that_fails_to_load_is_said_by_workbench_eval(generated, tmp_path, capsys):
    # the load logs the failure at INFO only (test_logging_policy): the case carries it,
    # and `workbench eval` prints it (before: only a WARNING log line told it)
    root = tmp_path / "suite"
    root.mkdir()
    d = _copy(generated, root / "broken-logs", alerts=None)
    (d / "logs").unlink()
    (d / "logs").mkdir()
    (d / "logs" / "app.jsonl").write_text("not json\n")
    case = lab_case(d)
    assert [p.split(" (")[0] for p in case.problems] == [f"files:{d.name} logs failed"]
    assert "line 1 is not JSON" in case.problems[0] and "what to do:" in case.problems[0]
    assert main(["eval", "rca", str(root), "--no-verdict"]) == 0
    out = capsys.readouterr().out
    assert f"partial: broken-logs: files:{d.name} logs failed (line 1 is not JSON" in out
