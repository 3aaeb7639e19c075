"""Healthy history before a lab scenario (``history_hours``), for a longer baseline; and lab
cases opened with the notebook's ``baseline`` parameter (``workbench eval rca --baseline``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from workbench.evaluation.labcase import lab_case, lab_quiet_case
from workbench.evaluation.quiet import quiet_cases
from workbench.notebook import baseline_window
from workbench.timewindow import Window, parse_time

SMALL = {"step_s": 60.0, "target_traces": 400}  # smaller, same code paths

# db-outage seed 5 at SMALL as the generator wrote it before history_hours existed
# (main at 7bb8650, GENERATOR_REVISION 7): without the option nothing may change.
# scenario.json is left out (it names the package version)
PINNED = {
    "events/alertmanager-webhook.jsonl": "1f90353892dbe60fe5a0ce0a9d5a425d0c635a09bf7c5584f4f2a45dc2ddab47",
    "events/argocd-applications.json": "a28e313ec169657b2321fc94bd2767a9853c4acaa633ddfd8d787229c48c0d4d",
    "events/chaos-mesh.yaml": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "events/rollouts-events.json": "148421ba09da814127699c33567af047e75e097c09906e3c0285c898daa3430f",
    "logs/logs.jsonl": "c4302e51d5c28864c16ea516ce503c658ee118b28ee23f66ff966b50cdd46fc6",
    "metrics/metrics.om": "d01544e09cb41f9260c7457b2aa4dc849cf83a7c58b535816390cfa7161de917",
    "metrics/metrics.parquet": "b8d2b8976fc8deaeb5f1e002eb31d5ad94ba48619b264d2ee8e7dbcd13c3a70e",
    "topology.json": "34cd9a11fbc477e7a5e2c8533a7e567509bc9b6e4075feda9b7d32c2fb9d72a7",
    "traces/traces.otlp.jsonl": "645a926bfc3e104fbbe10662f65d8e6cc01418f855bedb753e7a63a1f9174755",
    "truth.json": "ce3977efcc9b2d56745d605f3f9a093e856469c56dd2c61663cea7582440680e",
}


@pytest.fixture(scope="module")
def plain(lab_scenario_dir) -> Path:
    return lab_scenario_dir("db-outage", 5, **SMALL)


@pytest.fixture(scope="module")
def longer(lab_scenario_dir) -> Path:
    return lab_scenario_dir("db-outage", 5, history_hours=2.0, **SMALL)


def _json(p: Path) -> dict:
    return json.loads(p.read_text())


def test_without_history_the_files_are_the_ones_written_before_the_option(plain: Path) -> None:
    got = {k: hashlib.sha256((plain / k).read_bytes()).hexdigest() for k in PINNED}
    assert got == PINNED
    assert "history_hours" not in _json(plain / "scenario.json")["options"]


def test_history_comes_before_the_scenario_whose_windows_and_truth_stay(
    plain: Path, longer: Path
) -> None:
    a, b = _json(plain / "scenario.json"), _json(longer / "scenario.json")
    assert b["incident_window"] == a["incident_window"]
    assert b["baseline_window"] == a["baseline_window"]
    assert parse_time(a["window"]["start"]) - parse_time(b["window"]["start"]) == (
        parse_time(a["window"]["end"]) - parse_time(a["window"]["start"])
    )  # 2 h of history before a 2 h scenario
    assert b["window"]["end"] == a["window"]["end"]
    assert b["options"]["history_hours"] == 2.0
    assert _json(longer / "truth.json") == _json(plain / "truth.json")
    # traces are sampled at the rate of the scenario's own hours, not spread thinner
    pa = a["sampling"]["candidate_probability"]
    assert b["sampling"]["candidate_probability"] == pytest.approx(pa, rel=0.1)


def test_the_history_carries_traffic_logs_and_traces_like_the_baseline(longer: Path) -> None:
    meta = _json(longer / "scenario.json")
    scenario = parse_time(meta["baseline_window"]["start"])
    case = lab_case(longer, baseline="150m")  # reaches 30 min or more into the history
    hist = Window(case.baseline.start, scenario)
    own = Window(scenario, case.baseline.end)  # the scenario's part of the baseline
    assert hist.duration.total_seconds() >= 1800
    for df, col in ((case.metrics, "ts"), (case.logs, "ts"), (case.spans, "start")):
        n_hist = df.filter(pl.col(col).is_between(hist.start, hist.end, closed="left")).height
        n_own = df.filter(pl.col(col).is_between(own.start, own.end, closed="left")).height
        n_hist /= hist.duration.total_seconds()  # rows a second
        n_own /= own.duration.total_seconds()
        # the same healthy behaviour: rows of every kind, at a comparable rate (traffic
        # follows the time of day: a little lower earlier in the morning)
        assert 0.3 * n_own < n_hist <= 1.2 * n_own, (col, n_hist, n_own)


def test_a_lab_case_takes_the_baseline_parameter_as_the_notebook_does(longer: Path) -> None:
    default = lab_case(longer)
    case = lab_case(longer, baseline="150m")
    assert case.window == default.window
    assert case.baseline == baseline_window("150m", default.window)
    assert default.baseline == default.window.baseline()
    # the frames reach back to the longer baseline's start, not only the default's
    assert case.metrics["ts"].min() < default.baseline.start
    assert not case.problems  # the history holds it
    # a baseline longer than the data says that its first part is empty
    assert lab_case(longer, baseline="6h").problems


def test_a_fault_free_window_with_the_baseline_parameter_ends_where_the_case_begins(
    longer: Path,
) -> None:
    case = lab_case(longer)
    q = lab_quiet_case(longer, baseline="150m")
    assert q.window == Window(case.window.start - case.window.duration, case.window.start)
    assert q.baseline == baseline_window("150m", q.window)
    assert (q.truth, q.fault) == ("", "none")
    for df, col in ((q.metrics, "ts"), (q.logs, "ts"), (q.spans, "start")):
        assert df.height and df[col].max() < case.window.start
    assert q.metrics["ts"].min() < q.window.start - q.window.duration
    # without the parameter the fault-free windows are cut from the case's baseline
    (old,) = quiet_cases(longer)
    assert old.window.end == case.baseline.end and old.baseline.start == case.baseline.start
    (new,) = quiet_cases(longer, baseline="150m")
    assert new.window == q.window


def test_the_suite_keeps_a_case_only_when_it_holds_the_history_asked(tmp_path, monkeypatch):
    import workbench.lab
    from workbench.evaluation.suite import case_name, case_variation, generate_suite
    from workbench.lab.revision import GENERATOR_REVISION

    made: list[tuple[str, float]] = []
    monkeypatch.setattr(
        workbench.lab, "generate", lambda sc, seed, d, **kw: made.append((sc, kw["history_hours"]))
    )
    spec = [("db-outage", 8, 5, "leaf", False)]
    d = tmp_path / case_name(*spec[0])
    drawn = case_variation(*spec[0][:3], position="leaf", announced=False).describe()

    def hold(options: dict) -> None:  # a complete case as the generator leaves it
        d.mkdir(exist_ok=True)
        (d / "truth.json").write_text('{"root_cause_service": "x"}')
        held = {"variation": drawn, "generator_revision": GENERATOR_REVISION, "options": options}
        (d / "scenario.json").write_text(json.dumps(held))

    hold({})
    generate_suite(tmp_path, spec=spec)
    assert made == []  # two hours held, two hours asked
    generate_suite(tmp_path, spec=spec, history_hours=4.5)
    assert made == [("db-outage", 4.5)]  # two hours held, more asked: generated again
    hold({"history_hours": 4.5})
    generate_suite(tmp_path, spec=spec, history_hours=4.5)
    assert made == [("db-outage", 4.5)]
    generate_suite(tmp_path, spec=spec)
    assert made == [("db-outage", 4.5), ("db-outage", 0.0)]


def test_history_needs_a_suite_directory_of_its_own(capsys, tmp_path):
    from workbench.cli import main

    assert main(["eval", "rca", str(tmp_path), "--history-hours", "2"]) == 1
    assert "--history-hours needs --lab-suite" in capsys.readouterr().err
    # the default cache holds two-hour cases: a suite with history goes elsewhere
    assert main(["eval", "rca", "--lab-suite", "--history-hours", "2", "--seeds", "4"]) == 1
    assert "a DIR of its own" in capsys.readouterr().err
