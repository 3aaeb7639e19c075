"""RED from counters, histograms, pre-computed series and spans, with known answers."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.analysis_builders import T0, counter_samples, metrics_frame, spans_frame
from workbench.analysis import red as R
from workbench.analysis.red import (
    RED_COLUMNS,
    counter_rate,
    histogram_quantiles,
    red,
    red_from_metrics,
    red_from_spans,
    red_summary,
)
from workbench.timewindow import Window

REQ = R.REQUESTS_TOTAL
BUCKET = f"{R.DURATION_HISTOGRAM}_bucket"
INF = float("inf")


def _prometheus_bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Straight port of Prometheus' bucketQuantile (promql/quantile.go), for checking."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][0] != INF:
        return math.nan
    # ensure monotonic
    fixed, mx = [], -INF
    for ub, c in buckets:
        mx = max(mx, c)
        fixed.append((ub, mx))
    buckets = fixed
    if len(buckets) < 2:
        return math.nan
    observations = buckets[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = (
        next(i for i, (_, c) in enumerate(buckets[:-1]) if c >= rank)
        if any(c >= rank for _, c in buckets[:-1])
        else len(buckets) - 1
    )
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    bucket_start, bucket_end, count = 0.0, buckets[b][0], buckets[b][1]
    if b > 0:
        bucket_start = buckets[b - 1][0]
        count -= buckets[b - 1][1]
        rank -= buckets[b - 1][1]
    return bucket_start + (bucket_end - bucket_start) * (rank / count)


def _lab_like_metrics() -> pl.DataFrame:
    rows = []
    rows += counter_samples(REQ, "checkout", {"pod": "a", "code": "200"}, per_s=10, seconds=600)
    rows += counter_samples(
        REQ,
        "checkout",
        {"pod": "b", "code": "200"},
        per_s=5,
        seconds=600,
        reset_at=300,
        start_value=1000,
    )
    rows += counter_samples(REQ, "checkout", {"pod": "a", "code": "500"}, per_s=1, seconds=600)
    rows += counter_samples(REQ, "cart", {"pod": "c", "code": "200"}, per_s=2, seconds=600)
    cumulative = {0.05: 2, 0.1: 6, 0.25: 9, 0.5: 10, INF: 10}
    for pod in "ab":
        for le, per_s in cumulative.items():
            label = "+Inf" if le == INF else str(le)
            rows += counter_samples(
                BUCKET, "checkout", {"pod": pod, "le": label}, per_s=per_s / 2, seconds=600
            )
    return metrics_frame(rows)


def test_counters_with_a_reset_give_exact_rates_and_error_ratio() -> None:
    r = red_from_metrics(_lab_like_metrics(), step="1m")
    assert tuple(r.columns) == RED_COLUMNS
    co = r.filter(pl.col("service") == "checkout")
    assert co.height == 11
    assert co["rate"].to_list() == pytest.approx([16.0] * 11)
    assert co["error_ratio"].to_list() == pytest.approx([1 / 16] * 11)
    cart = r.filter(pl.col("service") == "cart")
    assert cart["rate"].to_list() == pytest.approx([2.0] * 11)
    assert cart["error_ratio"].to_list() == pytest.approx([0.0] * 11)
    assert cart["p95_ms"].null_count() == cart.height  # cart has no histogram


def test_histogram_quantiles_follow_prometheus_interpolation() -> None:
    r = red_from_metrics(_lab_like_metrics(), step="1m").filter(pl.col("service") == "checkout")
    # rank 5 of 10 in (0.05, 0.1] holding counts 2..6: 0.05 + 0.05 * 3/4 = 0.0875 s
    assert r["p50_ms"].to_list() == pytest.approx([87.5] * 11)
    assert r["p95_ms"].to_list() == pytest.approx([375.0] * 11)  # 0.25 + 0.25 * 0.5/1
    assert r["p99_ms"].to_list() == pytest.approx([475.0] * 11)


def test_histogram_quantiles_match_a_port_of_prometheus_on_random_buckets() -> None:
    rnd = random.Random(7)
    bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, INF]
    rows, expected = [], {}
    for g in range(60):
        counts, c = [], 0.0
        for _ in bounds:
            c += rnd.choice([0, 0, 1, 3, 7.5, 20])
            counts.append(c)
        if g % 10 == 0:
            counts = [0.0] * len(bounds)  # no observations: null
        for ub, cnt in zip(bounds, counts, strict=True):
            rows.append({"g": g, "le": ub, "rate": cnt})
        for q in (0.5, 0.95, 0.99):
            expected[(g, q)] = _prometheus_bucket_quantile(
                q, list(zip(bounds, counts, strict=True))
            )
    got = histogram_quantiles(pl.DataFrame(rows), by=["g"])
    assert got.height == 60 * 3
    for row in got.iter_rows(named=True):
        want = expected[(row["g"], row["q"])]
        if math.isnan(want):
            assert row["value"] is None
        else:
            assert row["value"] == pytest.approx(want), row


def test_histogram_quantile_edge_buckets() -> None:
    df = pl.DataFrame({"g": [1, 1, 2, 2], "le": [0.1, INF, 0.1, INF], "rate": [5.0, 10, 10, 10]})
    got = {
        (r["g"], r["q"]): r["value"]
        for r in histogram_quantiles(df, by=["g"]).iter_rows(named=True)
    }
    assert got[(1, 0.95)] == pytest.approx(0.1)  # in +Inf: the highest finite bound
    assert got[(2, 0.5)] == pytest.approx(0.05)  # lowest bucket starts at 0


def test_precomputed_red_series_are_bucketed_and_converted() -> None:
    rows = []
    for t in range(0, 120, 15):
        rows += [
            (t, R.RED_REQUEST_RATE, "api", 10.0 + (t // 60), {}),
            (t, R.RED_ERROR_RATE, "api", 1.0, {}),
            (t, R.RED_LATENCY_P95, "api", 0.2, {}),
            (t, R.RED_ERROR_RATIO, "idle", math.nan, {}),  # 0/0 from PromQL
            (t, R.RED_REQUEST_RATE, "idle", 0.0, {}),
        ]
    r = red_from_metrics(metrics_frame(rows), step="1m")
    api = r.filter(pl.col("service") == "api").sort("ts")
    assert api["rate"].to_list() == pytest.approx([10.0, 11.0])
    assert api["error_ratio"].to_list() == pytest.approx([0.1, 1 / 11])  # from error_rate
    assert api["p95_ms"].to_list() == pytest.approx([200.0, 200.0])
    assert api["p50_ms"].null_count() == 2
    idle = r.filter(pl.col("service") == "idle")
    assert idle["error_ratio"].null_count() == idle.height  # NaN -> null, never 0


def test_red_from_spans_counts_entry_spans_per_step() -> None:
    rows = []
    for i in range(120):  # two minutes, one request per second into api
        rows.append(
            {
                "trace_id": f"t{i}",
                "span_id": "a",
                "service": "api",
                "ms": float(i % 60),
                "start": i,
                "status": "error" if i >= 60 and i % 2 else "ok",
            }
        )
        rows.append(
            {
                "trace_id": f"t{i}",
                "span_id": "b",
                "parent": "a",
                "service": "api",
                "kind": "client",
                "ms": 1,
                "start": i,
            }
        )
    r = red_from_spans(spans_frame(rows), step="1m")
    assert r["rate"].to_list() == pytest.approx([1.0, 1.0])
    assert r["error_ratio"].to_list() == pytest.approx([0.0, 0.5])
    assert r["p50_ms"].to_list() == pytest.approx([29.5, 29.5])
    assert r["p95_ms"].to_list() == pytest.approx([56.05, 56.05])


def test_red_uses_spans_for_services_without_metrics() -> None:
    spans = spans_frame(
        [
            {"trace_id": f"t{i}", "span_id": "a", "service": "worker", "ms": 5, "start": i}
            for i in range(600)
        ]
    )
    r = red(_lab_like_metrics(), spans, step="1m")
    assert set(r["service"].unique()) == {"checkout", "cart", "worker"}
    assert r.filter(pl.col("service") == "checkout")["rate"].to_list() == pytest.approx([16.0] * 11)
    assert red(None, spans, step="1m")["rate"].to_list() == pytest.approx([1.0] * 10)


def test_counter_rate_by_label_and_window() -> None:
    w = Window(T0 + timedelta(minutes=2), T0 + timedelta(minutes=5))
    cr = counter_rate(_lab_like_metrics(), REQ, step="1m", by=("code",), window=w)
    assert cr["ts"].min() == w.start and cr["ts"].max() < w.end
    by_code = cr.filter(pl.col("service") == "checkout").group_by("code").agg(pl.col("rate").mean())
    assert dict(by_code.iter_rows()) == pytest.approx({"200": 15.0, "500": 1.0})


def test_red_summary_ranks_the_service_whose_errors_rose() -> None:
    rows = []
    for m in range(120):
        ts = T0 + timedelta(minutes=m)
        rows.append(
            {
                "ts": ts,
                "service": "a",
                "rate": 10.0,
                "error_ratio": 0.3 if m >= 60 else 0.0,
                "p50_ms": 1.0,
                "p95_ms": 100.0,
                "p99_ms": 1.0,
            }
        )
        rows.append(
            {
                "ts": ts,
                "service": "b",
                "rate": 5.0,
                "error_ratio": 0.01,
                "p50_ms": 1.0,
                "p95_ms": 300.0 if m >= 60 else 100.0,
                "p99_ms": 1.0,
            }
        )
    s = red_summary(
        pl.DataFrame(rows, schema=R.RED_SCHEMA),
        window=Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
        baseline=Window(T0, T0 + timedelta(hours=1)),
    )
    assert s["service"].to_list() == ["a", "b"]
    assert s.row(0, named=True)["error_ratio_delta"] == pytest.approx(0.3)
    assert s.row(1, named=True)["p95_ratio"] == pytest.approx(3.0)


def test_promql_recipes_name_every_red_metric() -> None:
    assert set(R.RED_PROMQL) == set(R.RED_METRICS)
    q = R.RED_PROMQL[R.RED_ERROR_RATIO].format(range="1m")
    assert q == (
        'sum by (service) (rate(http_server_requests_total{code=~"5.."}[1m]))'
        " / sum by (service) (rate(http_server_requests_total[1m]))"
    )
    assert R.RED_PROMQL[R.RED_LATENCY_P95].format(range="5m") == (
        "histogram_quantile(0.95, sum by (service, le) "
        "(rate(http_server_request_duration_seconds_bucket[5m])))"
    )


@settings(max_examples=30, deadline=None)
@given(
    increments=st.lists(st.integers(0, 50), min_size=2, max_size=40),
    resets=st.sets(st.integers(1, 39), max_size=4),
    gaps=st.lists(st.sampled_from([5, 15, 30]), min_size=40, max_size=40),
)
def test_counter_rate_matches_a_hand_computation_with_resets(
    increments: list[int], resets: set[int], gaps: list[int]
) -> None:
    t, value, rows = 0, 0.0, []
    expected: dict[int, list[float]] = {}
    for i, inc in enumerate(increments):
        if i:
            t += gaps[i]
            # a restart counts from 0; like Prometheus we can only see it if the value drops
            value = float(inc) if i in resets and inc < value else value + inc
            e = expected.setdefault(t // 60, [0.0, 0.0])
            e[0] += inc
            e[1] += gaps[i]
        rows.append((float(t), REQ, "svc", value, {"code": "200"}))
    got = counter_rate(metrics_frame(rows), REQ, step="1m")
    want = {m: inc / dt for m, (inc, dt) in expected.items()}
    have = {int((r["ts"] - T0).total_seconds()) // 60: r["rate"] for r in got.iter_rows(named=True)}
    assert have == pytest.approx(want)


def test_prometheus_source_emits_the_names_red_reads() -> None:
    from workbench.sources.prometheus import signals as ps

    assert (ps.REQUEST_RATE, ps.ERROR_RATE, ps.ERROR_RATIO) == (
        R.RED_REQUEST_RATE,
        R.RED_ERROR_RATE,
        R.RED_ERROR_RATIO,
    )
    assert {q: ps.latency_name(q) for q in R.QUANTILES} == R.RED_LATENCY


def test_a_series_whose_labels_come_in_two_orders_is_one_series() -> None:
    """RED counts a series once whatever the order of its labels, also when its samples
    come ordered by the metric changes' series (which tell the two orders apart)."""
    from workbench.analysis.changes import samples_by_series

    shop = counter_samples(REQ, "shop", {"pod": "s", "code": "500"}, per_s=2, seconds=600)
    plain = metrics_frame(
        shop + counter_samples(REQ, "cart", {"code": "200"}, per_s=3, seconds=600)
    )
    # every other sample of shop lists its labels the other way round
    odd = (pl.int_range(pl.len()) % 2 == 1) & (pl.col("service") == "shop")
    df = plain.with_columns(
        pl.when(odd).then(pl.col("labels").list.reverse()).otherwise(pl.col("labels"))
    )
    assert df.filter(pl.col("service") == "shop")["labels"].n_unique() == 2
    r = red_from_metrics(df, step="1m")
    assert r.filter(pl.col("service") == "shop")["rate"].to_list() == pytest.approx([2.0] * 11)
    assert r.filter(pl.col("service") == "shop")["error_ratio"].to_list() == [1.0] * 11
    assert r.drop("rate").equals(red_from_metrics(plain, step="1m").drop("rate"))
    # rows in the changes' series order give RED's own series and rates, with and
    # without a series whose labels come in two orders
    code = R.frames.attr("labels", "code").alias("code")
    for frame in (df, plain, df.filter(pl.col("service") == "cart")):
        ordered = samples_by_series(frame).with_columns(code)
        got = R._series_rates(ordered, timedelta(minutes=1), ["code"])
        want = R._series_rates(frame.with_columns(code), timedelta(minutes=1), ["code"])
        key = ["service", "code", "ts"]
        got, want = got.sort(key), want.sort(key)
        assert got.drop("rate").equals(want.drop("rate"))
        assert got["rate"].to_list() == pytest.approx(want["rate"].to_list(), rel=1e-12)
