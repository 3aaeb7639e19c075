"""Investigation: every view computed once, memoised, labelled with its window and
definition; narrow() shares what stays valid; the answers equal the analysis functions
called directly."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import workbench
from workbench import Answer, Incident, Investigation, Window
from workbench.analysis.red import red, red_summary
from workbench.analysis.suspects import rank_suspects
from workbench.analysis.templates import template_surges
from workbench.errors import ConfigError

VIEWS = (
    "red",
    "red_summary",
    "graph",
    "graph_baseline",
    "graph_diff",
    "templates",
    "surges",
    "top_errors",
    "onsets",
    "timeline",
    "origins",
    "blame",
    "suspects",
    "verdict",
    "findings",
    "impact",
)


@pytest.fixture(scope="module")
def demo(lab_demo_dir: Path) -> dict:
    inc = Incident.from_directory(lab_demo_dir)
    inc.load()
    truth = json.loads((lab_demo_dir / "truth.json").read_text())
    return {"inc": inc, "root": truth["root_cause_service"]}


@pytest.fixture(scope="module")
def inv(demo: dict) -> Investigation:
    return Investigation(demo["inc"])


def test_public_surface() -> None:
    assert "Investigation" in workbench.__all__
    assert "Answer" in workbench.__all__
    assert workbench.Investigation is Investigation


def test_every_view_names_its_window_and_definition(inv: Investigation) -> None:
    for name in VIEWS:
        ans = getattr(inv, name)
        assert isinstance(ans, Answer), name
        assert ans.definition, name
        assert ans.window in (inv.window, inv.incident.full_window, inv.baseline), name
        assert "window 2026" in ans.caption() or "window" in ans.caption(), name
        shown = ans._repr_html_() or ans._repr_markdown_() or ""  # the findings are Markdown
        assert inv.window.start.strftime("%H:%M") in shown or name in (
            "red",
            "templates",
            "graph_baseline",
        ), name


def test_views_are_memoised(inv: Investigation) -> None:
    assert inv.suspects is inv.suspects
    assert inv.red is inv.red
    assert inv.verdict.value is inv.suspects.value.verdict  # computed once, shared


def test_answers_equal_the_analysis_functions(inv: Investigation, demo: dict) -> None:
    inc = demo["inc"]
    r = red(inc.metrics, inc.spans)
    assert_frame_equal(inv.red.frame, r)
    assert_frame_equal(
        inv.red_summary.frame, red_summary(r, window=inc.window, baseline=inc.baseline)
    )
    assert_frame_equal(
        inv.surges.frame.drop("first_in_window", strict=False),
        template_surges(inc.logs, inc.window, inc.baseline).drop("first_in_window", strict=False),
    )
    # the ranking is exactly rank_suspects' (the investigation does not change it)
    direct = rank_suspects(inc)
    assert_frame_equal(inv.suspects.table, direct.table)
    assert inv.suspects.ranking[0] == demo["root"]


def test_one_timeline_has_events_onsets_and_surges(inv: Investigation) -> None:
    kinds = set(inv.timeline.frame["kind"].to_list())
    assert {"incident", "baseline", "error_spike", "log_surge", "deploy"} <= kinds
    assert inv.timeline.frame["ts"].is_sorted()


def test_narrow_shares_frames_and_window_free_answers(inv: Investigation) -> None:
    half = Window(inv.window.start, inv.window.start + timedelta(minutes=30))
    n = inv.narrow(window=half, services=["checkout"])
    assert n.window == half and n.services == ("checkout",)
    assert n.red is inv.red  # window-free: shared, not recomputed
    assert n.templates is inv.templates
    s = n.red_summary
    assert s.window == half and s.services == ("checkout",)
    assert s.frame["service"].to_list() == ["checkout"]
    # the focused summary is the window's summary, filtered
    whole = red_summary(inv.red.frame, window=half, baseline=n.baseline)
    assert_frame_equal(s.frame, whole.filter(pl.col("service") == "checkout"))
    # back to the original window: the same answers as before
    back = n.narrow(window=inv.window, services=[])
    assert back.red_summary is inv.red_summary
    assert back.suspects is inv.suspects


def test_narrow_refuses_a_window_outside_the_data(inv: Investigation) -> None:
    full = inv.incident.full_window
    with pytest.raises(ConfigError, match="outside the data loaded"):
        inv.narrow(window=Window(full.start - timedelta(hours=1), full.end))


def test_threads_asking_at_once_compute_once(demo: dict) -> None:
    fresh = Investigation(demo["inc"])
    got: list[object] = []

    def ask() -> None:
        got.append(fresh.surges)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(g is got[0] for g in got)


def test_graph_nodes_carry_the_red_numbers(inv: Investigation) -> None:
    nodes = inv.graph.nodes
    summary = inv.red_summary.frame
    row = nodes.filter(pl.col("service") == "checkout").row(0, named=True)
    srow = summary.filter(pl.col("service") == "checkout").row(0, named=True)
    assert row["error_ratio"] == pytest.approx(srow["error_ratio_inc"])
    assert row["rate_per_s"] == pytest.approx(srow["rate_inc"])
    assert row["p95_ms"] == pytest.approx(srow["p95_inc_ms"])


def test_postmortem_reads_the_investigation(inv: Investigation) -> None:
    pm = inv.postmortem(authors=["alice"])
    assert_frame_equal(pm.timeline, inv.postmortem_timeline.frame)
    assert pm.impact is inv.impact.value
    assert pm.top_suspect == inv.suspects.ranking[0]


def test_needs_an_incident() -> None:
    with pytest.raises(ConfigError, match="needs an Incident"):
        Investigation({"metrics": pl.DataFrame()})


def test_verdict_shares_the_rankings_window_free_work(
    demo: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The placebo rankings reuse the counter rates, mined templates and blamed spans
    the ranking computed (one memo per investigation); outside it nothing is cached."""
    from workbench.analysis import changes, templates
    from workbench.analysis.verdict import assess

    calls = {"rates": 0, "mining": 0}
    real_rates, real_drain = changes.rate_counters, templates._factorize

    def rates(*a, **k):  # type: ignore[no-untyped-def]
        calls["rates"] += 1
        return real_rates(*a, **k)

    def drain(*a, **k):  # type: ignore[no-untyped-def]
        calls["mining"] += 1
        return real_drain(*a, **k)

    monkeypatch.setattr(changes, "rate_counters", rates)
    monkeypatch.setattr(templates, "_factorize", drain)
    fresh = Investigation(demo["inc"])
    sus = fresh.suspects.value
    after_ranking = dict(calls)
    verdict = fresh.verdict.value
    assert verdict.placebos >= 1
    # the ranking rates counters once for changes, once for the derived totals and once
    # for CPU utilisation (the CPU-seconds counters only); the placebos add no new rates
    assert 1 <= after_ranking["rates"] <= 3
    assert calls["rates"] == after_ranking["rates"]
    assert calls["mining"] == after_ranking["mining"]  # nor new template mining
    # the same verdict as the plain function, which shares nothing
    plain = assess(rank_suspects(demo["inc"]))
    assert calls["rates"] > 1  # outside an investigation every ranking computes its own
    assert (plain.level, plain.top) == (verdict.level, verdict.top)
    assert plain.ratio == pytest.approx(verdict.ratio)
    assert sus.ranking == rank_suspects(demo["inc"]).ranking
