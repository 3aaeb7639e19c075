"""Findings: the few lines an on-call engineer reads first, drafted from the analysis.

:func:`findings` takes what the incident notebook already computed (the ranked suspects,
the RED summary, the timeline, log-template surges, trace error origins) and names the
top suspect with its evidence: what is red, when it started, what changed just before,
which log patterns are new, where the errors start in the traces. Pure: no I/O.

Example::

    >>> from workbench.report import findings
    >>> f = findings(inc, suspects=sus, red_summary=summary, timeline=tl,
    ...              surges=surges, origins=origins)
    >>> f.top_suspect
    'checkout'
    >>> f                      # in a notebook: a short Markdown summary
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from workbench.analysis.timeline import CHANGE_KINDS
from workbench.display import ARROW, format_change, format_factor, format_percent

__all__ = ["Findings", "findings"]


@dataclass
class Findings:
    """What the analysis says, as short sentences; ``top_suspect`` is a service or None."""

    incident: str
    window: str
    top_suspect: str | None
    top_score: float | None = None
    top_why: str = ""
    runner_up: str | None = None
    runner_up_why: str = ""
    onset: datetime | None = None
    #: what the onset is (its definition and window), when the caller gave one
    onset_label: str = ""
    #: the baseline the "what is red" numbers compare with
    baseline: str = ""
    red: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    onsets: list[str] = field(default_factory=list)
    rollbacks: list[str] = field(default_factory=list)
    #: when each onset's errors or latency went back under its threshold (the timeline's
    #: ``recovery`` rows)
    recoveries: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    #: ``{label: Grafana Explore URL}`` of the top suspect's evidence (empty: no Grafana)
    top_links: dict[str, str] = field(default_factory=dict)
    #: the verdict on the top suspect (``clear``, ``weak`` or ``none``; "" when not
    #: judged) and its reason: the words and numbers the headline shows
    verdict_level: str = ""
    verdict_reason: str = ""

    def to_markdown(self) -> str:
        """The findings as Markdown (what the notebook shows)."""
        base = f" against baseline {self.baseline}" if self.baseline else ""
        lines = [f"### Findings: {self.incident}", "", f"Window {self.window}{base}.", ""]
        if self.top_suspect:
            score = f" (score {self.top_score:.2f})" if self.top_score is not None else ""
            lines.append(f"- **Top suspect: {_code(self.top_suspect)}**{score}: {self.top_why}")
            if self.top_links:
                from workbench.grafana_view import links_markdown

                lines.append(
                    f"- **Open in Grafana** ({_code(self.top_suspect)}'s evidence): "
                    + links_markdown(self.top_links)
                )
        else:
            lines.append(
                "- **No suspect stands out**: nothing changed clearly against the baseline."
            )
        if self.verdict_level:
            # the headline's verdict, word for word: a draft pasted into the incident
            # channel must not read surer than the notebook it came from
            reason = _md(self.verdict_reason, len(self.verdict_reason) + 1)  # whole: no "…"
            stop = "" if reason.endswith(("…", ".")) else "."
            lines.append(f"- **Verdict: {self.verdict_level}** — {reason}{stop}")
        if self.onset:
            what = f" ({self.onset_label})" if self.onset_label else ""
            lines.append(f"- **Started** about {_hm(self.onset)} UTC{what}.")
        elif self.onset_label:  # not the window's start dressed as an onset
            lines.append(f"- **Started**: {self.onset_label}.")
        red_title = "What is red"
        if self.baseline:
            red_title += (
                f" (error ratio and p95, baseline {self.baseline} {ARROW} window {self.window})"
            )
        sections = (
            (red_title, self.red),
            ("Errors rose first at", self.onsets),
            ("What changed just before", self.changes),
            ("Alerts", self.alerts),
            ("New or surging log patterns", self.patterns),
            (f"Where errors start (traces in {self.window})", self.origins),
            ("Rolled back", self.rollbacks),
            ("Back to normal", self.recoveries),
        )
        for title, items in sections:
            if items:
                lines.append(f"- **{title}**: " + "; ".join(items) + ".")
        if self.runner_up:
            # a heading like the others; the why often has parentheses of its own
            # ("redis (process_resident_memory_bytes rose by 5× ... and held)")
            why = self.runner_up_why
            stop = "" if why.endswith(("…", ".")) else "."  # not "usu…."
            lines.append(f"- **Next suspect**: {_code(self.runner_up)}: {why}{stop}")
        for c in self.caveats:
            lines.append(f"- ⚠ {c}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return f"Findings({self.incident!r}, top_suspect={self.top_suspect!r})"


def _hm(t: datetime) -> str:
    return t.strftime("%H:%M")


def _code(text: Any, limit: int = 60) -> str:
    """``text`` as a Markdown code span."""
    return f"`{_md(text, limit, code=True)}`"


def _md(text: Any, limit: int = 90, *, code: bool = False) -> str:
    """One line of untrusted text: cut to ``limit``; escaped for Markdown unless it goes
    inside a code span (``code=True``), where only backticks need replacing."""
    from workbench.display import markdown_text

    if not code:
        return markdown_text(text, limit)
    s = " ".join(str(text).split()).replace("`", "'")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def findings(
    incident: Any,
    *,
    suspects: Any,
    red_summary: pl.DataFrame | None = None,
    timeline: pl.DataFrame | None = None,
    surges: pl.DataFrame | None = None,
    origins: pl.DataFrame | None = None,
    onset: Any = None,
    verdict: Any = None,
    max_items: int = 3,
) -> Findings:
    """Draft the findings from the analysis results of one incident.

    ``incident`` needs ``id``, ``window`` and optionally ``partial``/``status()``;
    ``suspects`` is :func:`workbench.analysis.suspects.rank_suspects`' result. ``onset``
    (a :class:`~workbench.investigation.Quantity` or a datetime) is when the incident
    began; by default the ranking's onset. ``verdict`` (a
    :class:`~workbench.analysis.verdict.Verdict`) is the verdict on the top suspect; by
    default ``suspects.verdict`` when the ranking can be judged. An
    :class:`~workbench.investigation.Investigation` passes its own answers
    (``inv.findings``), so the numbers and the verdict are those the notebook shows.
    """
    from workbench.investigation.answer import span_label

    table: pl.DataFrame = suspects.table
    scored = table.filter(pl.col("score") > 0) if "score" in table.columns else table
    top = scored.row(0, named=True) if scored.height else None
    onset_at, onset_label = getattr(suspects, "onset", None), ""
    if onset is not None:
        onset_at = getattr(onset, "value", onset)
        onset_label = f"first error or latency onset in {span_label(incident.window)}"
        if onset_at is None:  # no onset in the window: the ranking's change-point onset
            onset_at = getattr(suspects, "onset", None)
            onset_label = f"when the metric changes began; no error or latency onset in {span_label(incident.window)}"
            if onset_at is None or onset_at == incident.window.start:
                # the ranking falls back to the window's start: no onset to speak of
                onset_at = None
                onset_label = f"no error or latency onset found in {span_label(incident.window)}"
    baseline = getattr(incident, "baseline", None)
    f = Findings(
        incident=str(getattr(incident, "id", "incident")),
        window=span_label(incident.window),
        baseline=span_label(baseline) if baseline is not None else "",
        top_suspect=top["service"] if top else None,
        top_score=float(top["score"]) if top else None,
        top_why=_md(top.get("why") or "", 220) if top else "",
        onset=onset_at,
        onset_label=onset_label,
    )
    if top and verdict is None and getattr(suspects, "inputs", None) is not None:
        verdict = suspects.verdict  # memoised on the ranking: the headline's own
    if top and verdict is not None:
        f.verdict_level, f.verdict_reason = str(verdict.level), str(verdict.reason)
    links = getattr(suspects, "links", None)
    if top and links is not None and hasattr(suspects, "evidence"):
        f.top_links = links.evidence(suspects.evidence(top["service"]))
    if scored.height > 1:
        nxt = scored.row(1, named=True)
        f.runner_up = nxt["service"]
        victim = nxt.get("victim_of")
        f.runner_up_why = (
            f"likely a victim of {_code(victim)}" if victim else _md(nxt.get("why"), 120)
        )
    if red_summary is not None and red_summary.height:
        f.red = _red_lines(red_summary, max_items)
    if timeline is not None and timeline.height:
        f.changes, f.alerts, f.onsets, f.rollbacks = _timeline_lines(
            timeline, f.onset or incident.window.start, max_items
        )
        f.recoveries = [
            _md(r["title"], 100)
            for r in timeline.filter(pl.col("kind") == "recovery")
            .sort("ts")
            .head(max_items)
            .iter_rows(named=True)
        ]
    if surges is not None and surges.height:
        f.patterns = _pattern_lines(surges, max_items)
    if origins is not None and origins.height:
        f.origins = [
            f"{_code(r['service'])} {_md(r.get('name', ''), 40)} ({format_percent(r['share'])} of all failing traces)"
            for r in origins.head(max_items).iter_rows(named=True)
        ]
    if getattr(incident, "partial", False):
        f.caveats.append("some sources failed or returned partial data: see the source table above")
    # a signal no source had rows for (one empty source beside a full one is not news)
    status = incident.status() if hasattr(incident, "status") else None
    if status is not None and status.height:
        rows = status.group_by("signal", maintain_order=True).agg(pl.col("rows").sum())
        missing = [r["signal"] for r in rows.iter_rows(named=True) if r["rows"] == 0]
        if missing:
            f.caveats.append(f"no {', '.join(missing)} for this window from any source")
        if len(missing) == rows.height:  # nothing at all: no onset to speak of
            f.onset, f.onset_label = None, ""
    return f


def _red_lines(summary: pl.DataFrame, n: int) -> list[str]:
    out = []
    rows = summary.filter((pl.col("error_ratio_delta") > 0.01) | (pl.col("p95_ratio") > 1.5)).head(
        n
    )
    for r in rows.iter_rows(named=True):
        parts = []
        if (r["error_ratio_delta"] or 0) > 0.01:
            parts.append(
                "errors "
                + format_change(
                    format_percent(r["error_ratio_base"] or 0),
                    format_percent(r["error_ratio_inc"] or 0),
                )
            )
        if (r["p95_ratio"] or 0) > 1.5:
            parts.append(f"p95 {format_factor(r['p95_ratio'])}")
        out.append(f"{_code(r['service'])} " + ", ".join(parts))
    return out


def _timeline_lines(
    tl: pl.DataFrame, onset: datetime, n: int
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(changes just before the onset, alerts, first error onsets, rollbacks after it)."""
    near = tl.filter(
        pl.col("kind").is_in(CHANGE_KINDS)
        & (pl.col("ts") <= onset + timedelta(minutes=5))
        & (pl.col("ts") >= onset - timedelta(minutes=30))
    )
    # one line per service and kind: its first change, the one with a duration (the
    # GitOps record, "deploy checkout v2.14.0") before the step-by-step rollout events
    first = near.sort([pl.col("ts"), pl.col("end").is_null()], descending=[False, False]).unique(
        subset=["service", "kind"], keep="first", maintain_order=True
    )
    changes = [
        f"{_md(r['title'], 60)} at {_hm(r['ts'])}" for r in first.head(n).iter_rows(named=True)
    ]
    alerts = [
        f"{_md(r['title'], 100)} at {_hm(r['ts'])}"
        for r in tl.filter(pl.col("kind") == "alert").sort("ts").head(n).iter_rows(named=True)
    ]
    onsets = [
        f"{_code(r['service'])} at {_hm(r['ts'])} ({_md(_onset_detail(r), 90)})"
        for r in tl.filter(pl.col("kind") == "error_spike").sort("ts").head(n).iter_rows(named=True)
    ]
    rollbacks = [
        f"{_md(r['title'], 60)} at {_hm(r['ts'])}"
        for r in tl.filter((pl.col("kind") == "rollback") & (pl.col("ts") >= onset))
        .sort("ts")
        .head(n)
        .iter_rows(named=True)
    ]
    return changes, alerts, onsets, rollbacks


def _onset_detail(row: dict[str, Any]) -> str:
    """An error onset's title without the "errors rise on SERVICE: " the line already says,
    so what is left (the baseline and the peak step) fits uncut."""
    title, prefix = str(row["title"] or ""), f"errors rise on {row['service']}: "
    return title.removeprefix(prefix)


def _pattern_lines(surges: pl.DataFrame, n: int) -> list[str]:
    rows = surges
    if "surge" in rows.columns:
        rows = rows.filter(pl.col("surge"))
    order = [c for c in ("new", "z") if c in rows.columns]
    if order:
        rows = rows.sort(order, descending=True, nulls_last=True)
    out = []
    for r in rows.head(n).iter_rows(named=True):
        tag = "new" if r.get("new") else f"×{r.get('ratio') or 0:.0f}"
        out.append(f"{_code(r['service'])} {_code(r['template'], 70)} ({tag})")
    return out
