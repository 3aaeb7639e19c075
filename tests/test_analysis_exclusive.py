"""A service's own share of an additive total's excess and the measured callee discount,
on hand-made frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from workbench import frames
from workbench.analysis.exclusive import explained_share, own_excess
from workbench.analysis.suspects import rank_suspects
from workbench.timewindow import Window

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
BASE = Window(T0 - 40 * STEP, T0)
WIN = Window(T0, T0 + STEP)


def _excess(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    """``excess_totals``-like rows: service, total, excess (other columns irrelevant)."""
    return pl.DataFrame(
        {
            "service": [r[0] for r in rows],
            "total": [r[1] for r in rows],
            "excess": [r[2] for r in rows],
            "share": [0.0] * len(rows),
        }
    )


def _edges(*pairs: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"caller": [a for a, _ in pairs], "callee": [b for _, b in pairs]},
        schema={"caller": pl.String, "callee": pl.String},
    )


def _own(ex: pl.DataFrame, edges: pl.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    out = own_excess(ex, edges)
    return {
        (r["service"], r["total"]): (r["excess"], r["inclusive"]) for r in out.iter_rows(named=True)
    }


def test_a_chain_leaves_the_excess_with_the_deepest_service():
    # gateway -> lambda -> function; the function's code got slower by 40 s a step and
    # every caller waited for it (inclusive time)
    ex = _excess([("gw", "busy", 41.0), ("lambda", "busy", 40.5), ("fn", "busy", 40.0)])
    got = _own(ex, _edges(("gw", "lambda"), ("lambda", "fn")))
    assert got[("fn", "busy")] == (40.0, 40.0)
    assert got[("lambda", "busy")] == pytest.approx((0.5, 40.5))
    assert got[("gw", "busy")] == pytest.approx((0.5, 41.0))
    # the share is recomputed on the own excess
    top = own_excess(ex, _edges(("gw", "lambda"), ("lambda", "fn"))).row(0, named=True)
    assert (top["service"], top["share"]) == ("fn", 1.0)


def test_a_callee_never_leaves_its_caller_below_zero_and_totals_stay_apart():
    ex = _excess(
        [
            ("a", "busy", 10.0),
            ("b", "busy", 30.0),  # b's excess is larger than a's (b has other callers)
            ("a", "failed", 5.0),  # a's failures are its own: b fails nothing
        ]
    )
    got = _own(ex, _edges(("a", "b"), ("c", "b")))
    assert got[("a", "busy")] == (0.0, 10.0)
    assert got[("a", "failed")] == (5.0, 5.0)
    shares = {r[0]: r[1:] for r in explained_share(own_excess(ex, _edges(("a", "b")))).rows()}
    # a's seconds are b's, its failures are not: the least explained total counts
    assert shares == {"a": (0.0, None), "b": (0.0, None)}


def test_without_a_call_graph_nothing_is_split():
    ex = _excess([("a", "busy", 10.0), ("b", "busy", 30.0)])
    got = _own(ex, _edges())
    assert got == {("a", "busy"): (10.0, 10.0), ("b", "busy"): (30.0, 30.0)}
    shares = {r[0]: r[1:] for r in explained_share(own_excess(ex, _edges(("a", "b")))).rows()}
    assert shares == {"a": (1.0, "b"), "b": (0.0, None)}


# ranking -----------------------------------------------------------------------------------
def _series(service: str, metric: str, normal: list[float], now: float) -> list[dict]:
    vals = [normal[i % len(normal)] for i in range(40)] + [now]
    return [
        {"ts": T0 - 40 * STEP + i * STEP, "metric": metric, "service": service, "value": v}
        | {"labels": []}
        for i, v in enumerate(vals)
    ]


def _frame(*parts: list[dict]) -> pl.DataFrame:
    df = pl.DataFrame(
        [r for p in parts for r in p],
        schema={
            "ts": frames.TS,
            "metric": pl.String,
            "service": pl.String,
            "value": pl.Float64,
            "labels": frames.KV,
        },
    )
    return frames.validate(df, "metrics")


WOB = [1.0, 1.02, 0.98, 1.01, 0.99]


def _search_and_table(search_now: float, table_now: float, table_calls_now: float):
    """``search`` calls ``table`` (a database) and ``params`` (a configuration store whose
    request count swings with its callers' traffic: a z-score, no time of its own)."""
    return _frame(
        _series("search", "latency_Average", [0.010 * w for w in WOB], search_now),
        _series("search", "requests_Sum", [1000.0], 1000.0),
        _series("table", "latency_Average", [0.008 * w for w in WOB], table_now),
        _series("table", "requests_Sum", [1000.0], 1000.0),
        _series("params", "requests_Sum", [100.0, 102.0, 98.0, 101.0, 99.0], table_calls_now),
    )


EDGES = _edges(("search", "table"), ("search", "params"))


def test_a_caller_holding_its_own_extra_seconds_is_not_discounted_by_a_traffic_swing():
    # search sleeps 0.3 s per request: its own seconds; params merely sees more calls
    m = _search_and_table(search_now=0.31, table_now=0.008, table_calls_now=160.0)
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m, edges=EDGES)
    t = {r["service"]: r for r in sus.table.iter_rows(named=True)}
    assert t["params"]["metrics"] > 0.3  # the swing is a z-score of its own
    assert sus.ranking[0] == "search" and t["search"]["victim_of"] is None
    # search scores as if it called nothing anomalous: the swing explains none of its
    # seconds (the callee-anomaly guess would have discounted its symptoms by it)
    alone = rank_suspects(None, window=WIN, baseline=BASE, metrics=m, edges=_edges())
    assert t["search"]["score"] == pytest.approx(alone.table.row(0, named=True)["score"])


def test_a_caller_whose_extra_seconds_are_its_callees_is_a_victim():
    # the table got slow; search waited for it (same extra seconds, tighter baseline)
    m = _search_and_table(search_now=0.310, table_now=0.308, table_calls_now=100.0)
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m, edges=EDGES)
    t = {r["service"]: r for r in sus.table.iter_rows(named=True)}
    assert sus.ranking[0] == "table"
    assert t["search"]["totals"] == pytest.approx(0.0, abs=1e-6)
    assert t["search"]["victim_of"] == "table"
    # without the call graph nothing says whose seconds they are: search keeps its excess
    blind = rank_suspects(None, window=WIN, baseline=BASE, metrics=m)
    b = {r["service"]: r for r in blind.table.iter_rows(named=True)}
    assert b["search"]["totals"] > 0.5 and b["search"]["victim_of"] is None
