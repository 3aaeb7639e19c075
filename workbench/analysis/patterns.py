"""Broken event patterns: code paths that stopped reaching a step they always reached.

A request leaves a trail of *events* in each service it passes through: the names of the
service's spans and the log statements it wrote. In normal operation many of them come
in fixed pairs: whenever a request hits event ``A`` in a service it also hits ``B`` there
(the line logged after a call, the query run by a handler). When a fault (an exception,
an early return) cuts a code path short, ``A`` keeps happening and ``B`` stops following
it: the pair *breaks*. That is the fault-window-versus-normal comparison of event graphs
of Nezha (Yu et al., FSE 2023), reduced to pairs within one trace and one service.

Log events are keyed by the statement's source location when the line carries one
(``t.s.TravelServiceImpl#451``, the logger-and-line prefix of Java/Logback patterns), so
two statements with the same text at different lines stay two events; otherwise by the
mined template. Span events are keyed by the span name.

* :func:`trace_events` — ``trace_id, service, event, t0`` (one row per distinct event of a
  service in a trace; ``t0`` is the trace's first timestamp);
* :func:`broken_patterns` — per ``service, A, B``: the baseline confidence ``P(B | A)``
  and, in the window, the traces with ``A`` but without ``B`` against the number the
  baseline predicts;
* :func:`pattern_signal` — per service, the strongest break scaled to 0..1 (used by
  :func:`workbench.analysis.suspects.rank_suspects`).

Example::

    >>> from workbench.analysis.patterns import broken_patterns
    >>> broken_patterns(inc.logs, inc.spans, inc.window, inc.baseline).head()
"""

from __future__ import annotations

import polars as pl

from workbench.analysis import templates as tp
from workbench.analysis._util import memoised
from workbench.analysis.stats import poisson_z
from workbench.display import ARROW
from workbench.timewindow import Window

__all__ = ["broken_patterns", "pattern_signal", "trace_events"]

# a logger-and-line prefix such as ``t.s.TravelServiceImpl#451`` or ``Foo.bar#12``
_SOURCE_LOCATION = r"^(?:\S+\s+)??([A-Za-z_$][\w.$]*#\d+)\b"

_BROKEN_SCHEMA = {
    "service": pl.String,
    "A": pl.String,
    "B": pl.String,
    "n_baseline": pl.UInt32,
    "confidence": pl.Float64,
    "n_incident": pl.UInt32,
    "missing": pl.UInt32,
    "expected": pl.Float64,
    "z": pl.Float64,
    "broken": pl.Float64,
}


@memoised
def trace_events(logs: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """Distinct events per trace and service: ``trace_id, service, event, t0``.

    ``event`` is ``"span: <name>"`` or ``"log: <location or template>"``; ``t0`` is the
    earliest timestamp of the trace (over its spans and logs), so a trace belongs to one
    window as a whole.

    >>> trace_events(inc.logs, inc.spans).group_by("service").len()
    """
    parts = []
    if logs.height and "trace_id" in logs.columns:
        lg = logs.filter(
            pl.col("trace_id").is_not_null()
            & (pl.col("trace_id") != "")
            & pl.col("service").is_not_null()
        )
        if lg.height:
            mined = lg if "template" in lg.columns else tp.mine_templates(lg)
            loc = pl.col("message").str.extract(_SOURCE_LOCATION, 1)
            parts.append(
                mined.select(
                    "trace_id",
                    "service",
                    ts=pl.col("ts"),
                    event=pl.lit("log: ") + pl.coalesce(loc, pl.col("template")),
                )
            )
    if spans.height:
        parts.append(
            spans.filter(pl.col("service").is_not_null()).select(
                "trace_id", "service", ts=pl.col("start"), event=pl.lit("span: ") + pl.col("name")
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={
                "trace_id": pl.String,
                "service": pl.String,
                "event": pl.String,
                "t0": pl.Datetime("us", "UTC"),
            }
        )
    ev = pl.concat([p.with_columns(pl.col("ts").dt.cast_time_unit("us")) for p in parts])
    first = ev.group_by("trace_id").agg(t0=pl.col("ts").min())
    return (
        ev.join(first, on="trace_id")
        .group_by("trace_id", "service", "event")
        .agg(pl.col("t0").first())
    )


def _pair_counts(ev: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    a = ev.select("trace_id", "service", A="event")
    n_a = a.group_by("service", "A").agg(n_A=pl.len())
    n_ab = (
        a.join(ev.select("trace_id", "service", B="event"), on=["trace_id", "service"])
        .filter(pl.col("A") != pl.col("B"))
        .group_by("service", "A", "B")
        .agg(n_AB=pl.len())
    )
    return n_a, n_ab


def broken_patterns(
    logs: pl.DataFrame,
    spans: pl.DataFrame,
    window: Window,
    baseline: Window,
    *,
    min_support: int = 8,
    min_confidence: float = 0.8,
    min_missing: int = 3,
) -> pl.DataFrame:
    """Event pairs ``A -> B`` of one service that held in the baseline and broke in the window.

    A pair holds when ``A`` occurred in at least ``min_support`` baseline traces and ``B``
    followed it (in the same trace and service) in at least ``min_confidence`` of them
    (``confidence`` is smoothed: ``n_AB / (n_A + 1)``). In the window, ``missing`` counts
    the traces with ``A`` but without ``B``, ``expected`` the number the baseline's
    confidence predicts, ``z`` the Poisson likelihood-ratio z of ``missing`` against
    ``expected``, and ``broken`` the excess share ``(missing - expected) / n_incident``.
    Rows with at least ``min_missing`` missing traces, strongest ``z`` first.

    >>> broken_patterns(inc.logs, inc.spans, inc.window, inc.baseline).head(3)
    """
    ev = trace_events(logs, spans)
    if ev.height == 0:
        return pl.DataFrame(schema=_BROKEN_SCHEMA)
    in_b = ev.filter((pl.col("t0") >= baseline.start) & (pl.col("t0") < baseline.end))
    in_w = ev.filter((pl.col("t0") >= window.start) & (pl.col("t0") < window.end))
    b_a, b_ab = _pair_counts(in_b)
    w_a, w_ab = _pair_counts(in_w)
    held = (
        b_ab.join(b_a, on=["service", "A"])
        .with_columns(confidence=pl.col("n_AB") / (pl.col("n_A") + 1))
        .filter((pl.col("n_A") >= min_support) & (pl.col("confidence") >= min_confidence))
        .select("service", "A", "B", n_baseline=pl.col("n_A"), confidence="confidence")
    )
    out = (
        held.join(w_a.rename({"n_A": "n_incident"}), on=["service", "A"])
        .join(w_ab, on=["service", "A", "B"], how="left")
        .with_columns(missing=pl.col("n_incident") - pl.col("n_AB").fill_null(0))
        .with_columns(expected=pl.col("n_incident") * (1 - pl.col("confidence")))
        .filter(pl.col("missing") >= min_missing)
    )
    out = out.with_columns(
        z=poisson_z(pl.col("missing"), pl.col("expected").clip(lower_bound=0.5)),
        broken=((pl.col("missing") - pl.col("expected")) / pl.col("n_incident")).clip(0.0, 1.0),
    )
    return (
        out.select(list(_BROKEN_SCHEMA))
        .cast(_BROKEN_SCHEMA)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)
        .sort(["z", "service", "A", "B"], descending=[True, False, False, False])
    )


def pattern_signal(broken: pl.DataFrame, *, min_z: float = 3.0) -> pl.DataFrame:
    """Per service: ``patterns`` in 0..1 (the strongest break: its excess share times a
    saturating function of its ``z``) and ``_p_top`` (``"A -> B"`` of that break).

    >>> pattern_signal(broken_patterns(logs, spans, window, baseline))
    """
    if broken.height == 0:
        return pl.DataFrame(
            schema={"service": pl.String, "patterns": pl.Float64, "_p_top": pl.String}
        )
    # half of a path's requests cut short is a full-strength break, if well beyond noise
    sure = 1.0 - (-(pl.col("z") - min_z).clip(lower_bound=0.0) / 3.0).exp()
    strength = (pl.col("broken") / 0.5).clip(0.0, 1.0) * sure
    return (
        broken.filter(pl.col("z") >= min_z)
        .with_columns(_s=strength, _pair=pl.col("A") + pl.lit(f" {ARROW} ") + pl.col("B"))
        .group_by("service")
        .agg(patterns=pl.col("_s").max(), _p_top=pl.col("_pair").sort_by("_s").last())
        .sort("service")
    )
