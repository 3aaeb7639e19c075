"""`workbench eval`: metric arithmetic on known ranks, the commands on small subsets of
the real data sets and of the lab, and one honest accuracy check on the lab demo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from workbench.cli import main
from workbench.evaluation.cases import detect_layout, iter_cases
from workbench.evaluation.loghub import evaluate_system, grouping_accuracy, parsing_accuracy
from workbench.evaluation.rca import ac_at, avg_at, summarize

SUMMARY_RCA = re.compile(r"^AC@1=(\d\.\d\d) AC@3=(\d\.\d\d) Avg@5=(\d\.\d\d) cases=(\d+)$")
CASE_LINE = re.compile(r"^(\S+)\s+truth=\S+\s+rank=\s*(\S+) baro=\s*(\S+) top=")


def test_ac_at_k_and_avg_at_5_on_known_ranks():
    ranks = [1, 2, 3, None, 1, 6]
    assert ac_at(ranks, 1) == 2 / 6
    assert ac_at(ranks, 3) == 4 / 6
    assert avg_at(ranks, 5) == pytest.approx((2 + 3 + 4 + 4 + 4) / 6 / 5)
    assert summarize(ranks) == {"AC@1": 2 / 6, "AC@3": 4 / 6, "Avg@5": avg_at(ranks), "cases": 6}


def test_grouping_and_parsing_accuracy_on_a_known_example():
    truth = pl.Series(["A", "A", "B", "B", "C"])
    # A split in two -> its 2 lines are wrong; B and C exactly right
    pred = pl.Series([1, 2, 3, 3, 4])
    assert grouping_accuracy(truth, pred) == 3 / 5
    # merging B and C makes both wrong
    assert grouping_accuracy(truth, pl.Series([1, 1, 2, 2, 2])) == 2 / 5
    assert parsing_accuracy(pl.Series(["a <*>", "b  c"]), pl.Series(["a <*>", "b c"])) == 1.0
    assert parsing_accuracy(pl.Series(["a <*>", "b"]), pl.Series(["a x", "b"])) == 0.5


def _link_loghub(samples_dir: Path, tmp_path: Path, systems=("HDFS", "OpenSSH")) -> Path:
    root = tmp_path / "loghub"
    root.mkdir()
    for s in systems:
        (root / s).symlink_to(samples_dir / "loghub-2k" / s)
    return root


def test_eval_logs_on_two_systems(samples_dir, tmp_path, capsys):
    root = _link_loghub(samples_dir, tmp_path)
    assert main(["eval", "logs", str(root)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    per = {}
    for line in lines[:2]:
        m = re.match(r"^(\w+)\s+lines=\s*2000 .* GA=(\d\.\d{3}) PA=(\d\.\d{3})$", line)
        assert m, line
        per[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    for s, (ga, pa) in per.items():
        got = evaluate_system(root / s / f"{s}_2k.log_structured_corrected.csv")
        assert ga == round(got["GA"], 3) and pa == round(got["PA"], 3)
    m = re.match(r"^GA=(\d\.\d{3}) PA=(\d\.\d{3}) systems=2$", lines[2])
    assert m
    assert float(m.group(1)) == pytest.approx(sum(v[0] for v in per.values()) / 2, abs=1e-3)


def _check_rca_output(out: str, n: int) -> list[int | None]:
    lines = out.strip().splitlines()
    ranks = []
    for line in lines:
        m = CASE_LINE.match(line)
        if m:
            ranks.append(None if m.group(2) == "-" else int(m.group(2)))
    assert len(ranks) == n
    m = SUMMARY_RCA.match(lines[-1])
    assert m, lines[-1]
    s = summarize(ranks)
    assert (float(m.group(1)), float(m.group(2)), float(m.group(3)), int(m.group(4))) == (
        round(s["AC@1"], 2),
        round(s["AC@3"], 2),
        round(s["Avg@5"], 2),
        n,
    )
    assert lines[-2].startswith("BARO: AC@1=")
    return ranks


def test_eval_rca_on_two_nezha_cases(samples_dir, tmp_path, capsys):
    src = samples_dir / "nezha-trainticket"
    root = tmp_path / "nezha"
    root.mkdir()
    cases = pl.read_csv(src / "cases.csv", infer_schema=False)
    cases.filter(pl.col("case_id").is_in(["2023-01-29T092539", "2023-01-30T135220"])).write_csv(
        root / "cases.csv"
    )
    for d in ("rca_data", "construct_data"):
        (root / d).symlink_to(src / d)
    assert detect_layout(root) == "nezha"
    assert main(["eval", "rca", str(root)]) == 0
    _check_rca_output(capsys.readouterr().out, 2)


def test_eval_rca_on_two_petshop_issues(samples_dir, tmp_path, capsys):
    src = samples_dir / "petshop" / "low_traffic"
    sc = tmp_path / "petshop" / "low_traffic"
    (sc / "test").mkdir(parents=True)
    for name in ("graph.csv", "noissue"):
        (sc / name).symlink_to(src / name)
    for issue in ("issue_0", "issue_10"):
        (sc / "test" / issue).symlink_to(src / "test" / issue)
    assert detect_layout(tmp_path / "petshop") == "petshop"
    got = list(iter_cases(tmp_path / "petshop"))
    assert [c.truth for c in got] == [
        "petInfo_AWS::DynamoDB::Table",
        "petlistadoptions_AWS::ECS::Fargate",
    ]
    assert got[0].edges is not None and got[0].edges.height > 0
    assert main(["eval", "rca", str(tmp_path / "petshop")]) == 0
    _check_rca_output(capsys.readouterr().out, 2)


def test_eval_rca_on_small_lab_cases(lab_scenario_dir, tmp_path, capsys):
    root = tmp_path / "suite"
    root.mkdir()
    for name in ("db-outage", "cpu-hog"):
        (root / name).symlink_to(lab_scenario_dir(name, 2, services=8))
    assert detect_layout(root) == "lab-suite"
    assert main(["eval", "rca", str(root)]) == 0
    _check_rca_output(capsys.readouterr().out, 2)


def test_unknown_layout_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", "rca", str(tmp_path)]) == 1
    assert "not a known RCA layout" in capsys.readouterr().err


def test_demo_ground_truth_is_ranked_first(lab_demo_dir):
    """Honest: this fails if the ranking stops pointing at the demo's bad deploy."""
    import json

    from workbench.analysis.suspects import rank_suspects
    from workbench.incident import Incident

    truth = json.loads((lab_demo_dir / "truth.json").read_text())["root_cause_service"]
    sus = rank_suspects(Incident.from_directory(lab_demo_dir))
    assert sus.ranking[0] == truth
    ev = sus.evidence(truth)
    assert ev.spans.height > 0 or ev.series.height > 0


def test_lab_suite_spec_covers_every_fault_kind_and_reuses_generated_cases(tmp_path):
    from workbench.evaluation.suite import SUITE, case_name, case_variation, generate_suite
    from workbench.lab.faults import FAULT_KINDS
    from workbench.lab.revision import GENERATOR_REVISION
    from workbench.lab.scenarios import get_scenario

    assert len(SUITE) >= 60
    assert {get_scenario(c[0]).fault for c in SUITE} == set(FAULT_KINDS)
    assert len({c[1] for c in SUITE}) >= 3 and len({c[2] for c in SUITE}) >= 2
    spec = [("db-outage", 8, 5, "leaf", False)]
    d = tmp_path / case_name(*spec[0])
    d.mkdir()
    (d / "truth.json").write_text('{"root_cause_service": "x"}')
    drawn = case_variation(*spec[0][:3], position="leaf", announced=False).describe()
    rev = GENERATOR_REVISION
    (d / "scenario.json").write_text(json.dumps({"variation": drawn, "generator_revision": rev}))
    made: list[str] = []
    assert generate_suite(tmp_path, spec=spec, progress=made.append) == tmp_path
    assert made == []  # already there, drawn the same by this generator: not generated again
    # drawn the same by an older generator (alerts at pending time): generated again
    (d / "scenario.json").write_text(json.dumps({"variation": drawn}))
    assert generate_suite(tmp_path, spec=spec, progress=made.append) == tmp_path
    assert made == [d.name]
    held = json.loads((d / "scenario.json").read_text())
    assert held["variation"] == json.loads(json.dumps(drawn))
    assert held["generator_revision"] == rev
    # drawn otherwise (an older generator): generated again
    held["variation"] = {**drawn, "root": "old"}
    (d / "scenario.json").write_text(json.dumps(held))
    assert generate_suite(tmp_path, spec=spec, progress=made.append) == tmp_path
    assert made == [d.name, d.name]
    held = json.loads((d / "scenario.json").read_text())["variation"]
    assert held == json.loads(json.dumps(drawn))


def test_lab_suite_refuses_to_fill_the_disk_and_names_older_suites(tmp_path, monkeypatch):
    from workbench.errors import ConfigError
    from workbench.evaluation import suite
    from workbench.lab.revision import GENERATOR_REVISION

    here = tmp_path / f"lab-suite-v{GENERATOR_REVISION}"
    old = tmp_path / f"lab-suite-v{GENERATOR_REVISION - 1}"
    (old / "cpu-hog-shop-s1").mkdir(parents=True)
    (old / "cpu-hog-shop-s1" / "traces.otlp.jsonl").write_bytes(b"x" * 5000)
    (tmp_path / "lab-suite-vX").mkdir()  # not a revision: left alone
    assert suite.older_suites(here) == [(old, 5000)]
    spec = suite.suite_spec((7,))[:3]
    # three cases need 3 x 100 MB plus 1 GB left free: 1.2 GB free is not enough
    monkeypatch.setattr(suite, "free_bytes", lambda path: int(1.2 * 1024**3))
    made: list[str] = []
    with pytest.raises(ConfigError) as err:
        suite.generate_suite(here, spec=spec, progress=made.append)
    assert "3 case(s)" in str(err.value) and "1.2 GB free" in str(err.value)
    assert str(old) in (err.value.hint or "")  # what may be deleted, with its path
    assert made == [] and not any(here.iterdir())  # nothing half-written
    # enough room: generation goes ahead (one case, to keep the test short)
    monkeypatch.setattr(suite, "free_bytes", lambda path: 2 * 1024**3)
    suite.generate_suite(here, spec=spec[:1], progress=made.append)
    assert made == [suite.case_name(*spec[0])]
