"""Missing evidence: what the ranking could not see, said next to the ranking.

When a signal could not be loaded whole for the incident (a row budget exceeded, a
timeout, a failure: see :meth:`workbench.Incident.status`), the suspects are ranked on
what did load. That ranking must not pass for a complete one: :func:`missing_evidence`
lists, per signal that failed or came back partial, which kinds of ranking evidence it
feeds and for which services it is missing; :func:`mark_suspects` returns the suspects
with that table attached (a ``missing`` column in ``.table``, a "missing evidence" line
in the HTML) and a verdict that is at most ``weak`` and names the missing evidence.

Example::

    >>> inc = Incident.from_directory(path)          # metrics refused by the row budget
    >>> inv = Investigation(inc)
    >>> inv.missing.frame                            # signal, evidence, services, reason
    >>> inv.verdict.level                            # 'weak' at most
    >>> inv.verdict.reason                           # '... missing evidence: metric change ...'
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, fields
from typing import Any

import polars as pl

from workbench.analysis.suspects import Suspects
from workbench.analysis.verdict import Verdict

__all__ = [
    "EVIDENCE_OF",
    "MISSING_SCHEMA",
    "MarkedSuspects",
    "MarkedVerdict",
    "mark_suspects",
    "mark_verdict",
    "missing_evidence",
    "missing_sentence",
]

#: which kinds of ranking evidence (columns of the suspects table) each signal feeds
EVIDENCE_OF: dict[str, tuple[str, ...]] = {
    "metrics": ("metrics", "saturation"),
    "spans": ("errors", "latency", "patterns"),
    "logs": ("logs", "patterns", "errors"),
    "events": ("events",),
}

#: how the verdict and the tables name each kind of evidence
_LABEL = {
    "metrics": "metric changes",
    "saturation": "saturation",
    "errors": "error origins",
    "latency": "latency blame",
    "patterns": "broken code paths",
    "logs": "log surges",
    "events": "change events",
}

MISSING_SCHEMA: dict[str, Any] = {
    "signal": pl.String,
    "source": pl.String,
    "status": pl.String,
    "evidence": pl.List(pl.String),
    "services": pl.List(pl.String),
    "all_services": pl.Boolean,
    "reason": pl.String,
}


def missing_evidence(incident: Any) -> pl.DataFrame:
    """One row per source and signal that failed or returned a partial result:
    ``signal, source, status`` (``failed``/``partial``), ``evidence`` (the ranking's
    evidence kinds it feeds), ``services`` (those it is missing for), ``all_services``
    (True when it is missing for every service seen), ``reason`` (the error or the
    source's reasons). Empty when everything loaded whole.

    The services: when no source delivered any row of the signal, every service seen in
    the other signals; otherwise the services seen elsewhere without a row of this
    signal, or, if none, every service (a partial result may be short for any of them).

    >>> missing_evidence(inc).select("signal", "status", "reason")
    """
    outcomes = list(getattr(incident, "outcomes", {}).values())
    bad = [o for o in outcomes if not o.ok or (o.result is not None and o.result.partial)]
    if not bad:
        return pl.DataFrame(schema=MISSING_SCHEMA)
    loaded: dict[str, pl.DataFrame] = dict(getattr(incident, "_frames", {}))
    seen: set[str] = set()
    for df in loaded.values():
        if "service" in df.columns and df.height:
            seen.update(x for x in df["service"].unique().to_list() if x)
    rows = []
    for o in bad:
        own = loaded.get(o.signal)
        have: set[str] = set()
        if own is not None and "service" in own.columns and own.height:
            have = {x for x in own["service"].unique().to_list() if x}
        lacking = sorted(seen - have)
        whole = not have or not lacking
        services = sorted(seen) if whole else lacking
        if o.error is not None:
            # the message only: the structured fields (source, window, hint) follow " | "
            reason = f"{type(o.error).__name__}: {str(o.error).split(' | ')[0]}"
        else:
            reason = "partial: " + ("; ".join(o.result.reasons if o.result else ()) or "?")
        rows.append(
            {
                "signal": o.signal,
                "source": o.source,
                "status": "failed" if o.error is not None else "partial",
                "evidence": list(EVIDENCE_OF.get(o.signal, ())),
                "services": services,
                "all_services": whole,
                "reason": reason.splitlines()[0][:300] if reason else "",
            }
        )
    return pl.DataFrame(rows, schema=MISSING_SCHEMA).sort("signal", "source")


def missing_sentence(missing: pl.DataFrame, *, max_services: int = 3) -> str:
    """``metrics failed (metric changes, saturation missing for all 1,000 services:
    LimitExceeded: ...)``; empty when nothing is missing."""
    bits = []
    for r in missing.iter_rows(named=True):
        what = ", ".join(_LABEL.get(k, k) for k in r["evidence"]) or "its evidence"
        svcs = r["services"]
        if r["all_services"]:
            who = f"all {len(svcs):,} services" if svcs else "every service"
        else:
            shown = ", ".join(svcs[:max_services])
            more = f" and {len(svcs) - max_services:,} more" if len(svcs) > max_services else ""
            who = f"{len(svcs):,} service(s): {shown}{more}"
        bits.append(
            f"{r['signal']} {r['status']} at {r['source']} ({what} missing for {who}; {r['reason']})"
        )
    return "; ".join(bits)


def _per_service(missing: pl.DataFrame, services: list[str]) -> list[str | None]:
    kinds: dict[str, list[str]] = {}
    for r in missing.iter_rows(named=True):
        targets = services if r["all_services"] else r["services"]
        for s in targets:
            got = kinds.setdefault(s, [])
            got.extend(k for k in r["evidence"] if k not in got)
    return [", ".join(kinds[s]) if s in kinds else None for s in services]


@dataclass(frozen=True)
class MarkedVerdict(Verdict):
    """A :class:`~workbench.analysis.verdict.Verdict` over a ranking that lacked some
    evidence: ``level`` at most ``weak``, ``reason`` naming what is missing, and
    ``missing`` the sentence itself (also in :meth:`as_dict`)."""

    missing: str = ""
    uncapped: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "missing": self.missing, "uncapped": self.uncapped}


def mark_verdict(verdict: Verdict, missing: pl.DataFrame) -> Verdict:
    """``verdict`` unchanged when nothing is missing; otherwise at most ``weak``, its
    reason ending with the missing evidence.

    >>> mark_verdict(sus.verdict, missing_evidence(inc)).level
    'weak'
    """
    if missing.is_empty():
        return verdict
    sentence = missing_sentence(missing)
    level = "weak" if verdict.level == "clear" else verdict.level
    if verdict.level == "clear":
        lead = f"{verdict.top} stands out in the evidence that loaded, but"
    elif verdict.level == "none":
        lead = f"{verdict.reason} in the evidence that loaded; and"
    else:
        lead = f"{verdict.reason}; and"
    reason = f"{lead} the ranking was built without some evidence: {sentence}"
    values = {f.name: getattr(verdict, f.name) for f in fields(Verdict)}
    values.update(level=level, reason=reason)
    return MarkedVerdict(**values, missing=sentence, uncapped=verdict.level)


@dataclass
class MarkedSuspects(Suspects):
    """:class:`~workbench.analysis.suspects.Suspects` ranked without some evidence:
    ``missing`` (see :func:`missing_evidence`); ``table`` has a ``missing`` column (the
    evidence kinds missing for each service); the verdict is capped by
    :func:`mark_verdict`; the HTML carries a "missing evidence" line."""

    missing: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MISSING_SCHEMA))

    @property
    def verdict(self) -> Any:
        if self._verdict is None:
            from workbench.analysis.verdict import assess

            self._verdict = mark_verdict(assess(self), self.missing)
        return self._verdict

    @property
    def complete(self) -> bool:
        """True when the ranking saw every signal whole."""
        return self.missing.is_empty()

    def _repr_html_(self) -> str:
        inner = super()._repr_html_()
        if self.complete:
            return inner
        line = (
            "<div style='color:#b35806'><b>missing evidence</b>: "
            f"{html.escape(missing_sentence(self.missing))}. This ranking is built "
            "without it: read it as incomplete.</div>"
        )
        at = inner.find("<table")  # above the ranking, below the verdict
        return inner + line if at < 0 else inner[:at] + line + inner[at:]

    def __repr__(self) -> str:
        base = super().__repr__()
        if self.complete:
            return base
        short = ", ".join(
            f"{r['signal']} {r['status']} ({len(r['services']):,} services)"
            for r in self.missing.iter_rows(named=True)
        )
        return base[:-1] + f"; missing evidence: {short})"


def mark_suspects(sus: Suspects, missing: pl.DataFrame) -> Suspects:
    """``sus`` unchanged when nothing is missing; otherwise a :class:`MarkedSuspects`
    with the same ranking, a ``missing`` column and the capped verdict.

    >>> mark_suspects(rank_suspects(inc), missing_evidence(inc)).table["missing"]
    """
    if missing.is_empty():
        return sus
    values = {f.name: getattr(sus, f.name) for f in fields(Suspects)}
    values["table"] = sus.table.with_columns(
        missing=pl.Series(_per_service(missing, sus.table["service"].to_list()), dtype=pl.String)
    )
    values["_verdict"] = None
    return MarkedSuspects(**values, missing=missing)
