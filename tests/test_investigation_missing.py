"""Missing evidence is said: when a signal could not be loaded (here the metrics, refused
by a tiny row budget), the investigation's suspects and verdict name the missing
evidence and the services it is missing for, and the verdict is at most "weak"."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from workbench import Incident, Investigation, Window
from workbench.investigation.missing import MarkedSuspects, mark_verdict, missing_evidence
from workbench.sources.files import DirectorySource


def _split(demo: Path, tmp: Path) -> tuple[Path, Path]:
    """The demo's metrics in one directory, everything else in another."""
    met, rest = tmp / "metrics-only", tmp / "rest"
    (met / "metrics").mkdir(parents=True)
    (met / "metrics" / "metrics.parquet").symlink_to(demo / "metrics" / "metrics.parquet")
    for sub in ("logs", "traces", "events"):
        (rest / sub).mkdir(parents=True)
        for f in (demo / sub).iterdir():
            (rest / sub / f.name).symlink_to(f)
    return met, rest


@pytest.fixture(scope="module")
def starved(lab_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Investigation:
    met, rest = _split(lab_demo_dir, tmp_path_factory.mktemp("missing"))
    meta = json.loads((lab_demo_dir / "scenario.json").read_text())
    win = Window(meta["incident_window"]["start"], meta["incident_window"]["end"])
    base = Window(meta["baseline_window"]["start"], meta["baseline_window"]["end"])
    inc = Incident(
        "starved",
        win,
        baseline=base,
        sources=[
            DirectorySource(met, name="metrics-files", max_rows=1_000),
            DirectorySource(rest, name="other-files"),
        ],
    )
    return Investigation(inc)


def test_missing_names_signal_evidence_and_services(starved: Investigation) -> None:
    miss = starved.missing.frame
    assert miss.height == 1
    row = miss.row(0, named=True)
    assert (row["signal"], row["source"], row["status"]) == ("metrics", "metrics-files", "failed")
    assert row["evidence"] == ["metrics", "saturation"]
    assert row["all_services"] is True
    # every service the other signals saw is named
    seen = set(starved.incident.spans["service"].unique().to_list())
    assert seen and seen <= set(row["services"])
    assert "LimitExceeded" in row["reason"] and "1,000" in row["reason"]


def test_suspects_carry_missing_column_and_line(starved: Investigation) -> None:
    sus = starved.suspects.value
    assert isinstance(sus, MarkedSuspects)
    assert not sus.complete
    assert sus.table.height > 1
    assert sus.table["missing"].null_count() == 0
    assert all("metrics" in m for m in sus.table["missing"].to_list())
    page = starved.suspects._repr_html_()
    assert "missing evidence" in page and "metric changes" in page
    assert "missing evidence" in repr(sus)


def test_verdict_at_most_weak_and_names_missing(starved: Investigation) -> None:
    v = starved.verdict.value
    assert v.level in ("weak", "none")
    assert "metric changes" in v.reason and "metrics failed" in v.reason
    assert v.as_dict()["missing"]
    # the verdict shown with the suspects is the same object as inv.verdict
    assert starved.suspects.value.verdict is v
    # a longer baseline would settle its chance bound, but not the missing evidence: the
    # headline's next step names that first
    from workbench.summaries import headline

    assert v.settle_baseline is not None
    step = headline(starved).next_step
    assert step is not None and step.startswith("first load the evidence that is missing"), step
    assert 'set baseline = "' in step


def test_complete_incident_has_nothing_missing(lab_demo_dir: Path) -> None:
    inv = Investigation(Incident.from_directory(lab_demo_dir))
    assert inv.missing.frame.is_empty()
    sus = inv.suspects.value
    assert not isinstance(sus, MarkedSuspects)
    assert "missing" not in sus.table.columns


def test_mark_verdict_caps_clear() -> None:
    from workbench.analysis.verdict import judge

    clear = judge(0.9, 0.1, ratio=5.0, top="a", second="b")
    assert clear.level == "clear"
    miss = pl.DataFrame(
        {
            "signal": ["spans"],
            "source": ["tempo"],
            "status": ["partial"],
            "evidence": [["errors", "latency", "patterns"]],
            "services": [["b", "c"]],
            "all_services": [False],
            "reason": ["partial: deadline reached after 3 of 8 chunks"],
        }
    )
    got = mark_verdict(clear, miss)
    assert got.level == "weak"
    assert "a stands out in the evidence that loaded" in got.reason
    assert "error origins" in got.reason and "2 service(s): b, c" in got.reason
    assert mark_verdict(clear, miss.clear()) is clear
    assert missing_evidence(Incident.from_frames("x", clear_window())).is_empty()


def clear_window() -> Window:
    return Window("2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z")


def test_over_budget_metrics_arrive_aggregated_not_missing(lab_demo_dir: Path) -> None:
    """The files source answers a load past ``max_rows`` with RED and saturation per
    service (metric_grain="auto"): nothing is missing and the demo's root cause still
    leads."""
    truth = json.loads((lab_demo_dir / "truth.json").read_text())["root_cause_service"]
    inc = Incident.from_directory(lab_demo_dir, max_rows=150_000)
    inv = Investigation(inc)
    assert inv.missing.frame.is_empty()
    res = inc.outcomes[(inc.sources[0].name, "metrics")].result
    assert res is not None and "RED and saturation per service" in " ".join(res.warnings)
    assert res.extra["grain"] == "signals" and inv.metric_grain() == "signals"
    # and the incident's status table says so where the user looks
    detail = inc.status().filter(signal="metrics")["detail"].item()
    assert "RED and saturation per service" in detail
    assert 0 < inc.metrics.height <= 150_000
    assert inv.suspects.value.ranking[0] == truth


def test_the_headline_says_a_failure_in_words_not_its_query() -> None:
    """look22: a Prometheus that did not answer read, in the headline's Missing data line,
    "prom metrics failed (cannot connect to http://127.0.0.1:9 | source=prom;
    query=(sum by (service) (rate(...)...; window=...; detail=ConnectError | what to do:
    ...)": the whole error with its query. The line says the message and what to do; the
    query and window stay in the sources table."""
    from types import SimpleNamespace

    from workbench.summaries import _missing

    detail = (
        "cannot connect to http://127.0.0.1:9 | source=prom; query=sum by (service) (rate(x[1m]));"
        " window=2026-11-20T10:00:00Z..2026-11-20T12:00:00Z; detail=ConnectError | what to do:"
        " check the URL and that the server is up and reachable"
    )
    status = pl.DataFrame(
        {
            "source": ["prom", "lab"],
            "signal": ["metrics", "logs"],
            "status": ["error", "partial"],
            "detail": [detail, "row cap reached"],
        }
    )
    inc = SimpleNamespace(sources=["prom", "lab"], status=lambda: status)
    assert _missing(inc) == [
        "prom metrics failed (cannot connect to http://127.0.0.1:9; what to do: check the URL "
        "and that the server is up and reachable)",
        "lab logs returned partial data (row cap reached)",
    ]
