"""The postmortem draft: timeline, impact, detection, response and root cause, from data.

Days after an incident the author re-opens it from its evidence bundle and gets a draft
of the sections practitioners use (Google SRE workbook, PagerDuty): the facts drafted
from the frames, each timeline row citing its evidence (which frame, which source, which
event or series), and the judgement left to people as visible ``TODO`` placeholders.
Pure: no I/O besides :func:`open_postmortem`.

Example::

    >>> from workbench.postmortem import draft, open_postmortem
    >>> inc = open_postmortem("INC-123.bundle")          # replays offline
    >>> pm = draft(inc, slo_target=0.999, slo_window_days=30, authors=["alice"])
    >>> pm.timeline                                       # ts, kind, service, title, evidence
    >>> pm.impact.budget_burned                           # 0.42 = 42% of the error budget
    >>> pm.section("root_cause")                          # Markdown, shown in a notebook
    >>> print(pm.to_markdown())                           # the whole draft
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from workbench.analysis.impact import Impact, Period, impact
from workbench.errors import ConfigError
from workbench.timeline_view import WINDOW_KINDS, condense
from workbench.timewindow import Window

__all__ = [
    "FREE_TEXT",
    "SECTIONS",
    "Impact",
    "Markdown",
    "Postmortem",
    "Timings",
    "draft",
    "draft_timeline",
    "impact",
    "open_postmortem",
    "present_timeline",
    "timings",
]

#: Drafted sections, in document order (see :meth:`Postmortem.section`).
SECTIONS = (
    "header",
    "summary",
    "impact",
    "detection",
    "response",
    "timeline",
    "root_cause",
    "evidence",
)
#: Sections only people can write: title -> what the TODO asks for.
FREE_TEXT = {
    "What went well": "what helped: alerts that fired, tools, people, runbooks",
    "What went badly": "what slowed detection, diagnosis or mitigation",
    "Where we got lucky": "what limited the damage by chance, not by design",
}
TODO = "**TODO**"


class Markdown:
    """Markdown text that a notebook shows rendered (``str(md)`` is the source)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


# opening -----------------------------------------------------------------------------------
def open_postmortem(
    bundle: str | Path = "", *, expect: str | None = None, public_key: str | Path | None = None
) -> Any:
    """The incident a postmortem is written from: its evidence bundle (checked intact,
    and against ``expect``/``public_key`` when given; no backend needed), or the
    embedded demo incident when ``bundle`` is ``""``. Grafana (for the draft's Explore
    links) comes from ``[grafana]`` or ``WORKBENCH_GRAFANA_URL``
    (:func:`workbench.grafana_config.load_grafana`).

    >>> inc = open_postmortem("INC-123.bundle", expect="9f2c...", public_key="alice.pub")
    """
    from workbench.config import default_path
    from workbench.grafana_config import load_grafana
    from workbench.incident import Incident

    if not str(bundle):
        inc = Incident.demo()
    else:
        p = Path(bundle)
        if not p.exists():
            raise ConfigError(
                f"no evidence bundle at {p}",
                hint="pass the directory `workbench bundle save` (or inc.save_bundle) wrote",
            )
        inc = Incident.from_bundle(p, expect=expect or None, public_key=public_key or None)
    # Explore links in the draft: [grafana] of ./workbench.toml or $WORKBENCH_CONFIG, else
    # WORKBENCH_GRAFANA_URL (a bundle holds no configuration)
    inc.grafana = load_grafana(default_path())
    return inc


# timeline ----------------------------------------------------------------------------------
def _md(text: Any, limit: int = 120) -> str:
    """One line of untrusted text for Markdown (:func:`workbench.display.markdown_text`)."""
    from workbench.display import markdown_text

    return markdown_text(text, limit)


def _code(text: Any) -> str:
    s = " ".join(str(text).split()).replace("`", "'").replace("|", "\\|")
    return f"`{s}`"


def _hm(t: datetime | None, secs: bool = False) -> str:
    if t is None:
        return "—"
    return t.strftime("%H:%M:%S" if secs else "%H:%M")


def _dur(d: timedelta | None) -> str:
    """A duration as every view writes it (:func:`workbench.display.format_duration`:
    ``38 min``, ``2 min 15 s``)."""
    from workbench.display import format_duration

    return format_duration(d)


def present_timeline(
    timeline: pl.DataFrame,
    incident: Any,
    *,
    lookback: timedelta = timedelta(minutes=30),
) -> tuple[pl.DataFrame, str]:
    """The postmortem's rows of the investigation's one timeline and what condensing did
    (:func:`workbench.timeline_view.condense`: the notebook and the explorer show the
    same rows, :func:`workbench.timeline_view.timeline_table`).

    >>> rows, note = present_timeline(inv.timeline.frame, inc)
    """
    return condense(timeline, incident, lookback=lookback)


def draft_timeline(
    incident: Any,
    *,
    timeline: pl.DataFrame | None = None,
    lookback: timedelta = timedelta(minutes=30),
) -> pl.DataFrame:
    """The postmortem timeline of ``incident``, earliest first: :func:`present_timeline`
    of ``timeline`` (the investigation's one timeline; default
    ``Investigation(incident).timeline``).

    Columns: ``ts, end, kind, service, title, source, evidence, signal`` (``signal``: the
    frame the row comes from). Rows: changes (rollout step events folded into their
    change record), alerts, error/latency onsets per service and when each went back
    under its threshold (``recovery``), log-pattern surges, the annotation log, and the
    ``incident``/``baseline`` windows.

    >>> tl = draft_timeline(inc)
    >>> tl.filter(pl.col("kind") == "alert").select("ts", "title", "evidence")
    """
    if timeline is None:
        from workbench.investigation import Investigation

        timeline = Investigation(incident).timeline.frame
    return present_timeline(timeline, incident, lookback=lookback)[0]


# detection and response --------------------------------------------------------------------
@dataclass(frozen=True)
class Timings:
    """Onset, detection, mitigation and recovery, each with what it is based on."""

    onset: datetime
    onset_evidence: str
    detected: datetime | None
    detected_by: str
    detected_evidence: str
    mitigated: datetime | None
    mitigated_by: str
    mitigated_evidence: str
    recovered: datetime
    recovered_evidence: str

    @property
    def time_to_detect(self) -> timedelta | None:
        return self.detected - self.onset if self.detected else None

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self.mitigated - self.onset if self.mitigated else None

    @property
    def time_to_recover(self) -> timedelta:
        return self.recovered - self.onset


def timings(
    timeline: pl.DataFrame, period: Period, *, detect_slack: timedelta = timedelta(minutes=15)
) -> Timings:
    """Detection (the first alert from ``detect_slack`` before the onset to the end of
    the impact; else the first annotation), mitigation (the first rollback, or action
    annotation, after the onset) and recovery (the impact's end) from a drafted timeline.
    """
    tl = timeline.sort("ts")
    alerts = tl.filter(
        (pl.col("kind") == "alert")
        & (pl.col("ts") >= period.start - detect_slack)
        & (pl.col("ts") <= period.end)
    )
    notes = tl.filter(
        (pl.col("kind") == "annotation")
        & (pl.col("ts") >= period.start)
        & (pl.col("ts") <= period.end + detect_slack)
    )
    detected, by, dev = None, "nothing: no alert fired and nobody noted it", ""
    if alerts.height:
        a = alerts.row(0, named=True)
        detected, by, dev = a["ts"], f"alert {a['title']}", a["evidence"]
    elif notes.height:
        a = notes.row(0, named=True)
        detected, by, dev = a["ts"], f"a person: {a['title']}", a["evidence"]
    fixes = tl.filter(
        (
            (pl.col("kind") == "rollback")
            | ((pl.col("kind") == "annotation") & pl.col("title").str.starts_with("[action]"))
        )
        & (pl.col("ts") >= period.start)
        & (pl.col("ts") <= period.end + detect_slack)
    )
    mitigated, mby, mev = None, "no rollback or recorded action found", ""
    if fixes.height:  # at the same moment, the recorded event before a person's note
        f = fixes.sort("ts", pl.col("kind") == "annotation").row(0, named=True)
        mitigated, mby, mev = f["ts"], f["title"], f["evidence"]
    return Timings(
        onset=period.start,
        onset_evidence=period.start_evidence,
        detected=detected,
        detected_by=by,
        detected_evidence=dev,
        mitigated=mitigated,
        mitigated_by=mby,
        mitigated_evidence=mev,
        recovered=period.end,
        recovered_evidence=period.end_evidence,
    )


# the draft -----------------------------------------------------------------------------------
@dataclass
class Postmortem:
    """A postmortem draft. ``section(name)`` gives one drafted section as Markdown (see
    :data:`SECTIONS`); ``to_markdown()`` the whole document with ``TODO`` placeholders
    where only people can write."""

    incident_id: str
    title: str
    window: Window
    authors: list[str]
    status: str
    timeline: pl.DataFrame = field(repr=False)
    impact: Impact = field(repr=False)
    timings: Timings = field(repr=False)
    suspects: pl.DataFrame = field(repr=False)
    caveats: list[str] = field(default_factory=list)
    provenance: dict[str, Any] | None = field(default=None, repr=False)
    #: per suspect, ``{label: Grafana Explore URL}`` of its evidence (empty: no Grafana)
    links: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    #: what condensing the investigation's timeline into :attr:`timeline` did (folded,
    #: left out); the Timeline section shows :func:`workbench.timeline_view.present` of both
    timeline_note: str = ""
    #: rows of the investigation's timeline :attr:`timeline` was made from (window rows
    #: aside); 0: as many as :attr:`timeline` holds
    timeline_total: int = 0
    #: what the incident was read from when not from a bundle (each source's name, such
    #: as ``files:demo-0.1.0-r6-seed1`` or ``prometheus:prod``): the Evidence section
    #: says it, rather than calling every source "live"
    source_names: list[str] = field(default_factory=list, repr=False)
    #: the verdict on the top suspect (``clear``, ``weak`` or ``none``; "" when not
    #: judged) and its reason, as the incident notebook's headline says them
    verdict_level: str = ""
    verdict_reason: str = ""

    def timeline_table(self) -> Any:
        """The Timeline section's table (:func:`workbench.timeline_view.present`): the
        rows the notebook and the explorer show, and the note saying what was left out."""
        from workbench.timeline_view import present

        return present(self.timeline, said=self.timeline_note, total=self.timeline_total or None)

    @property
    def top_suspect(self) -> str | None:
        s = self.suspects.filter(pl.col("score") > 0) if self.suspects.height else self.suspects
        return s["service"][0] if s.height else None

    def section(self, name: str) -> Markdown:
        """One drafted section (``header``, ``summary``, ``impact``, ``detection``,
        ``response``, ``timeline``, ``root_cause``, ``evidence``) as Markdown."""
        if name not in SECTIONS:
            raise ConfigError(f"unknown section {name!r}; one of {SECTIONS}")
        from workbench import postmortem_md

        return Markdown(getattr(postmortem_md, name)(self))

    def to_markdown(self) -> str:
        """The whole draft: drafted sections plus TODO placeholders for the rest."""
        from workbench import postmortem_md

        return postmortem_md.document(self)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return (
            f"Postmortem({self.incident_id!r}, {_dur(self.impact.duration)} impact, "
            f"top suspect {self.top_suspect!r})"
        )


def _provenance(incident: Any) -> dict[str, Any] | None:
    for src in getattr(incident, "sources", []):
        if getattr(src, "kind", None) == "bundle":
            return {
                "path": str(src.path),
                "manifest": src.manifest,
                "problems": list(src.problems),
                "checks": list(getattr(src, "checks", [])),
            }
    return None


def draft(
    incident: Any,
    *,
    slo_target: float = 0.999,
    slo_window_days: float = 30,
    authors: Sequence[str] = (),
    status: str = "draft",
    title: str | None = None,
    suspects: Any = None,
    red_frame: pl.DataFrame | None = None,
    timeline: pl.DataFrame | None = None,
    impact: Impact | None = None,
    verdict: Any = None,
) -> Postmortem:
    """Draft the postmortem of ``incident`` (an :class:`~workbench.Incident`, usually from
    its bundle): timeline, impact against the SLO, detection/response times, suspects.

    ``suspects``, ``red_frame``, ``timeline`` (the investigation's one timeline, which
    the draft presents with :func:`present_timeline`) and ``impact`` are computed when not
    given; :meth:`workbench.Investigation.postmortem` gives its own, so the postmortem
    shows the rows and numbers the notebook shows. ``verdict`` (a
    :class:`~workbench.analysis.verdict.Verdict`) is the verdict on the top suspect, by
    default ``suspects.verdict`` when the ranking can be judged: the Summary and Root
    cause say it, so the draft is no surer than the notebook.

    >>> pm = draft(inc, slo_target=0.999, slo_window_days=30, authors=["alice"])
    >>> pm.section("impact")
    """
    from workbench.analysis.impact import impact as compute_impact
    from workbench.analysis.red import red
    from workbench.analysis.suspects import rank_suspects

    if red_frame is None:
        red_frame = red(incident.metrics, incident.spans)
    if timeline is None:
        from workbench.investigation import Investigation

        timeline = Investigation(incident).timeline.frame
    tl, tl_note = present_timeline(timeline, incident)
    imp = impact or compute_impact(
        incident,
        timeline=timeline,
        red_frame=red_frame,
        slo_target=slo_target,
        slo_window_days=slo_window_days,
    )
    if suspects is None:
        suspects = rank_suspects(incident)
    table = suspects.table if hasattr(suspects, "table") else suspects
    scored = table.filter(pl.col("score") > 0) if table.height else table
    if scored.height and verdict is None and getattr(suspects, "inputs", None) is not None:
        verdict = suspects.verdict  # memoised on the ranking: the notebook's own
    if not scored.height:
        verdict = None
    caveats = list(imp.caveats)
    if getattr(incident, "partial", False):
        for r in incident.status().iter_rows(named=True):
            if r["status"] != "ok":
                caveats.append(f"{r['source']} {r['signal']}: {r['status']}: {r['detail']}")
    prov = _provenance(incident)
    if prov and prov["problems"]:
        caveats.append("the evidence bundle failed verification: " + "; ".join(prov["problems"]))
    links: dict[str, dict[str, str]] = {}
    explore = getattr(suspects, "links", None)
    if explore is None and hasattr(suspects, "evidence"):
        from workbench.grafana_links import explore_links

        explore = explore_links(incident, window=suspects.window, baseline=suspects.baseline)
    if explore is not None and hasattr(suspects, "evidence"):
        for svc in table.filter(pl.col("score") > 0)["service"].head(5).to_list():
            got = explore.evidence(suspects.evidence(svc))
            if got:
                links[svc] = got
    return Postmortem(
        incident_id=str(incident.id),
        title=title or getattr(incident, "title", None) or str(incident.id),
        window=incident.window,
        authors=[a for a in authors if a],
        status=status,
        timeline=tl,
        impact=imp,
        timings=timings(tl, imp.period),
        suspects=table,
        caveats=caveats,
        provenance=prov,
        links=links,
        timeline_note=tl_note,
        timeline_total=timeline.filter(~pl.col("kind").is_in(list(WINDOW_KINDS))).height,
        source_names=[str(getattr(s, "name", s)) for s in getattr(incident, "sources", [])],
        verdict_level=str(verdict.level) if verdict is not None else "",
        verdict_reason=str(verdict.reason) if verdict is not None else "",
    )
