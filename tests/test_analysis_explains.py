"""A callee's anomaly acquits a caller only when it can explain the caller's symptoms
(hand-made metrics-only systems with a known call graph: ``api`` calls ``db``)."""

from __future__ import annotations

import numpy as np
import polars as pl

from tests.diag_builders import BASELINE, WINDOW, metric_frame
from workbench.analysis.suspects import rank_suspects

N = 240  # 30-s steps: the first 120 are the baseline, the rest the incident window
EDGES = pl.DataFrame({"caller": ["api"], "callee": ["db"]})


def _system(api_extra_s: float, db_extra_s: float, db_connections_jump: float) -> pl.DataFrame:
    """``api`` and ``db`` with mean latency (s) and requests per step; ``db`` also has a
    connection count. In the window api's mean latency rises by ``api_extra_s``, db's by
    ``db_extra_s`` and db's connections by ``db_connections_jump``."""
    rng = np.random.default_rng(7)
    req = {s: 100 + rng.normal(0, 1.0, N) for s in ("api", "db")}
    api_lat = 0.05 + rng.normal(0, 0.002, N)
    db_lat = 0.02 + rng.normal(0, 0.001, N)
    conn = 20 + rng.normal(0, 0.5, N)
    api_lat[N // 2 :] += api_extra_s
    db_lat[N // 2 :] += db_extra_s
    conn[N // 2 :] += db_connections_jump
    return metric_frame(
        {
            ("requests_Sum", "api"): req["api"],
            ("requests_Sum", "db"): req["db"],
            ("latency_Average", "api"): api_lat,
            ("latency_Average", "db"): db_lat,
            ("connections", "db"): conn,
        }
    )


def _rank(metrics: pl.DataFrame) -> list[str]:
    return rank_suspects(
        None, window=WINDOW, baseline=BASELINE, metrics=metrics, edges=EDGES
    ).ranking


def test_a_callee_whose_anomaly_does_not_carry_the_callers_extra_does_not_acquit_it():
    # api spends 5 extra seconds a step of its own (db's latency and seconds unchanged);
    # db's connection count jumps far more unusually (a bigger z): db has an anomaly, but
    # it does not add up to api's extra seconds, so api stays the cause
    got = _rank(_system(api_extra_s=0.05, db_extra_s=0.0, db_connections_jump=30.0))
    assert got[0] == "api", got


def test_a_callee_carrying_the_callers_extra_seconds_still_acquits_it():
    # db is slower by 50 ms a call: api waits the same 5 extra seconds a step (its own
    # latency rises as much); db's seconds are api's, so api is db's victim
    got = _rank(_system(api_extra_s=0.05, db_extra_s=0.05, db_connections_jump=30.0))
    assert got[0] == "db", got


def test_without_a_total_for_both_the_call_graph_alone_decides():
    # no requests series: no total can be measured, the callee's anomaly acquits the
    # caller as before (the graph's guess)
    m = _system(api_extra_s=0.05, db_extra_s=0.0, db_connections_jump=30.0)
    got = _rank(m.filter(pl.col("metric") != "requests_Sum"))
    assert got[0] == "db", got
