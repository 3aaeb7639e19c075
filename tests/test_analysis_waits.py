"""Whose extra time on the way: a callee's (every caller waits longer beyond its own
time) or one caller's (its network delays its calls to every callee; the callee's other
callers wait as before). Hand-made spans: the callee's server span never changes, only
the caller's client span around it does."""

from __future__ import annotations

import polars as pl

from tests.diag_builders import BASELINE, WINDOW, span, spans_frame
from workbench.analysis.attribution import call_waits, caller_side_waits, own_waits
from workbench.analysis.suspects import blame_services, rank_suspects


def _calls(
    delay_ms: dict[str, float], calls: dict[str, list[str]], n: int = 100, jitter: float = 0.1
) -> list:
    """Each caller's requests over the baseline and the window: a server span, then one
    call to each of its callees in turn (a client span around the callee's 5-7 ms server
    span, 0.3 ms on the way); in the window ``delay_ms[caller]`` more on the way of each
    of that caller's calls (a delay on a callee's network: give it to each caller)."""
    rows: list[dict] = []
    for win_no, (w, delay) in enumerate(((BASELINE, {}), (WINDOW, delay_ms))):
        span_s = (w.end - w.start).total_seconds()
        for caller, callees in calls.items():
            extra = delay.get(caller, 0.0)
            for i in range(n):
                t0, ms = w.start, i * span_s * 1000 / n
                tid = f"{win_no}-{caller}-{i}"
                cur, kids = ms + 1, []
                for k, callee in enumerate(callees):
                    own = 5 + (i + k) % 3  # the callee's own time: unchanged
                    wire = 0.3 + extra + ((i * 7 + win_no) % 4) * jitter
                    kids += [
                        span(
                            tid,
                            f"c{k}",
                            "s",
                            caller,
                            f"{callee} call",
                            cur,
                            cur + own + wire,
                            kind="client",
                            t0=t0,
                        ),
                        span(
                            tid,
                            f"r{k}",
                            f"c{k}",
                            callee,
                            "serve",
                            cur + wire / 2,
                            cur + wire / 2 + own,
                            t0=t0,
                        ),
                    ]
                    cur += own + wire + 1
                rows += [span(tid, "s", None, caller, "GET /x", ms, cur + 1, t0=t0), *kids]
    return rows


CALLS = {"cart": ["redis"], "auth": ["redis"], "catalog": ["redis"]}


def test_the_wait_beyond_the_callees_own_time_is_measured_per_call():
    waits = call_waits(blame_services(spans_frame(_calls({"cart": 40.0}, CALLS, n=4))))
    assert waits.height == 24  # 3 callers x 4 requests x 2 windows, one call each
    cart = waits.filter((pl.col("caller") == "cart") & (pl.col("start") >= WINDOW.start))
    assert sorted(cart["gap_ms"].to_list()) == [40.3, 40.4, 40.5, 40.6]


def test_only_one_callers_longer_waits_are_that_callers():
    spans = spans_frame(_calls({"cart": 40.0}, CALLS))
    blamed = blame_services(spans)
    assert caller_side_waits(blamed, window=WINDOW, baseline=BASELINE).rows() == [("cart", "redis")]
    moved = own_waits(blamed, window=WINDOW, baseline=BASELINE)
    client = moved.filter(pl.col("kind") == "client")
    assert set(client.filter(pl.col("service") == "cart")["blame_service"]) == {"cart"}
    assert set(client.filter(pl.col("service") == "auth")["blame_service"]) == {"redis"}
    # the ranking: the time cart's calls lose on the way is cart's, not redis's (before:
    # redis first, its "extra latency" the wait of cart's calls)
    sus = rank_suspects(spans=spans, window=WINDOW, baseline=BASELINE)
    t = sus.table
    assert sus.ranking[0] == "cart"
    assert t.filter(pl.col("service") == "redis")["latency"][0] == 0.0
    assert t.filter(pl.col("service") == "cart")["latency"][0] > 0.5


def test_a_callee_delaying_all_its_callers_keeps_the_blame():
    spans = spans_frame(_calls({"cart": 40.0, "auth": 40.0, "catalog": 40.0}, CALLS))
    assert caller_side_waits(blame_services(spans), window=WINDOW, baseline=BASELINE).height == 0
    assert rank_suspects(spans=spans, window=WINDOW, baseline=BASELINE).ranking[0] == "redis"


def test_no_other_caller_cannot_tell():
    alone = spans_frame(_calls({"cart": 40.0}, {"cart": ["redis"]}))
    assert caller_side_waits(blame_services(alone), window=WINDOW, baseline=BASELINE).height == 0
    assert rank_suspects(spans=alone, window=WINDOW, baseline=BASELINE).ranking[0] == "redis"


def test_a_delay_within_the_others_noise_is_not_shown():
    # waits spread over 0-30 ms: one caller's 2 ms more is within that noise
    spans = spans_frame(_calls({"cart": 2.0}, CALLS, jitter=10.0))
    assert caller_side_waits(blame_services(spans), window=WINDOW, baseline=BASELINE).height == 0


def test_once_shown_its_longer_waits_on_callees_only_it_calls_are_its_own():
    calls = {"cart": ["redis", "postgres"], "auth": ["redis"], "catalog": ["redis"]}
    spans = spans_frame(_calls({"cart": 40.0}, calls))
    got = caller_side_waits(blame_services(spans), window=WINDOW, baseline=BASELINE)
    assert sorted(got.rows()) == [("cart", "postgres"), ("cart", "redis")]
    sus = rank_suspects(spans=spans, window=WINDOW, baseline=BASELINE)
    assert sus.ranking[0] == "cart"
    assert sus.table.filter(pl.col("service") == "postgres")["latency"][0] == 0.0


def test_callers_are_compared_on_the_same_minutes():
    # catalog's network slows every call to it from minute 30 on; rec stopped calling it
    # then (its traffic ended with the fault): api's slow calls are catalog's, not api's
    calls = {"api": ["catalog"], "rec": ["catalog"]}
    before = spans_frame(_calls({}, calls))
    slowed = spans_frame(_calls({"api": 40.0}, {"api": ["catalog"]})).with_columns(
        trace_id="slow-" + pl.col("trace_id")
    )
    half = WINDOW.start + (WINDOW.end - WINDOW.start) / 2
    trace_start = pl.col("start").min().over("trace_id")
    spans = pl.concat(
        [
            before.filter(trace_start < half),
            slowed.filter(trace_start >= half),
        ]
    )
    blamed = blame_services(spans)
    assert caller_side_waits(blamed, window=WINDOW, baseline=BASELINE).height == 0
    sus = rank_suspects(spans=spans, window=WINDOW, baseline=BASELINE)
    assert sus.ranking[0] == "catalog"
