"""The verdict in `workbench eval rca`: a line for the fault cases, one for fault-free
windows with --quiet-windows, the summary line still last; fault-free PetShop windows."""

from __future__ import annotations

import re

from workbench.cli import main
from workbench.evaluation.quiet import quiet_cases
from workbench.evaluation.rca import evaluate_cases, verdict_counts

VERDICT = re.compile(
    r"^verdict: clear=(\d+) weak=(\d+) none=(\d+) \((fault cases|fault-free windows), (\d+)"
)


def _petshop(samples_dir, tmp_path):
    src = samples_dir / "petshop" / "low_traffic"
    sc = tmp_path / "petshop" / "low_traffic"
    (sc / "test").mkdir(parents=True)
    for name in ("graph.csv", "noissue"):
        (sc / name).symlink_to(src / name)
    for issue in ("issue_0", "issue_10"):  # one latency alert, one availability alert
        (sc / "test" / issue).symlink_to(src / "test" / issue)
    return tmp_path / "petshop"


def test_quiet_petshop_windows_follow_the_noissue_protocol(samples_dir, tmp_path):
    root = _petshop(samples_dir, tmp_path)
    cases = list(quiet_cases(root))
    # splits at 50 %, 60 %, ... of the 589 normal steps
    assert len(cases) == 6 and {c.truth for c in cases} == {""}
    for c in cases:
        assert c.baseline.end == c.window.start - 2 * c.window.duration
        assert c.metrics["ts"].max() < c.window.end + 3 * c.window.duration
    df = evaluate_cases(cases[:4], verdict=True)
    assert df["rank"].null_count() == 4  # no truth to find
    c = verdict_counts(df)
    assert c["clear"] + c["weak"] + c["none"] == 4 and c["clear_right"] == 0
    # normal operation: nothing may be called a clear fault
    assert c["clear"] == 0


def test_eval_rca_prints_verdict_lines_before_the_summary(samples_dir, tmp_path, capsys):
    root = _petshop(samples_dir, tmp_path)
    assert main(["eval", "rca", str(root), "--quiet-windows"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.match(r"^AC@1=\d\.\d\d AC@3=\d\.\d\d Avg@5=\d\.\d\d cases=2$", lines[-1])
    assert lines[-2].startswith("BARO: AC@1=")
    got = {}
    for line in lines[-4:-2]:
        m = VERDICT.match(line)
        assert m, line
        got[m.group(4)] = [int(m.group(i)) for i in (1, 2, 3, 5)]
    assert sum(got["fault cases"][:3]) == got["fault cases"][3] == 2
    assert sum(got["fault-free windows"][:3]) == got["fault-free windows"][3] == 6
    assert any(re.search(r" verdict=(clear|weak|none)$", line) for line in lines)


def test_eval_rca_without_verdict(samples_dir, tmp_path, capsys):
    root = _petshop(samples_dir, tmp_path)
    assert main(["eval", "rca", str(root), "--no-verdict", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("alert = the data set's trigger time")  # what the cases are given
    lines = lines[1:]
    assert len(lines) == 2 and not any(line.startswith("verdict:") for line in lines)


def test_lab_quiet_windows_are_those_of_the_cases_asked_for(lab_scenario_dir, tmp_path):
    """A suite directory may hold other seeds' scenarios: ``--lab-suite --seeds S`` judges
    the fault-free windows of the seeds asked for only."""
    from workbench.evaluation.cases import lab_case

    one, two = lab_scenario_dir("demo", 1), lab_scenario_dir("demo", 2)
    root = tmp_path / "suite"
    root.mkdir()
    (root / "demo-s1").symlink_to(one)
    (root / "demo-s2").symlink_to(two)
    assert len(list(quiet_cases(root))) == 2
    asked = list(quiet_cases(root, [lab_case(root / "demo-s2")]))
    assert [c.id for c in asked] == [f"{lab_case(root / 'demo-s2').id}/quiet"]
