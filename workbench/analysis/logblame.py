"""Whose log surge: a caller's error line that names the callee it failed to reach.

A client span's error is put on the callee it waits for
(:func:`~workbench.analysis.suspects.blame_services`); a log line is the same evidence in
words. ``upstream shipping unavailable``, ``call to payment failed: connection reset``,
``Unable to connect to redis:6379``: the caller writes them, the callee is what they are
about. :func:`on_named_callee` puts a surging template on the one service it names among
those its service calls, when the spans agree: the service's calls to it fail more often
in the window than in the baseline. A template naming none of them, or more than one, or
a callee whose calls did not get worse, stays where it was written (a name in a line is
not always a call: ``because "shipping" is null`` is the caller's own bug).

Example::

    >>> from workbench.analysis.logblame import on_named_callee
    >>> on_named_callee(surges, blamed_spans)   # surges, ``service`` = whom each is about
"""

from __future__ import annotations

import re

import polars as pl

from workbench.analysis._util import memoised
from workbench.timewindow import Window

__all__ = ["callees", "on_named_callee"]

# a service name as a whole token: not inside a longer name ("shipping" in "shipping-2";
# "shipping.shop.svc", a DNS name, is shipping)
_EDGE = r"[A-Za-z0-9_-]"


@memoised
def callees(spans: pl.DataFrame, window: Window, baseline: Window) -> dict[str, frozenset[str]]:
    """For each service, the services its calls fail more often in ``window`` than in
    ``baseline`` (failing share of its client spans blamed on the other, ``blame_service``
    of :func:`~workbench.analysis.suspects.blame_services`; the baseline's counted with one
    failure more, the cautious expectation the error signal uses)."""
    if spans.height == 0 or "blame_service" not in spans.columns or "status" not in spans.columns:
        return {}
    calls = spans.filter(pl.col("service") != pl.col("blame_service")).select(
        "service", "blame_service", "start", _err=pl.col("status") == "error"
    )

    def count(w: Window, n: str, e: str) -> pl.DataFrame:
        inside = (pl.col("start") >= w.start) & (pl.col("start") < w.end)
        return (
            calls.filter(inside)
            .group_by("service", "blame_service")
            .agg(pl.len().alias(n), pl.col("_err").sum().alias(e))
        )

    worse = (
        count(window, "_nw", "_ew")
        .join(count(baseline, "_nb", "_eb"), on=["service", "blame_service"], how="left")
        .with_columns(pl.col("_nb", "_eb").fill_null(0))
        .filter(pl.col("_ew") / pl.col("_nw") > (pl.col("_eb") + 1) / (pl.col("_nb") + 1))
        .drop_nulls(["service", "blame_service"])
    )
    out: dict[str, set[str]] = {}
    for caller, callee in worse.select("service", "blame_service").iter_rows():
        out.setdefault(caller, set()).add(callee)
    return {k: frozenset(v) for k, v in out.items()}


def _name_pattern(name: str) -> str:
    """``name`` as a whole token of a template, its digits as written or masked
    (templates write the variable part of ``invoice-2`` as ``invoice-<*>``)."""
    body = re.sub(r"\d+", lambda _: r"(?:\d+|<\*>)", re.escape(name.lower()))
    return rf"(?<!{_EDGE}){body}(?!{_EDGE})"


def _named(template: str, names: frozenset[str]) -> str | None:
    """The one name of ``names`` that ``template`` contains as a whole token, else None."""
    text = template.lower()
    hits = [n for n in names if re.search(_name_pattern(n), text) is not None]
    return hits[0] if len(hits) == 1 else None


def on_named_callee(
    surges: pl.DataFrame, spans: pl.DataFrame, window: Window, baseline: Window
) -> pl.DataFrame:
    """``surges`` (:func:`~workbench.analysis.templates.template_surges` rows with
    ``service`` and ``template``) with each surging template that names exactly one of
    the callees its service's calls to fail more often (:func:`callees`) put on that
    callee (``service`` replaced; ``logged_by`` keeps the writer). ``spans``: spans with
    ``blame_service``. Unchanged without templates or spans.

    >>> moved = on_named_callee(surges, blamed, inc.window, inc.baseline)
    >>> moved.filter(pl.col("logged_by") != pl.col("service"))
    """
    if surges.height == 0 or "template" not in surges.columns or "service" not in surges.columns:
        return surges
    calls = callees(spans, window, baseline)
    out = surges.with_columns(logged_by=pl.col("service"))
    if not calls:
        return out
    about = [
        (_named(t, calls[s]) if s in calls and t and surge else None) or s
        for s, t, surge in out.select("service", "template", "surge").iter_rows()
    ]
    return out.with_columns(service=pl.Series(about, dtype=pl.String))
