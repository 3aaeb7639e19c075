"""Whose log surge: a caller's error line that names the callee it failed to reach.

A client span's error is put on the callee it waits for
(:func:`~workbench.analysis.suspects.blame_services`); a log line is the same evidence in
words. ``upstream shipping unavailable``, ``call to payment failed: connection reset``,
``Unable to connect to redis:6379``: the caller writes them, the callee is what they are
about. :func:`on_named_callee` puts a surging template on the one service it names among
those its service calls (seen in the spans: a client span of the service blamed on the
other). A template naming none of them, or more than one, stays where it was written.

Example::

    >>> from workbench.analysis.logblame import on_named_callee
    >>> on_named_callee(surges, blamed_spans)   # surges, ``service`` = whom each is about
"""

from __future__ import annotations

import re

import polars as pl

from workbench.analysis._util import memoised

__all__ = ["callees", "on_named_callee"]

# a service name as a whole token: not inside a longer name ("shipping" in "shipping-2")
_EDGE = r"[A-Za-z0-9_.-]"


@memoised
def callees(spans: pl.DataFrame) -> dict[str, frozenset[str]]:
    """For each service, the services its client spans wait on (``blame_service`` of
    :func:`~workbench.analysis.suspects.blame_services` differing from ``service``)."""
    if spans.height == 0 or "blame_service" not in spans.columns:
        return {}
    pairs = (
        spans.filter(pl.col("service") != pl.col("blame_service"))
        .select("service", "blame_service")
        .drop_nulls()
        .unique()
    )
    out: dict[str, set[str]] = {}
    for caller, callee in pairs.iter_rows():
        out.setdefault(caller, set()).add(callee)
    return {k: frozenset(v) for k, v in out.items()}


def _named(template: str, names: frozenset[str]) -> str | None:
    """The one name of ``names`` that ``template`` contains as a whole token, else None."""
    text = template.lower()
    hits = [
        n
        for n in names
        if re.search(rf"(?<!{_EDGE}){re.escape(n.lower())}(?!{_EDGE})", text) is not None
    ]
    return hits[0] if len(hits) == 1 else None


def on_named_callee(surges: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """``surges`` (:func:`~workbench.analysis.templates.template_surges` rows with
    ``service`` and ``template``) with each surging template that names exactly one of its
    service's callees put on that callee (``service`` replaced; ``logged_by`` keeps the
    writer). ``spans``: spans with ``blame_service``. Unchanged without templates or
    spans.

    >>> on_named_callee(surges, blamed).filter(pl.col("logged_by") != pl.col("service"))
    """
    if surges.height == 0 or "template" not in surges.columns or "service" not in surges.columns:
        return surges
    calls = callees(spans)
    out = surges.with_columns(logged_by=pl.col("service"))
    if not calls:
        return out
    about = [
        (_named(t, calls[s]) if s in calls and t and surge else None) or s
        for s, t, surge in out.select("service", "template", "surge").iter_rows()
    ]
    return out.with_columns(service=pl.Series(about, dtype=pl.String))
