"""A remote endpoint in a service map (a load balancer or host known only through its
callers' calls, nothing recorded of its own) is the call, not a service with evidence of
its own: what serves the calls behind it is not in the map (hand-made metrics-only
system: ``web`` calls ``lb``; ``api`` serves those calls behind the load balancer, but no
edge says so, as in an AWS X-Ray map whose ``remote`` node is a dead end)."""

from __future__ import annotations

import numpy as np
import polars as pl

from tests.diag_builders import BASELINE, WINDOW, metric_frame
from workbench.analysis.suspects import rank_suspects, remote_endpoints
from workbench.analysis.verdict import unseen_callees

N = 240  # 30-s steps: the first 120 are the baseline, the rest the incident window


def _edges(remote: bool | None) -> pl.DataFrame:
    e = {"caller": ["web", "client"], "callee": ["lb", "api"]}
    if remote is not None:
        e["callee_remote"] = [remote, False]
    return pl.DataFrame(e)


def _system() -> pl.DataFrame:
    """``api`` slows by 30 ms a call in the window; ``lb`` (the callers' view of the same
    calls) and ``web`` wait as much. lb's view is far steadier in the baseline than
    api's own timer, so its z-score is far larger for the same extra seconds."""
    rng = np.random.default_rng(11)
    req = 50 + rng.normal(0, 0.5, N)
    api = 0.020 + rng.normal(0, 0.003, N)
    lb = 0.025 + rng.normal(0, 0.0003, N)
    web = 0.060 + rng.normal(0, 0.003, N)
    for s in (api, lb, web):
        s[N // 2 :] += 0.030
    return metric_frame(
        {
            ("requests_Sum", "web"): req,
            ("requests_Sum", "lb"): req,
            ("requests_Sum", "api"): req,
            ("latency_Average", "web"): web,
            ("latency_Average", "lb"): lb,
            ("latency_Average", "api"): api,
        }
    )


def _ranking(edges: pl.DataFrame) -> list[str]:
    sus = rank_suspects(None, window=WINDOW, baseline=BASELINE, metrics=_system(), edges=edges)
    return sus.ranking


def test_a_remote_endpoint_does_not_outrank_the_service_that_may_serve_its_calls():
    # marked remote, lb's symptoms are discounted by the strongest anomaly elsewhere
    # (api's, which carries the same extra seconds): the service with evidence of its own
    # comes first, lb's steadier view no longer wins on its z-score
    got = _ranking(_edges(remote=True))
    assert got[0] == "api", got
    assert got.index("lb") > got.index("api")


def test_an_unmarked_dead_end_is_still_a_leaf_that_calls_nothing():
    # without the mark (or marked not remote) the map's dead end is a leaf: nothing can
    # acquit it and its larger z-score puts it first, as before
    assert _ranking(_edges(remote=None))[0] == "lb"
    assert _ranking(_edges(remote=False))[0] == "lb"


def test_remote_endpoints_are_marked_callees_that_no_edge_names_a_caller():
    e = pl.DataFrame(
        {
            "caller": ["web", "web", "lb2"],
            "callee": ["lb", "lb2", "api"],
            "callee_remote": [True, True, None],
        }
    )
    # lb2's calls are in the map: what it calls is known
    assert remote_endpoints(e) == {"lb"}
    assert remote_endpoints(e.drop("callee_remote")) == set()
    assert remote_endpoints(None) == set()


def test_the_verdict_says_why_a_remote_endpoints_callees_are_unknown():
    why = unseen_callees("lb", spans=None, edges=_edges(remote=True))
    assert why is not None and "remote endpoint" in why
    assert unseen_callees("web", spans=None, edges=_edges(remote=True)) is None


def test_a_marked_endpoint_with_spans_of_its_own_records_what_it_calls():
    # a traced service is known whatever the map says: its spans show what it calls
    from tests.diag_builders import span
    from workbench import frames

    spans = frames.validate(
        pl.DataFrame([span("t1", "a", None, "lb", "GET /", 0, 10)], schema=frames.SCHEMAS["spans"]),
        "spans",
    )
    assert unseen_callees("lb", spans=spans, edges=_edges(remote=True)) is None
