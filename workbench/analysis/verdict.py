"""How much the top suspect stands out: a calibrated verdict on a suspect ranking.

:func:`~workbench.analysis.suspects.rank_suspects` always names a top suspect, even in a
quiet window, and its scores are partly *relative* (the strongest metric change or the
largest share of failing requests scores high whatever its size). The verdict says
whether to believe the top suspect, from two comparisons an SRE would make by hand:

* **placebo** (chance level): the same ranking is run on windows taken from the
  *baseline* (each against the part of the baseline before it), where nothing is broken.
  For each kind of evidence (each ranked signal of
  :data:`~workbench.analysis.signals.SIGNALS`), in its own absolute unit (its
  ``strength``: the robust z of a harmful metric change, extra failing requests per
  second, the excess of an additive total as a share of the system's normal level, ...),
  the largest value *any* service shows there is what chance alone reaches (any of them
  could have been named instead). Chance is never put below each signal's ``floor`` (one
  failing request per placebo window, the change detector's threshold). A placebo window
  without the data a kind reads (no spans in it or before it, say) says nothing about that
  kind: evidence no placebo could compare is no claim either way (at most ``weak``).
  ``ratio`` is the top suspect's strongest evidence divided by chance's level for that kind.
* **gap**: the runner-up's score relative to the top's. A top suspect closely followed by
  another is a tie, not an answer.

How many placebos: they are taken at every step of the data (:func:`data_step`: each
series' own sampling step) over the newest half of the baseline (spread evenly when there
are more than :data:`MAX_PLACEBOS` positions), only the compared signals are computed in
them (sharing the investigation's memo), and past the first :data:`FIRST_PLACEBOS` only
while the evidence could still be called clear.

How sure (:func:`chance_bound`): a fault-free window beats the most of ``n`` exchangeable
fault-free windows at most ``1 / (n + 1)`` of the time, but placebos that slide by the
data's step overlap: when the baseline is as long as the window (the lab, the product's
alert window) its newest half holds two placebo-lengths, so however many positions there
are, chance's level rests on two separate draws (:func:`independent`), not 19. (Before,
the step was read from the timestamps of all series together; on the lab that is the
jitter between scrapes, under a second, so 19 placebos a few seconds apart passed for
19 draws.) So each witness above chance counts the smaller of ``1 / (n + 1)`` and
``1 / ratio`` (Markov's inequality: strengths are never negative and chance's level is at
least their mean; nothing when chance's level is 0), witnesses read from different
telemetry (metrics, logs, spans) multiply as independent, and "clear" needs the product
at most ``1 - CONFIDENCE``. One witness decides alone from 19 separate placebo windows
(PetShop: one 5-min step a window) or at 20x chance; on two draws a fault needs a second
or third witness, or a larger ratio. And where the top suspect has more than one kind of
telemetry, "clear" still needs a second witness above chance (:func:`corroborated`): a
deploy that changed a service's metrics and nothing else is no fault, however far the
change (a CPU 39x chance after a deploy, in a lab fault-free window; when the rule came,
with 19 overlapping placebos, it took lab fault-free clears 13 -> 0 of 81). A resource at
capacity (its own state, an absolute level, not a fluctuation) decides alone when none of
the first placebos reached it.

What the bound does not promise: exchangeability (a placebo is a quarter of the window's
length, so a count-based detector that needs a long window, a log surge or a cut code
path, reaches nothing in the placebos: chance's level 0, "never reached by chance"),
independence of the witnesses (a burst of traffic shows in all of them), that the mean
estimated from a few windows is the mean, and that the deciding kind is not the best of
several. Measured on fault-free windows (``--quiet-windows``): the lab's last wrong clears
(seeds 401-403 and 501-503, 4 of 162) each stood on a log surge or a cut code path no
placebo reached, corroborated by a metric change 1.0-4.6x chance; in every one of their
placebos every kind was 0. With the bound (and the rules below), fault-free clears went
3 -> 0 of 81 (seeds 501-503), 1 -> 0 (401-403), 0 -> 0 (101-103 and 201-203, not looked
at while designing it) and PetShop 0 -> 0 of 12; right clears on fault cases 69 -> 60,
65 -> 61, 64 -> 58, 61 -> 53 (faults whose witnesses were each 1.2-4x chance, or one never reached beside
one barely above it: the shape of the wrong ones), PetShop 15 -> 15, Train-Ticket
1 -> 1, Online Boutique 3 -> 8 (large ratios on its 6 placebos, and saturation deciding
on 4); every "clear" right on every set. On lab seeds never looked at (601-603, the lab's
generator revision 7), measured before and after: fault-free clears 4 -> 0 of 81, right
clears 66 of 67 -> 64 of 64.

Not a symptom: a real anomaly on a caller of the root beats chance too. The ranking tells
a cause from its symptoms through the call graph (a caller's symptoms are discounted by
what it calls; a client span's errors and time go to its callee), so "clear" also needs
the top suspect's callees to be known (:func:`unseen_callees`: it has spans of its own,
or ``edges`` name it as a caller), unless its deciding evidence is its own state whatever
its callees do (a signal with ``own``: a resource at capacity). On the unseen lab seeds
6 of 8 wrong clears (and 3 of 55 right ones) had a top without traces of its own; on
PetShop (metrics only) the one clear was wrong. Nor is a top "clear" on symptoms alone
when the ranking marks it a possible victim of a service it calls (its ``victim_of``:
that callee's anomaly could account for at least half of its own): it then needs
evidence of its own (errors starting there, extra latency, saturation, a code path cut
short) at :data:`CLEAR_RATIO` (:func:`victim_risk`). With the ranking as it was when the
rule came (before callers' own waits were theirs), on the lab seeds 201-203 and 301-303,
3 of the 4 wrong clears had a top whose why said "may be a victim of" the true root and
stood out only on a log surge; of 216 right clears over every labelled set one was such a
top (lab network-delay-gen20-s201: a log surge 4.2x chance, postgres below it 3.3x; clear
again with today's ranking). Only the lab can show what the rule gains: no other set had
a wrong clear.

Levels: ``clear`` (evidence at least :data:`CLEAR_RATIO` times chance's, a fault-free
window showing as much at most ``1 - CONFIDENCE`` of the time by :func:`chance_bound`,
not tied, callees known), ``weak`` (above chance but by less, tied with #2, too few
separate placebos or witnesses, callees unknown, a possible victim standing out only on
symptoms, or no room in the baseline for a placebo) and ``none`` (no stronger than
chance: the window looks like the baseline).

Why both: on fault cases against fault-free windows the placebo ratio separates them best
(AUC 0.96 PetShop, 0.98 lab), the gap alone far less (0.75, 0.81); the gap still says when
two services share the blame. (``workbench eval rca --quiet-windows`` measures it.)

Example::

    >>> sus = rank_suspects(inc)
    >>> v = sus.verdict                  # computed on first use (a few extra rankings)
    >>> v.level, v.reason
    ('clear', 'checkout stands out: log surge never reached by chance, failing requests ...')
    >>> judge(0.9, 0.3, ratio=4.0).level  # the rule alone, on numbers
    'clear'
"""

from __future__ import annotations

import functools
import html
import itertools
import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl

from workbench.analysis._util import memo_active, memo_scope
from workbench.analysis.signals import SIGNALS, signal
from workbench.analysis.suspects import remote_endpoints
from workbench.analysis.threads import run_all
from workbench.display import format_duration, format_factor, format_percent
from workbench.timewindow import Window

__all__ = [
    "CLEAR_RATIO",
    "CONFIDENCE",
    "MIN_PLACEBOS",
    "TIE",
    "Verdict",
    "assess",
    "baseline_to_settle",
    "chance_bound",
    "corroborated",
    "data_step",
    "evidence_strength",
    "independent",
    "judge",
    "placebo_windows",
    "unseen_callees",
    "victim_risk",
]

#: evidence must be at least this many times what chance reached to be "clear": a level
#: that chance reached in a few placebo windows is reached again, by somewhat more, in a
#: few more, so a stand-out needs a clear multiple, not a hair above
CLEAR_RATIO = 2.0
#: a runner-up scoring at least this share of the top's score is a tie
TIE = 0.8
#: below this score the top "suspect" shows no anomaly at all
FLOOR = 0.05
#: how often a "clear" must be right: the verdict says "clear" only when a fault-free
#: window would look as strong as the top suspect's evidence at most 1 - this of the time
CONFIDENCE = 0.95
#: separate placebo windows one witness needs to say "clear" alone: a fault-free window
#: beats the most of ``k`` fault-free placebo windows with probability ``1 / (k + 1)``
#: (exchangeable draws), so chance's level is the level a fault-free window exceeds at
#: most ``1 - CONFIDENCE`` of the time only from ``k >= CONFIDENCE / (1 - CONFIDENCE)``
#: (19; see :func:`chance_bound` for fewer)
MIN_PLACEBOS = math.ceil(round(CONFIDENCE / (1 - CONFIDENCE), 9))
#: at most this many placebo windows (each one extra computation of the compared
#: signals): the ones "clear" needs
MAX_PLACEBOS = MIN_PLACEBOS
#: placebos always run (enough to tell "none" from "weak"); more only while the evidence
#: could still be called clear (each one can only raise chance's level)
FIRST_PLACEBOS = 4
#: a signal counts as the top suspect's evidence when its 0..1 part is at least this
_USED = 0.05
#: the kinds of evidence the verdict weighs: every signal that is not a boost
_KINDS = tuple(sg.name for sg in SIGNALS if sg.role != "boost")
#: the longest baseline :func:`baseline_to_settle` considers, in window lengths (two days
#: for a one-hour window; one witness alone needs 38)
MAX_SETTLE_WINDOWS = 48
#: rows :func:`data_step` reads the sampling step from first
_STEP_ROWS = 32_768


@dataclass(frozen=True)
class Verdict:
    """How much the top suspect stands out.

    ``level`` is ``"clear"``, ``"weak"`` or ``"none"``; ``reason`` says why in a sentence;
    ``top``/``second`` and their scores are the ranking's first two; ``ratio`` is the top
    suspect's strongest evidence over the level chance reached for it in the placebo
    windows (``inf`` when chance reached nothing of that kind, None without a placebo);
    ``kind`` names that evidence; ``evidence`` and ``chance`` hold, per kind, the top
    suspect's value and chance's level; ``placebos`` counts the placebo windows;
    ``tied`` is True when #2 scores at least :data:`TIE` of #1; ``bound`` is how often a
    fault-free window could show such evidence at most (:func:`chance_bound`; None when
    not counted: a resource at capacity, or no placebo); ``separate`` is how many of the
    placebo windows behind the deciding kind's chance level do not overlap
    (:func:`independent`); ``settle_baseline`` is, when "weak" for want of separate placebo
    windows, the shortest baseline (just before the window) that would give enough of them
    if the evidence stayed as far above chance (:func:`baseline_to_settle`; None when no
    baseline would, or when that is not what keeps it from "clear").
    """

    level: str
    reason: str
    top: str | None
    top_score: float
    second: str | None = None
    second_score: float = 0.0
    ratio: float | None = None
    kind: str | None = None
    evidence: dict[str, float] = field(default_factory=dict)
    chance: dict[str, float] = field(default_factory=dict)
    placebos: int = 0
    tied: bool = False
    bound: float | None = None
    separate: int | None = None
    settle_baseline: timedelta | None = None

    def as_dict(self) -> dict[str, Any]:
        """The verdict as plain values (for tables and JSON)."""
        return {
            "level": self.level,
            "reason": self.reason,
            "top": self.top,
            "top_score": self.top_score,
            "second": self.second,
            "second_score": self.second_score,
            "ratio": self.ratio,
            "kind": self.kind,
            "evidence": dict(self.evidence),
            "chance": dict(self.chance),
            "placebos": self.placebos,
            "tied": self.tied,
            "bound": self.bound,
            "separate": self.separate,
            "settle_baseline_s": (
                None if self.settle_baseline is None else self.settle_baseline.total_seconds()
            ),
        }

    def _repr_html_(self) -> str:
        colour = {"clear": "#1a7f37", "weak": "#9a6700", "none": "#57606a"}[self.level]
        return (
            f"<div><b style='color:{colour}'>{html.escape(self.level)}</b>: "
            f"{html.escape(self.reason)}</div>"
        )

    def __str__(self) -> str:
        return f"{self.level}: {self.reason}"


_LABEL = {sg.name: sg.label for sg in SIGNALS}


def _detail(kind: str | None, ratio: float, numbers: dict[str, Any]) -> str:
    """``log surge never reached by chance, failing requests ... 10.2× chance``."""
    ev, ch = numbers.get("evidence") or {}, numbers.get("chance") or {}
    kinds = [k for k in ev if k in ch] or ([kind] if kind else [])
    bits = []
    for k in sorted(kinds, key=lambda k: -_ratio(ev.get(k, ratio), ch.get(k, 1.0))):
        r = _ratio(ev[k], ch[k]) if k in ev and k in ch else ratio
        what = _LABEL.get(k, k)
        bits.append(
            f"{what} never reached by chance"
            if math.isinf(r)
            else f"{what} {format_factor(r)} chance"
        )
    return ", ".join(bits[:2]) or f"evidence {format_factor(ratio)} chance"


def _ratio(value: float, chance: float) -> float:
    return value / chance if chance > 0 else math.inf


def judge(
    top_score: float,
    second_score: float,
    *,
    ratio: float | None,
    top: str | None = "top",
    second: str | None = "second",
    kind: str | None = None,
    clear_ratio: float = CLEAR_RATIO,
    tie: float = TIE,
    no_placebo: str = "the baseline is too short for one",
    compared: int | None = None,
    needed: int = MIN_PLACEBOS,
    symptom_risk: str | None = None,
    corroborated: bool | None = None,
    bound: float | None = None,
    separate: int | None = None,
    settle: tuple[timedelta, int] | None = None,
    **numbers: Any,
) -> Verdict:
    """The verdict rule on numbers alone: ``ratio`` is the top suspect's evidence over
    chance's level (None when no placebo could be run: then at most ``weak``);
    ``compared`` is how many placebo windows set chance's level for that evidence (None:
    not counted): fewer than ``needed`` (:data:`MIN_PLACEBOS`) give at most ``weak``;
    ``symptom_risk`` says why the top suspect's anomaly may be another service's showing
    through (see :func:`unseen_callees`): then at most ``weak``, with that reason;
    ``corroborated`` says whether a second kind of evidence about the top suspect is above
    chance too (None: not counted): False gives at most ``weak`` (see :func:`corroborated`);
    ``bound`` is how often a fault-free window could show such evidence at most (None: not
    counted): above ``1 - CONFIDENCE`` gives at most ``weak`` (see :func:`chance_bound`), and
    ``settle`` (from :func:`baseline_to_settle`: a baseline's length and the separate
    windows it gives) is then what the reason offers to settle it.

    >>> judge(0.9, 0.2, ratio=5.0).level
    'clear'
    >>> judge(0.9, 0.2, ratio=5.0, corroborated=False).level
    'weak'
    >>> judge(0.9, 0.2, ratio=5.0, bound=1 / 9).level
    'weak'
    >>> judge(0.9, 0.2, ratio=5.0, symptom_risk="it has no traces of its own").level
    'weak'
    >>> judge(0.7, 0.1, ratio=0.8).level
    'none'
    >>> judge(0.7, 0.65, ratio=5.0).level
    'weak'
    """
    tied = top_score > FLOOR and second_score >= tie * top_score
    base: dict[str, Any] = dict(
        top=top,
        top_score=float(top_score),
        second=second,
        second_score=float(second_score),
        ratio=ratio,
        kind=kind,
        tied=tied,
        bound=bound,
        separate=separate,
        **numbers,
    )
    if top is None or top_score <= FLOOR:
        return Verdict("none", "no service shows an anomaly", **base)
    if ratio is not None and ratio <= 1.0:
        return Verdict(
            "none",
            f"no service stands out: the window looks like the baseline (top suspect {top} "
            f"is no stronger than what services show in baseline windows: "
            f"{_detail(kind, ratio, numbers)})",
            **base,
        )
    if tied:
        return Verdict(
            "weak",
            f"{top} and {second} are tied (scores {top_score:.2f} and {second_score:.2f})",
            **base,
        )
    if ratio is None:
        return Verdict(
            "weak",
            f"{top} leads ({top_score:.2f} vs {second_score:.2f} for #2), but there is no "
            f"placebo comparison ({no_placebo})",
            **base,
        )
    if ratio < clear_ratio:
        return Verdict(
            "weak",
            f"{top} is only a little above chance: {_detail(kind, ratio, numbers)} "
            "(chance: the most any service shows in baseline windows)",
            **base,
        )
    if symptom_risk:
        return Verdict(
            "weak",
            f"{top} stands out ({_detail(kind, ratio, numbers)}), but its anomaly may be a "
            f"symptom of a service it calls: {symptom_risk}",
            **base,
        )
    if compared is not None and compared < needed:
        return Verdict(
            "weak",
            f"{top} stands out ({_detail(kind, ratio, numbers)}), but chance was estimated "
            f"from only {compared} baseline window{'s' if compared != 1 else ''} ({needed} "
            f"needed to say clear with {format_percent(CONFIDENCE, digits=0)} confidence)",
            **base,
        )
    if bound is not None and bound > 1 - CONFIDENCE + 1e-12:
        witness = "another witness in metrics, logs or traces further above chance"
        if settle is not None:
            length, windows = settle
            what = (
                f"a baseline of {format_duration(length)} just before the window would give "
                f"{windows} separate windows, enough if the evidence stays this far above "
                f"chance (more baseline often lowers it); {witness} would settle it too"
            )
        elif corroborated is False:
            what = (
                "a longer baseline alone would not settle it: one witness is not enough where "
                f"the service has other telemetry; {witness} would"
            )
        else:
            what = (
                f"no baseline up to {MAX_SETTLE_WINDOWS} window lengths would at these "
                f"ratios; {witness} would"
            )
        return Verdict(
            "weak",
            f"{top} stands out ({_detail(kind, ratio, numbers)}), but "
            + (
                f"chance was measured on only {separate} separate baseline "
                f"window{'s' if separate != 1 else ''}, so "
                if separate is not None
                else ""
            )
            + f"a fault-free window could look like this up to "
            f"{format_percent(bound, digits=1)} of the time (clear needs at most "
            f"{format_percent(1 - CONFIDENCE, digits=0)}: {what})",
            **{**base, "settle_baseline": settle[0] if settle is not None else None},
        )
    if corroborated is False:
        return Verdict(
            "weak",
            f"{top} stands out ({_detail(kind, ratio, numbers)}), but only one witness says "
            "so: nothing in its other telemetry is above chance (one kind of evidence alone "
            "beats chance in fault-free windows too often to be sure)",
            **base,
        )
    return Verdict(
        "clear",
        f"{top} stands out: {_detail(kind, ratio, numbers)} (chance: the most any service "
        f"shows in baseline windows); score {top_score:.2f} vs {second_score:.2f} for #2 ({second})",
        **base,
    )


def placebo_windows(
    window: Window,
    baseline: Window,
    *,
    metric_baseline: Window | None = None,
    lead_in: Window | None = None,
    max_placebos: int = MAX_PLACEBOS,
    step: timedelta | None = None,
) -> list[dict[str, Window | None]]:
    """Fault-free stand-ins for ``window``, taken from the end of ``baseline``.

    Each is a dict of ``window, baseline, metric_baseline, lead_in``: a window as long as
    the incident's (at most a quarter of the baseline), its lead-in (as long as the
    incident's) just before it, and as baseline the part of the baseline before the oldest
    placebo and its lead-in (one baseline for all: its statistics are computed once); at
    least half of the baseline always stays baseline. A window may end at every ``step``
    of the baseline (the data's sampling step; placebos overlap when the step is shorter
    than the window; default: the window's length, no overlap); when there are more such
    positions than ``max_placebos``, that many are spread evenly over them (the newest
    always among them). Newest first; empty when the baseline is too short.

    >>> placebo_windows(Window.parse("2026-01-01T11:00:00Z..2026-01-01T12:00:00Z"),
    ...                 Window.parse("2026-01-01T10:00:00Z..2026-01-01T11:00:00Z"))[0]["window"]
    Window(2026-01-01T10:45:00Z..2026-01-01T11:00:00Z)
    """
    blen = baseline.end - baseline.start
    length = min(window.end - window.start, blen / 4)
    lead = (lead_in.end - lead_in.start) if lead_in is not None else timedelta(0)
    if length <= timedelta(0):
        return []
    stride = length if step is None or step <= timedelta(0) else min(step, length)
    ends: list = []
    end = baseline.end
    while end - length - lead - baseline.start >= blen / 2:
        ends.append(end)
        end = end - stride
    if len(ends) > max_placebos:
        # as many as asked, spread evenly over every position (the newest first): chance
        # is sampled across the whole usable baseline, not only its newest part
        n, k = len(ends), max_placebos
        ends = [ends[round(i * (n - 1) / (k - 1))] for i in range(k)] if k > 1 else ends[:k]
    out: list[dict[str, Window | None]] = []
    # one baseline for them all: the part of the baseline before the oldest placebo (and
    # its lead-in), so its statistics are computed once, not once per placebo
    base_end = min(ends, default=baseline.end) - length - lead
    for end in ends:
        start = end - length
        mb = None
        if metric_baseline is not None and metric_baseline.start < base_end:
            mb = Window(metric_baseline.start, base_end)
        out.append(
            {
                "window": Window(start, end),
                "baseline": Window(baseline.start, base_end),
                "metric_baseline": mb,
                "lead_in": Window(start - lead, start) if lead_in is not None else None,
            }
        )
    return out


def data_step(metrics: pl.DataFrame | None) -> timedelta | None:
    """The metrics' sampling step: the median over series (rows alike in every column
    but ``ts`` and ``value``) of each series' median gap between its timestamps; None
    without a series of two. Placebo windows slide by it: one per baseline step.

    Per series, not over the timestamps of all series together: scrapes of different
    targets land at different instants, so the gaps between *any* two timestamps are the
    jitter between targets (under a second on the lab, whose series are sampled every
    30 s), which would read as the step.

    >>> from tests.diag_builders import metric_frame  # doctest: +SKIP
    >>> data_step(metric_frame({("cpu", "a"): [1.0, 2.0, 3.0]}, step_s=30))  # doctest: +SKIP
    datetime.timedelta(seconds=30)
    """
    if metrics is None or metrics.height < 2 or "ts" not in metrics.columns:
        return None
    keys = [c for c in metrics.columns if c not in ("ts", "value")]
    gaps = pl.col("ts").unique().sort().diff().drop_nulls().median()
    if not keys:
        gap = metrics.select(gap=gaps).item()
        return gap if isinstance(gap, timedelta) and gap > timedelta(0) else None
    # the series of the first rows say the step as well as all of them (grouping 250k rows
    # by their labels took 50-65 ms of the demo verdict's 0.55 s; the first 32k rows, 6 ms);
    # all rows only when those hold no series of two
    for part in (metrics.head(_STEP_ROWS), metrics) if metrics.height > _STEP_ROWS else (metrics,):
        per = part.group_by(keys).agg(gap=gaps).get_column("gap").drop_nulls()
        gap = per.median() if per.len() else None
        if isinstance(gap, timedelta) and gap > timedelta(0):
            return gap
    return None


def independent(windows: list[Window]) -> int:
    """How many of ``windows`` are separate draws: the most that do not overlap (counted
    greedily from the newest). Placebos that slide by the data's step overlap; chance's
    level from them rests on this many independent windows, not on their number.

    >>> w = lambda a, b: Window.parse(f"2026-01-01T10:{a:02d}:00Z..2026-01-01T10:{b:02d}:00Z")
    >>> independent([w(50, 58), w(49, 57), w(42, 50), w(40, 48)])
    2
    """
    n, edge = 0, None
    for w in sorted(windows, key=lambda w: w.end, reverse=True):
        if edge is None or w.end <= edge:
            n, edge = n + 1, w.start
    return n


def chance_bound(ratios: dict[str, float], draws: dict[str, int], kind: str) -> float:
    """How often a fault-free window could show what the top suspect shows, at most.

    ``ratios`` holds, per kind of evidence, the top suspect's value over chance's level
    (the most any service reached in the placebo windows, never below the kind's floor);
    ``draws`` how many independent placebo windows set that level (:func:`independent`).
    Each witness above chance is one bound, the smaller of two that hold whatever the
    distribution of a fault-free window's value:

    * ``1 / (n + 1)``: a fault-free window beats the most of ``n`` exchangeable fault-free
      windows at most that often;
    * ``1 / ratio``: the values are never negative and chance's level is at least their
      mean, so a fault-free window reaches ``ratio`` times it at most ``1 / ratio`` of the
      time (Markov's inequality; none when chance's level is 0: a mean estimated as 0
      from a few windows says nothing).

    Witnesses read from different telemetry (metrics, logs, spans) are taken as
    independent in a fault-free window: their bounds multiply (kinds read from the same
    telemetry are one witness). The result is the smallest product over any group of
    separate witnesses above chance (a window that looks like this shows each of them at
    least as high, so it is no likelier than they all are); 1 when the deciding ``kind``
    is not above chance; "clear" needs at most ``1 - CONFIDENCE``.

    >>> chance_bound({"logs": math.inf, "metrics": 4.6}, {"logs": 2, "metrics": 2}, "logs")
    0.07246376811594203
    >>> round(chance_bound({"errors": 17.2, "logs": 2.8}, {"errors": 2, "logs": 2}, "errors"), 3)
    0.019
    >>> chance_bound({"metrics": 3.0}, {"metrics": 19}, "metrics")
    0.05
    """

    def one(k: str) -> float:
        r, n = ratios[k], draws.get(k, 0)
        rank = 1.0 / (n + 1) if n >= 1 else 1.0
        return min(rank, 1.0 / r) if math.isfinite(r) else rank

    if ratios.get(kind, 0.0) <= 1.0:
        return 1.0
    above = [k for k, r in ratios.items() if r > 1.0]
    best = one(kind)
    # any group of separate witnesses bounds it: a window that looks like this shows each
    # of them at least as high, so it is no likelier than they all are (the group need not
    # hold the deciding kind: a code path cut short reads logs and spans, so it has no
    # separate partner, while failing requests and a log surge are two)
    for n in range(1, len(above) + 1):
        for group in itertools.combinations(above, n):
            if _separate_witnesses(group):
                best = min(best, math.prod(one(k) for k in group))
    return best


def baseline_to_settle(
    window: Window,
    ratios: dict[str, float],
    kind: str,
    *,
    longer_than: timedelta = timedelta(0),
    step: timedelta | None = None,
    max_windows: int = MAX_SETTLE_WINDOWS,
) -> tuple[timedelta, int] | None:
    """The shortest baseline, a whole number of window lengths just before ``window`` and
    longer than ``longer_than``, whose placebo windows (:func:`placebo_windows` with the
    data's ``step``) would be separate enough for :func:`chance_bound` to allow "clear",
    were the evidence to stay as far above chance (``ratios``, as in
    :func:`chance_bound`): its length and how many separate windows it gives. None when no
    baseline up to ``max_windows`` window lengths would.

    It is an estimate, not a promise: more baseline windows can only raise chance's level
    (the most any service shows in them), so the ratios may fall. Measured on the lab
    (seeds 101-103 with 4.5 h of history, ``workbench eval rca --baseline 256m``): of 6
    weak verdicts that named 8 window lengths, 3 were clear and right with it, 2 stayed weak
    (chance's level for a log surge and a metric change rose about 1.5x, and a second
    witness under 2x chance fell away), 1 became a tie; no fault-free window was clear
    either way. One witness alone needs
    19 separate windows (a baseline 38 times the window's length); two witnesses from
    different telemetry need at most 4 (8 window lengths), fewer when they stand far
    above chance.

    >>> w = Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z")
    >>> baseline_to_settle(w, {"logs": 3.1, "errors": 2.2}, "logs")
    (datetime.timedelta(seconds=28800), 4)
    >>> baseline_to_settle(w, {"metrics": 12.0}, "metrics")[1]
    19
    """
    length = window.end - window.start
    for k in range(2, max_windows + 1):
        if k * length <= longer_than:
            continue
        wins = placebo_windows(window, Window(window.start - k * length, window.start), step=step)
        n = independent([w["window"] for w in wins if isinstance(w["window"], Window)])
        if chance_bound(ratios, dict.fromkeys(ratios, n), kind) <= 1 - CONFIDENCE + 1e-12:
            return k * length, n
    return None


def unseen_callees(
    top: str, *, spans: pl.DataFrame | None = None, edges: pl.DataFrame | None = None
) -> str | None:
    """Why the services ``top`` calls are unknown, or None when they are known.

    The ranking tells a cause from its symptoms through the call graph: a caller's metric
    change, log surge or extra total is discounted by the anomaly of what it calls, and
    errors and latency are put on the callee a client span waits for. That needs the
    service's own outgoing calls: its spans (a traced service that calls nothing is a
    leaf, known), or ``edges`` naming it as a caller. Without either, whatever it shows
    may be a callee's anomaly showing through, and the ranking could not rule that out.
    A remote endpoint the map marks (:func:`~workbench.analysis.suspects.remote_endpoints`)
    is alike: what serves the calls to it is not in the map.

    >>> unseen_callees("checkout", spans=frames.empty("spans"))  # doctest: +SKIP
    'there are no traces, so which services checkout calls is unknown'
    """
    if edges is not None and "caller" in edges.columns and (edges["caller"] == top).any():
        return None
    if spans is not None and spans.height and (spans["service"] == top).any():
        return None
    if top in remote_endpoints(edges):
        return (
            f"{top} is a remote endpoint seen only in its callers' calls, so what serves "
            "those calls is unknown"
        )
    if spans is None or spans.height == 0:
        return f"there are no traces, so which services {top} calls is unknown"
    return f"{top} has no traces of its own, so which services it calls is unknown"


def victim_risk(
    top: str, victim: str | None, ratios: dict[str, float], *, clear_ratio: float = CLEAR_RATIO
) -> str | None:
    """Why ``top``'s stand-out may be the anomaly of a service it calls, or None.

    ``victim`` is the service the ranking marks ``top`` a possible victim of (the
    suspects table's ``victim_of``: a service it calls whose anomaly could account for at
    least half of its own, so its symptoms were discounted); ``ratios`` holds the top
    suspect's evidence over chance per kind. A symptom (a metric change, a log surge, more
    of an additive total) is what a caller shows when a service it calls breaks: when the
    ranking itself says that may be so, symptoms are no proof against the top, and it is
    "clear" only through evidence of its own (errors starting there, extra time spent
    there, a resource at capacity, a code path cut short) at least ``clear_ratio`` times
    chance.

    >>> victim_risk("checkout", "payment", {"logs": 2.4, "errors": 0.9})
    'checkout may be a victim of payment, and no evidence of its own (failing requests, extra latency) stands out'
    >>> victim_risk("checkout", "payment", {"logs": 2.4, "errors": 3.0}) is None
    True
    """
    if not victim or any(
        r >= clear_ratio and signal(k).role != "symptom" for k, r in ratios.items()
    ):
        return None
    return (
        f"{top} may be a victim of {victim}, and no evidence of its own (failing requests, "
        "extra latency) stands out"
    )


def corroborated(ratios: dict[str, float]) -> bool:
    """True when two kinds of evidence about the top suspect, read from different
    telemetry, are both above chance (their evidence over chance's level above 1).

    ``ratios`` holds, per kind, the top suspect's evidence over chance's level. A fault
    leaves a trace in more than one witness (its errors are logged and traced, its latency
    shows in its traces and its metrics); a chance fluctuation, or a deploy that changed a
    service's metrics, rarely does. Kinds computed from the same telemetry (a metric
    change and more of an additive total, both from metrics) are one witness, not two.
    The verdict no longer asks this alone: two witnesses each barely above a chance level
    set by two separate placebo windows are not enough (:func:`chance_bound` weighs how
    far above, and on how many separate windows).

    >>> corroborated({"metrics": 2.7})
    False
    >>> corroborated({"metrics": 2.7, "logs": 0.5})
    False
    >>> corroborated({"metrics": 2.7, "totals": 9.0})
    False
    >>> corroborated({"logs": 3.4, "errors": 1.5})
    True
    """
    above = [k for k, r in ratios.items() if r > 1.0]
    return any(_separate_witnesses((a, b)) for a, b in itertools.combinations(above, 2))


def _separate_witnesses(kinds: tuple[str, ...]) -> bool:
    """True when no two of ``kinds`` read the same telemetry (metrics, logs, spans): each
    is a witness of its own."""
    reads = [set(signal(k).reads) for k in kinds]
    return not any(a & b for a, b in itertools.combinations(reads, 2))


def evidence_strength(sus: Any) -> dict[str, dict[str, float]]:
    """Per kind of evidence (each ranked signal of
    :data:`~workbench.analysis.signals.SIGNALS`), per service, its absolute strength (the
    ``strength`` column of ``sus.signals``)."""
    sig = getattr(sus, "signals", None)
    out: dict[str, dict[str, float]] = {k: {} for k in _KINDS}
    if sig is None or sig.height == 0:
        return out
    for k, svc, v in sig.select("signal", "service", "strength").iter_rows():
        if k in out and v is not None and v > 0:
            out[k][svc] = float(v)
    return out


def _placebo_strengths(kind: str, ctx: Any) -> dict[str, float]:
    """Each service's strength of evidence ``kind`` in a placebo window's context."""
    return _strengths(signal(kind).compute(ctx))


def _strengths(out: pl.DataFrame) -> dict[str, float]:
    """Per service, the positive ``strength`` of one signal's output."""
    return {
        svc: float(v)
        for svc, v in out.select("service", "strength").iter_rows()
        if svc is not None and v is not None and v > 0
    }


def _floors(wins: list[dict[str, Any]], used: list[str]) -> dict[str, float]:
    """The least chance can reach, whatever the placebos show (each signal's ``floor``:
    one failing request per placebo window, the change detector's threshold for z-scored
    metric changes)."""
    seconds = max(w["window"].duration.total_seconds() for w in wins)
    return {k: signal(k).floor(seconds) for k in used}


_TIME = {"metrics": "ts", "logs": "ts", "spans": "start", "events": "ts"}


def _has_data(inputs: dict[str, Any], reads: tuple[str, ...], w: dict[str, Any]) -> bool:
    """True when one of the frames ``reads`` has rows in both the placebo window and the
    part of the baseline before it."""

    def rows(df: Any, col: str, win: Window) -> bool:
        if df is None or not df.height:
            return False
        ts = df.get_column(col)  # one column: no filtered copy of the whole frame
        return bool(((ts >= win.start) & (ts < win.end)).any())

    for kind in reads:
        df, col = inputs.get(kind), _TIME[kind]
        base = (w.get("metric_baseline") if kind == "metrics" else None) or w["baseline"]
        if rows(df, col, w["window"]) and rows(df, col, base):
            return True
    return False


def assess(sus: Any, *, max_placebos: int = MAX_PLACEBOS) -> Verdict:
    """The verdict for a :class:`~workbench.analysis.suspects.Suspects`: its top suspect's
    evidence against what the placebo rankings of its own inputs reach, and its lead.

    The placebo windows share one baseline: what depends on it alone is computed once
    (in the caller's memo scope, an :class:`~workbench.Investigation`'s, or else in one
    that lives for this call)."""
    if memo_active():
        return _assess(sus, max_placebos=max_placebos)
    with memo_scope({}):
        return _assess(sus, max_placebos=max_placebos)


def _assess(sus: Any, *, max_placebos: int) -> Verdict:
    from workbench.analysis.suspects import signal_context

    # only services with evidence are ranked: none of them means no answer ("none")
    t = sus.table.filter(pl.col("rank").is_not_null()) if "rank" in sus.table.columns else sus.table
    top = t["service"][0] if t.height else None
    s1 = float(t["score"][0]) if t.height else 0.0
    second = t["service"][1] if t.height > 1 else None
    s2 = float(t["score"][1]) if t.height > 1 else 0.0
    inputs = getattr(sus, "inputs", None)
    if top is None or not inputs:
        why = "no suspect" if top is None else "the ranking's inputs were not kept"
        return judge(s1, s2, ratio=None, top=top, second=second, no_placebo=why)
    mine = evidence_strength(sus)
    row = t.row(0, named=True)
    used = [k for k in _KINDS if row[k] >= _USED and mine[k].get(top, 0.0) > 0]
    evidence = {k: mine[k].get(top, 0.0) for k in used}
    step = data_step(inputs.get("metrics"))
    wins = placebo_windows(
        inputs["window"],
        inputs["baseline"],
        metric_baseline=inputs.get("metric_baseline"),
        max_placebos=max_placebos,
        step=step,
    )
    if not wins:
        return judge(s1, s2, ratio=None, top=top, second=second, evidence=evidence)
    chance = _floors(wins, used)
    compared = dict.fromkeys(used, 0)
    # the placebo windows each kind was compared in (they overlap: see independent())
    seen: dict[str, list[Window]] = {k: [] for k in used}
    # a top whose callees are unknown may be a symptom of one of them: never "clear"
    risk = unseen_callees(top, spans=inputs.get("spans"), edges=inputs.get("edges"))
    # nor one the ranking marks a possible victim of a service it calls, unless evidence
    # of its own stands out
    victim = row.get("victim_of")
    explained = victim_risk(top, victim, dict.fromkeys(used, math.inf)) is not None
    # "clear" is possible only for a lead that is not a tie
    could_be_clear = (
        s1 > FLOOR
        and s2 < TIE * s1
        and (risk is None or any(signal(k).own for k in used))
        and not explained
    )
    run = 0
    for w in wins:
        if run >= FIRST_PLACEBOS and not (
            could_be_clear
            and any(compared[k] and _ratio(evidence[k], chance[k]) >= CLEAR_RATIO for k in used)
        ):
            # more placebos only raise chance's level: past the first few they are run
            # only while the evidence could still be called clear
            break
        run += 1
        # chance's level: the strongest evidence of each kind that any service shows in a
        # window where nothing is broken (any of them could have been named instead)
        w = {k: v for k, v in w.items() if k != "lead_in"}
        # only the kinds compared, from the context the ranking would use (the rest of a
        # ranking would not change them)
        # past the first few, a kind already below CLEAR_RATIO is no longer compared: more
        # placebos would only lower its ratio, and "clear" rests on the strongest kind
        # (one still above chance stays compared: it may corroborate the deciding kind)
        active = [
            k
            for k in used
            if run <= FIRST_PLACEBOS or not compared[k] or _ratio(evidence[k], chance[k]) > 1.0
        ]
        ctx = signal_context(**{**inputs, **w}, strengths_only=True)
        # the kinds side by side (each reads its own part of the context)
        placebo = run_all({k: functools.partial(_placebo_strengths, k, ctx) for k in active})
        for k in active:
            # a placebo without the data a kind reads says nothing about its chance level
            if _has_data(inputs, signal(k).reads, w):
                compared[k] += 1
                if isinstance(w["window"], Window):
                    seen[k].append(w["window"])
                chance[k] = max(chance[k], max(placebo[k].values(), default=0.0))
    ratios = {k: _ratio(evidence[k], chance[k]) for k in used if compared[k]}
    if used and not ratios:
        return judge(
            s1,
            s2,
            ratio=None,
            top=top,
            second=second,
            evidence=evidence,
            no_placebo="the baseline holds none of the data behind the evidence",
        )
    kind = max(ratios, key=lambda k: ratios[k]) if ratios else None
    # the service's own state at capacity decides alone (see below), whatever else is
    # as far above chance
    kind = next((k for k in ratios if signal(k).own and ratios[k] >= CLEAR_RATIO), kind)
    ratio = ratios[kind] if kind else 0.0
    unseen = [k for k in used if not compared[k]]
    if ratio <= 1.0 and unseen:
        # what could be compared looks like chance, the rest could not be compared: no
        # claim either way
        return judge(
            s1,
            s2,
            ratio=None,
            top=top,
            second=second,
            evidence=evidence,
            no_placebo=f"the baseline holds none of the data behind its {', '.join(unseen)}",
        )
    own = bool(kind and signal(kind).own)
    separate = {k: independent(seen[k]) for k in ratios}
    bound = None if own or not kind else chance_bound(ratios, separate, kind)
    single = len(_telemetry(inputs, top)) < 2
    # and one witness alone decides only where the top suspect has one kind of
    # telemetry: a deploy that changed a service's metrics and nothing else is no
    # fault, however far the change (a CPU 39x chance after a deploy, lab seed 502)
    agree = None if own or single else corroborated(ratios)
    settle = None
    if kind and bound is not None and bound > 1 - CONFIDENCE and agree is not False:
        # what would settle it: a baseline with more separate windows, if one would
        settle = baseline_to_settle(
            inputs["window"],
            ratios,
            kind,
            longer_than=inputs["baseline"].end - inputs["baseline"].start,
            step=step,
        )
    return judge(
        s1,
        s2,
        ratio=ratio,
        top=top,
        second=second,
        kind=kind,
        evidence=evidence,
        chance=chance,
        placebos=run,
        # the service's own state (a resource at capacity) is no callee's symptom; a
        # possible victim's symptoms may be the anomaly of the service it calls
        symptom_risk=None if own else risk or victim_risk(top, victim, ratios),
        # how often a fault-free window could look like this: each witness above chance
        # counts by the independent placebo windows behind its chance level (overlapping
        # ones are one draw); the service's own state (a resource at capacity: an absolute
        # level, not a fluctuation) decides alone, when none of the first placebos reached it
        compared=compared[kind] if own and kind else None,
        needed=FIRST_PLACEBOS,
        bound=bound,
        separate=separate.get(kind) if kind else None,
        corroborated=agree,
        settle=settle,
    )


def _telemetry(inputs: dict[str, Any], service: str) -> list[str]:
    """The kinds of telemetry (metrics, logs, spans) with rows of ``service`` in the
    window: each is a separate witness of a fault there."""
    win = inputs["window"]
    out = []
    for kind in ("metrics", "logs", "spans"):
        df = inputs.get(kind)
        if df is None or not df.height or "service" not in df.columns:
            continue
        ts = df.get_column(_TIME[kind])
        if bool(((df.get_column("service") == service) & (ts >= win.start) & (ts < win.end)).any()):
            out.append(kind)
    return out
