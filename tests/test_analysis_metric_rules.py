"""Metric-change rules for the suspect ranking: quantile consensus, host-level series,
falls of usage series; each on small hand-made frames."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from tests.diag_builders import BASELINE, WINDOW, metric_frame
from workbench.analysis import changes as ch
from workbench.analysis import metric_rules as mr
from workbench.analysis.signals import harmful_changes
from workbench.analysis.suspects import rank_suspects
from workbench.timewindow import Window

N = 240  # 120 baseline + 120 incident points, 30 s apart (BASELINE then WINDOW)


def _frame(series: dict[tuple[str, str], np.ndarray]) -> pl.DataFrame:
    """``{(service, metric): values}`` as a metrics frame."""
    return metric_frame({(metric, svc): v for (svc, metric), v in series.items()})


def _series(base: float, after: float, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([np.full(N // 2, base), np.full(N // 2, after)]) + rng.normal(0, noise, N)


def test_a_change_at_one_quantile_only_is_not_a_latency_change():
    m = _frame(
        {
            # "tail": only the P99 moved (a handful of slow requests)
            ("tail", "ServerLatencyP90(s)"): _series(0.02, 0.02, 0.001, 1),
            ("tail", "ServerLatencyP95(s)"): _series(0.03, 0.031, 0.001, 2),
            ("tail", "ServerLatencyP99(s)"): _series(0.04, 0.4, 0.001, 3),
            # "slow": every quantile moved
            ("slow", "latency_p50"): _series(0.1, 0.5, 0.005, 4),
            ("slow", "latency_p90"): _series(0.2, 0.9, 0.005, 5),
            ("slow", "latency_p99"): _series(0.3, 1.2, 0.005, 6),
            # a name without a quantile token keeps its own score
            ("other", "queue_depth"): _series(10, 50, 1.0, 7),
        }
    )
    raw = ch.score_changes(m, WINDOW, BASELINE)
    out = mr.quantile_consensus(raw)
    assert out.height == raw.height and set(out.columns) == set(raw.columns)
    got = {(r["service"], r["metric"]): r for r in out.iter_rows(named=True)}
    before = {(r["service"], r["metric"]): r for r in raw.iter_rows(named=True)}
    assert before[("tail", "ServerLatencyP99(s)")]["changed"]
    assert not any(
        got[("tail", k)]["changed"] for k in ("ServerLatencyP90(s)", "ServerLatencyP99(s)")
    )
    assert all(got[("slow", k)]["changed"] for k in ("latency_p50", "latency_p90", "latency_p99"))
    med = float(
        np.median(
            [before[("slow", k)]["score"] for k in ("latency_p50", "latency_p90", "latency_p99")]
        )
    )
    assert got[("slow", "latency_p99")]["score"] == med
    assert got[("other", "queue_depth")]["score"] == before[("other", "queue_depth")]["score"]


def test_host_level_names_and_usage_falls():
    df = pl.DataFrame(
        {
            "metric": [
                "NodeCpuUsageRate(%)",
                "node_load1",
                "host_cpu",
                "CpuUsageRate(%)",
                "nodejs_heap_bytes",
                "SyscallWrite",
                "PodWorkload(Ops)",
                "latency_p90",
                "availability_Average",
            ],
            "direction": ["up", "up", "up", "up", "up", "down", "down", "down", "down"],
        }
    )
    flags = mr.with_way(df).select(host=mr.host_level(), drop=mr.usage_drop())
    assert flags["host"].to_list() == [True, True, True, False, False, False, False, False, False]
    assert flags["drop"].to_list() == [False] * 5 + [True, True, False, False]


def test_cpu_saturation_outranks_a_node_wide_rise_and_a_quieter_neighbour():
    m = _frame(
        {
            # the cause: its own CPU climbs to its limit
            ("cruncher", "CpuUsageRate(%)"): _series(2, 95, 0.5, 1),
            # the node's CPU, reported under every pod on the node: a bigger z for all
            ("cruncher", "NodeCpuUsageRate(%)"): _series(3, 30, 0.05, 2),
            ("web", "NodeCpuUsageRate(%)"): _series(3, 30, 0.05, 2),
            ("cache", "NodeCpuUsageRate(%)"): _series(3, 30, 0.05, 2),
            # a neighbour that gets less work writes less: a large fall, not a fault
            ("cache", "SyscallWrite"): _series(300, 20, 0.5, 3),
        }
    )
    sus = rank_suspects(None, window=WINDOW, baseline=BASELINE, metrics=m)
    assert sus.ranking[0] == "cruncher"
    met = dict(zip(sus.table["service"], sus.table["metrics"], strict=True))
    assert met["web"] == 0.0 and met["cache"] == 0.0


def test_a_resource_driven_to_capacity_is_the_services_own_evidence():
    m = _frame(
        {
            # the cause: its CPU climbs from 2 % to 95 % of its limit
            ("cruncher", "CpuUsageRate(%)"): _series(2, 95, 0.5, 1),
            # a busier service that stays far from its limit
            ("web", "CpuUsageRate(%)"): _series(5, 30, 0.5, 2),
            # a fraction-of-capacity name, and a host-level one (the machine's, not a pod's)
            ("cache", "memory_utilization"): _series(0.2, 0.7, 0.005, 3),
            ("web", "NodeCpuUsageRate(%)"): _series(5, 99, 0.5, 4),
        }
    )
    sat = mr.saturation(ch.score_changes(m, WINDOW, BASELINE))
    got = dict(zip(sat["service"], sat["saturation"], strict=True))
    assert got["cruncher"] == 1.0 and 0.4 < got["cache"] < 0.6 and "web" not in got
    assert sat.filter(pl.col("service") == "cruncher")["_s_top"][0] == "CpuUsageRate(%)"
    sus = rank_suspects(None, window=WINDOW, baseline=BASELINE, metrics=m)
    row = sus.table.row(0, named=True)
    assert row["service"] == "cruncher" and row["saturation"] == 1.0
    assert "near capacity" in row["why"]


def test_a_resource_at_capacity_in_the_windows_last_minutes_is_saturated_now():
    # 1-minute points: a 20-min baseline, then a 5-min window whose last 3 minutes climb
    # to the limit (the window's median, 13 %, still holds the minutes before the fault)
    base = [1.5, 1.8, 1.2, 1.7, 1.4] * 4
    climbing = np.array([*base, 1.9, 3.4, 13.9, 95.3, 100.0])
    spike = np.array([*base, 1.9, 95.0, 96.0, 97.0, 2.1])  # at capacity, then back
    m = metric_frame(
        {
            ("CpuUsageRate(%)", "basic"): climbing,
            ("CpuUsageRate(%)", "train"): spike,
            ("CpuUsageRate(%)", "seat"): np.array([*base, 1.6, 1.4, 30.0, 35.0, 40.0]),
        },
        step_s=60,
    )
    t0 = m["ts"].min()
    baseline = Window(t0, t0 + timedelta(minutes=20))
    window = Window(t0 + timedelta(minutes=20), t0 + timedelta(minutes=25))
    c = ch.score_changes(m, window, baseline)
    row = c.filter(pl.col("service") == "basic").row(0, named=True)
    assert row["changed"] and row["incident_median"] < 50 and row["end_level"] > 90
    sat = mr.saturation(c)
    got = dict(zip(sat["service"], sat["saturation"], strict=True))
    # at capacity at the window's end: saturated; at capacity for most of the window and
    # back at the end: saturated by its median as before; a rise far from the limit: not
    assert got["basic"] == 1.0 and got["train"] == 1.0 and "seat" not in got
    # older frames without the column keep the window's median
    old = mr.saturation(c.drop("end_level"))
    assert "basic" not in set(old["service"]) and "train" in set(old["service"])


def test_a_rise_of_the_requests_served_is_work_arriving_not_harm():
    df = pl.DataFrame(
        {
            "metric": [
                "requests_Sum",
                "PodWorkload(Ops)",
                "http_server_requests_total",
                "requests_Sum",
                "failed_requests",
                "http_server_request_duration_seconds_sum",
                "cpu",
            ],
            "direction": ["up", "up", "up", "down", "up", "up", "up"],
        }
    )
    assert mr.with_way(df).select(mr.demand_rise())["moved"].to_list() == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_a_service_asked_more_often_does_not_outrank_a_slower_one():
    m = _frame(
        {
            # a third more requests arrive at "popular" (its callers' doing): a huge z
            ("popular", "requests_Sum"): _series(100, 120, 0.2, 1),
            ("popular", "latency_Average"): _series(0.05, 0.05, 0.002, 2),
            # "slow" serves as many requests as before, each far slower: the fault
            ("slow", "requests_Sum"): _series(100, 100, 1.0, 3),
            ("slow", "latency_Average"): _series(0.05, 0.065, 0.005, 4),
        }
    )
    sus = rank_suspects(None, window=WINDOW, baseline=BASELINE, metrics=m)
    assert sus.ranking[0] == "slow", sus.table.select("service", "score", "why").to_dicts()


def test_a_change_counts_the_way_its_scored_run_went_not_its_median():
    # cart's CPU (a usage series) holds its level for most of the window but falls to
    # near 0 for a fifth of it (no work reached it), then recovers: scored for the fall,
    # while the window's median barely moved (its sign said "up"). A fall of usage is less
    # work arriving, not cart's fault: not a symptom. Its latency up for a fifth is.
    rng = np.random.default_rng(7)
    cpu = 0.4 + rng.normal(0, 0.01, N)
    cpu[N // 2 :] += 0.004  # the median a hair above the baseline's
    dip = slice(N // 2 + 40, N // 2 + 64)
    cpu[dip] = 0.01
    lat = 0.1 + rng.normal(0, 0.002, N)
    lat[dip] = 0.5
    changes = ch.score_changes(
        _frame({("cart", "cpu_utilisation_ratio"): cpu, ("cart", "latency_seconds"): lat}),
        WINDOW,
        BASELINE,
    )
    way = changes.select("metric", "direction", "moved").rows()
    assert ("cpu_utilisation_ratio", "up", "down") in way
    harmful = harmful_changes(changes)
    assert harmful["metric"].to_list() == ["latency_seconds"]
