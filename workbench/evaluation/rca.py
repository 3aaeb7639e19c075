"""Root-cause ranking accuracy: per-case ranks and AC@k / Avg@k.

* ``AC@k`` — the share of cases whose true root cause is among the top ``k``;
* ``Avg@k`` — the mean of AC@1 .. AC@k (as in the RCA literature, e.g. BARO, RCAEval).

A case whose truth is not ranked at all (no evidence against it) counts as a miss at
every ``k``; a truth tied with other services counts at the *worst* position of the tie.

The ranking is the product's, called as the incident notebook calls it
(:func:`investigate`: the case's frames, window and baseline, nothing else), so the
figures measure what a user sees.

Each case is an :class:`~workbench.Investigation` (:func:`case_investigation`), so the
evaluation measures exactly the ranking and verdict the notebook shows.

Example::

    >>> from workbench.evaluation.rca import evaluate_cases, summarize
    >>> per_case = evaluate_cases(iter_cases("../shared/data/nezha-trainticket"))
    >>> summarize(per_case["rank"].to_list())
    {'AC@1': 0.82, 'AC@3': 1.0, 'Avg@5': 0.93, 'cases': 11}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

import polars as pl

from workbench.analysis.suspects import Suspects
from workbench.evaluation.baro import baro_rank
from workbench.evaluation.cases import Case
from workbench.incident import Incident
from workbench.investigation import Investigation

__all__ = [
    "ac_at",
    "avg_at",
    "case_investigation",
    "case_suspects",
    "clear_precision",
    "evaluate_cases",
    "investigate",
    "rank_case",
    "summarize",
    "verdict_counts",
]

log = logging.getLogger(__name__)


def ac_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of ranks (1-based, None = not found) that are <= k."""
    if not ranks:
        return float("nan")
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def avg_at(ranks: Sequence[int | None], k: int = 5) -> float:
    """Mean of AC@1..AC@k."""
    return sum(ac_at(ranks, i) for i in range(1, k + 1)) / k


def summarize(ranks: Sequence[int | None]) -> dict[str, float]:
    """``{"AC@1", "AC@3", "Avg@5", "cases"}`` for a list of ranks."""
    return {
        "AC@1": ac_at(ranks, 1),
        "AC@3": ac_at(ranks, 3),
        "Avg@5": avg_at(ranks, 5),
        "cases": len(ranks),
    }


def clear_precision(df: pl.DataFrame) -> float | None:
    """Share of "clear" verdicts whose top suspect is the true cause (None without any)."""
    c = verdict_counts(df)
    return c["clear_right"] / c["clear"] if c["clear"] else None


def verdict_counts(df: pl.DataFrame) -> dict[str, int]:
    """``{"clear", "weak", "none"}`` counts of the ``verdict`` column of
    :func:`evaluate_cases` (with ``verdict=True``), plus ``clear_right``: clear verdicts
    whose top suspect is the true cause."""
    out = {lvl: int((df["verdict"] == lvl).sum()) for lvl in ("clear", "weak", "none")}
    out["clear_right"] = int(((df["verdict"] == "clear") & (df["rank"] == 1)).sum())
    return out


def _rank(ranking: list[str], truth: str) -> int | None:
    try:
        return ranking.index(truth) + 1
    except ValueError:
        return None


def investigate(case: Case) -> Suspects:
    """The product's diagnosis of one case, computed exactly as the incident notebook
    computes it: the suspects of ``Investigation(inc)`` over the case's frames, window and
    baseline (no option the notebook lacks)."""
    return case_investigation(case).suspects.value


def rank_case(case: Case, *, without: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(our ranking, BARO's ranking) for one case; ``without`` names signals (``metrics``,
    ``logs``, ``spans``, ``events``) to hide from our ranking (an ablation)."""
    sus = case_suspects(case, without=without)
    baro = baro_rank(case.metrics, case.window, case.baseline)
    return sus.ranking, baro


def case_investigation(case: Case, *, without: Sequence[str] = ()) -> Investigation:
    """The :class:`~workbench.Investigation` of one case, built as the notebook builds one
    (the case's frames, window and baseline, and the service map a data set ships,
    ``Case.edges``, as a notebook user passes theirs: ``Investigation(inc, edges=...)``;
    no other option): its ranking and verdict are what the evaluation measures. ``without`` names signals to hide (an ablation)."""
    from workbench import frames as fr

    given = case.frames()
    for sig in without:
        if sig not in given:
            raise ValueError(f"unknown signal {sig!r}; one of {sorted(given)}")
        given[sig] = fr.empty(sig)
    inc = Incident.from_frames(
        case.id,
        case.window,
        baseline=case.baseline,
        metrics=given["metrics"],
        logs=given["logs"],
        spans=given["spans"],
        events=given["events"],
    )
    return Investigation(inc, edges=case.edges)


def case_suspects(case: Case, *, without: Sequence[str] = ()) -> Suspects:
    """Our :class:`~workbench.analysis.suspects.Suspects` for one case (see :func:`rank_case`):
    the suspects of its :func:`case_investigation`."""
    return case_investigation(case, without=without).suspects.value


def evaluate_cases(
    cases: Iterable[Case],
    *,
    progress: Callable[[dict], None] | None = None,
    without: Sequence[str] = (),
    verdict: bool = False,
) -> pl.DataFrame:
    """One row per case: ``case, layout, group, fault, truth, rank`` (worst position of a
    tie, null when not ranked), ``top, rank_baro, top_baro, seconds, problems`` (how many
    notes ``Case.problems`` holds); with ``verdict=True`` also ``verdict`` (clear/weak/none, see
    :mod:`workbench.analysis.verdict`) and ``ratio`` (evidence over chance's level)."""
    rows = []
    for case in cases:
        t0 = time.perf_counter()
        inv = case_investigation(case, without=without)
        ours = inv.suspects.ranking
        baro = baro_rank(case.metrics, case.window, case.baseline)
        v = inv.verdict.value if verdict else None
        row = {
            "case": case.id,
            "layout": case.layout,
            "group": case.group,
            "fault": case.fault,
            "truth": case.truth,
            "rank": inv.suspects.value.worst_rank(case.truth),
            "top": ours[0] if ours else None,
            "rank_baro": _rank(baro, case.truth),
            "top_baro": baro[0] if baro else None,
            "verdict": v.level if v else None,
            "ratio": v.ratio if v else None,
            "seconds": round(time.perf_counter() - t0, 2),
            "problems": len(case.problems),
        }
        rows.append(row)
        if progress:
            progress({**row, "notes": list(case.problems), "alert_from": case.alert_from})
    schema = {
        "case": pl.String,
        "layout": pl.String,
        "group": pl.String,
        "fault": pl.String,
        "truth": pl.String,
        "rank": pl.Int64,
        "top": pl.String,
        "rank_baro": pl.Int64,
        "top_baro": pl.String,
        "verdict": pl.String,
        "ratio": pl.Float64,
        "seconds": pl.Float64,
        "problems": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)
