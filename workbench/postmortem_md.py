"""Markdown of a postmortem draft, one function per section (see
:meth:`workbench.postmortem.Postmortem.section`). Everything from the data is escaped;
what only people can write is a visible ``**TODO**`` placeholder.

Example::

    >>> from workbench import postmortem_md
    >>> print(postmortem_md.impact(pm))
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.display import format_percent, format_rate
from workbench.grafana_view import links_markdown
from workbench.investigation.answer import span_label
from workbench.postmortem import FREE_TEXT, TODO, _code, _dur, _hm, _md
from workbench.timeline_view import KIND_LABEL

if TYPE_CHECKING:
    from workbench.postmortem import Postmortem

__all__ = [
    "action_items",
    "detection",
    "document",
    "evidence",
    "free_text",
    "header",
    "impact",
    "response",
    "root_cause",
    "summary",
    "timeline",
]

_KIND_LABEL = KIND_LABEL


def _n(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def _pct(x: float | None, digits: int = 1) -> str:
    return format_percent(x, digits=digits)


def _baseline(imp: Any) -> str:
    """``baseline 10:00–11:00 UTC``: the impact's baseline, named by its window."""
    b = getattr(imp, "baseline", None)
    return f"baseline {_hm(b.start)}–{_hm(b.end)} UTC" if b is not None else "baseline"


def _annotation_log(a: dict[str, Any]) -> str:
    """``3 entries, head hash `1f2e…`…``; ``empty (no note was added)`` rather than an
    all-zero head hash, which names no entry."""
    n = int(a.get("count", 0) or 0)
    if not n:
        return "empty (no note was added)"
    return f"{_entries(n)}, head hash {_code(str(a.get('head', ''))[:16])}…"


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _slo(x: float) -> str:
    return f"{x * 100:.6g}%"


def _services(names: list[str]) -> str:
    return ", ".join(_code(s) for s in names) or "none found"


def header(pm: Postmortem) -> str:
    day = pm.impact.start.strftime("%Y-%m-%d")
    rows = [
        ("Incident", _md(pm.incident_id)),
        ("Date", f"{day} (times are UTC)"),
        ("Status", _md(pm.status)),
        ("Authors", ", ".join(_md(a) for a in pm.authors) or f"{TODO}: add the authors"),
        ("Window analysed", span_label(pm.window)),
    ]
    if pm.provenance:
        m = pm.provenance["manifest"]
        rows.append(("Evidence", f"bundle {_code(m.get('bundle_sha256', ''))}, {checked(pm)}"))
    lines = [f"# Postmortem: {_md(pm.title, 160)}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    for c in pm.caveats:
        lines += ["", f"> ⚠ {_md(c, 300)}"]
    return "\n".join(lines)


def checked(pm: Postmortem) -> str:
    """Exactly what was checked about the evidence bundle, never just "verified"."""
    p = pm.provenance or {}
    if p.get("problems"):
        return "**FAILED its checks**: " + "; ".join(_md(x, 160) for x in p["problems"][:3])
    checks = [
        str(c).split(" (")[0] if str(c).startswith("intact") else str(c)
        for c in p.get("checks", [])
    ]
    if not checks:
        return "**not checked** (opened with verify=False)"
    text = ", ".join(_md(c, 100) for c in checks)
    if not any(c.startswith(("matches digest", "signed by")) for c in checks):
        text += (
            " (hashes match the bundle's own manifest; not compared with a published digest "
            "or a signature)"
        )
    return text


def summary(pm: Postmortem) -> str:
    imp, t = pm.impact, pm.timings
    where = _services(imp.entry_services) if imp.entry_services else "the affected services"
    parts = [
        f"**Drafted from the data**: from {_hm(imp.start)} to {_hm(imp.end)} UTC "
        f"({_dur(imp.duration)}) requests to {where} failed"
        if imp.failed is not None
        # no count: not "requests to the affected services failed" on nothing's word
        else f"**Drafted from the data**: from {_hm(imp.start)} to {_hm(imp.end)} UTC "
        f"({_dur(imp.duration)}); failed requests were not counted ({_md(imp.basis, 120)})"
    ]
    if imp.failed is not None and imp.requests:
        parts.append(
            f": {_n(imp.failed)} of {_n(imp.requests)} ({_pct(imp.error_ratio)}; "
            f"{_baseline(imp)}: {_pct(imp.baseline_error_ratio)})"
        )
    burned = imp.budget_burned
    text = "".join(parts) + "."
    if burned is not None:
        text += (
            f" That is {_pct(burned)} of the {imp.slo_window_days:g}-day error budget of a "
            f"{_slo(imp.slo_target)} SLO."
        )
    text += f" Affected services: {_services(imp.services)}."
    top = pm.top_suspect
    if top:
        judged = f" (verdict: {pm.verdict_level}; see Root cause)" if pm.verdict_level else ""
        text += f" Top suspect: {_code(top)}{judged}."
    if t.time_to_detect is not None:
        text += f" Detected after {_dur(t.time_to_detect)}"
        text += (
            f", mitigated after {_dur(t.time_to_mitigate)} ({_md(t.mitigated_by, 80)})."
            if t.time_to_mitigate is not None
            else "."
        )
    return text


def impact(pm: Postmortem) -> str:
    imp = pm.impact
    allowed = imp.allowed_failures
    span = f"{_hm(imp.start)}–{_hm(imp.end)} UTC"
    counted = imp.requests is not None and imp.failed is not None
    rows = [
        ("Impact period", f"{_hm(imp.start, True)} – {_hm(imp.end, True)} UTC"),
        ("Duration", _dur(imp.duration)),
        # the time first, as the Ended row says it (its evidence alone named none)
        ("Began", f"{_hm(imp.start, True)} UTC, {_md(imp.period.start_evidence, 160)}"),
        ("Ended", _md(imp.period.end_evidence, 160)),
        ("Affected services", _services(imp.services)),
        ("Counted at (entry services)", _services(imp.entry_services)),
        # every count names its window (the impact period)
        ("Requests", f"{_n(imp.requests)} in {span}" if counted else _NOT_COUNTED),
        (
            "Failed requests",
            f"{_n(imp.failed)} in {span} ({_pct(imp.error_ratio)}; {_baseline(imp)}: "
            f"{_pct(imp.baseline_error_ratio)}, so about {_n(imp.excess_failed)} more "
            "than usual)"
            if counted
            else _NOT_COUNTED,
        ),
        ("SLO", f"{_slo(imp.slo_target)} of requests succeed over {imp.slo_window_days:g} days"),
        (
            "Error budget",
            f"{_n(allowed)} failed requests per {imp.slo_window_days:g} days at the request "
            f"rate of the {_baseline(imp)}, {format_rate(imp.baseline_rate or 0)} "
            f"(= {imp.budget_minutes:,.1f} min of full outage)"
            if allowed is not None
            else f"not known: no request rate in the {_baseline(imp)}",
        ),
        (
            "Error budget burned",
            f"**{_pct(imp.budget_burned)}**" if imp.budget_burned is not None else "not known",
        ),
        ("Counted from", _md(imp.basis, 200)),
    ]
    lines = ["| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows]]
    if imp.per_service.height:
        # every column names its window (the baseline's too)
        b = imp.baseline
        base = f" {_hm(b.start)}–{_hm(b.end)} UTC" if b is not None else ""
        lines += [
            "",
            f"| service | requests {span} | failed {span} | error ratio {span} | "
            f"error ratio in the baseline{base} |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in imp.per_service.iter_rows(named=True):
            lines.append(
                f"| {_code(r['service'])} | {_n(r['requests'])} | {_n(r['failed'])} | "
                f"{_pct(r['error_ratio'])} | {_pct(r['baseline_error_ratio'])} |"
            )
    for c in imp.caveats:
        lines += ["", f"> ⚠ {_md(c, 300)}"]
    return "\n".join(lines)


#: the Requests and Failed requests rows when nothing counted them ("—", "— (—; …: —, so
#: about — more than usual)" read as data lost)
_NOT_COUNTED = "not counted (see Counted from)"


def _full_stop(line: str) -> str:
    """``line`` ending in one full stop: evidence cut short ends in "…", which a stop
    after it turned into "…."."""
    return line if line.endswith(("…", ".")) else line + "."


def _at(t: Any) -> str:
    """``11:09:15 UTC by `` before what did it; "" when nothing did (no "— UTC by")."""
    return f"{_hm(t, True)} UTC by " if t is not None else ""


def detection(pm: Postmortem) -> str:
    t = pm.timings
    lines = [
        f"- **Onset**: {_hm(t.onset, True)} UTC ({_md(t.onset_evidence, 160)}).",
        _full_stop(
            f"- **Detected**: {_at(t.detected)}{_md(t.detected_by, 160)}"
            + (f" — evidence: {_md(t.detected_evidence, 200)}" if t.detected_evidence else "")
        ),
        f"- **Time to detect**: {_dur(t.time_to_detect)}.",
        "",
        f"{TODO}: how was the incident noticed, and could it have been noticed sooner? "
        "Did the right people get paged?",
    ]
    return "\n".join(lines)


def response(pm: Postmortem) -> str:
    t = pm.timings
    lines = [
        _full_stop(
            f"- **Mitigated**: {_at(t.mitigated)}{_md(t.mitigated_by, 160)}"
            + (f" — evidence: {_md(t.mitigated_evidence, 200)}" if t.mitigated_evidence else "")
        ),
        f"- **Time to mitigate**: {_dur(t.time_to_mitigate)} after the onset"
        + (
            f" ({_dur(t.mitigated - t.detected)} after detection)."
            if t.mitigated and t.detected
            else "."
        ),
        f"- **Recovered**: {_hm(t.recovered, True)} UTC ({_md(t.recovered_evidence, 160)}); "
        f"time to recover {_dur(t.time_to_recover)}.",
        "",
        f"{TODO}: who responded, what they tried, what worked and what did not.",
    ]
    return "\n".join(lines)


def _saved_at(stamp: object) -> str:
    """``2026-12-07 02:37:43 UTC`` (the bundle's ISO stamp, as every view writes times)."""
    from datetime import datetime

    from workbench.display import format_time

    try:
        return format_time(datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))) + " UTC"
    except ValueError:
        return _md(stamp)


def timeline(pm: Postmortem) -> str:
    table = pm.timeline_table()  # the rows the notebook and the explorer show
    lines = [f"_{table.note}_\n"]
    lines += [
        "| time (UTC) | what | service | event | evidence |",
        "|---|---|---|---|---|",
    ]
    for r in table.shown.iter_rows(named=True):
        lines.append(
            f"| {_hm(r['ts'], True)} | {_KIND_LABEL.get(r['kind'], _md(r['kind']))} | "
            f"{_code(r['service']) if r['service'] else ''} | {_md(r['title'], 110)} | "
            f"{_md(r['evidence'], 200)} |"
        )
    lines += [
        "",
        f"{TODO}: add what people did and decided (from the incident channel) with "
        '`inc.note("...", at=..., kind="action")`, then re-run; correct any row that is wrong.',
    ]
    return "\n".join(lines)


def root_cause(pm: Postmortem, *, top: int = 3) -> str:
    s = pm.suspects
    lead = pm.top_suspect
    if lead is None:
        return (
            "No suspect stands out in the data: nothing changed clearly against the "
            f"baseline.\n\n{TODO}: describe the root cause from what people found."
        )
    links = pm.links
    lines = [
        f"**Starting point**: the ranked suspects name {_code(lead)} first. Check each "
        "line against the evidence before you keep it.",
        "",
        "| # | service | score | why |" + (" Grafana |" if links else ""),
        "|---:|---|---:|---|" + ("---|" if links else ""),
    ]
    if pm.verdict_level:
        # the incident notebook's headline, word for word (how sure the ranking is)
        said = _md(pm.verdict_reason, len(pm.verdict_reason) + 1)  # whole, never cut short
        lines[1:1] = ["", f"**Verdict: {pm.verdict_level}** — {said}"]
    for r in s.filter(pl.col("score") > 0).head(top).iter_rows(named=True):
        grafana = f" {links_markdown(links.get(r['service'], {})) or '—'} |" if links else ""
        lines.append(
            f"| {r['rank']} | {_code(r['service'])} | {r['score']:.2f} | {_md(r['why'], 220)} |"
            + grafana
        )
    onset = pm.impact.start
    changes = pm.timeline.filter(
        pl.col("kind").is_in(["deploy", "config", "chaos"])
        & (pl.col("service") == lead)
        & (pl.col("ts") <= onset + (pm.impact.duration / 4))
        & (pl.col("ts") >= onset - (pm.impact.duration * 2))
    )
    if changes.height:
        lines += ["", f"Changes to {_code(lead)} shortly before the onset:"]
        for r in changes.iter_rows(named=True):
            lines.append(f"- {_hm(r['ts'])} {_md(r['title'], 100)} ({_md(r['evidence'], 200)})")
    victims = s.filter(
        pl.col("victim_of").is_not_null() & pl.col("service").is_in(pm.impact.services)
    )
    if victims.height:
        names = ", ".join(_code(v) for v in victims["service"].to_list())
        lines += ["", f"Affected, but likely victims of a failing callee: {names}."]
    return "\n".join(lines)


def evidence(pm: Postmortem) -> str:
    p = pm.provenance
    if not p:
        # the sources as they were read (a directory of files is no "live" source):
        # named, so the reader knows what the figures came from
        read = ", ".join(_code(n) for n in pm.source_names) or "its sources"
        return (
            f"This draft was made from {read} as read when it ran, not from an evidence "
            "bundle: save one with `inc.save_bundle(PATH)` so the figures above can be "
            "checked later."
        )
    m = p["manifest"]
    lines = [
        f"Everything above was computed from the evidence bundle {_code(Path(p['path']).name)} "
        f"(saved {_saved_at(m.get('created_at'))}, workbench "
        f"{_md(m.get('versions', {}).get('workbench', '?'))}); "
        + (
            f"checked: {checked(pm)}."
            if not p["problems"]
            else "**checks failed**: " + "; ".join(_md(x, 200) for x in p["problems"])
        ),
        "",
        "| frame | rows | sha256 | loaded from (status, query) |",
        "|---|---:|---|---|",
    ]
    for f in m.get("frames", []):
        srcs = "; ".join(
            f"{_md(s.get('source'))} ({_md(s.get('status'))}"
            + (f", {_code(s.get('query'))}" if s.get("query") else "")
            + ")"
            for s in f.get("sources", [])
        )
        lines.append(
            f"| {_md(f['signal'])} | {f['rows']:,} | {_code(f['sha256'][:16])}… | {srcs or '—'} |"
        )
    a = m.get("annotations", {})
    lines += [
        "",
        f"Annotation log: {_annotation_log(a)}; "
        f"bundle hash {_code(m.get('bundle_sha256', ''))} (`workbench bundle verify` "
        "re-checks all of it).",
    ]
    return "\n".join(lines)


def free_text(title: str) -> str:
    """A free-text section: its heading and the TODO placeholder."""
    return f"## {title}\n\n{TODO}: {FREE_TEXT[title]}."


def action_items() -> str:
    """The action-item table, with one TODO row to replace."""
    return "\n".join(
        [
            "## Action items",
            "",
            "| action | kind (mitigate / prevent / detect) | owner | priority | ticket |",
            "|---|---|---|---|---|",
            f"| {TODO}: one row per action | | | | |",
        ]
    )


def document(pm: Postmortem) -> str:
    """The whole draft as one Markdown document."""
    parts = [
        header(pm),
        "## Summary\n\n" + summary(pm) + f"\n\n{TODO}: say in two or three sentences what "
        "happened to users, why, and how it was fixed.",
        "## Impact\n\n" + impact(pm),
        "## Detection\n\n" + detection(pm),
        "## Response\n\n" + response(pm),
        "## Timeline\n\n" + timeline(pm),
        "## Root cause and contributing factors\n\n"
        + root_cause(pm)
        + f"\n\n{TODO}: the root cause in your words, and the contributing factors "
        "(why it was possible, why it was not caught before production).",
        *(free_text(t) for t in FREE_TEXT),
        action_items(),
        "## Evidence\n\n" + evidence(pm),
    ]
    from workbench.offline_html import tidy_markdown

    return tidy_markdown("\n\n".join(parts))
