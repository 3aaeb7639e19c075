"""Service graph from spans: hand-built traces whose right answers are computed apart."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.analysis_builders import T0, spans_frame
from workbench.analysis.graph import EDGE_COLUMNS, NODE_COLUMNS, graph_diff, service_graph
from workbench.errors import BadData
from workbench.timewindow import Window

DB = {"db.system": "postgresql", "server.address": "orders-db.shop.svc.cluster.local:5432"}


def shop_traces(n: int = 20, *, failing: int = 4, start: float = 0.0) -> list[dict]:
    """frontend -> checkout -> (payments, orders-db); the first ``failing`` checkout
    calls fail; frontend's own client span and checkout's internal span must not make
    edges; checkout's durations are 50 + i ms."""
    rows = []
    for i in range(n):
        t = f"t{start:.0f}-{i}"
        at = start + i
        bad = i < failing
        rows += [
            {
                "trace_id": t,
                "span_id": "a",
                "service": "frontend",
                "ms": 200,
                "start": at,
                "status": "error" if bad else "ok",
            },
            {
                "trace_id": t,
                "span_id": "b",
                "parent": "a",
                "service": "frontend",
                "kind": "client",
                "ms": 150,
                "start": at,
            },
            {
                "trace_id": t,
                "span_id": "c",
                "parent": "b",
                "service": "checkout",
                "ms": 50 + i,
                "start": at,
                "status": "error" if bad else "ok",
            },
            {
                "trace_id": t,
                "span_id": "d",
                "parent": "c",
                "service": "checkout",
                "kind": "internal",
                "ms": 5,
                "start": at,
            },
            {
                "trace_id": t,
                "span_id": "e",
                "parent": "c",
                "service": "checkout",
                "kind": "client",
                "ms": 10 + (i % 3),
                "start": at,
                "attrs": DB,
            },
            {
                "trace_id": t,
                "span_id": "f",
                "parent": "c",
                "service": "checkout",
                "kind": "client",
                "ms": 30,
                "start": at,
            },
            {
                "trace_id": t,
                "span_id": "g",
                "parent": "f",
                "service": "payments",
                "ms": 25,
                "start": at,
            },
        ]
    return rows


def test_edges_counts_errors_and_latency_quantiles() -> None:
    g = service_graph(spans_frame(shop_traces()))
    e = {(r["caller"], r["callee"]): r for r in g.edges.iter_rows(named=True)}
    assert set(e) == {
        ("frontend", "checkout"),
        ("checkout", "payments"),
        ("checkout", "orders-db"),
    }
    fc = e[("frontend", "checkout")]
    assert (fc["calls"], fc["errors"], fc["error_ratio"]) == (20, 4, 0.2)
    durations = np.array([50 + i for i in range(20)], dtype=float)
    assert fc["p50_ms"] == pytest.approx(np.percentile(durations, 50))
    assert fc["p95_ms"] == pytest.approx(np.percentile(durations, 95))
    assert fc["p99_ms"] == pytest.approx(np.percentile(durations, 99))
    assert fc["inferred"] is False
    db = e[("checkout", "orders-db")]
    assert db["inferred"] is True and db["calls"] == 20 and db["errors"] == 0
    assert db["p95_ms"] == pytest.approx(np.percentile([10 + (i % 3) for i in range(20)], 95))
    assert tuple(g.edges.columns) == EDGE_COLUMNS


def test_nodes_count_requests_entering_each_service() -> None:
    g = service_graph(spans_frame(shop_traces()))
    n = {r["service"]: r for r in g.nodes.iter_rows(named=True)}
    assert set(n) == {"frontend", "checkout", "payments", "orders-db"}
    assert n["frontend"]["requests"] == 20  # its client and the others' spans not counted
    assert n["frontend"]["error_ratio"] == pytest.approx(0.2)
    assert n["checkout"]["requests"] == 20 and n["checkout"]["errors"] == 4
    assert n["orders-db"]["inferred"] is True and n["payments"]["inferred"] is False
    assert tuple(g.nodes.columns) == NODE_COLUMNS


def test_rates_use_the_window_length_and_spans_outside_are_dropped() -> None:
    spans = spans_frame(shop_traces(20) + shop_traces(10, failing=0, start=500))
    w = Window(T0, T0 + timedelta(seconds=100))
    g = service_graph(spans, window=w)
    fc = g.edges.filter(pl.col("callee") == "checkout").row(0, named=True)
    assert fc["calls"] == 20
    assert fc["rate_per_s"] == pytest.approx(20 / 100)
    assert g.seconds == 100


def test_orphan_spans_count_as_entries_and_missing_columns_are_named() -> None:
    rows = [
        {"trace_id": "x", "span_id": "s1", "parent": "gone", "service": "cart", "ms": 3},
        {"trace_id": "x", "span_id": "s2", "parent": "s1", "service": "cart", "ms": 1},
    ]
    g = service_graph(spans_frame(rows))
    assert g.edges.height == 0
    assert g.nodes.row(0, named=True)["requests"] == 1
    with pytest.raises(BadData, match="status"):
        service_graph(spans_frame(rows).drop("status"))


def test_peer_service_attribute_wins_and_clients_with_children_infer_nothing() -> None:
    rows = [
        {"trace_id": "y", "span_id": "1", "service": "api", "ms": 9},
        {
            "trace_id": "y",
            "span_id": "2",
            "parent": "1",
            "service": "api",
            "kind": "client",
            "ms": 7,
            "attrs": {"peer.service": "stripe", "server.address": "api.stripe.com"},
        },
        {
            "trace_id": "y",
            "span_id": "3",
            "parent": "1",
            "service": "api",
            "kind": "client",
            "ms": 5,
            "attrs": {"server.address": "cache:6379"},
        },
        {"trace_id": "y", "span_id": "4", "parent": "3", "service": "cache", "ms": 2},
    ]
    g = service_graph(spans_frame(rows))
    assert sorted(zip(g.edges["caller"], g.edges["callee"], g.edges["inferred"], strict=True)) == [
        ("api", "cache", False),
        ("api", "stripe", True),
    ]


def test_failing_origins_is_the_deepest_failing_service() -> None:
    rows = []
    for i in range(10):
        t = f"t{i}"
        rows += [
            {"trace_id": t, "span_id": "a", "service": "web", "ms": 9, "status": "error"},
            {
                "trace_id": t,
                "span_id": "b",
                "parent": "a",
                "service": "api",
                "ms": 8,
                "status": "error",
            },
            {
                "trace_id": t,
                "span_id": "c",
                "parent": "b",
                "service": "db-proxy",
                "ms": 7,
                "status": "error" if i < 5 else "ok",
            },
            {"trace_id": t, "span_id": "d", "parent": "b", "service": "auth", "ms": 1},
        ]
    g = service_graph(spans_frame(rows))
    assert g.failing_origins() == ["db-proxy"]
    assert g.callees("api") == ["auth", "db-proxy"]
    assert g.callers("api") == ["web"]
    nxg = g.to_networkx()
    assert set(nxg.edges) == {("web", "api"), ("api", "db-proxy"), ("api", "auth")}
    assert nxg.edges["api", "db-proxy"]["error_ratio"] == pytest.approx(0.5)
    assert nxg.nodes["web"]["requests"] == 10


def test_graph_diff_new_vanished_and_changed_edges() -> None:
    base_rows = shop_traces(20, failing=0)
    inc_rows = [r for r in shop_traces(20, failing=10, start=1000) if r["service"] != "payments"]
    inc_rows += [
        {
            "trace_id": f"n{i}",
            "span_id": "z",
            "parent": None,
            "service": "checkout",
            "kind": "client",
            "ms": 4,
            "start": 1000 + i,
            "attrs": {"peer.service": "fraud"},
        }
        for i in range(6)
    ]
    d = graph_diff(service_graph(spans_frame(base_rows)), service_graph(spans_frame(inc_rows)))
    ch = {(r["caller"], r["callee"]): r for r in d.iter_rows(named=True)}
    assert ch[("checkout", "fraud")]["change"] == "new"
    assert ch[("checkout", "payments")]["change"] == "vanished"
    up = ch[("frontend", "checkout")]
    assert up["change"] == "errors_up"
    assert up["error_ratio_delta"] == pytest.approx(0.5)
    assert ch[("checkout", "orders-db")]["change"] == "same"
    assert d["change"].to_list()[:2] == ["new", "errors_up"]


def test_duplicate_span_ids_do_not_multiply_calls() -> None:
    rows = shop_traces(5, failing=0)
    rows += [dict(r) for r in rows if r["span_id"] == "c"]  # the server span twice
    g = service_graph(spans_frame(rows))
    fc = g.edges.filter((pl.col("caller") == "checkout") & (pl.col("callee") == "payments"))
    assert fc["calls"].to_list() == [5]


def _naive_edges(rows: list[dict]) -> dict[tuple[str, str], tuple[int, int]]:
    by_id = {(r["trace_id"], r["span_id"]): r["service"] for r in rows}
    out: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        caller = by_id.get((r["trace_id"], r.get("parent")))
        if caller is not None and caller != r["service"]:
            c = out.setdefault((caller, r["service"]), [0, 0])
            c[0] += 1
            c[1] += r.get("status") == "error"
    return {k: (v[0], v[1]) for k, v in out.items()}


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_edges_match_a_naive_walk_on_random_trees(data: st.DataObject) -> None:
    services = ["a", "b", "c", "d"]
    rows: list[dict] = []
    for t in range(data.draw(st.integers(1, 6))):
        n = data.draw(st.integers(1, 8))
        for i in range(n):
            parent = None if i == 0 else str(data.draw(st.integers(0, i - 1)))
            if i > 0 and data.draw(st.booleans()) and data.draw(st.booleans()):
                parent = "gone"  # a parent missing from the data
            rows.append(
                {
                    "trace_id": f"t{t}",
                    "span_id": str(i),
                    "parent": parent,
                    "service": data.draw(st.sampled_from(services)),
                    "ms": data.draw(st.integers(1, 100)),
                    "status": data.draw(st.sampled_from(["ok", "error", "unset"])),
                }
            )
    g = service_graph(spans_frame(rows), infer_peers=False)
    got = {
        (r["caller"], r["callee"]): (r["calls"], r["errors"]) for r in g.edges.iter_rows(named=True)
    }
    assert got == _naive_edges(rows)
    entering = sum(
        1
        for r in rows
        if r["parent"] is None
        or ((r["trace_id"], r["parent"]) not in {(x["trace_id"], x["span_id"]) for x in rows})
        or next(
            x["service"]
            for x in rows
            if (x["trace_id"], x["span_id"]) == (r["trace_id"], r["parent"])
        )
        != r["service"]
    )
    assert g.nodes["requests"].sum() == entering
