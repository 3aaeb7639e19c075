"""Excess of additive totals (busy seconds, failed requests) and its use in the ranking,
on hand-made series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from workbench import frames
from workbench.analysis.excess import excess_totals
from workbench.analysis.suspects import rank_suspects
from workbench.analysis.totals import additive_totals, total_inputs
from workbench.timewindow import Window

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
BASE = Window(T0 - 40 * STEP, T0 - 2 * STEP)
LEAD = Window(T0 - 2 * STEP, T0)
WIN = Window(T0, T0 + STEP)


def _rows(service: str, metric: str, normal: list[float], lead: list[float], now: float, pod=None):
    """40 baseline steps cycling through ``normal``, two lead-in steps, one window step."""
    labels = [{"key": "pod", "value": pod}] if pod else []
    vals = [normal[i % len(normal)] for i in range(38)] + lead + [now]
    return [
        {"ts": T0 - 40 * STEP + i * STEP, "metric": metric, "service": service, "value": v}
        | {"labels": labels}
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


def _excess(df: pl.DataFrame, **kw) -> dict[str, float]:
    ex = excess_totals(df, WIN, BASE, metric="busy_seconds", **kw)
    return dict(zip(ex["service"], ex["excess"], strict=True))


def test_only_what_lies_beyond_the_normal_95th_percentile_counts():
    noisy = [90.0, 95.0, 100.0, 105.0, 110.0]  # 95th percentile: 110
    df = _frame(
        _rows("noisy", "busy_seconds", noisy, [100.0, 100.0], 106.0),  # above median, in noise
        _rows("hot", "busy_seconds", noisy, [100.0, 100.0], 150.0),
    )
    ex = excess_totals(df, WIN, BASE, metric="busy_seconds")
    got = dict(zip(ex["service"], ex["excess"], strict=True))
    assert got["noisy"] == 0.0
    assert got["hot"] == pytest.approx(40.0)  # 150 over the normal range's top, 110
    assert ex.row(0, named=True)["service"] == "hot" and ex.row(0, named=True)["share"] == 1.0


def test_a_shift_present_in_every_lead_in_step_predates_the_alert():
    flat = [100.0, 101.0, 99.0]
    df = _frame(
        _rows("already", "busy_seconds", flat, [200.0, 210.0], 205.0),  # high before the alert
        _rows("early", "busy_seconds", flat, [100.0, 180.0], 200.0),  # began just before it
    )
    with_lead = _excess(df, lead_in=LEAD)
    assert with_lead["already"] == pytest.approx(5.0)  # only the rise over the lead-in
    # a partial last step is not "before": the level to beat is the normal range's top
    assert with_lead["early"] == pytest.approx(99.0)
    without = _excess(df)
    assert without["already"] == pytest.approx(104.0)


def test_totals_of_several_pods_add_up_and_bad_quantiles_are_refused():
    df = _frame(
        _rows("svc", "busy_seconds", [50.0, 51.0, 49.0], [50.0, 50.0], 80.0, pod="a"),
        _rows("svc", "busy_seconds", [50.0, 51.0, 49.0], [50.0, 50.0], 80.0, pod="b"),
    )
    assert _excess(df)["svc"] == pytest.approx(58.0)  # 160 over the summed range's top, 102
    with pytest.raises(ValueError, match="quantile"):
        excess_totals(df, WIN, BASE, metric="busy_seconds", quantile=1.0)


def test_a_step_just_past_the_normal_range_brings_only_what_lies_beyond_it():
    # measured from the median, one step just past a noisy service's usual high counted
    # the whole spread from median to high (111 - 100 = 11): a jump at the range's top
    noisy = [90.0, 95.0, 100.0, 105.0, 110.0]
    df = _frame(_rows("svc", "busy_seconds", noisy, [100.0, 100.0], 111.0))
    assert _excess(df)["svc"] == pytest.approx(1.0)


def test_a_busy_noisy_service_swinging_past_its_high_does_not_outweigh_a_real_jump():
    """PetShop's high_traffic/train/issue_1 in small: a state machine whose runs take 8 to
    12 s (100 a step) spends 1260 s in the window, a step past its usual high of 1200 s;
    the search service behind the fault went from 20 s (1000 requests of 20 ms) to 120 s.
    Measured from the median the swing was 260 extra seconds against the jump's 100 and
    carried the totals evidence; beyond the normal range it is 60 against about 100."""
    parts = [
        _rows("steps", "latency_Average", [8.0, 10.0, 12.0], [10.0, 10.0], 12.6),
        _rows("steps", "requests_Sum", [100.0], [100.0, 100.0], 100.0),
        _rows("search", "latency_Average", [0.0200, 0.0201, 0.0199], [0.020, 0.020], 0.120),
        _rows("search", "requests_Sum", [1000.0], [1000.0, 1000.0], 1000.0),
    ]
    m = _frame(*parts)
    ex = excess_totals(additive_totals(m), WIN, BASE, metric="busy_seconds")
    got = dict(zip(ex["service"], ex["excess"], strict=True))
    assert got["steps"] == pytest.approx(60.0)
    assert got["search"] == pytest.approx(99.9)
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m)
    t = {r["service"]: r for r in sus.table.iter_rows(named=True)}
    assert t["search"]["totals"] > t["steps"]["totals"] > 0
    assert sus.ranking[0] == "search"


def _caller_lb_backend() -> tuple[pl.DataFrame, pl.DataFrame]:
    """``front`` calls ``backend`` (1000 requests a step, from every caller) and ``lb``, the
    client-side view of a load balancer in front of it (50 of front's requests a step):
    mean latency and request counts only, as any user has them."""
    be_lat = [0.0100, 0.0102, 0.0098, 0.0101, 0.0099]
    lb_lat = [0.020, 0.021, 0.019, 0.0205, 0.0195]
    fr_lat = [0.100, 0.102, 0.098, 0.101, 0.099]
    parts = [
        _rows("backend", "latency_Average", be_lat, [0.010, 0.010], 0.015),  # z ~ 10
        _rows("lb", "latency_Average", lb_lat, [0.020, 0.020], 0.080),  # z ~ 80
        _rows("front", "latency_Average", fr_lat, [0.100, 0.100], 0.103),
        _rows("backend", "requests_Sum", [1000.0], [1000.0, 1000.0], 1000.0),
        _rows("lb", "requests_Sum", [50.0], [50.0, 50.0], 50.0),
        _rows("front", "requests_Sum", [500.0], [500.0, 500.0], 500.0),
    ]
    edges = pl.DataFrame({"caller": ["front", "front"], "callee": ["backend", "lb"]})
    return _frame(*parts), edges


def test_the_product_derives_busy_seconds_from_mean_latency_and_requests():
    m, _ = _caller_lb_backend()
    tot = additive_totals(m).filter(pl.col("ts") == WIN.start)
    assert sorted(tot["metric"].unique()) == ["busy_seconds", "requests"]  # no success rates
    tot = tot.filter(pl.col("metric") == "busy_seconds")
    got = dict(zip(tot["service"], tot["value"], strict=True))
    assert got == pytest.approx({"backend": 15.0, "lb": 4.0, "front": 51.5})
    # what each total rests on
    assert set(total_inputs(m).rows()) == {
        ("backend", "latency_Average"),
        ("lb", "latency_Average"),
        ("front", "latency_Average"),
    }


def test_the_service_spending_most_extra_seconds_carries_the_totals_evidence():
    m, edges = _caller_lb_backend()
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m, edges=edges)
    t = {r["service"]: r for r in sus.table.iter_rows(named=True)}
    # 4.8 extra seconds against lb's 2.95: the largest excess scores the totals signal's top
    assert t["backend"]["totals"] > t["lb"]["totals"] > 0
    assert "busy_seconds" in t["backend"]["why"]
    assert sus.rank_of("front") > 2  # the caller is explained by its callees
    totals = sus.evidence("backend").totals  # the excess behind it, as a frame
    assert totals["service"].to_list() == ["backend"] and totals["excess"][0] > 0
    # without request counts there is no total: only the z-scores speak
    z_only = rank_suspects(
        None, window=WIN, baseline=BASE, metrics=m.filter(pl.col("metric") != "requests_Sum")
    )
    assert z_only.table["totals"].max() == 0.0 and z_only.ranking[0] == "lb"


def test_a_latency_histograms_sum_counter_gives_busy_seconds():
    """Prometheus: the rate of ``*_duration_seconds_sum`` is seconds spent serving per
    second (per pod, summed); a client-side histogram is the callee's time, not ours."""
    rows = []
    for pod, per_step in (("a", 3.0), ("b", 1.0)):
        total = 0.0
        for i in range(10):
            total += per_step * 300  # 300 s steps
            for metric in ("http_server_request_duration_seconds_sum",
                           "http_client_request_duration_seconds_sum"):  # fmt: skip
                rows.append(
                    {"ts": T0 + i * STEP, "metric": metric, "service": "svc", "value": total}
                    | {"labels": [{"key": "pod", "value": pod}]}
                )
    tot = additive_totals(_frame(rows))
    busy = tot.filter(pl.col("metric") == "busy_seconds")
    assert busy.height == 9  # the first sample of a counter has no rate
    assert busy["value"].to_list() == pytest.approx([4.0] * 9)  # 3 + 1 s per second
    assert total_inputs(_frame(rows)).rows() == [
        ("svc", "http_server_request_duration_seconds_sum")
    ]


def test_name_tests_run_per_distinct_name_keep_the_rows_a_per_row_test_keeps() -> None:
    from workbench.analysis.totals import _MEAN_LATENCY, _named

    names = ["latency_avg_ms", "Requests", "db_ops", "avg latency (ms)", None, "x_latency"]
    m = pl.DataFrame(
        {"metric": [names[i % len(names)] for i in range(60)], "value": list(range(60))}
    )
    for pred in (
        pl.col("metric").str.contains(_MEAN_LATENCY),
        pl.col("metric").str.contains("(?i)request") | pl.col("metric").str.ends_with("ops"),
    ):
        kept = m.filter(_named(m, pred))
        assert kept.equals(m.filter(pred))
        assert kept.height > 0


def test_a_suspects_evidence_lists_only_the_totals_above_their_normal():
    # the demo's checkout listed "1 total above normal" whose excess was 0 (its busy
    # seconds 0.35 under their threshold 0.41): a row that contradicted its own heading
    import dataclasses

    m, edges = _caller_lb_backend()
    sus = rank_suspects(None, window=WIN, baseline=BASE, metrics=m, edges=edges)
    within = sus.totals.with_columns(
        excess=pl.when(pl.col("service") == "front").then(0.0).otherwise(pl.col("excess"))
    )
    sus = dataclasses.replace(sus, totals=within)
    assert sus.evidence("front").totals.height == 0
    assert sus.evidence("lb").totals["excess"].to_list() == pytest.approx([2.95])
