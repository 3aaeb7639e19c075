"""The lab command line, the cached demo, and generated topologies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import ConfigError
from workbench.lab import generate, scenario_info
from workbench.lab.demo import demo_path
from workbench.lab.topology import generated, shop


def test_lab_scenarios_lists_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "scenarios", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"demo", "cpu-hog", "db-outage"} <= {s["name"] for s in info}


def test_lab_scenarios_table_names_its_columns(capsys: pytest.CaptureFixture[str]) -> None:
    # look22: four columns with no header (fault kind and root service read alike)
    assert main(["lab", "scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["scenario", "fault", "root", "cause", "title"]
    db = next(line for line in lines if line.startswith("db-outage "))
    for word, value in (
        ("fault", "db_outage"),
        ("root cause", "postgres"),
        ("title", "PostgreSQL"),
    ):
        assert db.index(value) == lines[0].index(word), word  # under its header
    assert len(lines) == 1 + len(scenario_info())


def test_lab_generate_writes_a_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x"
    rc = main(
        [
            "lab",
            "generate",
            "--scenario",
            "packet-loss",
            "--seed",
            "3",
            "--out",
            str(out),
            "--start",
            "2026-03-02T08:00:00Z",
            "--services",
            "30",
            "--step",
            "60",
        ]
    )
    assert rc == 0
    assert "wrote packet-loss" in capsys.readouterr().out
    meta = json.loads((out / "scenario.json").read_text())
    assert meta["window"] == {"start": "2026-03-02T08:00:00Z", "end": "2026-03-02T10:00:00Z"}
    assert len(meta["services"]) == 30
    truth = json.loads((out / "truth.json").read_text())
    assert truth["root_cause_service"] in meta["services"]
    assert truth["fault"] == "packet_loss"


def test_lab_generate_rejects_unknown_scenario(tmp_path: Path, capsys) -> None:
    assert main(["lab", "generate", "--scenario", "nope", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "unknown lab scenario" in err and "demo" in err
    with pytest.raises(ConfigError):
        generate("nope", 1, tmp_path)


def test_demo_path_generates_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    p = demo_path(seed=4)
    assert p.parent == tmp_path / "cache"
    assert p.name.endswith("-seed4") and p.name.startswith("demo-")
    assert (p / "truth.json").exists()
    stamp = (p / "scenario.json").stat().st_mtime_ns
    assert demo_path(seed=4) == p
    assert (p / "scenario.json").stat().st_mtime_ns == stamp  # reused, not regenerated
    leftovers = [q.name for q in (tmp_path / "cache").iterdir() if q != p]
    assert leftovers == []  # no temporary directories left behind


def test_shop_and_generated_topologies() -> None:
    s = shop()
    assert 12 <= len(s.services) <= 14
    assert s.order[0] == "frontend"
    big = generated(1000, seed=2)
    assert len(big.services) == 1000 == len(set(big.names))
    assert big.order  # a DAG: topological order exists
    callers = big.callers
    orphans = [n for n in big.names if not callers[n] and big.service(n).kind != "frontend"]
    assert orphans == []
    assert generated(50, seed=2) == generated(50, seed=2)
    assert generated(50, seed=2) != generated(50, seed=3)
    with pytest.raises(ValueError):
        generated(1001)


def test_large_generated_topology_generates(tmp_path: Path) -> None:
    path = generate("cpu-hog", 1, tmp_path / "big", services=120, step_s=120)
    meta = json.loads((path / "scenario.json").read_text())
    assert len(meta["services"]) == 120
    assert meta["counts"]["spans"] > 1000
    truth = json.loads((path / "truth.json").read_text())
    assert truth["details"]["victims"], "a fault in a big system still has victims"


def test_lab_history_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h"
    rc = main(["lab", "history", "--out", str(out), "--days", "3", "--step", "900"])
    assert rc == 0
    assert "first to saturate: checkout cpu" in capsys.readouterr().out
    meta = json.loads((out / "scenario.json").read_text())
    assert meta["window"]["end"] == "2026-11-20T00:00:00Z"
    assert main(["lab", "history", "--out", str(out), "--days", "0"]) == 1
