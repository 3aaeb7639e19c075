"""Postmortem drafting on hand-built frames with answers computed by hand.

The incident: service ``web`` (the entry service; ``db`` behind it) serves 60 requests a
minute, 1 failing, sampled once a minute. A deploy of web v2 at 11:09 makes 2 or 3 of
50 requests a minute fail for 20 minutes (samples 11:11..11:30, 1000 requests, 50 failed;
the ``ok`` counter resets once at 11:20); it is rolled back at 11:29.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from workbench import ConfigError, Incident, Window, frames, notebook
from workbench.analysis.impact import counter_increase, impact, impact_period
from workbench.analysis.red import red
from workbench.bundle import verify_bundle
from workbench.postmortem import FREE_TEXT, SECTIONS, draft, draft_timeline
from workbench.sources.base import Result, Source

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
WINDOW = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))


def _t(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 11, 20, hh, mm, ss, tzinfo=UTC)


def _metrics() -> pl.DataFrame:
    rows = []
    ok, bad = 1000.0, 10.0
    for i in range(120):  # samples 10:00 .. 11:59, each counting the minute before it
        ts = T0 + timedelta(minutes=i)
        if i > 0:
            if _t(11, 11) <= ts <= _t(11, 30):
                fail = 2 if ts <= _t(11, 20) else 3
                ok += 50 - fail
                bad += fail
                if ts == _t(11, 20):
                    ok = 48.0  # the ok counter restarted (pod restart): counts 48 since
            else:
                ok += 59
                bad += 1
        for code, v in (("200", ok), ("500", bad)):
            rows.append(
                {
                    "ts": ts,
                    "metric": "http_server_requests_total",
                    "service": "web",
                    "value": v,
                    "labels": frames.kv({"code": code, "pod": "web-1"}),
                }
            )
    return pl.DataFrame(rows, schema=frames.SCHEMAS["metrics"])


def _spans() -> pl.DataFrame:
    t = _t(10, 30)
    return pl.DataFrame(
        {
            "trace_id": ["t1", "t1"],
            "span_id": ["a", "b"],
            "parent_span_id": [None, "a"],
            "service": ["web", "db"],
            "name": ["GET /", "SELECT"],
            "kind": ["server", "client"],
            "start": [t, t],
            "end": [t + timedelta(milliseconds=20)] * 2,
            "duration_ms": [20.0, 20.0],
            "status": ["ok", "ok"],
            "attributes": frames.kv_from_dicts([{}, {}]),
        },
        schema=frames.SCHEMAS["spans"],
    )


def _events() -> pl.DataFrame:
    def ev(ts, end, kind, service, title, source, **attrs):  # type: ignore[no-untyped-def]
        return {
            "ts": ts,
            "end": end,
            "kind": kind,
            "service": service,
            "title": title,
            "source": source,
            "attributes": frames.kv(attrs),
        }

    return pl.DataFrame(
        [
            ev(_t(10, 5), _t(10, 6), "config", "db", "raise pool size", "gitops"),
            ev(_t(11, 9), _t(11, 12), "deploy", "web", "deploy web v2", "argocd", revision="r2"),
            ev(_t(11, 9, 30), None, "deploy", "web", "step 1/2", "argo-rollouts"),
            ev(_t(11, 11), None, "deploy", "web", "step 2/2", "argo-rollouts"),
            ev(
                _t(11, 13, 30),
                _t(11, 35),
                "alert",
                "web",
                "HighErrorRate <b>web</b> | 5%",
                "alertmanager",
                fingerprint="abc123",
            ),
            ev(_t(11, 29), _t(11, 29, 40), "rollback", "web", "rollback web to v1", "argocd"),
        ],
        schema=frames.SCHEMAS["events"],
    )


class MemorySource(Source):
    """Serves in-memory frames of all four signals, filtered to the asked window."""

    kind = "memory"
    capabilities = frozenset({"metrics", "logs", "spans", "events"})

    def __init__(self, data: dict[str, pl.DataFrame]) -> None:
        super().__init__(name="memory")
        self.data = data

    def _get(self, signal: str, window: Window) -> Result:
        df = self.data.get(signal, frames.empty(signal))  # type: ignore[arg-type]
        col = "start" if signal == "spans" else "ts"
        df = df.filter((pl.col(col) >= window.start) & (pl.col(col) < window.end))
        return self.result(signal, df, query="all", window=window)  # type: ignore[arg-type]

    def metrics(self, query, window, *, services=None):  # type: ignore[no-untyped-def,override]
        return self._get("metrics", window)

    def logs(self, query, window, *, services=None):  # type: ignore[no-untyped-def,override]
        return self._get("logs", window)

    def spans(self, query, window, *, services=None):  # type: ignore[no-untyped-def,override]
        return self._get("spans", window)

    def events(self, window, *, services=None):  # type: ignore[no-untyped-def,override]
        return self._get("events", window)


@pytest.fixture
def inc() -> Incident:
    src = MemorySource({"metrics": _metrics(), "spans": _spans(), "events": _events()})
    i = Incident("INC-9", WINDOW, sources=[src], title="web errors after deploy")
    i.note("rolled back web", at=_t(11, 29, 5), kind="action", author="bob")
    return i


def test_counter_increase_handles_resets_and_half_open_ranges() -> None:
    m = _metrics()
    got = counter_increase(m, "http_server_requests_total", start=_t(11, 11), end=_t(11, 31),
                           by=("service", "code"))  # fmt: skip
    by_code = dict(zip(got["code"], got["increase"], strict=True))
    assert by_code == {"200": 950.0, "500": 50.0}
    assert got["seconds"].to_list() == [20 * 60.0, 20 * 60.0]
    # the first sample of a series adds nothing; a range with no later sample is empty
    first = counter_increase(
        m, "http_server_requests_total", start=T0, end=T0 + timedelta(seconds=1)
    )
    assert first.height == 0


def test_impact_known_answer(inc: Incident) -> None:
    tl = draft_timeline(inc)
    imp = impact(inc, timeline=tl, slo_target=0.999, slo_window_days=30)
    # the onset episode: first step above the threshold to the end of the last one
    assert (imp.start, imp.end) == (_t(11, 11), _t(11, 31))
    assert imp.duration == timedelta(minutes=20)
    assert imp.services == ["web"] and imp.entry_services == ["web"]
    assert imp.requests == 1000 and imp.failed == 50
    assert imp.error_ratio == pytest.approx(0.05)
    # baseline: 59 sample pairs of 60 requests (1 failed) over 59 minutes: 1 req/s
    assert imp.baseline_rate == pytest.approx(1.0)
    assert imp.baseline_error_ratio == pytest.approx(1 / 60)
    assert imp.excess_failed == pytest.approx(50 - 1000 / 60)
    # 99.9% over 30 days at 1 req/s allows 0.001 * 2,592,000 = 2592 failures
    assert imp.allowed_failures == pytest.approx(2592.0)
    assert imp.budget_burned == pytest.approx(50 / 2592)
    assert imp.budget_minutes == pytest.approx(43.2)
    assert imp.caveats == []
    assert imp.per_service.row(0, named=True)["service"] == "web"


def test_impact_from_spans_when_there_is_no_request_counter(inc: Incident) -> None:
    t = _t(11, 20)
    n = 30
    spans = pl.DataFrame(
        {
            "trace_id": [f"t{i}" for i in range(n)],
            "span_id": ["a"] * n,
            "parent_span_id": [None] * n,
            "service": ["web"] * n,
            "name": ["GET /"] * n,
            "kind": ["server"] * n,
            "start": [t + timedelta(seconds=i) for i in range(n)],
            "end": [t + timedelta(seconds=i, milliseconds=5) for i in range(n)],
            "duration_ms": [5.0] * n,
            "status": ["error" if i < 3 else "ok" for i in range(n)],
            "attributes": frames.kv_from_dicts([{}] * n),
        },
        schema=frames.SCHEMAS["spans"],
    )
    i2 = Incident("INC-10", WINDOW, sources=[MemorySource({"spans": spans})])
    tl = pl.DataFrame(
        {"ts": [_t(11, 10)], "end": [_t(11, 40)], "kind": ["alert"], "service": ["web"],
         "title": ["HighErrorRate"]},
        schema={"ts": frames.TS, "end": frames.TS, "kind": pl.String, "service": pl.String,
                "title": pl.String},
    )  # fmt: skip
    imp = impact(i2, timeline=tl, red_frame=red(None, i2.spans))
    assert (imp.requests, imp.failed) == (30, 3)
    assert "kept traces" in imp.basis
    assert imp.budget_burned is None  # no baseline traffic: unknown, and said so
    assert any("baseline" in c for c in imp.caveats)
    with pytest.raises(ConfigError, match="slo_target"):
        impact(i2, timeline=tl, slo_target=1.0)
    with pytest.raises(ConfigError, match="slo_window_days"):
        impact(i2, timeline=tl, slo_window_days=0)


def test_impact_period_falls_back_to_alerts_then_the_window() -> None:
    empty = pl.DataFrame(
        schema={"ts": frames.TS, "end": frames.TS, "kind": pl.String, "service": pl.String,
                "title": pl.String}
    )  # fmt: skip
    p = impact_period(empty, WINDOW)
    assert (p.start, p.end) == (WINDOW.start, WINDOW.end) and "no onset" in p.start_evidence


def test_timeline_rows_cite_their_evidence_in_order(inc: Incident) -> None:
    tl = draft_timeline(inc).filter(~pl.col("kind").is_in(["incident", "baseline"]))
    kinds = tl["kind"].to_list()
    # the config change at 10:05 is more than 30 min before the window: left out
    assert "config" not in kinds
    # rollout steps folded into the deploy record
    deploys = tl.filter(pl.col("kind") == "deploy")
    assert deploys.height == 1 and "+2 step events from argo-rollouts" in deploys["evidence"][0]
    assert "revision=r2" in deploys["evidence"][0]
    order = [
        ("deploy", _t(11, 9)),
        ("error_spike", _t(11, 11)),
        ("alert", _t(11, 13, 30)),
        ("rollback", _t(11, 29)),
        ("annotation", _t(11, 29, 5)),
        ("recovery", _t(11, 31)),
    ]
    assert list(zip(kinds, tl["ts"].to_list(), strict=True)) == order
    ev = dict(zip(kinds, tl["evidence"].to_list(), strict=True))
    assert (
        ev["alert"].startswith("events/alertmanager 11:13:30")
        and "fingerprint=abc123" in ev["alert"]
    )
    assert ev["error_spike"].startswith("metrics/red(http_server_requests_total)")
    assert ev["annotation"].startswith("annotations #1 (action, by bob), hash ")
    assert dict(zip(kinds, tl["signal"].to_list(), strict=True))["annotation"] == "annotations"


def test_draft_timings_sections_and_escaping(inc: Incident) -> None:
    pm = draft(inc, slo_target=0.999, slo_window_days=30, authors=["alice"])
    t = pm.timings
    assert t.time_to_detect == timedelta(minutes=2, seconds=30)
    assert t.time_to_mitigate == timedelta(minutes=18)  # the rollback, before bob's note
    assert t.mitigated_by == "rollback web to v1"
    assert t.time_to_recover == timedelta(minutes=20)
    assert pm.top_suspect == "web"
    doc = pm.to_markdown()
    for name in SECTIONS:
        assert str(pm.section(name)) in doc
    for title in FREE_TEXT:
        assert f"## {title}\n\n**TODO**" in doc
    assert "## Action items" in doc and "**TODO**: one row per action" in doc
    assert "1.9% of the 30-day error budget of a 99.9% SLO" in doc  # 50 / 2592
    span = f"{pm.impact.start:%H:%M}–{pm.impact.end:%H:%M} UTC"
    assert f"| Requests | 1,000 in {span} |" in doc
    assert f"| Failed requests | 50 in {span} (5.0%" in doc
    # hostile text from the data is escaped, never live HTML or a broken table row
    # (a "<" that could open a tag is escaped; the ">" after it cannot close anything)
    assert not re.search(r"(?<!\\)<b>", doc) and "HighErrorRate \\<b>web\\</b> \\| 5%" in doc
    with pytest.raises(ConfigError):
        pm.section("nope")


def _cells(path: Path) -> list[tuple[str, str, list[str]]]:
    nb = json.loads(path.read_text())
    return [
        (c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("tags", []))
        for c in nb["cells"]
    ]


def test_repository_postmortem_notebook_is_the_packaged_template() -> None:
    """One notebook, two paths: edit both together or this fails."""
    repo = Path(__file__).resolve().parents[1] / "notebooks" / "postmortem.ipynb"
    assert _cells(repo) == _cells(notebook.template_path("postmortem")), (
        "notebooks/postmortem.ipynb and workbench/templates/postmortem.ipynb differ: after "
        "editing one, clear its outputs and copy it over the other"
    )


def test_postmortem_template_parameters_and_sections() -> None:
    path = notebook.template_path("postmortem")
    nb = json.loads(path.read_text())
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    assert notebook.read_parameters(nb) == {
        "bundle": "",
        "expect": "",
        "public_key": "",
        "slo_target": 0.999,
        "slo_window_days": 30,
        "authors": [],
        "status": "draft",
        "title": "",
    }
    text = "\n".join(src for kind, src, _ in _cells(path) if kind == "markdown")
    for heading in ("Summary", "Impact", "Detection", "Response", "Timeline",
                    "Root cause and contributing factors", *FREE_TEXT, "Action items"):  # fmt: skip
        assert f"## {heading}" in text
    # every free-text section asks for the author's words with a visible TODO
    assert text.count("**TODO**") >= 6


def test_notes_added_while_writing_are_kept_in_a_new_bundle(inc: Incident, tmp_path: Path) -> None:
    first = inc.save_bundle(tmp_path / "b1")
    again = Incident.from_bundle(first)
    again.note("support confirms checkout works", at=_t(11, 35), kind="note", author="carol")
    second = again.save_bundle(tmp_path / "b2")
    assert verify_bundle(second) == []
    reopened = Incident.from_bundle(second)
    assert [a.text for a in reopened.annotations] == [
        "rolled back web",
        "support confirms checkout works",
    ]
    pm = draft(reopened)
    notes = pm.timeline.filter(pl.col("kind") == "annotation")
    assert notes["ts"].to_list() == [_t(11, 29, 5), _t(11, 35)]
    evidence = str(pm.section("evidence"))
    assert "checked: intact" in evidence and "Annotation log: 2 entries" in evidence
    header = str(pm.section("header"))
    assert "intact" in header and "not compared with a published digest" in header
    assert "verified" not in header and not pm.caveats


def test_a_tampered_bundle_is_flagged_in_the_postmortem(inc: Incident, tmp_path: Path) -> None:
    path = inc.save_bundle(tmp_path / "b")
    notes = path / "annotations.jsonl"
    notes.write_text(notes.read_text().replace("rolled back web", "rolled back db"))
    pm = draft(Incident.from_bundle(path))
    assert "**FAILED its checks**" in str(pm.section("header"))
    assert any("annotation #1: content changed" in c for c in pm.caveats)
    assert "checks failed" in str(pm.section("evidence"))


def test_impact_computes_its_own_timeline_when_not_given(inc: Incident) -> None:
    imp = impact(inc, slo_target=0.999, slo_window_days=30)
    assert (imp.start, imp.end, imp.failed) == (_t(11, 11), _t(11, 31), 50)


def test_impact_table_names_the_window_of_every_column(inc: Incident) -> None:
    """The per-service impact table read "requests 11:05–11:43" (no time zone) beside
    "error ratio in the baseline" (no window at all) (look9, issue 12)."""
    pm = draft(inc, slo_target=0.999, slo_window_days=30, authors=["alice"])
    imp = pm.impact
    assert imp.baseline == inc.baseline
    header = next(ln for ln in str(pm.section("impact")).splitlines() if ln.startswith("| service"))
    span = f"{imp.start:%H:%M}–{imp.end:%H:%M} UTC"
    base = f"{inc.baseline.start:%H:%M}–{inc.baseline.end:%H:%M} UTC"
    assert header == (
        f"| service | requests {span} | failed {span} | error ratio {span} | "
        f"error ratio in the baseline {base} |"
    ), header


def test_a_note_added_later_reaches_the_one_timeline_and_the_postmortem(inc: Incident) -> None:
    """The annotation log is part of the investigation's one timeline (the notebook and
    the postmortem show the same note), and a note added after the timeline was computed
    gives a new timeline, not the memoised one."""
    from workbench import Investigation

    inv = Investigation(inc)
    before = inv.timeline.frame.filter(pl.col("kind") == "annotation")
    assert before["title"].to_list() == ["[action] rolled back web"]
    inc.note("paged the web on-call", at=_t(11, 14), kind="decision", author="carol")
    notes = inv.timeline.frame.filter(pl.col("kind") == "annotation")
    assert notes["title"].to_list() == [
        "[decision] paged the web on-call",
        "[action] rolled back web",
    ]
    assert notes["evidence"][0].startswith("annotations #2 (decision, by carol), hash ")
    pm = inv.postmortem()
    shown = pm.timeline.filter(pl.col("kind") == "annotation")
    assert shown.select("ts", "title").rows() == notes.select("ts", "title").rows()
    assert set(shown["signal"]) == {"annotations"}


def test_a_note_added_later_reaches_a_focused_timeline(inc: Incident) -> None:
    """With a service focus (the explorer after a click), a note added after the
    timeline was computed reaches it too: the focused timeline was cached on the window
    and the services alone and kept the old notes (look10 found it)."""
    from workbench import Investigation

    focused = Investigation(inc).narrow(services=["web"])
    before = focused.timeline.frame.filter(pl.col("kind") == "annotation").height
    inc.note("checked web's connection pool", at=_t(11, 16), kind="note", author="dave")
    titles = focused.timeline.frame.filter(pl.col("kind") == "annotation")["title"].to_list()
    assert len(titles) == before + 1
    assert "[note] checked web's connection pool" in titles


def test_the_postmortem_writes_windows_durations_and_ratios_as_the_notebook_does(
    inc: Incident,
) -> None:
    """look10: the postmortem wrote its window in ISO (``2026-11-20T11:00:00Z..``),
    durations as ``38m``/``2m15s`` (the notebook: ``38 min``/``2 min 15 s``) and baseline
    ratios to two decimals (``0.62%`` where the notebook's table says ``0.6%``)."""
    from workbench.display import format_duration, format_percent
    from workbench.investigation import span_label

    pm = draft(inc)
    md = pm.to_markdown()
    assert f"| Window analysed | {span_label(inc.window)} |" in md
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", md.split("## Timeline")[0])
    assert f"| Duration | {format_duration(pm.impact.duration)} |" in md
    assert not re.search(r"\b\d+m\d\ds\b|\(\d+m\)", md)
    base = pm.impact.baseline_error_ratio
    assert base is not None and f"baseline {format_percent(base)}" in md
    # the bundle's stamp as a time, not ISO with microseconds
    from workbench.postmortem_md import _saved_at

    assert _saved_at("2026-12-07T02:37:43.215414Z") == "2026-12-07 02:37:43 UTC"
    assert _saved_at("?") == "?"


def test_a_draft_not_from_a_bundle_names_the_sources_it_was_read_from(inc: Incident) -> None:
    """The postmortem of the embedded demo incident (a directory of files) said "made
    from live sources": the Evidence section names each source instead."""
    name = inc.sources[0].name
    text = str(draft(inc).section("evidence"))
    assert f"`{name}`" in text and "live sources" not in text
    assert "inc.save_bundle(PATH)" in text


def test_the_impact_table_says_when_it_began(inc: Incident) -> None:
    """The Began row read "first onset: errors rise on …" with no time (the Ended row
    beside it says "back under its threshold at 11:43:00")."""
    pm = draft(inc)
    row = next(x for x in str(pm.section("impact")).splitlines() if x.startswith("| Began |"))
    assert row.startswith(f"| Began | {pm.impact.start:%H:%M:%S} UTC, first ")


def test_evidence_cut_short_ends_its_line_once(inc: Incident) -> None:
    """The demo's Detected line ended "…on api-gatewa…." (look18): an ellipsis then a
    full stop. Evidence cut short ends the line with its ellipsis alone."""
    from dataclasses import replace

    pm = draft(inc)
    assert pm.timings.detected is not None and pm.timings.mitigated is not None
    pm.timings = replace(
        pm.timings, detected_evidence="labels " * 80, mitigated_evidence="target " * 80
    )
    text = str(pm.section("detection")) + str(pm.section("response"))
    assert "…" in text and "…." not in text
    pm.timings = replace(pm.timings, detected_evidence="short", mitigated_evidence="")
    assert "evidence: short.\n" in str(pm.section("detection"))


def test_the_postmortem_says_the_verdict_on_its_top_suspect(inc: Incident) -> None:
    """look22: the postmortem's Summary said "Top suspect: `checkout`" and its Root cause
    "the ranked suspects name `checkout` first", with no verdict, while the incident
    notebook's headline said "Verdict: weak — ... up to 10.6% of the time". Both
    sections now say the verdict: given, or the ranking's own (``suspects.verdict``)."""
    from workbench.analysis.suspects import rank_suspects
    from workbench.analysis.verdict import Verdict

    weak = Verdict("weak", "web stands out, but up to 10.6% <b>by chance</b>", "web", 1.0)
    pm = draft(inc, verdict=weak)
    root = str(pm.section("root_cause"))
    assert "**Verdict: weak** — web stands out, but up to 10.6% \\<b>by chance\\</b>" in root
    assert root.index("**Verdict") < root.index("| # | service |")
    assert f"Top suspect: `{pm.top_suspect}` (verdict: weak; see Root cause)." in str(
        pm.section("summary")
    )
    long = Verdict("weak", "web stands out; " + "and metrics failed at prom; " * 30, "web", 1.0)
    assert long.reason.strip() in str(draft(inc, verdict=long).section("root_cause"))
    sus = rank_suspects(inc)
    own = draft(inc, suspects=sus)
    assert own.verdict_level == sus.verdict.level and own.verdict_reason == sus.verdict.reason
    assert f"**Verdict: {sus.verdict.level}** — " in own.to_markdown()


def test_a_postmortem_with_nothing_counted_says_so(tmp_path: Path) -> None:
    """look22: over an incident with logs alone (no request counter, metrics or spans) the
    postmortem said "requests to the affected services failed" (none was counted), "—
    (—; baseline …: —, so about — more than usual)", an error budget of "— failed
    requests … at … 0 req/s", "— UTC by nothing" and "— UTC by no rollback"; and the
    headline above it raised IndexError (a table of services, none ranked)."""
    from tests.test_bundle import T0, FrameSource, _logs
    from workbench import Investigation
    from workbench.summaries import headline

    w = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    inv = Investigation(Incident("INC-Q", w, sources=[FrameSource(_logs())]))
    assert not inv.suspects.value.ranking and inv.suspects.value.table.height
    head = headline(inv)
    assert head.level == "none" and head.top_suspect is None
    md = inv.postmortem().to_markdown()
    assert "requests to the affected services failed" not in md
    assert "failed requests were not counted (no request counter, metrics or spans)" in md
    assert "| Requests | not counted (see Counted from) |" in md
    assert "| Failed requests | not counted (see Counted from) |" in md
    assert "| Error budget burned | not known |" in md and "—" not in md.split("## Detection")[0]
    assert "— UTC" not in md and "- **Detected**: nothing: no alert fired" in md
    assert "- **Mitigated**: no rollback or recorded action found." in md
