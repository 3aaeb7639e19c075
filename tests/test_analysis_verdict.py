"""The verdict on a suspect ranking: clear for one real fault, none for a window like the
baseline, weak for two equal faults; the placebo windows and the rule on numbers."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from tests.diag_builders import metric_frame, span, spans_frame
from workbench import frames
from workbench.analysis.signals import SIGNALS
from workbench.analysis.suspects import rank_suspects
from workbench.analysis.verdict import (
    CLEAR_RATIO,
    CONFIDENCE,
    MIN_PLACEBOS,
    chance_bound,
    corroborated,
    data_step,
    independent,
    judge,
    placebo_windows,
    unseen_callees,
    victim_risk,
)
from workbench.timewindow import Window

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # diag_builders' frames start at 10:00
STEP = 30
SERVICES = ("checkout", "cart", "catalog", "payment", "search")


def _shop(
    shifted: dict[str, float],
    seed: int = 7,
    *,
    n_base: int = 240,
    n_win: int = 60,
    jitter_s: float = 0.0,
) -> dict:
    """Five services' latency, 2 h of baseline (``n_base`` steps of 30 s) then a 30 min
    window (``n_win``) in which each service of ``shifted`` is multiplied by its factor;
    the rest is the same noise throughout. ``jitter_s``: each service's scrapes land that
    much later than the previous service's (targets are scraped at different instants)."""
    rng = np.random.default_rng(seed)
    series = {}
    for svc in SERVICES:
        v = 0.2 + 0.01 * rng.standard_normal(n_base + n_win)
        v[n_base:] *= shifted.get(svc, 1.0)
        series[("http_latency_seconds", svc)] = v
    m = metric_frame(series, step_s=STEP)
    m = m.with_columns(pl.col("ts") - (m["ts"].min() - T0))
    if jitter_s:
        offset = pl.col("service").replace_strict(
            {svc: i * jitter_s * 1e6 for i, svc in enumerate(SERVICES)}, return_dtype=pl.Float64
        )
        m = m.with_columns(pl.col("ts") + pl.duration(microseconds=offset.cast(pl.Int64)))
    base = Window(T0, T0 + timedelta(seconds=STEP * n_base))
    win = Window(base.end, base.end + timedelta(seconds=STEP * n_win))
    return {"metrics": m, "window": win, "baseline": base}


#: who calls whom (as a user could pass from a service catalogue): every shifted service's
#: callees are known, so its anomaly can be told from theirs
CALLS = pl.DataFrame({"caller": ["checkout", "cart"], "callee": ["payment", "catalog"]})


#: a 10 min window after 8 h of baseline: 19 placebo windows that do not overlap fit in
#: the baseline's newest half, enough for one kind of evidence to decide alone
LONG = {"n_base": 960, "n_win": 20}


def test_one_clear_fault_is_clear():
    sus = rank_suspects(_shop({"checkout": 3.0}, **LONG), edges=CALLS)
    v = sus.verdict
    assert sus.ranking[0] == "checkout"
    assert v.level == "clear", v.reason
    assert v.top == "checkout" and v.kind == "metrics" and not v.tied
    # placebos spread over the baseline's newest half, as many separate ones as "clear"
    # needs on one witness
    assert v.placebos == MIN_PLACEBOS == 19 and v.ratio is not None and v.ratio >= 2.0
    assert v.bound == pytest.approx(1 - CONFIDENCE)
    assert "checkout stands out" in v.reason
    # shown where a notebook user looks
    assert "stands out" in sus._repr_html_() and "clear" in repr(sus)


def test_window_like_the_baseline_is_none():
    sus = rank_suspects(_shop({}))
    v = sus.verdict
    assert v.level == "none", v.reason
    assert "no service" in v.reason


def test_two_equal_faults_are_a_tie():
    sus = rank_suspects(_shop({"checkout": 3.0, "cart": 3.0}))
    v = sus.verdict
    assert {v.top, v.second} == {"checkout", "cart"}
    assert v.tied and v.level == "weak", v.reason
    assert "tied" in v.reason


def test_verdict_is_computed_once_and_needs_the_inputs():
    sus = rank_suspects(_shop({"checkout": 3.0}), edges=CALLS)
    assert sus.verdict is sus.verdict
    sus.inputs = None
    sus._verdict = None
    # without its inputs no placebo can run: the lead alone is at most weak
    v = sus.verdict
    assert v.level == "weak" and v.ratio is None and "no placebo" in v.reason


def test_judge_rule_on_numbers():
    assert judge(0.9, 0.2, ratio=5.0).level == "clear"
    assert judge(0.9, 0.2, ratio=math.inf).level == "clear"
    assert judge(0.9, 0.2, ratio=1.5).level == "weak"
    assert judge(0.9, 0.2, ratio=1.0).level == "none"
    assert judge(0.9, 0.8, ratio=5.0).level == "weak"  # tie
    assert judge(0.9, 0.8, ratio=0.5).level == "none"  # a tie below chance is still none
    assert judge(0.01, 0.0, ratio=None).level == "none"
    assert judge(0.9, 0.2, ratio=None).level == "weak"
    assert judge(0.0, 0.0, ratio=None, top=None, second=None).level == "none"


def test_clear_needs_chance_from_enough_baseline_windows():
    """A fault-free window beats the most of k placebos with probability 1/(k+1): with
    fewer than 19 the same lead is only weak, however large its ratio."""
    assert MIN_PLACEBOS == 19  # 0.95 / (1 - 0.95)
    assert judge(0.9, 0.2, ratio=5.0, compared=19).level == "clear"
    few = judge(0.9, 0.2, ratio=5.0, compared=4)
    assert few.level == "weak" and "only 4 baseline windows" in few.reason
    assert judge(0.9, 0.2, ratio=math.inf, compared=18).level == "weak"
    # below chance stays none and a tie stays a tie, whatever the count
    assert judge(0.9, 0.2, ratio=0.9, compared=4).level == "none"
    assert "tied" in judge(0.9, 0.8, ratio=5.0, compared=19).reason


def test_a_short_baseline_of_long_steps_gives_no_clear():
    """PetShop's shape: the window is one 5-min step and the baseline holds a few steps.
    The same strong shift that is clear with a baseline of many steps is only weak: chance
    cannot be estimated from four windows."""
    rng = np.random.default_rng(3)
    n_base, n_win = 16, 1
    series = {}
    for svc in SERVICES:
        v = 0.2 + 0.01 * rng.standard_normal(n_base + n_win)
        if svc == "checkout":
            v[n_base:] *= 3.0
        series[("http_latency_seconds", svc)] = v
    m = metric_frame(series, step_s=300)
    m = m.with_columns(pl.col("ts") - (m["ts"].min() - T0))
    base = Window(T0, T0 + timedelta(seconds=300 * n_base))
    win = Window(base.end, base.end + timedelta(seconds=300 * n_win))
    assert data_step(m) == timedelta(minutes=5)
    v = rank_suspects({"metrics": m, "window": win, "baseline": base}, edges=CALLS).verdict
    assert v.top == "checkout" and v.ratio is not None and v.ratio >= CLEAR_RATIO
    assert v.level == "weak" and v.placebos < MIN_PLACEBOS, v.reason
    assert "baseline windows" in v.reason


def test_placebos_slide_by_the_data_step():
    base = Window(T0, T0 + timedelta(hours=2))
    win = Window(base.end, base.end + timedelta(minutes=10))
    got = placebo_windows(win, base, step=timedelta(minutes=1), max_placebos=100)
    ends = [p["window"].end for p in got]
    assert ends[0] == base.end and ends[1] == base.end - timedelta(minutes=1)
    assert all(p["window"].duration == timedelta(minutes=10) for p in got)
    # every position whose baseline keeps half of the whole: ends from 2 h back to 1 h 10
    assert len(got) == 51
    assert all(p["baseline"].duration >= base.duration / 2 for p in got)
    # one baseline for all (its statistics computed once): the part before the oldest
    oldest = min(p["window"].start for p in got)
    assert {(p["baseline"].start, p["baseline"].end) for p in got} == {(base.start, oldest)}
    # without a step they do not overlap (as before)
    got = placebo_windows(win, base, max_placebos=100)
    assert got[1]["window"].end == got[0]["window"].start


def test_placebo_windows_come_from_the_baseline_and_keep_half_of_it():
    base = Window(T0, T0 + timedelta(hours=2))
    win = Window(base.end, base.end + timedelta(hours=1))
    lead = Window(base.end - timedelta(minutes=10), base.end)
    got = placebo_windows(win, base, metric_baseline=Window(T0, base.end))
    assert [p["window"].duration for p in got] == [timedelta(minutes=30)] * 2
    assert got[0]["window"].end == base.end and got[1]["window"].end == got[0]["window"].start
    assert all(p["lead_in"] is None and p["metric_baseline"] == p["baseline"] for p in got)
    # a lead-in (as long as the incident's) sits between each placebo and its baseline;
    # with it only one placebo leaves half of the baseline as baseline
    got = placebo_windows(win, base, lead_in=lead)
    assert len(got) == 1
    for p in got:
        pw, pb, pl_ = p["window"], p["baseline"], p["lead_in"]
        assert base.start <= pb.start and pw.end <= base.end  # inside the baseline
        assert pb.end == pl_.start and pl_.end == pw.start  # baseline, lead-in, window
        assert pl_.duration == lead.duration
        assert pb.duration >= base.duration / 2
    # a baseline too short for a window's worth plus half of itself gives none
    assert placebo_windows(win, Window(T0, T0 + timedelta(seconds=1)), max_placebos=0) == []


@pytest.mark.parametrize("n", [1, 3])
def test_placebo_count_is_capped(n):
    base = Window(T0, T0 + timedelta(days=2))
    win = Window(base.end, base.end + timedelta(minutes=5))
    assert len(placebo_windows(win, base, max_placebos=n)) == n


def test_a_placebo_without_the_data_behind_the_evidence_makes_no_claim():
    """Logs only in the window (none in the baseline): a log surge cannot be compared with
    chance, so the verdict is at most weak, whatever the lead."""
    from tests.diag_builders import log_rows

    shop = _shop({})
    win = shop["window"]
    times = [win.start + timedelta(seconds=i) for i in range(0, 600, 2)]
    logs = pl.DataFrame(
        log_rows("payment", "timeout calling bank {i}", times, level="error"),
        schema=frames.SCHEMAS["logs"],
    )
    sus = rank_suspects({**shop, "logs": logs})
    assert sus.ranking[0] == "payment" and sus.table.row(0, named=True)["logs"] > 0
    v = sus.verdict
    assert v.level == "weak" and v.ratio is None, v.reason
    assert "none of the data" in v.reason


def test_every_signal_of_the_table_reaches_the_ranking_and_the_verdict(monkeypatch):
    """Signals are data: one more row in SIGNALS is one more column, weighed by the
    ranking and compared with chance by the verdict."""
    from workbench.analysis import signals as sg
    from workbench.analysis import suspects as sx
    from workbench.analysis import verdict as vd

    def loud(c: sg.Context) -> pl.DataFrame:
        return pl.DataFrame(
            {"service": ["search"], "value": [1.0], "strength": [5.0], "top": ["bell"]},
            schema=sg.SIGNAL_SCHEMA,
        )

    extra = sg.Signal("bell", 0.9, "local", "bell rang", loud, lambda r: f"{r['top']} rang")
    table = (*sg.SIGNALS, extra)
    monkeypatch.setattr(sg, "SIGNALS", table)
    monkeypatch.setattr(sx, "SIGNALS", table)
    monkeypatch.setattr(sx, "SIGNAL_COLUMNS", tuple(s.name for s in table))
    monkeypatch.setattr(vd, "SIGNALS", table)
    monkeypatch.setattr(vd, "_KINDS", (*vd._KINDS, "bell"))
    sus = rank_suspects(_shop({}))
    row = sus.table.row(0, named=True)
    assert row["service"] == "search" and row["bell"] == 1.0 and "bell rang" in row["why"]
    assert sus.signals.filter(pl.col("signal") == "bell")["strength"].to_list() == [5.0]
    v = sus.verdict
    # the bell rings in every placebo window too: chance reaches it, so nothing stands out
    assert v.evidence == {"bell": 5.0} and v.chance["bell"] == 5.0 and v.level == "none"


def test_more_positions_than_placebos_are_spread_over_the_baseline():
    """Chance is sampled across the whole usable baseline, not only its newest part."""
    base = Window(T0, T0 + timedelta(days=2))
    win = Window(base.end, base.end + timedelta(minutes=5))
    got = placebo_windows(win, base, step=timedelta(minutes=5), max_placebos=MIN_PLACEBOS)
    ends = [p["window"].end for p in got]
    assert len(ends) == MIN_PLACEBOS and ends[0] == base.end
    assert ends == sorted(ends, reverse=True) and len(set(ends)) == len(ends)
    # the oldest reaches back to where half of the baseline must stay baseline
    assert ends[-1] - timedelta(minutes=5) - base.start == timedelta(days=1)
    gaps = {a - b for a, b in itertools.pairwise(ends)}
    assert max(gaps) - min(gaps) <= timedelta(minutes=5)  # evenly, to a step


def _traced(
    services: tuple[str, ...],
    window: Window,
    baseline: Window,
    slow: dict[str, float] | None = None,
) -> pl.DataFrame:
    """One steady, healthy request a minute per service of ``services`` (its own server
    span), over baseline and window: traces that show no anomaly of their own, unless
    ``slow`` makes a service's requests in the window that many times slower (what its
    shifted latency metric shows in its traces too)."""
    rows = []
    t, i = baseline.start, 0
    while t < window.end:
        for svc in services:
            ms = 20 * ((slow or {}).get(svc, 1.0) if t >= window.start else 1.0)
            rows.append(span(f"t{i}-{svc}", f"s{i}-{svc}", None, svc, "GET /", 0, ms, t0=t))
        t, i = t + timedelta(minutes=1), i + 1
    return spans_frame(rows)


def test_a_top_whose_callees_are_unknown_is_not_clear():
    """A real anomaly on a caller of the root beats chance too; the ranking tells a cause
    from its symptoms only through the call graph. With no traces at all (metrics only,
    PetShop's shape), or none of the top's own (the lab's untraced services), what it
    calls is unknown: the same strong shift is weak, and the reason says why."""
    shop = _shop({"checkout": 3.0}, **LONG)
    # no traces, no edges: what checkout calls is unknown
    v = rank_suspects(shop).verdict
    assert v.top == "checkout" and v.ratio is not None and v.ratio >= CLEAR_RATIO
    assert v.level == "weak", v.reason
    assert "symptom of a service it calls" in v.reason and "no traces" in v.reason
    # traces of the other services only: checkout has none of its own
    others = _traced(("cart", "catalog", "payment"), shop["window"], shop["baseline"])
    v = rank_suspects({**shop, "spans": others}).verdict
    assert v.top == "checkout" and v.level == "weak", v.reason
    assert "checkout has no traces of its own" in v.reason
    # its own spans (a traced service calling nobody: a leaf) make its callees known
    mine = _traced(("checkout", "cart"), shop["window"], shop["baseline"], slow={"checkout": 3.0})
    v = rank_suspects({**shop, "spans": mine}).verdict
    assert v.top == "checkout" and v.level == "clear", v.reason
    # so do edges naming it a caller (the ranking then discounts by its callees)
    assert rank_suspects(shop, edges=CALLS).verdict.level == "clear"


def test_unseen_callees_on_frames():
    empty = frames.empty("spans")
    assert "there are no traces" in (unseen_callees("checkout", spans=empty) or "")
    w = Window(T0, T0 + timedelta(minutes=10))
    spans = _traced(("cart",), w, Window(T0 - timedelta(minutes=10), T0))
    assert "checkout has no traces of its own" in (unseen_callees("checkout", spans=spans) or "")
    assert unseen_callees("cart", spans=spans) is None
    assert unseen_callees("checkout", spans=spans, edges=CALLS) is None
    # an edge naming it only as a callee says nothing about what it calls
    assert unseen_callees("payment", spans=empty, edges=CALLS) is not None


def test_the_services_own_state_is_clear_without_known_callees():
    """A resource at capacity is the service's own state whatever its callees do (a
    signal with ``own``): a clear may rest on it even when the callees are unknown."""
    assert [sg.name for sg in SIGNALS if sg.own] == ["saturation"]
    rng = np.random.default_rng(5)
    n_base, n_win = 240, 60
    series = {}
    for svc in SERVICES:
        v = 0.30 + 0.01 * rng.standard_normal(n_base + n_win)
        if svc == "checkout":
            v[n_base:] = 0.97 + 0.005 * rng.standard_normal(n_win)
        series[("container_cpu_utilization", svc)] = v
    m = metric_frame(series, step_s=STEP)
    m = m.with_columns(pl.col("ts") - (m["ts"].min() - T0))
    base = Window(T0, T0 + timedelta(seconds=STEP * n_base))
    win = Window(base.end, base.end + timedelta(seconds=STEP * n_win))
    v = rank_suspects({"metrics": m, "window": win, "baseline": base}).verdict
    assert v.top == "checkout" and v.kind == "saturation"
    assert v.level == "clear", v.reason
    # the rule on numbers: a reason to suspect a symptom caps an otherwise clear lead
    capped = judge(0.9, 0.2, ratio=5.0, compared=19, symptom_risk="x has no traces")
    assert capped.level == "weak" and "x has no traces" in capped.reason


def test_a_service_whose_callees_are_unknown_is_discounted_by_the_strongest_elsewhere():
    """The ranking's side of the same principle: a service without spans of its own among
    traced services may call any of them, so its symptoms are discounted by the strongest
    anomaly elsewhere (as a caller's are by its callees'). A traced service's own real
    change then outranks the untraced one's larger change; with no traces at all, or an
    edge naming it a caller, nothing changes."""
    shop = _shop({"checkout": 3.0, "cart": 2.0})
    plain = rank_suspects(shop)
    assert plain.ranking[:2] == ["checkout", "cart"]
    traced = _traced(("cart", "catalog", "payment"), shop["window"], shop["baseline"])
    sus = rank_suspects({**shop, "spans": traced})
    assert sus.ranking[0] == "cart", sus.table.head(3)
    row = sus.table.filter(pl.col("service") == "checkout").row(0, named=True)
    assert row["victim_of"] == "cart" and "may be a victim of cart" in row["why"]
    # checkout's callees known through an edge: its change is its own again
    known = pl.DataFrame({"caller": ["checkout"], "callee": ["payment"]})
    assert rank_suspects({**shop, "spans": traced}, edges=known).ranking[0] == "checkout"


def _deploy(service: str, at: datetime) -> pl.DataFrame:
    """One deploy of ``service`` at ``at`` (a change event the ranking boosts)."""
    return pl.DataFrame(
        {
            "ts": [at],
            "end": [None],
            "kind": ["deploy"],
            "service": [service],
            "title": [f"deploy {service} v2"],
            "source": ["argocd"],
            "attributes": [[]],
        },
        schema=frames.SCHEMAS["events"],
    )


def test_a_possible_victim_standing_out_only_on_symptoms_is_not_clear():
    """The lab's wrong clears (demo-shop-s302, bad-deploy-canary-shop-s302,
    packet-loss-gen20-s203): the top stands out only on symptoms (a log surge, a metric
    change) while the ranking itself marks it "may be a victim of" a service it calls,
    the true root; a deploy (or an error rate no higher than chance) keeps it on top.
    Symptoms the ranking puts down to a callee are no proof against the caller: weak,
    naming that callee. With the callee quiet the same lead is clear, and so is a
    possible victim with errors of its own far beyond chance."""
    calls = pl.DataFrame({"caller": ["checkout"], "callee": ["payment"]})
    shop = _shop({"checkout": 3.0, "payment": 3.5}, **LONG)
    traced = _traced(("checkout", "cart", "catalog", "search"), shop["window"], shop["baseline"])
    deploy = _deploy("checkout", shop["window"].start - timedelta(minutes=2))
    sus = rank_suspects({**shop, "spans": traced, "events": deploy}, edges=calls)
    v = sus.verdict
    assert v.top == "checkout" and v.kind == "metrics" and v.ratio >= CLEAR_RATIO, v.reason
    assert sus.table.row(0, named=True)["victim_of"] == "payment"
    assert v.level == "weak", v.reason
    assert "checkout may be a victim of payment" in v.reason
    # payment quiet: nothing below checkout accounts for its change, which is clear
    # (its traces slow down with its latency metric: a second kind of evidence)
    quiet = _shop({"checkout": 3.0}, **LONG)
    slowed = _traced(
        ("checkout", "cart", "catalog", "search"),
        quiet["window"],
        quiet["baseline"],
        slow={"checkout": 3.0},
    )
    v = rank_suspects({**quiet, "spans": slowed, "events": deploy}, edges=calls).verdict
    assert v.top == "checkout" and v.level == "clear", v.reason


def test_victim_risk_on_numbers():
    """Only a top the ranking marks a possible victim, and only when nothing of its own
    (errors, latency, saturation, broken code paths) stands out at CLEAR_RATIO."""
    assert victim_risk("checkout", None, {"logs": 9.0}) is None
    why = victim_risk("checkout", "payment", {"logs": 9.0, "metrics": 3.0})
    assert why is not None and "checkout may be a victim of payment" in why
    # evidence of its own far beyond chance: the victim mark is about symptoms only
    assert victim_risk("checkout", "payment", {"logs": 9.0, "errors": CLEAR_RATIO}) is None
    assert victim_risk("checkout", "payment", {"metrics": 3.0, "latency": math.inf}) is None
    assert victim_risk("checkout", "payment", {"metrics": 3.0, "saturation": 4.0}) is None
    # ... but own evidence below CLEAR_RATIO does not count
    assert victim_risk("checkout", "payment", {"logs": 9.0, "errors": 0.9}) is not None
    # the rule on numbers: the risk caps an otherwise clear lead
    capped = judge(0.9, 0.2, ratio=5.0, compared=19, symptom_risk=why)
    assert capped.level == "weak" and "may be a victim of payment" in capped.reason


def test_one_kind_of_evidence_alone_is_not_clear_where_the_service_has_more_telemetry():
    """With few separate placebo windows (the 2 h baseline's newest half holds two windows
    of 30 min), chance's level rests on two draws per kind: a latency metric tripled (12x
    chance) is not clear alone (a fault-free window could reach 12x its mean up to 1/12 of
    the time), but is with its traces slowing down too (a second witness)."""
    shop = _shop({"checkout": 3.0})
    w, b = shop["window"], shop["baseline"]
    v = rank_suspects(shop, edges=CALLS).verdict
    assert v.kind == "metrics" and v.ratio >= CLEAR_RATIO and v.level == "weak", v.reason
    assert v.bound == pytest.approx(1 / v.ratio) and v.bound > 1 - CONFIDENCE
    assert "could look like this up to" in v.reason
    slowed = _traced(("checkout", "cart"), w, b, slow={"checkout": 3.0})
    v = rank_suspects({**shop, "spans": slowed}).verdict
    assert v.top == "checkout" and v.level == "clear", v.reason
    assert v.bound is not None and v.bound <= 1 - CONFIDENCE
    # however sure the bound, one witness alone is not clear where the service has other
    # telemetry that says nothing (a deploy that changed its metrics and nothing else)
    long = _shop({"checkout": 3.0}, **LONG)
    flat = _traced(("checkout", "cart"), long["window"], long["baseline"])
    v = rank_suspects({**long, "spans": flat}).verdict
    assert v.kind == "metrics" and v.bound is not None and v.bound <= 1 - CONFIDENCE
    assert v.level == "weak" and "only one witness says so" in v.reason, v.reason
    assert judge(0.9, 0.2, ratio=39.0, bound=1 / 39, corroborated=False).level == "weak"
    # the rule on numbers (corroborated: two witnesses from different telemetry)
    assert corroborated({"metrics": 2.7}) is False
    assert corroborated({"metrics": 2.7, "logs": 1.0}) is False  # at chance: no witness
    assert corroborated({"logs": 3.4, "errors": 1.5}) is True
    # two kinds from the same telemetry are one witness
    assert corroborated({"totals": math.inf, "metrics": 1.5}) is False
    assert corroborated({"totals": math.inf, "metrics": 1.5, "latency": 1.2}) is True
    assert judge(0.9, 0.2, ratio=5.0, compared=19, corroborated=False).level == "weak"


def test_data_step_is_each_series_own():
    """Targets are scraped at different instants: on the lab the timestamps of all series
    together are under a second apart while each series is sampled every 30 s. The step
    placebos slide by is each series' own."""
    shop = _shop({}, n_base=60, n_win=60, jitter_s=0.7)
    assert data_step(shop["metrics"]) == timedelta(seconds=STEP)
    assert data_step(_shop({})["metrics"]) == timedelta(seconds=STEP)
    one = metric_frame({("cpu", "a"): np.arange(3.0)}, step_s=300).drop("labels")
    assert data_step(one) == timedelta(minutes=5)
    assert data_step(one.head(1)) is None


def test_data_step_reads_all_rows_when_the_first_hold_no_series_of_two():
    """The step is read from the first rows (fast); when those are all single points of
    different series (a frame sorted by time over many series), from every row."""
    from workbench.analysis.verdict import _STEP_ROWS

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    n = _STEP_ROWS + 10
    singles = pl.DataFrame(
        {
            "ts": [t0] * n,
            "metric": ["up"] * n,
            "service": [f"s{i}" for i in range(n)],
            "value": [1.0] * n,
        }
    )
    paired = singles.with_columns(pl.col("ts") + timedelta(seconds=15))
    assert data_step(pl.concat([singles, paired])) == timedelta(seconds=15)


def test_overlapping_placebos_are_one_draw():
    """Placebo windows that slide by the data's step overlap: chance's level from 16 of
    them over a stretch two windows long rests on two separate draws."""
    base = Window(T0, T0 + timedelta(minutes=30))
    win = Window(base.end, base.end + timedelta(minutes=30))
    got = placebo_windows(win, base, step=timedelta(seconds=30))
    assert len(got) == 16 and got[0]["window"].duration == timedelta(minutes=7, seconds=30)
    assert independent([p["window"] for p in got]) == 2
    assert independent([p["window"] for p in got[:4]]) == 1
    assert independent([]) == 0
    # without a step they do not overlap: each is a draw
    apart = placebo_windows(win, Window(T0 - timedelta(hours=24), base.end))
    assert independent([p["window"] for p in apart]) == len(apart) == MIN_PLACEBOS


def test_chance_bound_multiplies_separate_witnesses():
    """Each witness above chance counts the smaller of 1/(n+1) (n separate placebo windows
    behind its chance level) and 1/ratio (Markov: values are never negative and chance's
    level is at least their mean); witnesses from different telemetry multiply, kinds from
    the same telemetry are one witness, and any group of separate witnesses bounds it."""
    two = dict.fromkeys(("errors", "latency", "metrics", "totals", "logs", "patterns"), 2)
    # the lab's fault-free clears (seeds 401-403, 501-503): a log surge or a cut code path
    # no placebo reached (chance 0: only 1/3), and a metric change 1.0-4.6x chance
    for surge in ("logs", "patterns"):
        for change in (1.0, 1.9, 3.2, 4.6):
            got = chance_bound({surge: math.inf, "metrics": change}, two, surge)
            assert got > 1 - CONFIDENCE, (surge, change)
    assert chance_bound({"logs": math.inf, "metrics": 4.6}, two, "logs") == pytest.approx(
        1 / 3 / 4.6
    )
    # a fault: errors 17x chance in the traces and a log surge 2.8x chance (lab demo-shop)
    assert chance_bound({"errors": 17.2, "logs": 2.8}, two, "errors") == pytest.approx(1 / 17.2 / 3)
    assert chance_bound({"errors": 11.0, "logs": 3.5, "metrics": 2.6}, two, "errors") == (
        pytest.approx(1 / 11 / 3.5 / 3)
    )
    # same telemetry: one witness; at or below chance: none
    assert chance_bound({"errors": 11.0, "latency": 5.0}, two, "errors") == pytest.approx(1 / 11)
    assert chance_bound({"errors": 11.0, "logs": 1.0}, two, "errors") == pytest.approx(1 / 11)
    # patterns read logs and spans: it cannot witness beside either, alone it is 1/9; but
    # a log surge and failing requests are two witnesses, whichever kind decides (lab
    # http-errors-shop-s102 with a 4 h baseline: a cut code path deciding, failing requests
    # 48.7x and a log surge 1.8x chance beside it)
    assert chance_bound({"patterns": 9.0}, two, "patterns") == pytest.approx(1 / 9)
    assert chance_bound({"patterns": 9.0, "logs": 9.0, "errors": 9.0}, two, "patterns") == (
        pytest.approx(1 / 9 / 9)
    )
    assert chance_bound({"patterns": 9.0, "logs": 9.0}, two, "patterns") == pytest.approx(1 / 9)
    # one witness on 19 separate windows is enough; the deciding kind must be above chance
    assert chance_bound({"metrics": 3.0}, {"metrics": 19}, "metrics") == pytest.approx(0.05)
    assert chance_bound({"metrics": math.inf}, {"metrics": 2}, "metrics") == pytest.approx(1 / 3)
    assert chance_bound({"metrics": 0.9, "logs": 5.0}, two, "metrics") == 1.0
    assert judge(0.9, 0.2, ratio=5.0, bound=1 / 27).level == "clear"
    few = judge(0.9, 0.2, ratio=5.0, bound=1 / 9)
    assert few.level == "weak" and "up to 11.1% of the time" in few.reason


def test_a_fault_free_window_of_the_labs_shape_is_not_clear():
    """The lab's shape: a baseline as long as the window, scrapes of the five services
    0.7 s apart. Read from all timestamps together, the step was the jitter: 19 placebos
    a few seconds apart, and a metric change 12x chance was "clear" alone. With each
    series' own step there are 16, two of them separate: one witness at 12x chance is
    reached by a fault-free window up to 1/12 of the time."""
    shop = _shop({"checkout": 3.0}, n_base=60, n_win=60, jitter_s=0.7)
    v = rank_suspects(shop, edges=CALLS).verdict
    assert v.top == "checkout" and v.kind == "metrics" and v.ratio >= CLEAR_RATIO, v.reason
    assert v.placebos <= 16 and v.level == "weak", v.reason
    assert v.bound is not None and v.bound > 1 - CONFIDENCE
    # the reason says how many separate windows chance stood on, and what would settle it
    assert v.separate == 2
    assert "only 2 separate baseline windows" in v.reason
    assert v.as_dict()["separate"] == 2
    # and how long a baseline would give enough: one witness alone needs 19 separate
    # windows, the newest half of a baseline 38 windows long (30 min each: 19 h)
    assert v.settle_baseline == 38 * (shop["window"].end - shop["window"].start)
    assert "a baseline of 19 h just before the window would give 19 separate windows" in (v.reason)
    assert v.as_dict()["settle_baseline_s"] == 19 * 3600


def test_a_weak_verdict_names_the_baseline_that_would_settle_it_and_that_baseline_does():
    """Two witnesses from different telemetry (a latency metric 1.5x, its traces slower)
    on a baseline as long as the window: chance rests on 2 separate windows, so "weak",
    and the reason names the baseline that gives enough of them if the evidence holds.
    Given that baseline, the same fault is "clear"."""
    shop = _shop({"checkout": 1.5}, n_base=60, n_win=60)
    slowed = _traced(("checkout", "cart"), shop["window"], shop["baseline"], slow={"checkout": 1.5})
    v = rank_suspects({**shop, "spans": slowed}).verdict
    assert v.top == "checkout" and v.level == "weak" and v.separate == 2, v.reason
    assert v.settle_baseline == timedelta(hours=4)
    assert "a baseline of 4 h just before the window would give 4 separate windows" in v.reason
    longer = _shop(
        {"checkout": 1.5}, n_base=int(v.settle_baseline.total_seconds()) // STEP, n_win=60
    )
    slowed = _traced(
        ("checkout", "cart"), longer["window"], longer["baseline"], slow={"checkout": 1.5}
    )
    settled = rank_suspects({**longer, "spans": slowed}).verdict
    assert settled.top == "checkout" and settled.level == "clear", settled.reason
    assert settled.separate == 4 and settled.settle_baseline is None
    # where one witness stands alone beside other telemetry that says nothing, no baseline
    # settles it (one witness is never enough there: corroborated())
    alone = _traced(("checkout", "cart"), shop["window"], shop["baseline"], slow={"checkout": 1.5})
    quiet = _shop({"checkout": 1.0}, n_base=60, n_win=60)
    v = rank_suspects({**quiet, "spans": alone}).verdict
    assert v.level == "weak" and v.bound is not None and v.bound > 1 - CONFIDENCE, v.reason
    assert v.settle_baseline is None
    assert "a longer baseline alone would not settle it: one witness is not enough" in v.reason
