"""The verdict's placebo windows share one baseline: the baseline half of the log-surge
and error signals is counted once per investigation (memoised). Hand-made frames: the
split computation equals a single pass over the same rows, a cached half equals the half
recomputed, and a cached half is not reused for another window, baseline or frame."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from tests.diag_builders import (
    BASELINE,
    T0,
    WINDOW,
    every,
    log_rows,
    logs_frame,
    metric_frame,
    span,
    spans_frame,
)
from workbench.analysis import signals as sg
from workbench.analysis import templates as tp
from workbench.analysis._util import memo_active, memo_scope
from workbench.analysis.attribution import NOISE_Z, caller_side_edges
from workbench.analysis.stats import covered_seconds, poisson_z
from workbench.analysis.suspects import blame_services, rank_suspects, signal_context
from workbench.analysis.verdict import assess, placebo_windows
from workbench.timewindow import Window


def _one_pass_surges(
    mined: pl.DataFrame,
    window: Window,
    baseline: Window,
    *,
    min_z: float = 3.0,
    min_ratio: float = 2.0,
    prior: float = 0.5,
) -> pl.DataFrame:
    """``template_surges`` as it was before the split: one group-by over the rows in
    the window or the baseline (the reference the split must equal)."""
    keys = ["service", "template_id"]
    in_w = (pl.col("ts") >= window.start) & (pl.col("ts") < window.end)
    in_b = (pl.col("ts") >= baseline.start) & (pl.col("ts") < baseline.end)
    ti = covered_seconds(mined["ts"], window)
    tb = covered_seconds(mined["ts"], baseline)
    aggs = [
        pl.col("template").first(),
        in_b.sum().cast(pl.Int64).alias("n_baseline"),
        in_w.sum().cast(pl.Int64).alias("n_incident"),
        pl.col("message").filter(in_w).first().alias("example"),
        pl.col("level").filter(in_w).mode().first().alias("level"),
        pl.col("ts").filter(in_w).min().alias("first_in_window"),
    ]
    out = mined.filter(in_w | in_b).group_by(keys).agg(aggs)
    expected = (pl.col("n_baseline") + prior) * (ti / max(tb, 1e-9))
    out = (
        out.with_columns(
            ratio=((pl.col("n_incident") + prior) / ti) / ((pl.col("n_baseline") + prior) / tb),
            z=poisson_z(pl.col("n_incident"), expected),
        )
        .with_columns(surge=(pl.col("z") >= min_z) & (pl.col("ratio") >= min_ratio))
        .with_columns(new=pl.col("surge") & (pl.col("n_baseline") == 0))
    )
    return out.sort(["z", *keys], descending=[True] + [False] * len(keys))


def _mined() -> pl.DataFrame:
    """Logs over the baseline and the window: a steady template, one that surges in the
    window, two new in the window (one with two levels), one only in the baseline, and
    lines without a service. (No level ties within a template: the reference's ``mode``
    orders tied values differently from run to run; the product breaks ties by severity,
    pinned in test_analysis_templates.)"""
    both = every(BASELINE, 40) + every(WINDOW, 40)
    slow = every(WINDOW, 24)
    rows = (
        log_rows("api", "request {i} served", both)
        + log_rows("api", "retrying call {i}", every(BASELINE, 4) + every(WINDOW, 60), "warn")
        + log_rows("db", "FATAL: pool {i} exhausted", every(WINDOW, 30), "error")
        + log_rows("disk", "disk {i} slow", [t for i, t in enumerate(slow) if i % 3], "warn")
        + log_rows("disk", "disk {i} slow", slow[2::3], "info")
        + log_rows("cache", "evicted key {i}", every(BASELINE, 25))
        + [
            {**r, "service": None}
            for r in log_rows("x", "orphan line {i}", every(BASELINE, 5) + every(WINDOW, 12))
        ]
    )
    mined = tp.mine_templates(logs_frame(rows).sort("ts"))
    # a template text that differs between rows of one template id (a frame a user
    # mined differently): the first row's, of either half, is the one kept
    first_window_row = mined["ts"] >= WINDOW.start
    return mined.with_columns(
        template=pl.when(pl.Series(first_window_row))
        .then(pl.col("template") + " (late)")
        .otherwise(pl.col("template"))
    )


WINDOWS = [
    ("incident", WINDOW, BASELINE),
    ("overlapping", Window(T0 + timedelta(minutes=50), T0 + timedelta(minutes=90)), BASELINE),
    ("baseline after the window", BASELINE, WINDOW),
    ("empty window", Window(T0 - timedelta(hours=3), T0 - timedelta(hours=2)), BASELINE),
    ("empty baseline", WINDOW, Window(T0 - timedelta(hours=3), T0 - timedelta(hours=2))),
]


@pytest.mark.parametrize(("name", "window", "baseline"), WINDOWS, ids=[w[0] for w in WINDOWS])
def test_surges_counted_apart_equal_one_pass(name: str, window: Window, baseline: Window) -> None:
    mined = _mined()
    # ``rose_at`` (when a surge rose) came after the split: pinned in test_analysis_templates
    got = tp.template_surges(mined, window, baseline).drop("rose_at")
    want = _one_pass_surges(mined, window, baseline)
    assert got.schema == want.schema
    assert got.equals(want, null_equal=True), name
    if name == "incident":  # the cases the frame was built for are there
        assert sorted(got.filter(pl.col("new"))["service"].to_list()) == ["db", "disk"]
        assert got.filter(pl.col("service").is_null()).height == 1  # one null-service group
        assert got["template"].str.ends_with("(late)").any()
        assert not got.filter(pl.col("service") == "api")["template"].str.ends_with("(late)").any()


def test_surges_baseline_half_cached_per_baseline_and_frame() -> None:
    mined = _mined()
    places = placebo_windows(WINDOW, BASELINE, step=timedelta(minutes=1))
    assert len(places) > 3
    memo: dict = {}

    def cached_halves() -> int:
        return sum(1 for k in memo if k[1] == "_baseline_counts")

    with memo_scope(memo):
        for p in places:  # one baseline for all placebos: its half is counted once
            w, b = p["window"], p["baseline"]
            assert w is not None and b is not None
            got = tp.template_surges(mined, w, b).drop("rose_at")
            assert got.equals(_one_pass_surges(mined, w, b), null_equal=True)
        assert cached_halves() == 1
        # another baseline: counted anew, not the cached half
        other = Window(BASELINE.start + timedelta(minutes=10), BASELINE.end)
        got = tp.template_surges(mined, WINDOW, other).drop("rose_at")
        assert got.equals(_one_pass_surges(mined, WINDOW, other), null_equal=True)
        assert cached_halves() == 2
        # a different frame (fewer baseline lines) with the same windows: no stale half
        fewer = mined.filter(
            ~((pl.col("service") == "api") & (pl.col("ts") < T0 + timedelta(minutes=20)))
        )
        got = tp.template_surges(fewer, WINDOW, BASELINE).drop("rose_at")
        assert got.equals(_one_pass_surges(fewer, WINDOW, BASELINE), null_equal=True)
        assert cached_halves() == 3
        assert not got.equals(tp.template_surges(mined, WINDOW, BASELINE).drop("rose_at"))
        assert cached_halves() == 4


def _error_spans(failing_callers: set[str]) -> pl.DataFrame:
    """cart, auth and catalog call redis every 20 s over the baseline and the window; a
    few baseline calls fail everywhere; in the last 20 minutes of the window the calls
    of ``failing_callers`` fail (redis' own span stays ok)."""
    rows: list[dict] = []
    for k, w in enumerate((BASELINE, WINDOW)):
        for caller in ("cart", "auth", "catalog"):
            for i, t0 in enumerate(every(w, 180)):
                late = t0 >= w.end - timedelta(minutes=20)
                bad = (k == 1 and late and caller in failing_callers) or (i % 60 == 7)
                st = "error" if bad else "ok"
                tid = f"{k}-{caller}-{i}"
                rows += [
                    span(tid, "s", None, caller, "GET /x", 0, 30, st, "server", t0),
                    span(tid, "c", "s", caller, "redis get", 1, 20, st, "client", t0),
                    span(tid, "r", "c", "redis", "get", 2, 19, "ok", "server", t0),
                ]
    return spans_frame(rows)


@pytest.mark.parametrize("failing", [set(), {"cart"}, {"cart", "auth", "catalog"}])
def test_error_signal_same_with_the_baseline_half_cached(failing: set[str]) -> None:
    """Each window's error signal in one memo scope (the baseline half cached after the
    first) equals the signal computed alone; when a caller's own failures move the blame,
    the moved spans are a different frame: their baseline half is counted for them."""
    spans = _error_spans(failing)
    windows = [WINDOW, *(p["window"] for p in placebo_windows(WINDOW, BASELINE))]
    windows.append(Window(WINDOW.end - timedelta(minutes=20), WINDOW.end))
    alone, moved = [], 0
    for w in windows:
        ctx = signal_context(spans=spans, window=w, baseline=BASELINE)
        alone.append(sg._errors(ctx))
        moved += ctx.error_spans is not ctx.blamed_spans  # a caller's own failures
    memo: dict = {}
    with memo_scope(memo):
        shared = [
            sg._errors(signal_context(spans=spans, window=w, baseline=BASELINE)) for w in windows
        ]
    for a, b in zip(alone, shared, strict=True):
        assert a.sort("service").equals(b.sort("service"))
    # one baseline half for the spans as blamed, one per window whose spans were re-blamed
    halves = [k for k in memo if k[1] == "_baseline_origins"]
    assert len(halves) == 1 + moved
    assert moved == (2 if failing == {"cart"} else 0)  # the hour and its last 20 minutes
    last = alone[-1]
    if failing:
        top = last.sort("value", descending=True)["service"][0]
        assert top == ("cart" if moved else "redis")  # cart's own calls, or redis failing all


@pytest.mark.parametrize("failing", [set(), {"cart"}, {"cart", "auth"}])
def test_caller_side_edges_stops_early_only_without_a_failing_caller(failing: set[str]) -> None:
    """The early stop (no caller fails beyond noise) gives what the full rule gives."""
    blamed = blame_services(_error_spans(failing))
    win = Window(WINDOW.end - timedelta(minutes=20), WINDOW.end)
    got = caller_side_edges(blamed, window=win, baseline=BASELINE)
    calls = blamed.filter(pl.col("service") != pl.col("blame_service"))
    counts = []
    for w in (win, BASELINE):
        inside = calls.filter((pl.col("start") >= w.start) & (pl.col("start") < w.end))
        counts.append(
            inside.group_by("service").agg(n=pl.len(), e=(pl.col("status") == "error").sum())
        )
    c = counts[0].join(counts[1], on="service", suffix="_b")
    z = c.select(
        "service",
        z=poisson_z(
            pl.col("e"), (pl.col("n") * (pl.col("e_b") + 1) / (pl.col("n_b") + 1)).clip(0.5)
        ),
    )
    any_fails = (z["z"] >= NOISE_Z).any()
    assert any_fails == bool(failing)
    assert got.rows() == ([("cart", "redis")] if failing == {"cart"} else [])


def test_verdict_same_in_and_out_of_a_memo_scope() -> None:
    """The verdict in an investigation's memo scope (the ranking's work shared) equals
    the plain call, which opens a scope of its own for its placebos only (nothing left
    cached after it)."""
    late = Window(WINDOW.end - timedelta(minutes=20), WINDOW.end)
    frames = {
        "spans": _error_spans({"cart"}),
        "logs": logs_frame(
            log_rows("cart", "socket {i} reset", every(late, 80), "error")
            + log_rows("cart", "served {i}", every(BASELINE, 60) + every(WINDOW, 60))
        ),
        # a flat series sampled every 30 s: placebo windows slide by that step
        "metrics": metric_frame({("cpu", "cart"): np.full(240, 0.5)}),
    }
    plain = assess(rank_suspects(frames, window=WINDOW, baseline=BASELINE))
    assert not memo_active()
    memo: dict = {}
    with memo_scope(memo):
        shared = assess(rank_suspects(frames, window=WINDOW, baseline=BASELINE))
    assert plain.placebos >= 4
    assert {"errors", "logs"} <= set(plain.chance)
    assert plain.as_dict() == shared.as_dict()
    assert any(k[1] == "_baseline_counts" for k in memo)
    assert any(k[1] == "_baseline_origins" for k in memo)


@pytest.mark.parametrize(("name", "window", "baseline"), WINDOWS, ids=[w[0] for w in WINDOWS])
def test_surge_scores_alone_are_the_same_scores(
    name: str, window: Window, baseline: Window
) -> None:
    """``scores_only`` (what the verdict's placebos read) gives the same keys, level,
    ratio, z and surge as the full table."""
    mined = _mined()
    full = tp.template_surges(mined, window, baseline)
    cols = ["service", "template_id", "level", "ratio", "z", "surge"]
    lean = tp.template_surges(mined, window, baseline, scores_only=True)
    assert lean.columns == cols
    keys = ["service", "template_id"]
    assert lean.sort(keys).equals(full.select(cols).sort(keys), null_equal=True), name


@pytest.mark.parametrize("failing", [set(), {"cart"}, {"cart", "auth", "catalog"}])
def test_strengths_alone_are_the_same_strengths(failing: set[str]) -> None:
    """With ``strengths_only`` (the verdict's placebos) the error and log signals give
    the same services, values and strengths; only ``top`` is left empty."""
    late = Window(WINDOW.end - timedelta(minutes=20), WINDOW.end)
    spans = _error_spans(failing)
    logs = logs_frame(
        log_rows("cart", "socket {i} reset", every(late, 80), "error")
        + log_rows("cart", "served {i}", every(BASELINE, 60) + every(WINDOW, 60))
    )
    for w in (WINDOW, late, *(p["window"] for p in placebo_windows(WINDOW, BASELINE))):
        assert w is not None
        full, lean = (
            signal_context(spans=spans, logs=logs, window=w, baseline=BASELINE, strengths_only=o)
            for o in (False, True)
        )
        for compute in (sg._errors, sg._logs):
            a, b = compute(full).sort("service"), compute(lean).sort("service")
            assert a.drop("top").equals(b.drop("top"))
            assert b["top"].null_count() == b.height
            if w == late and compute is sg._logs:
                assert a["service"].to_list() == ["cart"]
            if w == late and compute is sg._errors and failing:
                assert a.height >= 1 and a["top"].null_count() == 0
