"""What a person sees of a result: suspects, their evidence, a capacity ranking.

Each function takes the result object and returns HTML (for ``_repr_html_``, notebook
outputs and the HTML exports) or Markdown, built with :mod:`workbench.display`. Nothing
here computes an answer: it picks the columns a reader needs, names them in words, and
keeps the frames where code finds them (``suspects.table``, ``evidence.series``, ...).

Example::

    >>> from workbench.summaries import suspects_html, suspects_markdown
    >>> HTML(suspects_html(sus))         # what ``sus`` shows in a notebook
    >>> print(suspects_markdown(sus))    # the same for a postmortem
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from workbench.display import (
    details,
    format_apart,
    format_duration,
    format_time,
    format_window,
    html_table,
    markdown_table,
    unit_nowrap,
)
from workbench.grafana_view import COLUMN, link_cells, links_html, links_markdown
from workbench.timewindow import duration_literal

__all__ = [
    "EVIDENCE_VIEWS",
    "Headline",
    "capacity_html",
    "capacity_markdown",
    "evidence_html",
    "headline",
    "source_problems",
    "suspect_links",
    "suspects_html",
    "suspects_markdown",
]

#: per evidence frame: (what one row is, in words; the columns a reader needs; headers)
EVIDENCE_VIEWS: dict[str, tuple[str, list[str], dict[str, str]]] = {
    # "moved" and "held at": the run the score measures (a series at 1 that dropped to 0
    # for a fifth of the window keeps a median of 1: "direction up, 1 -> 1" said nothing
    # true); "direction" (the median's) only for a frame without them
    "series": (
        "metric change",
        [
            "metric",
            "labels",
            "moved",
            "direction",
            "baseline_median",
            "incident_median",
            "run_level",
            "onset",
            "score",
        ],
        {
            "moved": "direction",
            "baseline_median": "baseline (median)",
            "incident_median": "incident (median)",
            "run_level": "held at",
        },
    ),
    "templates": (
        "log pattern",
        ["template", "logged_by", "level", "n_baseline", "n_incident", "first_in_window", "new"],
        {
            "logged_by": "written by",
            "n_baseline": "baseline lines",
            "n_incident": "incident lines",
            "first_in_window": "first seen",
        },
    ),
    "spans": (
        "failing span",
        ["trace_id", "name", "start", "duration_ms", "status"],
        {"name": "operation", "duration_ms": "duration"},
    ),
    "blame": (
        "slow operation",
        ["name", "normal_ms", "slow_ms", "extra_ms", "share", "slow_traces"],
        {
            "name": "operation",
            "normal_ms": "baseline (as slow)",
            "slow_ms": "slow",
            "extra_ms": "extra",
            "share": "share of extra time",
            "slow_traces": "slow traces",
        },
    ),
    "events": ("change event", ["ts", "kind", "title", "source"], {"ts": "time"}),
    "paths": (
        "code path cut short",
        ["A", "B", "n_baseline", "n_incident", "missing"],
        {
            "A": "after",
            "B": "expected next",
            "n_baseline": "in baseline",
            "n_incident": "in incident",
        },
    ),
    "totals": ("total above normal", [], {}),  # "1 total" alone said nothing
}

_SUSPECT_COLUMNS = ["rank", "service", "score", "why", "victim_of"]
_SUSPECT_HEADERS = {"victim_of": "victim of"}


_PLURALS = {
    "code path cut short": "code paths cut short",
    "total above normal": "totals above normal",
}


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n:,} {_PLURALS.get(word, word + 's')}"


def evidence_html(evidence: Any, *, max_rows: int = 8, open: bool = False) -> str:
    """The evidence behind one suspect, collapsed by default: one line saying what there
    is ("2 metric changes, 5 log patterns, ..."), then one folded table per kind."""
    links = getattr(evidence, "links", None)
    parts = []
    counts = []
    for name, (word, columns, headers) in EVIDENCE_VIEWS.items():
        df: pl.DataFrame = getattr(evidence, name)
        if not df.height:
            continue
        counts.append(_plural(df.height, word))
        df, cells = link_cells(df, name, links, evidence.service)
        if name == "series":  # a change never reads "0.02 -> 0.02, down"
            cells = {**cells, **_APART_CELLS}
        # "written by" only where a line is about another service than its writer
        same = "logged_by" in df.columns and (df["logged_by"] == evidence.service).all()
        cols = [c for c in columns if c in df.columns and not (c == "logged_by" and same)]
        if "moved" in cols and "direction" in cols:
            cols.remove("direction")
        table = html_table(
            df,
            columns=(cols + ([COLUMN] if cells else [])) or None,
            headers=headers,
            max_rows=max_rows,
            more_hint=f".evidence({evidence.service!r}).{name} has them all",
            cell_html=cells,
        )
        parts.append(details(f"{_plural(df.height, word)} ({name})", table))
    said = ", ".join(counts) if counts else "nothing beyond the score"
    top = links_html(links.evidence(evidence)) if links is not None else ""
    if top:
        parts.insert(0, f"<div class='wb-grafana-links'>Open in Grafana: {top}</div>")
    return details(f"Evidence for {evidence.service}: {said}", "".join(parts), open=open)


def _apart_cell(i: int, other: str = "incident_median") -> Callable[[Any, dict[str, Any]], str]:
    def cell(_value: Any, row: dict[str, Any]) -> str:
        pair = format_apart(
            row.get("baseline_median"), row.get(other), str(row.get("metric") or "")
        )
        return html.escape(pair[i])

    return cell


#: a metric change's baseline and incident medians, and the level its scored run held,
#: each told apart from the baseline when they round alike
_APART_CELLS = {
    "baseline_median": _apart_cell(0),
    "incident_median": _apart_cell(1),
    "run_level": _apart_cell(1, "run_level"),
}


def suspect_links(suspects: Any, service: str) -> dict[str, str]:
    """``{label: Explore URL}`` for one suspect's evidence ({} without Grafana)."""
    links = getattr(suspects, "links", None)
    return links.evidence(suspects.evidence(service)) if links is not None else {}


def _onset(suspects: Any) -> str:
    return f"{format_time(suspects.onset)} UTC" if suspects.onset else "not found"


def suspects_html(suspects: Any, *, top: int = 5) -> str:
    """The verdict, the window ranked, and the top suspects with why, as a table."""
    verdict = suspects.verdict._repr_html_() if suspects.inputs is not None else ""
    ranked = suspects.table.filter(pl.col("rank").is_not_null())  # no evidence: not ranked
    columns, cells = _SUSPECT_COLUMNS, {}
    if getattr(suspects, "links", None) is not None:
        ranked = ranked.with_columns(pl.lit(None, dtype=pl.String).alias(COLUMN))
        columns = [*_SUSPECT_COLUMNS, COLUMN]
        cells = {COLUMN: lambda _v, row: links_html(suspect_links(suspects, row["service"]))}
    table = html_table(
        ranked,
        columns=columns,
        headers=_SUSPECT_HEADERS,
        max_rows=top,
        more_hint=".table has them all; .evidence(service) the frames behind one",
        cell_html=cells,
    )
    return (
        f"<div class='wb-suspects'><b>Suspects</b> ranked on "
        f"{html.escape(format_window(suspects.window))} (onset {html.escape(_onset(suspects))}; "
        f"{ranked.height} of {suspects.table.height} services with evidence)"
        f"{verdict}{table}</div>"
    )


def suspects_markdown(suspects: Any, *, top: int = 5) -> str:
    """The top suspects as a Markdown table, with the window they were ranked on."""
    head = f"Suspects ranked on {format_window(suspects.window)} (onset {_onset(suspects)})."
    ranked = suspects.table.filter(pl.col("rank").is_not_null())
    table = markdown_table(
        ranked,
        columns=_SUSPECT_COLUMNS,
        headers=_SUSPECT_HEADERS,
        max_rows=top,
    )
    lines = [
        f"- `{svc}`: {links_markdown(got)}"
        for svc in ranked["service"].head(top).to_list()
        if (got := suspect_links(suspects, svc))
    ]
    if lines:
        table += "\n\nOpen in Grafana Explore (evidence window):\n\n" + "\n".join(lines)
    return f"{head}\n\n{table}"


#: the capacity ranking's columns for people (``Usage.table`` has them all),
#: renamed so :mod:`workbench.display` shows fractions of capacity as percentages
CAPACITY_COLUMNS = {
    "service": "service",
    "resource": "resource",
    "utilisation_peak": "peak_ratio",
    "headroom": "headroom_ratio",
    "growth_per_day": "growth_ratio_delta",
    "saturates_at": "saturates_at",
    "days_left": "days_left",
    "model": "model",
}
CAPACITY_HEADERS = {
    "peak_ratio": "peak",
    "headroom_ratio": "headroom",
    "growth_ratio_delta": "growth per day",
    "saturates_at": "crosses the threshold",
    "days_left": "days left",
}
_NEVER = "not within the horizon"


def _capacity_view(table: pl.DataFrame) -> pl.DataFrame:
    cols = {k: v for k, v in CAPACITY_COLUMNS.items() if k in table.columns}
    view = table.select(list(cols)).rename(cols)
    if "saturates_at" in view.columns:
        when = pl.col("saturates_at")
        if view.schema["saturates_at"] != pl.Date:
            when = when.dt.date()
        view = view.with_columns(when.cast(pl.String).fill_null(_NEVER))
    if "days_left" in view.columns:  # inf or null: it does not run out within the horizon
        days = pl.col("days_left")
        view = view.with_columns(
            pl.when(days.is_infinite() | days.is_null() | days.is_nan())
            .then(pl.lit("—"))
            .otherwise(days.round(0).cast(pl.Int64).cast(pl.String) + " d")
            .alias("days_left")
        )
    return view


def capacity_html(table: pl.DataFrame, *, max_rows: int = 15) -> str:
    """The capacity ranking (:meth:`~workbench.capacity.Usage.table`) for people: percentages, dates,
    "not within the horizon" instead of ``null`` and ``inf``."""
    return html_table(
        _capacity_view(table),
        headers=CAPACITY_HEADERS,
        max_rows=max_rows,
        more_hint="the table frame has them all",
    )


def capacity_markdown(table: pl.DataFrame, *, max_rows: int = 15) -> str:
    """:func:`capacity_html` as a Markdown table."""
    return markdown_table(_capacity_view(table), headers=CAPACITY_HEADERS, max_rows=max_rows)


# the first thing on the page -----------------------------------------------------------
@dataclass(frozen=True)
class Headline:
    """What an on-call engineer reads first: the incident, its window, what the sources
    returned (in words when something is missing), the verdict and the top suspect.

    Built by :func:`headline` from an investigation; every field is a plain value.
    """

    incident_id: str
    title: str
    window: str
    missing: list[str]
    level: str
    reason: str
    top_suspect: str | None
    #: what would settle a "weak" verdict, as the notebook parameter to set (or None)
    next_step: str | None = None

    def _repr_html_(self) -> str:
        colour = {"clear": "#1a7f37", "weak": "#9a6700", "none": "#57606a"}.get(
            self.level, "#57606a"
        )
        title = html.escape(self.title)
        ident = "" if self.title == self.incident_id else f" <small>({self.incident_id})</small>"
        missing = "".join(
            f"<div style='color:#9a6700'><b>Missing data:</b> {html.escape(m)}</div>"
            for m in self.missing
        )
        step = (
            f"<div style='margin-top:0.3em'><b>Next:</b> "
            f"{unit_nowrap(html.escape(self.next_step))}</div>"
            if self.next_step
            else ""
        )
        return (
            f"<div class='wb-headline'><h2 style='margin:0.2em 0'>{title}{ident}</h2>"
            f"<div>{html.escape(self.window)}</div>{missing}"
            f"<div style='font-size:110%;margin-top:0.3em'><b>Verdict: "
            f"<span style='color:{colour}'>{html.escape(self.level)}</span></b> — "
            f"{unit_nowrap(html.escape(self.reason))}</div>{step}</div>"
        )

    def _repr_markdown_(self) -> str:
        lines = [f"## {self.title}", "", self.window]
        lines += [f"**Missing data:** {m}" for m in self.missing]
        lines += ["", f"**Verdict: {self.level}** — {self.reason}"]
        lines += [f"**Next:** {self.next_step}"] if self.next_step else []
        return "\n\n".join(line for line in lines if line)

    def __str__(self) -> str:
        return f"{self.title} ({self.window}): {self.level}: {self.reason}"


def _said(detail: str | None) -> str:
    """An error's message and what to do, from its full text (``message | source=…;
    query=…; window=… | what to do: …``): the query and window are in the sources table.

    >>> _said("cannot connect to http://p:9 | source=p; query=up | what to do: check it")
    'cannot connect to http://p:9; what to do: check it'
    """
    parts = [x.strip() for x in str(detail or "").split(" | ")]
    hint = next((x for x in parts[1:] if x.startswith("what to do:")), "")
    return "; ".join(x for x in (parts[0], hint) if x)


def source_problems(
    incident: Any, statuses: tuple[str, ...] = ("error", "partial", "empty")
) -> list[str]:
    """One sentence per load of ``incident`` whose status is in ``statuses``, in the
    headline's words: what failed or was partial, the error's message and what to do
    (the query and window stay in ``inc.status()``). The failures are logged at INFO
    only: whatever shows an incident says them with this (the headline, the ``workbench``
    commands).

    >>> source_problems(inc, ("error", "partial"))
    ['prom metrics failed (cannot connect to http://127.0.0.1:9; what to do: check ...)']
    """
    out = []
    for row in incident.status().iter_rows(named=True):
        if row["status"] not in statuses:
            continue
        what = {"error": "failed", "partial": "returned partial data", "empty": "had no rows"}
        said = _said(row["detail"])
        detail = f" ({said})" if said and row["status"] != "empty" else ""
        out.append(
            f"{row['source']} {row['signal']} {what.get(row['status'], row['status'])}{detail}"
        )
    return out


def _missing(incident: Any) -> list[str]:
    """Sentences about the sources that failed, were partial or had nothing."""
    if not getattr(incident, "sources", None):
        return ["no source is configured: nothing was loaded"]
    gaps = getattr(incident, "baseline_gaps", None)
    return source_problems(incident) + (gaps() if callable(gaps) else [])


def headline(inv: Any) -> Headline:
    """The headline of an investigation (:class:`Headline`): title, window, missing data,
    verdict and top suspect, from the answers it already holds.

    >>> headline(inv)          # in a notebook: the first thing to read
    """
    inc = inv.incident
    sus = inv.suspects.value
    top = sus.ranking[0] if sus.ranking else None  # a table of services none ranked: none
    step = None
    if top is None:
        level, reason = "none", "no service scored in this window: nothing stands out"
    else:
        v = inv.verdict.value
        level, reason = v.level, v.reason
        if v.settle_baseline is not None:
            length, need = duration_literal(v.settle_baseline), format_duration(v.settle_baseline)
            step = (
                f'to try to settle it, set baseline = "{length}" in the parameters cell and run all '
                f"(the sources must keep {need} of data before the window)"
            )
            held = getattr(inc, "data_start", None)
            if held is not None and inv.window.start - v.settle_baseline < held:
                # the sources say how far back they reach: the advice must fit in it
                step = (
                    f"a baseline of {need} could settle it, but "
                    f"these sources hold data only from {format_time(held)} UTC "
                    f"({format_duration(inv.window.start - held)} before the window): with "
                    f'sources that keep more, set baseline = "{length}" in the parameters cell'
                )
            if getattr(v, "missing", ""):
                # a longer baseline cannot lift the cap of evidence that did not load
                step = f"first load the evidence that is missing (above); then {step}"
    window = (
        f"Window {format_window(inv.window)}, compared with the baseline "
        f"{format_window(inv.baseline)}"
    )
    return Headline(
        incident_id=str(inv.id),
        title=str(getattr(inc, "title", None) or inv.id),
        window=window,
        missing=_missing(inc),
        level=level,
        reason=reason,
        top_suspect=top,
        next_step=step,
    )
