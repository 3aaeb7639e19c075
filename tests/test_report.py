"""Findings drafted from analysis results: the top suspect named, the evidence summarised,
untrusted text escaped, and an honest "no suspect" when nothing stands out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from workbench.display import span_label
from workbench.report import findings
from workbench.timewindow import Window

W = Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z")
T = datetime(2026, 11, 20, 11, 5, tzinfo=UTC)


@dataclass
class _Inc:
    id: str = "INC-1"
    window: Window = W
    partial: bool = False


@dataclass
class _Sus:
    table: pl.DataFrame
    onset: datetime | None = T


def _table(rows: list[tuple[str, float, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "service": pl.String,
            "score": pl.Float64,
            "why": pl.String,
            "victim_of": pl.String,
        },
        orient="row",
    )


def _tl() -> pl.DataFrame:
    def t(h: int, m: int) -> datetime:
        return datetime(2026, 11, 20, h, m, tzinfo=UTC)

    return pl.DataFrame(
        {
            "ts": [t(10, 20), t(11, 3), t(11, 3), t(11, 5), t(11, 7), t(11, 40)],
            "end": [None, t(11, 8), None, t(11, 40), t(11, 45), None],
            "kind": ["deploy", "deploy", "deploy", "error_spike", "alert", "rollback"],
            "service": ["currency", "cart", "cart", "cart", "cart", "cart"],
            "title": [
                "deploy currency v1",
                "deploy cart v2.0",
                "RolloutUpdated cart",
                "errors rise on cart",
                "HighErrorRate: cart",
                "rollback cart to v1.9",
            ],
        }
    )


def test_findings_name_the_top_suspect_with_its_evidence() -> None:
    sus = _Sus(
        _table(
            [
                ("cart", 1.2, "errors start here <*> *boom*", None),
                ("gateway", 0.3, "calls cart", "cart"),
            ]
        )
    )
    summary = pl.DataFrame(
        {
            "service": ["cart", "gateway"],
            "error_ratio_base": [0.01, 0.0],
            "error_ratio_inc": [0.2, 0.001],
            "error_ratio_delta": [0.19, 0.001],
            "p95_ratio": [1.0, 2.0],
        }
    )
    surges = pl.DataFrame(
        {
            "service": ["cart"],
            "template": ["NPE at `x` <*>"],
            "surge": [True],
            "new": [True],
            "z": [9.0],
            "ratio": [40.0],
        }
    )
    origins = pl.DataFrame({"service": ["cart"], "name": ["POST /cart"], "share": [0.8]})
    f = findings(
        _Inc(), suspects=sus, red_summary=summary, timeline=_tl(), surges=surges, origins=origins
    )
    assert f.top_suspect == "cart" and f.runner_up == "gateway"
    md = f.to_markdown()
    assert "**Top suspect: `cart`** (score 1.20)" in md
    assert r"errors start here <\*> \*boom\*" in md  # only what could be emphasis escaped
    assert "deploy cart v2.0 at 11:03" in md  # the GitOps record, not the rollout step
    assert "currency" not in md  # 45 minutes before the onset: not "just before"
    assert "`cart` errors 1.0% → 20.0%" in md and "`gateway` p95 2.0×" in md
    assert "`NPE at 'x' <*>` (new)" in md
    # the origins' share is of all failing traces, over the window the section names
    # (the top suspect's errors share is of those in excess of the baseline's rate)
    assert (
        f"**Where errors start (traces in {span_label(W)})**: `cart` POST /cart "
        "(80.0% of all failing traces)" in md
    )
    assert "rollback cart to v1.9 at 11:40" in md
    assert "- **Next suspect**: `gateway`: likely a victim of `cart`." in md
    assert f._repr_markdown_() == md


def test_no_suspect_when_nothing_scores() -> None:
    f = findings(_Inc(partial=True), suspects=_Sus(_table([("a", 0.0, "no anomaly", None)]), None))
    assert f.top_suspect is None
    md = f.to_markdown()
    assert "No suspect stands out" in md and "Top suspect" not in md
    assert "partial" in md  # a failed source is said, not hidden


def test_onset_and_alert_lines_keep_their_numbers() -> None:
    """The first screen once read "errors rise on checkout: baseline median 0.7% -> peak of
    on…": the line already names the service, so the detail loses the repeated prefix and
    the numbers fit; an alert title keeps its share of failing requests."""
    tl = _tl().with_columns(
        pl.when(pl.col("kind") == "error_spike")
        .then(
            pl.lit("errors rise on cart: baseline median 0.7% -> peak of one step 35.9% at 11:07")
        )
        .when(pl.col("kind") == "alert")
        .then(pl.lit("HighErrorRate: api-gateway POST /api/checkout: 13% of requests fail"))
        .otherwise(pl.col("title"))
        .alias("title")
    )
    sus = _Sus(_table([("cart", 1.2, "errors start here", None)]))
    md = findings(_Inc(), suspects=sus, timeline=tl).to_markdown()
    assert "`cart` at 11:05 (baseline median 0.7% -> peak of one step 35.9% at 11:07)" in md
    assert "errors rise on cart" not in md
    assert "api-gateway POST /api/checkout: 13% of requests fail at 11:07" in md


def test_findings_say_when_the_errors_went_back_to_normal() -> None:
    """The timeline's recovery row (computed once in ``build_timeline``) reaches the
    findings: a reader at 3 a.m. wants to know whether it is still broken."""
    from workbench import Incident, Investigation

    inv = Investigation(Incident.demo())
    rec = inv.timeline.frame.filter(pl.col("kind") == "recovery")
    assert rec.height >= 1
    text = inv.findings.to_markdown()
    line = next(ln for ln in text.splitlines() if ln.startswith("- **Back to normal**"))
    for r in rec.iter_rows(named=True):
        assert r["title"] in line and f"{r['ts']:%H:%M}" in line
    # the line comes after the rollback, as the story goes
    assert text.index("**Rolled back**") < text.index("**Back to normal**")


def test_a_cut_next_suspect_line_ends_once() -> None:
    # the demo's findings ended "... the baseline's usu…." (an ellipsis, then a stop)
    from workbench.report import Findings

    cut = Findings("INC-1", "11:00–12:00", "checkout", runner_up="redis", runner_up_why="a b…")
    assert cut.to_markdown().splitlines()[-1].endswith("`redis`: a b…")
    whole = Findings("INC-1", "11:00–12:00", "checkout", runner_up="redis", runner_up_why="a b")
    assert whole.to_markdown().splitlines()[-1].endswith("`redis`: a b.")


def test_findings_say_the_verdict_the_headline_says() -> None:
    """look22: the findings named "Top suspect" with no verdict while the headline read
    "Verdict: weak — ... up to 10.6% of the time": a draft pasted into the incident
    channel read surer than the notebook. The verdict line says the level and reason,
    given or read from the ranking (``suspects.verdict``); none without a suspect."""
    from workbench.analysis.verdict import Verdict

    weak = Verdict(
        "weak",
        "cart stands out (log surge 3.1× chance), but a fault-free window could look like "
        "this up to 10.6% of the time",
        top="cart",
        top_score=1.2,
    )
    table = _table([("cart", 1.2, "errors start here", None), ("db", 0.2, "slow", None)])
    md = findings(_Inc(), suspects=_Sus(table), verdict=weak).to_markdown()
    lines = md.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("- **Top suspect"))
    assert lines[at + 1] == f"- **Verdict: weak** — {weak.reason}."

    @dataclass
    class _Judged(_Sus):
        inputs: dict | None = None
        verdict: Verdict | None = None

    md = findings(_Inc(), suspects=_Judged(table, inputs={}, verdict=weak)).to_markdown()
    assert "- **Verdict: weak** — cart stands out" in md
    # a long reason (a verdict capped for missing evidence says why) is never cut short
    long = Verdict("weak", "cart stands out; " + "and the ranking lacked x; " * 40, "cart", 1.2)
    md = findings(_Inc(), suspects=_Sus(table), verdict=long).to_markdown()
    assert long.reason.strip() in md and "…" not in md.split("**Verdict")[1].split("\n")[0]
    # not judged (no inputs to judge from): no verdict line, no crash
    assert "Verdict" not in findings(_Inc(), suspects=_Sus(table)).to_markdown()
    # no suspect: the "no suspect stands out" line alone, even with a verdict given
    none = findings(_Inc(), suspects=_Sus(_table([])), verdict=weak).to_markdown()
    assert "No suspect stands out" in none and "Verdict" not in none


def test_findings_do_not_date_a_start_they_did_not_find() -> None:
    """look22: with no error or latency onset in the window the findings said "Started
    about 11:00 UTC": the ranking's onset, which falls back to the window's start. The
    headline said nothing stands out, the postmortem "no onset or alert found"."""
    from types import SimpleNamespace

    none = SimpleNamespace(value=None)  # the investigation's onset: none in the window
    table = _table([("cart", 0.0, "", None)])
    md = findings(_Inc(), suspects=_Sus(table, onset=W.start), onset=none).to_markdown()
    assert f"- **Started**: no error or latency onset found in {span_label(W)}." in md
    assert "Started** about" not in md
    # a change point the ranking found is a start, said for what it is
    md = findings(_Inc(), suspects=_Sus(table, onset=T), onset=none).to_markdown()
    assert "- **Started** about 11:05 UTC (when the metric changes began; no error" in md
