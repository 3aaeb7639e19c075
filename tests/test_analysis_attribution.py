"""Whose failing calls: a callee's (all its callers see them) or one caller's (its
packet loss fails its calls, the callee's other callers are fine). Hand-made spans."""

from __future__ import annotations

import polars as pl

from tests.diag_builders import BASELINE, WINDOW, span, spans_frame
from workbench.analysis.attribution import caller_side_edges, own_failures
from workbench.analysis.suspects import blame_services, rank_suspects


def _calls(failing: dict[str, float], calls: dict[str, int], *, callee: str = "redis") -> list:
    """Each caller's requests (a server span, a client span to ``callee``, the callee's
    server span) every few seconds over the baseline and the window; in the window a
    share ``failing[caller]`` of the client spans fail (the callee's span stays ok: the
    call never reached it, or its answer was lost)."""
    rows: list[dict] = []
    for win_no, (w, fail) in enumerate(((BASELINE, {}), (WINDOW, failing))):
        span_s = (w.end - w.start).total_seconds()
        for caller, n in calls.items():
            bad = round(n * fail.get(caller, 0.0))
            for i in range(n):
                t0 = w.start
                ms = i * span_s * 1000 / n
                tid = f"{win_no}-{caller}-{i}"
                status = "error" if i < bad else "ok"
                rows += [
                    span(tid, "s", None, caller, "GET /x", ms, ms + 20, status, "server", t0),
                    span(
                        tid,
                        "c",
                        "s",
                        caller,
                        f"{callee} get",
                        ms + 1,
                        ms + 10,
                        status,
                        "client",
                        t0,
                    ),
                    span(tid, "r", "c", callee, "get", ms + 2, ms + 9, "ok", "server", t0),
                ]
    return rows


CALLS = {"cart": 120, "auth": 200, "catalog": 150}


def test_only_one_callers_failing_calls_are_that_callers():
    spans = spans_frame(_calls({"cart": 0.3}, CALLS))
    blamed = blame_services(spans)
    edges = caller_side_edges(blamed, window=WINDOW, baseline=BASELINE)
    assert edges.rows() == [("cart", "redis")]
    moved = own_failures(blamed, window=WINDOW, baseline=BASELINE)
    client = moved.filter(pl.col("kind") == "client")
    assert set(client.filter(pl.col("service") == "cart")["blame_service"]) == {"cart"}
    assert set(client.filter(pl.col("service") == "auth")["blame_service"]) == {"redis"}

    sus = rank_suspects(spans=spans, window=WINDOW, baseline=BASELINE)
    assert sus.ranking[0] == "cart"
    t = sus.table
    assert t.filter(pl.col("service") == "redis")["errors"][0] == 0.0
    assert t.filter(pl.col("service") == "cart")["errors"][0] > 0.5
    assert set(sus.evidence("cart").spans["service"]) == {"cart"}


def test_a_callee_failing_all_its_callers_keeps_the_blame():
    spans = spans_frame(_calls({"cart": 0.3, "auth": 0.3, "catalog": 0.3}, CALLS))
    assert caller_side_edges(blame_services(spans), window=WINDOW, baseline=BASELINE).height == 0
    sus = rank_suspects(spans=spans, window=WINDOW, baseline=BASELINE)
    assert sus.ranking[0] == "redis"


def test_no_other_caller_or_too_few_of_their_calls_cannot_tell():
    # one caller only: nothing to compare with, the callee keeps the blame
    alone = spans_frame(_calls({"cart": 0.3}, {"cart": 120}))
    assert caller_side_edges(blame_services(alone), window=WINDOW, baseline=BASELINE).height == 0
    assert rank_suspects(spans=alone, window=WINDOW, baseline=BASELINE).ranking[0] == "redis"
    # the others made 3 calls: at cart's rate they would have seen ~1 failure, so seeing
    # none says nothing
    few = spans_frame(_calls({"cart": 0.3}, {"cart": 120, "auth": 2, "catalog": 1}))
    assert caller_side_edges(blame_services(few), window=WINDOW, baseline=BASELINE).height == 0
    # two callers failing: a failing callee
    two = spans_frame(_calls({"cart": 0.3, "auth": 0.3}, CALLS))
    assert caller_side_edges(blame_services(two), window=WINDOW, baseline=BASELINE).height == 0


def test_a_caller_shown_failing_owns_its_failing_calls_to_callees_only_it_calls():
    # cart's packet loss fails its calls to redis (shared: auth and catalog are fine) and
    # to email (only cart calls it): both are cart's
    rows = _calls({"cart": 0.3}, CALLS) + _calls({"cart": 0.3}, {"cart": 120}, callee="email")
    # the email calls are separate traces (suffix their ids)
    for r in rows[len(_calls({"cart": 0.3}, CALLS)) :]:
        r["trace_id"] += "-email"
    blamed = blame_services(spans_frame(rows))
    edges = caller_side_edges(blamed, window=WINDOW, baseline=BASELINE)
    assert sorted(edges.rows()) == [("cart", "email"), ("cart", "redis")]
    # without the shared callee nothing shows that cart fails: email keeps its errors
    only_email = _calls({"cart": 0.3}, {"cart": 120}, callee="email")
    assert (
        caller_side_edges(
            blame_services(spans_frame(only_email)), window=WINDOW, baseline=BASELINE
        ).height
        == 0
    )


def test_callers_are_compared_on_the_same_minutes():
    # redis fails every call from minute 30 on; catalog's calls stopped then (its traffic
    # ended with the fault): cart's failing calls are redis's, not cart's
    before = spans_frame(_calls({}, {"cart": 120, "catalog": 120}))
    failing = spans_frame(_calls({"cart": 1.0}, {"cart": 120})).with_columns(
        trace_id="f-" + pl.col("trace_id")
    )
    half = WINDOW.start + (WINDOW.end - WINDOW.start) / 2
    trace_start = pl.col("start").min().over("trace_id")
    spans = pl.concat([before.filter(trace_start < half), failing.filter(trace_start >= half)])
    assert caller_side_edges(blame_services(spans), window=WINDOW, baseline=BASELINE).height == 0
    assert rank_suspects(spans=spans, window=WINDOW, baseline=BASELINE).ranking[0] == "redis"


def _troubled_cart(redis_failing: float) -> pl.DataFrame:
    """cart's network is bad: its calls to postgres (shared with auth) wait 40 ms longer
    on the way, auth's do not; and a share ``redis_failing`` of its calls to redis
    (shared with auth and catalog) fail, the others' none."""
    from tests.test_analysis_waits import _calls as _wait_calls

    waits = spans_frame(_wait_calls({"cart": 40.0}, {"cart": ["postgres"], "auth": ["postgres"]}))
    fails = spans_frame(_calls({"cart": redis_failing}, CALLS)).with_columns(
        trace_id="f-" + pl.col("trace_id")
    )
    return pl.concat([waits, fails])


def test_a_caller_shown_waiting_alone_owns_its_few_failing_calls_to_a_shared_callee():
    # 3 of cart's 120 calls to redis fail (none in the baseline): too few to be beyond
    # noise alone (Poisson z 1.6 against 1 expected); but cart is shown in trouble of its
    # own (only its calls to postgres wait longer), and auth's and catalog's 350 calls to
    # redis, at cart's rate ~9 failures, had none: they are cart's (lab
    # packet-loss-gen20-s402: sms-2's 4 of 31 failing calls to redis went to redis)
    blamed = blame_services(_troubled_cart(0.025))
    edges = caller_side_edges(blamed, window=WINDOW, baseline=BASELINE)
    assert ("cart", "redis") in edges.rows()
    moved = own_failures(blamed, window=WINDOW, baseline=BASELINE)
    failing = moved.filter((pl.col("kind") == "client") & (pl.col("status") == "error"))
    assert set(failing["blame_service"]) == {"cart"}


def test_a_caller_not_shown_in_trouble_keeps_too_few_failures_on_the_callee():
    # the same 3 failing calls without cart's slow calls to postgres: nothing shows the
    # failure is cart's, redis keeps it
    spans = spans_frame(_calls({"cart": 0.025}, CALLS))
    assert caller_side_edges(blame_services(spans), window=WINDOW, baseline=BASELINE).height == 0


def test_a_caller_shown_waiting_alone_does_not_take_a_callee_failing_everyone():
    # redis fails every caller's calls: cart's trouble on the way does not make it cart's
    rows = _troubled_cart(0.025)
    everyone = spans_frame(_calls({"auth": 0.3, "catalog": 0.3}, CALLS)).with_columns(
        trace_id="e-" + pl.col("trace_id")
    )
    blamed = blame_services(pl.concat([rows, everyone]))
    edges = caller_side_edges(blamed, window=WINDOW, baseline=BASELINE)
    assert ("cart", "redis") not in edges.rows()


def test_the_others_seeing_no_failure_must_be_improbable_had_the_callee_failed_them():
    # lab demo-gen20-s803: label (no traces of its own) failed 8 of tracking's 57 calls;
    # ledger's 18 calls to it saw none. At tracking's rate ledger would have seen 2.5:
    # none happens 8% of the time, so nothing shows the failure is tracking's own; the
    # likelihood-ratio root read that as z -2.25 and moved label's failures to tracking
    few = spans_frame(_calls({"tracking": 8 / 57}, {"tracking": 57, "ledger": 18}))
    assert caller_side_edges(blame_services(few), window=WINDOW, baseline=BASELINE).height == 0
    assert rank_suspects(spans=few, window=WINDOW, baseline=BASELINE).ranking[0] == "redis"
    # 60 calls and none failing (8.4 expected: 0.02% of the time) do show it
    many = spans_frame(_calls({"tracking": 8 / 57}, {"tracking": 57, "ledger": 60}))
    edges = caller_side_edges(blame_services(many), window=WINDOW, baseline=BASELINE)
    assert edges.rows() == [("tracking", "redis")]


def test_others_failing_less_but_beyond_their_baseline_together_are_failed_by_the_callee():
    # lab demo-gen8-s901: chat-2 (no traces of its own) failed 19 of ads's 142 calls and
    # 3 each of report's 77 and upload's 73: each of those too few to be beyond noise
    # alone, and far fewer than ads's rate would give them (20), but 6 where about 1 is
    # usual: the callee fails them too, the failures are not ads's own
    calls = {"ads": 142, "report": 77, "upload": 73}
    shared = spans_frame(_calls({"ads": 19 / 142, "report": 3 / 77, "upload": 3 / 73}, calls))
    assert caller_side_edges(blame_services(shared), window=WINDOW, baseline=BASELINE).height == 0
    assert rank_suspects(spans=shared, window=WINDOW, baseline=BASELINE).ranking[0] == "redis"
    # the others at their usual rate (none failing) leave the failures ads's own
    alone = spans_frame(_calls({"ads": 19 / 142}, calls))
    edges = caller_side_edges(blame_services(alone), window=WINDOW, baseline=BASELINE)
    assert edges.rows() == [("ads", "redis")]
