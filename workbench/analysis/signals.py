"""The kinds of evidence against a service, as one table: :data:`SIGNALS`.

Each :class:`Signal` says how to compute it from an incident's frames (a
:class:`Context` that computes the shared pieces once), its weight in the ranking, its
role, how to explain it in a sentence, and the least chance can reach of it (for the
verdict). :func:`~workbench.analysis.suspects.rank_suspects` and
:func:`~workbench.analysis.verdict.assess` both iterate over the table, so a new kind of
evidence is one function and one row here.

Roles: ``local`` evidence is the service's own behaviour (errors starting there, extra
time spent there, a code path cut short, its resource at capacity) and is never
discounted; a ``symptom`` (a metric change, a log surge, more of an additive total)
travels up the call graph, so a caller's symptom is discounted by the anomaly of what it
calls; a ``boost`` (a change event on the service just before the onset) multiplies.

Every compute returns ``service, value, strength, top``: ``value`` in 0..1 (what the
ranking combines), ``strength`` in the kind's own absolute unit (what the verdict holds
against the placebo windows: a robust z for metric changes, extra failing requests per
second for errors, the excess as a share of the system's normal total for totals, the
0..1 value itself for the rest) and ``top`` (the series, template, operation or event
that carries it).

Example::

    >>> from workbench.analysis.signals import SIGNALS
    >>> [(s.name, s.weight, s.role) for s in SIGNALS][:2]
    [('errors', 0.9, 'local'), ('latency', 0.8, 'local')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import polars as pl

from workbench.analysis import changes as ch
from workbench.analysis import metric_rules as mr
from workbench.analysis import patterns as pt
from workbench.analysis import templates as tp
from workbench.analysis import traces as tr
from workbench.analysis._util import memoised
from workbench.analysis.logblame import on_named_callee
from workbench.analysis.once import once_property
from workbench.analysis.stats import beyond_noise, covered_seconds, poisson_z, saturate
from workbench.analysis.timeline import CHANGE_KINDS
from workbench.analysis.utilisation import CPU_SECONDS, cpu_utilisation
from workbench.display import format_percent, span_label
from workbench.timewindow import Window

__all__ = ["CHANGE_KINDS", "SIGNALS", "SIGNAL_SCHEMA", "Context", "Signal", "harmful_changes"]

SIGNAL_SCHEMA = {
    "service": pl.String,
    "value": pl.Float64,
    "strength": pl.Float64,
    "top": pl.String,
}
#: an excess of this share of the system's normal total scores 0.63 (see ``_totals``)
_TOTALS_SCALE = 0.1
_LEVEL_WEIGHT = {"fatal": 1.0, "error": 1.0, "warn": 0.8}
# metrics where only one direction is bad: a success rate that rises or a latency that
# falls is recovery (or, from an all-zero baseline, a series that just started), not harm
_HIGHER_IS_BETTER = r"(?i)(availab|success|uptime|apdex)"
_LOWER_IS_BETTER = r"(?i)(latency|duration|error|fail|_seconds)"
# latency a service measures on its outgoing calls (OTel ``http.client.request.duration``,
# Nezha's ``PodClientLatencyP99``): time spent waiting for a callee, so the callee's
# symptom, not the caller's (the trace signals put client spans' time on the callee too)
_CLIENT_LATENCY = r"(?i)(client.*(latency|duration))|((latency|duration).*client)"


def callee_symptom() -> pl.Expr:
    """True for series that measure the wait on a callee (client-side latency)."""
    return pl.col("metric").str.contains(_CLIENT_LATENCY)


def benign_change() -> pl.Expr:
    """True for a change in the harmless direction of a metric whose name says which
    direction hurts: success rates/availability going up, latency/errors going down."""
    name = pl.col("metric")
    up = mr.went("up")
    return (name.str.contains(_HIGHER_IS_BETTER) & up) | (
        name.str.contains(_LOWER_IS_BETTER) & ~name.str.contains(_HIGHER_IS_BETTER) & ~up
    )


def harmful_changes(changes: pl.DataFrame) -> pl.DataFrame:
    """The metric changes that count as a service's symptom: each counted once (a
    host-level series copied onto every pod says nothing about which service broke, a
    latency's quantiles are one measurement, a service doing less work is not where a
    fault is; see ``metric_rules``), in the harmful direction, and not a wait on a callee."""
    return (
        mr.quantile_consensus(mr.without_host_level(mr.with_way(changes)))
        .filter(~mr.usage_drop() & ~mr.demand_rise())
        .filter(
            pl.col("changed")
            & pl.col("service").is_not_null()
            & ~benign_change()
            & ~callee_symptom()
        )
    )


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SIGNAL_SCHEMA)


def _out(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(list(SIGNAL_SCHEMA)).cast(SIGNAL_SCHEMA).filter(pl.col("value") > 0)  # type: ignore[arg-type]  # polars stub: no dict[str, ...] (keys invariant)


@dataclass
class Context:
    """An incident's frames and windows, with the pieces several signals share computed
    once (metric changes, the onset, spans with the service they blame, ...)."""

    metrics: pl.DataFrame
    logs: pl.DataFrame
    spans: pl.DataFrame
    events: pl.DataFrame
    window: Window
    baseline: Window
    metric_baseline: Window | None = None
    event_lookback: timedelta = timedelta(minutes=30)
    #: the window the metric points are rates over, when a source declared one (a run
    #: of a change then counts independent windows: ``changes.run_points``)
    rate_window: timedelta | None = None
    #: only each service's ``strength`` will be read (the verdict's placebo windows):
    #: signals may leave ``top`` empty and skip what only names it
    strengths_only: bool = False

    @once_property
    def changes(self) -> pl.DataFrame:
        kw: dict[str, Any] = {"rate_window": self.rate_window}
        base = self.metric_baseline or self.baseline
        raw = ch.score_changes(self.metrics, self.window, base, **kw)
        # and each pod's CPU as a fraction of its limit where the counter and the limit
        # are there (what a Prometheus source asks the server for): a CPU at its limit is
        # then saturation, the service's own state (:mod:`workbench.analysis.utilisation`);
        # scored apart, so the raw series' work stays shared with the rest of the product
        used = cpu_utilisation(self.metrics)
        if used.height == 0:
            return raw
        derived = ch.score_changes(used, self.window, base, **kw)
        # the fraction replaces the counter it came from: the same change (a rate over a
        # constant limit scores alike), shown once, in the unit that says what it means
        replaced = used.select("service", "labels").unique().with_columns(_cpu=pl.lit(True))
        raw = (
            raw.join(replaced, on=["service", "labels"], how="left", nulls_equal=True)
            .filter(~(pl.col("metric").is_in(CPU_SECONDS) & pl.col("_cpu").fill_null(False)))
            .drop("_cpu")
        )
        return pl.concat([raw, derived]).sort("score", descending=True, maintain_order=True)

    @once_property
    def onset(self) -> datetime:
        return ch.onset_of_changes(self.changes) or self.window.start

    @once_property
    def blamed_spans(self) -> pl.DataFrame:
        from workbench.analysis.suspects import blame_services, errors_from_logs

        sp = errors_from_logs(self.spans, self.logs)
        return blame_services(sp) if sp.height else sp.with_columns(blame_service=pl.col("service"))

    @once_property
    def error_spans(self) -> pl.DataFrame:
        """:attr:`blamed_spans` with the failing calls only one caller of a callee sees
        put on that caller (:func:`workbench.analysis.attribution.own_failures`): what
        the error signal counts."""
        from workbench.analysis.attribution import own_failures

        return own_failures(self.blamed_spans, window=self.window, baseline=self.baseline)

    @once_property
    def wait_spans(self) -> pl.DataFrame:
        """:attr:`blamed_spans` with the calls whose extra time on the way only one caller
        of a callee shows put on that caller
        (:func:`workbench.analysis.attribution.own_waits`): what the latency signal
        counts."""
        from workbench.analysis.attribution import own_waits

        return own_waits(self.blamed_spans, window=self.window, baseline=self.baseline)

    @once_property
    def gaps(self) -> pl.DataFrame:
        """Orphan spans and the call each hangs under (:func:`traces.gap_parents` of the
        spans: computed once for every window compared, the verdict's placebos too)."""
        return tr.gap_parents(self.spans)

    @once_property
    def surges(self) -> pl.DataFrame:
        if self.logs.height:
            return tp.template_surges(
                self.logs, self.window, self.baseline, scores_only=self.strengths_only
            )
        return pl.DataFrame(
            schema={
                "service": pl.String,
                "template": pl.String,
                "z": pl.Float64,
                "surge": pl.Boolean,
                "level": pl.String,
            }
        )

    @once_property
    def surges_about(self) -> pl.DataFrame:
        """:attr:`surges` with ``service`` the service each is about and ``logged_by`` the
        one that wrote it: a caller's line naming the one callee whose calls fail more is
        about that callee, as a failing client span is
        (:func:`~workbench.analysis.logblame.on_named_callee`). The ranking's log signal
        and the suspects' evidence read this one frame.

        The spans it asks are :attr:`error_spans`, the ones the error signal counts: a
        caller shown failing its calls alone (its own network, not the callee:
        :func:`~workbench.analysis.attribution.own_failures`) keeps its failing calls, and
        its lines about them are the same evidence in words, so they stay with it too (lab
        packet-loss-shop-s401: api-gateway's "catalog returned HTTP 500; retrying" went to
        catalog while its failing calls stayed api-gateway's, and made a wrong "clear")."""
        return on_named_callee(self.surges, self.error_spans, self.window, self.baseline)

    @once_property
    def broken_paths(self) -> pl.DataFrame:
        return pt.broken_patterns(self.logs, self.spans, self.window, self.baseline)

    @once_property
    def latency(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(latency blame by service and operation, the latency signal): computed once
        for both."""
        return _latency(self)

    @once_property
    def blame(self) -> pl.DataFrame:
        return self.latency[0]

    @once_property
    def origin_spans(self) -> pl.DataFrame:
        return tr.error_origin_spans(self.error_spans, window=self.window, gaps=self.gaps)

    @once_property
    def derived_totals(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(additive totals rows, the series they were derived from):
        :func:`workbench.analysis.totals.derive_totals`."""
        from workbench.analysis.totals import derive_totals

        return derive_totals(self.metrics)

    @once_property
    def totals(self) -> pl.DataFrame:
        """The excess of each additive total per service (``total`` names it)."""
        from workbench.analysis.excess import EXCESS_SCHEMA, excess_totals
        from workbench.analysis.totals import TOTALS

        derived = self.derived_totals[0]
        base = self.metric_baseline or self.baseline
        parts = [
            excess_totals(derived, self.window, base, metric=t).with_columns(total=pl.lit(t))
            for t in TOTALS
            if (derived["metric"] == t).any()
        ]
        if not parts:
            return pl.DataFrame(schema={**EXCESS_SCHEMA, "total": pl.String})
        return pl.concat(parts)

    @once_property
    def near_events(self) -> pl.DataFrame:
        """Change events on a service from ``event_lookback`` before the onset to 5 min
        after the later of the onset and the window's start."""
        return self.events.filter(
            pl.col("kind").is_in(list(CHANGE_KINDS))
            & (pl.col("ts") >= self.onset - self.event_lookback)
            & (pl.col("ts") <= max(self.onset, self.window.start) + timedelta(minutes=5))
            & pl.col("service").is_not_null()
        )


# the signals -------------------------------------------------------------------------------
def _errors(c: Context) -> pl.DataFrame:
    """Share of the *extra* failing traces (above the baseline's rate per request) starting
    at each service, scaled by how far beyond Poisson noise the rise is; strength: extra
    failing requests per second. A callee's failing calls that only one of its callers
    sees are that caller's (:attr:`Context.error_spans`)."""
    bsp, win, base = c.error_spans, c.window, c.baseline
    if bsp.height == 0 or "status" not in bsp.columns or not tr.failing_spans(bsp).height:
        return _empty()
    # the window's origin spans once, aggregated per service and per operation
    origins = tr.error_origin_spans(bsp, window=win, gaps=c.gaps)
    ow = tr.origins_by(origins, ("blame_service",))
    if ow.height == 0:
        return _empty()
    # the baseline's half is the same for every placebo window of the verdict (one
    # baseline for all, and the same spans unless a caller's own failures moved blame)
    ob = _baseline_origins(bsp, base, c.gaps)
    w_s = covered_seconds(bsp["start"], win)
    b_s = _covered(bsp, "start", base)
    out = (
        ow.join(ob, on="blame_service", how="left")
        .join(_traffic(bsp, win, base), on="blame_service", how="left")
        .with_columns(_expected=_expected_errors(w_s / b_s))
        .with_columns(_excess=(pl.col("traces") - pl.col("_expected")).clip(0.0))
        # an excess within the noise of the expected count (Poisson z at or below 2) is
        # not evidence: not for the service, and not in the total it is a share of
        # (summed over a thousand services, the chance excesses of a few failing traces
        # each would otherwise outweigh the one real excess)
        .with_columns(
            _sure=beyond_noise(
                poisson_z(pl.col("traces"), pl.col("_expected").clip(lower_bound=0.5))
            )
        )
    )
    total = out.filter(pl.col("_sure") > 0)["_excess"].sum()
    if not total:  # most of the verdict's placebo windows
        return _empty()
    if c.strengths_only:  # no operation named
        out = out.with_columns(top=pl.lit(None, pl.String))
    else:
        ops = (
            tr.origins_by(origins, ("blame_service", "name"))
            .group_by("blame_service")
            .agg(top=pl.col("name").first())
        )
        out = out.join(ops, on="blame_service", how="left")
    rate = ((pl.col("traces") - pl.col("_tb").fill_null(0) * (w_s / b_s)) / w_s).clip(0.0)
    return _out(
        out.select(
            service=pl.col("blame_service"),
            value=pl.col("_excess") / total * pl.col("_sure"),
            strength=rate,
            top=pl.col("top"),
        )
    )


@memoised  # the verdict's placebos share one baseline: its origins are found once
def _baseline_origins(bsp: pl.DataFrame, base: Window, gaps: pl.DataFrame) -> pl.DataFrame:
    """``blame_service, _tb``: failing traces with an origin at each service in ``base``."""
    return tr.error_origins(bsp, window=base, by=("blame_service",), gaps=gaps).select(
        "blame_service", _tb=pl.col("traces")
    )


@memoised
def _covered(df: pl.DataFrame, column: str, w: Window) -> float:
    """:func:`~workbench.analysis.stats.covered_seconds` of ``df[column]`` (memoised: the
    verdict's placebos share one baseline)."""
    return covered_seconds(df.get_column(column), w)


def _traffic(bsp: pl.DataFrame, win: Window, base: Window) -> pl.DataFrame:
    """Traces through each service (``blame_service``) in the window (``_nw``) and the
    baseline (``_nb``)."""
    return _through(bsp, win, "_nw").join(
        _through(bsp, base, "_nb"), on="blame_service", how="full", coalesce=True
    )


@memoised  # the verdict's placebos share one baseline: counted once per investigation
def _through(bsp: pl.DataFrame, w: Window, name: str) -> pl.DataFrame:
    inside = (pl.col("start") >= w.start) & (pl.col("start") < w.end)
    return (
        bsp.select("start", "blame_service", "trace_id")  # narrow before filtering
        .filter(inside)
        .group_by("blame_service")
        .agg(pl.col("trace_id").n_unique().alias(name))
    )


def _expected_errors(scale: float) -> pl.Expr:
    """Failing traces a service would show in the window at its baseline error rate, per
    request (more traffic brings more of the usual errors) at its upper plausible value
    ``(errors + 1) / (requests + 1)``; without baseline requests, the time rate."""
    per_request = (
        pl.col("_nw").fill_null(0) * (pl.col("_tb").fill_null(0) + 1) / (pl.col("_nb") + 1)
    )
    per_second = pl.col("_tb").fill_null(0) * scale
    return pl.when(pl.col("_nb").fill_null(0) > 0).then(per_request).otherwise(per_second)


def _latency(c: Context) -> tuple[pl.DataFrame, pl.DataFrame]:
    # a call's wait beyond its callee's own time is the callee's, unless only one caller
    # of that callee waits longer (its own network or CPU): then it is that caller's
    bsp, win, base = c.wait_spans, c.window, c.baseline
    empty_blame = pl.DataFrame(
        schema={"service": pl.String, "name": pl.String, "extra_ms": pl.Float64}
    )
    if bsp.height == 0:
        return empty_blame, _empty()
    blame = tr.latency_blame(bsp, window=win, baseline=base, by=("blame_service", "name"))
    if blame.height == 0:
        return empty_blame, _empty()
    blame = blame.rename({"blame_service": "service"})
    roots = bsp.filter(pl.col("parent_span_id").is_null())
    if roots.height == 0:
        roots = tr.span_tree(bsp).filter(pl.col("is_root"))
    rw = roots.filter((pl.col("start") >= win.start) & (pl.col("start") < win.end))["duration_ms"]
    rb = roots.filter((pl.col("start") >= base.start) & (pl.col("start") < base.end))["duration_ms"]
    slower = _slower(rw, rb)
    # the extra time beyond sampling noise: each operation's positive extra counts as far
    # as it is beyond noise (the errors signal's rule), so the chance shifts of a thousand
    # operations do not make up most of the total; the share is of that credible extra
    credible = pl.col("extra_ms").clip(lower_bound=0.0) * beyond_noise(pl.col("z"))
    per = blame.group_by("service").agg(
        _extra=credible.sum(), top=pl.col("name").sort_by("extra_ms").last()
    )
    total = per["_extra"].sum()
    if not total:
        return blame, _empty()
    per = (
        per.join(_slower_through(bsp, roots, win, base), on="service", how="left")
        # the requests through a service slowed at least as the system's did (a few slow
        # requests in a long tail move neither their quantiles nor the system's much)
        .with_columns(_slower=pl.max_horizontal(pl.col("_slower").fill_null(slower), slower))
        .with_columns(value=(pl.col("_extra") / total * pl.col("_slower")).clip(0.0, 1.0))
        .with_columns(strength=pl.col("value"))
    )
    return blame, _out(per)


def _slower(rw: pl.Series, rb: pl.Series) -> float:
    """0..1: how much slower requests got (root durations in the window ``rw`` against
    the baseline ``rb``: the larger ratio of the 90th percentiles and the medians, 1.5x
    or more is 1); 0 without both."""
    if not (rw.len() and rb.len()):
        return 0.0
    qb, qw = rb.quantile(0.9) or 0.0, rw.quantile(0.9) or 0.0
    mb, mw = cast(float, rb.median() or 0.0), cast(float, rw.median() or 0.0)
    ratio = max(qw / qb if qb > 0 else 1.0, mw / mb if mb > 0 else 1.0)
    return min(max((ratio - 1.0) / 0.5, 0.0), 1.0)


def _slower_through(
    bsp: pl.DataFrame, roots: pl.DataFrame, win: Window, base: Window
) -> pl.DataFrame:
    """``service, _slower``: :func:`_slower` of the requests that went through each
    service (whose traces have a span blamed on it), for services with such requests in
    both windows. An incident in one corner of a large system slows the requests through
    that corner, not the whole system's percentiles (a tenth of the traffic slower barely
    moves the system's 90th percentile)."""
    r = roots.select("trace_id", "start", "duration_ms").unique("trace_id", keep="first")
    through = (
        bsp.select(service="blame_service", trace_id="trace_id")
        .drop_nulls()
        .unique()
        .join(r, on="trace_id")
    )
    side = (
        pl.when((pl.col("start") >= win.start) & (pl.col("start") < win.end))
        .then(pl.lit("w"))
        .when((pl.col("start") >= base.start) & (pl.col("start") < base.end))
        .then(pl.lit("b"))
    )
    q = (
        through.with_columns(_side=side)
        .drop_nulls("_side")
        .group_by("service", "_side")
        .agg(q=pl.col("duration_ms").quantile(0.9), m=pl.col("duration_ms").median())
    )
    w = q.filter(pl.col("_side") == "w").select("service", qw="q", mw="m")
    b = q.filter(pl.col("_side") == "b").select("service", qb="q", mb="m")

    def ratio(x: str, y: str) -> pl.Expr:
        return pl.when(pl.col(y) > 0).then(pl.col(x) / pl.col(y)).otherwise(1.0)

    return w.join(b, on="service").select(
        "service",
        _slower=((pl.max_horizontal(ratio("qw", "qb"), ratio("mw", "mb")) - 1.0) / 0.5).clip(
            0.0, 1.0
        ),
    )


def _latency_signal(c: Context) -> pl.DataFrame:
    return c.latency[1]


def _metrics(c: Context) -> pl.DataFrame:
    """The largest sustained robust change of the service's harmful series, relative to
    the strongest of any service (real data are heavy-tailed: many pass any fixed z)."""
    harmful = harmful_changes(c.changes)
    # the top series and which way its scored run went ("up fell by 100x ..."; a frame
    # without ``moved``, hand-made, says "shifted"): words only, the value is the score's
    verb = (
        pl.when(pl.col("moved") == "up").then(pl.lit("rose")).otherwise(pl.lit("fell"))
        if "moved" in harmful.columns
        else pl.lit("shifted")
    )
    agg = harmful.group_by("service").agg(
        strength=pl.col("score").max(),
        top=pl.format("{} {}", pl.col("metric"), verb).sort_by(pl.col("score")).last(),
    )
    if agg.height == 0:
        return _empty()
    return _out(
        agg.with_columns(
            value=(pl.col("strength").log1p() / pl.col("strength").max().log1p())
            * saturate(pl.col("strength"), 20.0).max()
        )
    )


def _totals(c: Context) -> pl.DataFrame:
    """More of an additive total (seconds spent serving, failed requests) than normal, as a
    share of the whole system's normal level of it (failures counted with one more: the
    strength); the value is the share of the
    largest excess, scaled by that excess's size."""
    ex = c.totals
    if ex.height == 0:
        return _empty()
    # the system's normal level of each total: all serving seconds, all failures (counted
    # with one more, the cautious expectation the error signal also uses: normal failures
    # may be 0)
    base = c.metric_baseline or c.baseline
    derived = c.derived_totals[0].filter((pl.col("ts") >= base.start) & (pl.col("ts") < base.end))
    normal = (
        derived.group_by("metric", "service")
        .agg(pl.col("value").median())
        .group_by("metric")
        .agg(pl.col("value").sum())
    )
    work = dict(zip(normal["metric"], normal["value"], strict=True))
    denominator = {
        "busy_seconds": work.get("busy_seconds"),
        "failed_requests": work.get("failed_requests", 0.0) + 1.0,
    }
    system = pl.DataFrame(
        {"total": list(denominator), "_sys": [v or 0.0 for v in denominator.values()]},
        schema={"total": pl.String, "_sys": pl.Float64},
    )
    rel = (
        ex.join(system, on="total")
        .filter(pl.col("_sys") > 0)
        .with_columns(strength=pl.col("excess") / pl.col("_sys"))
        .filter(pl.col("strength") > 0)
    )
    if rel.height == 0:
        return _empty()
    per = rel.group_by("service").agg(
        strength=pl.col("strength").max(), top=pl.col("total").sort_by("strength").last()
    )
    # the share of the largest excess, scaled by how large that is: a rise by a tenth of
    # the whole system's normal total is a strong symptom (0.63), a hundredth a faint one
    top = pl.col("strength").max()
    return _out(per.with_columns(value=pl.col("strength") / top * saturate(top, _TOTALS_SCALE)))


def _logs(c: Context) -> pl.DataFrame:
    # a caller's line naming the one callee whose calls fail more is about that callee,
    # as a failing client span is (placebo windows carry no template text: left as written)
    s = c.surges_about
    lw = (
        pl.col("level").replace_strict(_LEVEL_WEIGHT, default=0.5, return_dtype=pl.Float64)
        if "level" in s.columns
        else pl.lit(0.5)
    )
    return _out(
        s.filter(pl.col("surge") & pl.col("service").is_not_null())
        .with_columns(_l=saturate(pl.col("z"), 10.0) * lw)
        .with_columns(
            # a line put on the callee it names says who wrote it
            _t=pl.when(pl.col("logged_by") != pl.col("service"))
            .then(pl.col("logged_by") + " logs: " + pl.col("template"))
            .otherwise(pl.col("template"))
            if "logged_by" in s.columns
            else pl.col("template")
            if "template" in s.columns
            else pl.lit(None, pl.String)
        )
        .group_by("service")
        .agg(value=pl.col("_l").max(), top=pl.col("_t").sort_by("_l").last())
        .with_columns(strength=pl.col("value"))
    )


def _patterns(c: Context) -> pl.DataFrame:
    p = pt.pattern_signal(c.broken_paths)
    return _out(p.select("service", value="patterns", strength="patterns", top="_p_top"))


def _saturation(c: Context) -> pl.DataFrame:
    s = mr.saturation(c.changes)
    return _out(s.select("service", value="saturation", strength="saturation", top="_s_top"))


def _events(c: Context) -> pl.DataFrame:
    # the change the why names ("change just before: ..."): the latest at or before the
    # onset, a change record with a duration (the deploy) before its rollout steps; it
    # named the rollout's completion, 4 min after the onset, where the findings and the
    # postmortem say "deploy checkout v2.14.0 at 11:04" (look11). Scores do not read it.
    ev = c.near_events
    has_end = pl.col("end").is_not_null() if "end" in ev.columns else pl.lit(False)
    before = pl.col("ts") <= c.onset
    return _out(
        ev.group_by("service").agg(
            value=pl.lit(1.0),
            strength=pl.lit(1.0),
            top=pl.col("title").sort_by([before, has_end, pl.col("ts")]).last(),
        )
    )


def _change_floor(window_seconds: float) -> float:
    import inspect

    return float(inspect.signature(ch.score_changes).parameters["threshold"].default)


@dataclass(frozen=True)
class Signal:
    """One kind of evidence (see the module docstring).

    ``floor(window_seconds)`` is the least chance can reach of its ``strength`` (the
    verdict never puts chance lower): one failing request per window for errors, the
    change detector's threshold for metric z-scores, 0 for the rest.
    """

    name: str
    weight: float
    role: str  # "local", "symptom" or "boost"
    label: str
    compute: Callable[[Context], pl.DataFrame]
    explain: Callable[[dict[str, Any]], str]
    #: the frames it is computed from (without rows in them it cannot say anything)
    reads: tuple[str, ...] = ("metrics",)
    floor: Callable[[float], float] = lambda _s: 0.0
    #: True when it is the service's own state whatever the services it calls do (a
    #: resource at capacity); False when it may be a callee's anomaly showing through
    #: (what a caller sees or logs), which only the call graph can rule out
    own: bool = False


#: every kind of evidence, in the order the ``why`` text lists them
SIGNALS: tuple[Signal, ...] = (
    Signal(
        "errors",
        0.9,
        "local",
        "failing requests starting there",
        _errors,
        lambda r: (
            f"errors start here{' (' + r['top'] + ')' if r['top'] else ''}: "
            f"{format_percent(r['value'])} of the failing traces in excess of the baseline's "
            f"error rate in {span_label(r['window'])}"
        ),
        reads=("spans",),
        floor=lambda s: 1.0 / max(s, 1.0),
    ),
    Signal(
        "latency",
        0.8,
        "local",
        "extra latency",
        _latency_signal,
        lambda r: f"slow requests spend extra time here ({r['top']})",
        reads=("spans",),
    ),
    Signal(
        "metrics",
        0.7,
        "symptom",
        "metric change",
        _metrics,
        # the strength is a robust z held over a run of points (see changes.py), not the
        # suspect's score: said in words ("held z = 5" read as jargon at 3 a.m.)
        lambda r: f"{r['top']} by {r['strength']:.0f}× the baseline's usual spread and held",
        floor=_change_floor,
    ),
    Signal(
        "totals",
        0.7,
        "symptom",
        "more of an additive total",
        _totals,
        lambda r: (
            f"{r['top']} above normal (+{format_percent(r['strength'])} of the system's normal)"
        ),
    ),
    Signal(
        "logs",
        0.6,
        "symptom",
        "log surge",
        _logs,
        lambda r: f"log surge: {r['top']}",
        reads=("logs",),
    ),
    Signal(
        "saturation",
        0.8,
        "local",
        "resource at capacity",
        _saturation,
        lambda r: f"{r['top']} near capacity",
        own=True,
    ),
    Signal(
        "patterns",
        0.8,
        "local",
        "code path cut short",
        _patterns,
        lambda r: f"code path cut short: {r['top']}",
        reads=("logs", "spans"),
    ),
    Signal(
        "events",
        0.5,
        "boost",
        "change event",
        _events,
        lambda r: f"change just before: {r['top']}",
        reads=("events",),
    ),
)


def signal(name: str) -> Signal:
    """The :class:`Signal` called ``name``."""
    for s in SIGNALS:
        if s.name == name:
            return s
    raise KeyError(name)
