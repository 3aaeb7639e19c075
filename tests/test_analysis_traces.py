"""Trace analysis on hand-built traces: error origin, self time, critical path, blame."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from tests.diag_builders import BASELINE, WINDOW, span, spans_frame
from workbench.analysis.traces import error_origin_spans, error_origins, latency_blame, span_tree


def _one_trace() -> pl.DataFrame:
    return spans_frame(
        [
            span("t1", "a", None, "fe", "GET /", 0, 100, "error"),
            span("t1", "b", "a", "api", "auth", 10, 40),
            span("t1", "c", "a", "api", "items", 30, 90, "error"),
            span("t1", "d", "c", "db", "SELECT", 35, 95, "error"),  # clock skew: ends after c
        ]
    )


def test_error_origin_is_the_deepest_failing_span():
    o = error_origins(_one_trace())
    assert o.select("service", "name").rows() == [("db", "SELECT")]
    assert o["share"][0] == 1.0
    assert error_origin_spans(_one_trace())["span_id"].to_list() == ["d"]


def test_self_time_and_critical_path_with_skew_trimming():
    t = span_tree(_one_trace()).sort("span_id")
    got = {r["span_id"]: r for r in t.iter_rows(named=True)}
    # a: 100 ms minus the union of b [10,40] and c [30,90] = 20 ms
    assert got["a"]["self_ms"] == 20.0
    # c ends last, so it is on the critical path; b overlaps c's start and is not
    assert got["c"]["on_critical_path"] and not got["b"]["on_critical_path"]
    # d is trimmed to c's end (90), so c keeps 5 ms of its own and d 55 ms
    assert got["d"]["trimmed_end"] == got["c"]["trimmed_end"]
    assert (got["a"]["cp_ms"], got["c"]["cp_ms"], got["d"]["cp_ms"]) == (40.0, 5.0, 55.0)
    assert sum(r["cp_ms"] for r in got.values()) == 100.0  # the path sums to the root's duration
    assert [got[s]["depth"] for s in "abcd"] == [0, 1, 1, 2]


def test_sequential_children_are_all_on_the_critical_path():
    t = span_tree(
        spans_frame(
            [
                span("t", "r", None, "fe", "GET", 0, 100),
                span("t", "x", "r", "a", "one", 0, 30),
                span("t", "y", "r", "b", "two", 30, 60),
                span("t", "z", "r", "c", "three", 60, 100),
            ]
        )
    )
    assert t["on_critical_path"].all()
    assert t.filter(pl.col("span_id") == "r")["cp_ms"][0] == 0.0


def test_missing_parents_and_cycles_do_not_hang():
    t = span_tree(
        spans_frame(
            [
                span("t2", "x", "y", "s", "n", 0, 10, "error"),
                span("t2", "y", "x", "s", "m", 0, 10, "error"),  # a parent cycle
                span("t3", "r", "gone", "s", "orphan", 0, 10),  # parent not in the data
                span("t4", "q", "q", "s", "self", 0, 10),  # its own parent
            ]
        )
    ).sort("span_id")
    depth = dict(zip(t["span_id"], t["depth"], strict=True))
    assert depth == {"q": 0, "r": 0, "x": None, "y": None}
    assert t.filter(pl.col("span_id") == "r")["is_root"][0]
    assert error_origins(t.drop("depth")).height == 0  # both cycle spans have an erroring child


def _traces(k: int, t0, slow_db: bool) -> list[dict]:
    out = []
    for i in range(20):
        tid = f"{k}-{i}"
        start = t0 + timedelta(seconds=30 * i)
        db = 200 if slow_db and i % 2 == 0 else 20
        out += [
            span(tid, f"{tid}a", None, "fe", "GET /", 0, 40 + db, t0=start),
            span(tid, f"{tid}b", f"{tid}a", "api", "items", 10, 30 + db, t0=start),
            span(tid, f"{tid}c", f"{tid}b", "db", "SELECT", 15, 15 + db, t0=start),
        ]
    return out


def test_latency_blame_points_at_where_the_extra_time_is_spent():
    spans = spans_frame(_traces(0, BASELINE.start, False) + _traces(1, WINDOW.start, True))
    b = latency_blame(spans, window=WINDOW, baseline=BASELINE)
    top = b.row(0, named=True)
    assert (top["service"], top["name"]) == ("db", "SELECT")
    assert top["extra_ms"] == 180.0 and top["share"] == 1.0
    assert b.filter(pl.col("service") == "fe")["extra_ms"][0] == 0.0
    # without windows: slow vs median traces of the same data
    assert latency_blame(spans)["service"][0] == "db"


def _gap_trace(tax_status: str = "ok") -> pl.DataFrame:
    # web calls sms, which sends no spans; sms calls tax, whose server span names the
    # missing sms client span as parent. web's call times out at 1000 ms while tax is
    # still busy (it ends after the call): tax started inside the call
    return spans_frame(
        [
            span("t1", "root", None, "web", "GET /", 0, 1010, "error"),
            span("t1", "call", "root", "web", "POST", 5, 1005, "error", kind="client"),
            span("t1", "tax", "missing", "tax", "GET /tax", 20, 1900, tax_status),
            span("t1", "q", "tax", "tax", "SELECT", 1500, 1501, kind="client"),
        ]
    )


def test_an_orphan_hangs_under_the_childless_call_under_way_when_it_started():
    from workbench.analysis.traces import gap_parents

    gp = gap_parents(_gap_trace())
    assert gp.select("span_id", "gap_parent").rows() == [("tax", "call")]
    tree = span_tree(_gap_trace()).sort("span_id")
    by = dict(zip(tree["span_id"], tree.iter_rows(named=True), strict=True))
    # the call's time is tax's now (clipped to the call), not the call's own
    assert by["call"]["self_ms"] < 20 and not by["tax"]["is_root"]
    assert by["tax"]["parent_span_id"] == "missing"  # the frame keeps its own parent
    assert tree.filter(pl.col("is_root"))["span_id"].to_list() == ["root"]
    # a failing span under the gap is where the error starts, not the call above it
    assert error_origin_spans(_gap_trace("error"))["span_id"].to_list() == ["tax"]
    assert error_origin_spans(_gap_trace("ok"))["span_id"].to_list() == ["call"]


def test_an_orphan_no_childless_call_holds_stays_a_root():
    from workbench.analysis.traces import gap_parents

    rows = [
        span("t1", "root", None, "web", "GET /", 0, 100),
        # the call has a child: the orphan's gap is elsewhere
        span("t1", "call", "root", "web", "POST", 5, 95, kind="client"),
        span("t1", "srv", "call", "sms", "POST", 6, 90),
        # starts after every call ended
        span("t1", "late", "missing", "tax", "GET /tax", 200, 300),
        span("t1", "orph", "missing2", "tax", "GET /tax", 10, 20),
    ]
    assert gap_parents(spans_frame(rows)).height == 0
    tree = span_tree(spans_frame(rows))
    assert sorted(tree.filter(pl.col("is_root"))["span_id"].to_list()) == ["late", "orph", "root"]


def test_a_difference_below_timestamp_resolution_without_spread_is_no_change():
    """Latency blame's weighted means are sums polars may add in another order from run
    to run; with every trace alike (no spread), their last bit made an unchanged
    operation z = inf in one run and 0 in the next (seen in CI). A real difference, even
    a microsecond, stays certain."""
    from workbench.analysis.traces import _welch_z

    df = pl.DataFrame(
        {"diff": [3e-15, -4e-15, 0.0, 0.001, -0.5, 2.0], "se2": [0.0, 0.0, 0.0, 0.0, 0.0, 4.0]}
    )
    z = df.select(_welch_z(pl.col("diff"), pl.col("se2")))["diff"].to_list()
    assert z == [0.0, 0.0, 0.0, float("inf"), float("-inf"), 1.0]
