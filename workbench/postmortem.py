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

from workbench.analysis.impact import ONSET_KINDS, Impact, Period, impact
from workbench.analysis.red import RED_METRICS, REQUESTS_TOTAL
from workbench.analysis.timeline import TIMELINE_SCHEMA
from workbench.errors import ConfigError
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
SCHEMA = {**TIMELINE_SCHEMA, "signal": pl.String()}
CHANGE_KINDS = ("deploy", "rollback", "config", "chaos")


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
    if d is None:
        return "—"
    secs = round(d.total_seconds())
    sign, secs = ("-" if secs < 0 else ""), abs(secs)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{sign}{h}h{m:02d}m"
    return f"{sign}{m}m{s:02d}s" if s else f"{sign}{m}m"


def _collapse_rollouts(ev: pl.DataFrame) -> pl.DataFrame:
    """Fold point events of a change (rollout steps) into the change record that spans
    them (same service, a deploy/rollback/config record with an ``end``), keeping the
    count in the record's evidence: a postmortem wants one row per change. Adds
    ``_folded`` (how many rows each row stands for besides itself) and ``_fold`` (what
    its evidence says about them)."""
    ev = ev.with_row_index("_row")
    rec = ev.filter(pl.col("kind").is_in(list(CHANGE_KINDS)) & pl.col("end").is_not_null())
    points = ev.filter(
        pl.col("kind").is_in(["deploy", "rollback"]) & pl.col("end").is_null()
    ).select("_row", "service", "ts", pl.col("source").alias("_psrc"))
    pairs = points.join(
        rec.select(pl.col("_row").alias("_rec"), "service", pl.col("ts").alias("_rs"), "end"),
        on="service",
        how="inner",
    ).filter((pl.col("ts") >= pl.col("_rs")) & (pl.col("ts") <= pl.col("end")))
    pairs = pairs.sort("_rs", descending=True).unique("_row", keep="first")
    folded = pairs.group_by("_rec").agg(
        pl.len().alias("_folded"), pl.col("_psrc").unique().sort().str.join(", ").alias("_fsrc")
    )
    return (
        ev.filter(~pl.col("_row").is_in(pairs["_row"].to_list()))
        .join(folded, left_on="_row", right_on="_rec", how="left")
        .with_columns(
            pl.col("_folded").fill_null(0),
            pl.when(pl.col("_folded") > 0)
            .then(
                pl.lit(" (+")
                + pl.col("_folded").cast(pl.String)
                + pl.lit(" step events from ")
                + pl.col("_fsrc")
                + pl.lit(" folded into this row)")
            )
            .otherwise(pl.lit(""))
            .alias("_fold"),
        )
        .drop("_row", "_fsrc")
    )


def present_timeline(
    timeline: pl.DataFrame,
    incident: Any,
    *,
    lookback: timedelta = timedelta(minutes=30),
) -> tuple[pl.DataFrame, str]:
    """The postmortem's view of the investigation's one timeline
    (:attr:`workbench.Investigation.timeline`) and a sentence saying how it was condensed.

    No row is computed here: the rows are the timeline's, rollout step events folded into
    the change record that spans them (their count in its evidence), rows ending more than
    ``lookback`` before the first onset (or the window start) left out, and each row's
    evidence prefixed with the frame it comes from (``signal``: ``events``, ``metrics``,
    ``spans``, ``logs``, ``annotations`` or ``workbench``).

    >>> rows, note = present_timeline(inv.timeline.frame, inc)
    """
    tl = timeline.select(list(TIMELINE_SCHEMA)).cast(TIMELINE_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
    metric_services = set(
        incident.metrics.filter(pl.col("metric").is_in([REQUESTS_TOTAL, *RED_METRICS]))["service"]
        .unique()
        .to_list()
    )
    from_metrics = pl.col("service").is_in(list(metric_services))
    kind, src = pl.col("kind"), pl.col("source")
    signal = (
        pl.when(kind.is_in(["incident", "baseline"]))
        .then(pl.lit("workbench"))
        .when(kind == "annotation")
        .then(pl.lit("annotations"))
        .when(kind == "log_surge")
        .then(pl.lit("logs"))
        .when(src == "red")
        .then(pl.when(from_metrics).then(pl.lit("metrics")).otherwise(pl.lit("spans")))
        .otherwise(pl.lit("events"))
    )
    red_source = (
        pl.when(from_metrics).then(pl.lit(f"red({REQUESTS_TOTAL})")).otherwise(pl.lit("red(spans)"))
    )
    tl = tl.with_columns(signal.alias("signal")).with_columns(
        pl.when(pl.col("signal").is_in(["metrics", "spans"]))
        .then(red_source)
        .otherwise(src)
        .alias("source")
    )
    cite = (
        pl.when(pl.col("signal") == "events")
        .then(
            pl.lit("events/")
            + pl.col("source").fill_null("?")
            + pl.lit(" ")
            + pl.col("ts").dt.strftime("%H:%M:%S")
            + pl.col("_fold")
        )
        .when(pl.col("signal").is_in(["metrics", "spans"]))
        .then(pl.col("signal") + pl.lit("/") + pl.col("source").fill_null("?"))
        .when(pl.col("signal") == "logs")
        .then(pl.lit("logs/templates"))
        .otherwise(pl.lit(None))
    )
    ev = pl.col("evidence").fill_null("")
    folded = _collapse_rollouts(tl).with_columns(
        pl.when(cite.is_null())
        .then(ev)
        .when(ev == "")
        .then(cite)
        .otherwise(cite + pl.lit(": ") + ev)
        .alias("evidence")
    )
    onsets = tl.filter(pl.col("kind").is_in(list(ONSET_KINDS)))
    first = onsets["ts"].min() if onsets.height else None
    start = incident.window.start
    if isinstance(first, datetime):
        start = min(start, first)
    cutoff = start - lookback
    keep = pl.col("kind").is_in(["incident", "baseline"]) | (
        pl.col("end").fill_null(pl.col("ts")) >= cutoff
    )
    kept = folded.filter(keep)
    n_folded = int(kept["_folded"].sum())  # rows kept + folded + dropped = the timeline's
    dropped = folded.height - kept.height + int(folded.filter(~keep)["_folded"].sum())
    order = {"baseline": 0, "incident": 1}
    out = (
        kept.with_columns(
            pl.col("kind").replace_strict(order, default=2, return_dtype=pl.Int8).alias("_o")
        )
        .sort("ts", "_o", "kind", "service", nulls_last=True)
        .drop("_o", "_folded", "_fold")
        .select(list(SCHEMA))
    )
    said = [f"the rows of the investigation's timeline (`inv.timeline`, {tl.height} rows)"]
    if n_folded:
        said.append(
            f"{n_folded} rollout step events folded into the change they belong to "
            "(counted in its evidence)"
        )
    if dropped:
        said.append(
            f"{dropped} rows ending before {cutoff:%H:%M} UTC ({_dur(lookback)} before the "
            "first onset or the window) left out"
        )
    return out, "; ".join(said) + "."


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
    #: how :attr:`timeline` presents the investigation's timeline (what it folded or left out)
    timeline_note: str = ""

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
) -> Postmortem:
    """Draft the postmortem of ``incident`` (an :class:`~workbench.Incident`, usually from
    its bundle): timeline, impact against the SLO, detection/response times, suspects.

    ``suspects``, ``red_frame``, ``timeline`` (the investigation's one timeline, which
    the draft presents with :func:`present_timeline`) and ``impact`` are computed when not
    given; :meth:`workbench.Investigation.postmortem` gives its own, so the postmortem
    shows the rows and numbers the notebook shows.

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
    )
